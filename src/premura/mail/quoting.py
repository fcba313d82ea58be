"""The quoted part of an email reply: split off in plain text, folded away in HTML.

Customers reply on top of the whole thread; the agent wants the new words first and the quoted
history one click away. Plain text is split with mail-parser-reply (slow: called lazily when a
message is shown, never while ingesting). HTML is marked by the structure mail clients write
(Gmail, Outlook, Apple Mail, Thunderbird), found before sanitising strips classes and ids, and the
quoted part ends up inside `<div data-quoted="">…</div>` in the sanitised HTML.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import nh3

from premura.conversations.sanitize import _URL_SCHEMES, sanitize_html

# Languages of the "On … wrote:" / "Il giorno … ha scritto:" headers and signatures recognised.
REPLY_LANGUAGES = ("en", "it", "de", "fr", "es")

_SENT_FROM = re.compile(
    r"(?:Sent from|Get Outlook|Inviato da|Von meinem|Gesendet von|Envoy\w* de|Enviado desde)",
    re.IGNORECASE,
)
# Above this size the reply parser's regular expressions take too long to be worth it.
_MAX_SPLIT_CHARS = 200_000

_QUOTED = "data-quoted"
# Two kinds of marks, set before sanitising: the element itself is the quoted part, or the
# quoted part runs from this element to the end of the message (Outlook puts the reply header
# block in the middle of the structure and the quoted body after it, as siblings of ancestors).
_ELEMENT = "element"
_REST = "rest"


@cache
def _reply_parser() -> Any:
    """One EmailReplyParser: building its regular expressions costs more than using them."""
    from mailparser_reply import EmailReplyParser

    return EmailReplyParser(languages=list(REPLY_LANGUAGES))


def split_reply(text: str) -> tuple[str, str]:
    """Split a plain-text email into (the new reply, the quoted history and signature).

    `reply + rest == text`: nothing is dropped, the split is a cut at a line boundary.
    """
    if not text.strip() or len(text) > _MAX_SPLIT_CHARS:
        return text, ""
    try:
        message = _reply_parser().read(text)
    except Exception:  # a third-party parser on hostile text: show it whole
        return text, ""
    if not message.replies:
        return text, ""
    first = message.replies[0]
    kept = _without_signature(first.content, message.SIGNATURE_REGEX)
    cut = _cut_after(text, _non_space_count(kept))
    if cut <= 0 or not text[:cut].strip():
        # The whole message looks quoted (a forward with nothing above it): show it as the reply.
        return text, ""
    return text[:cut], text[cut:]


def _without_signature(content: str, signature: re.Pattern[str]) -> str:
    """The reply up to its signature, skipping lines the parser took for one by mistake."""
    position = 0
    for _ in range(10):
        match = signature.search(content, position)
        if match is None:
            return content
        found = match.group()
        start = match.start() + len(found) - len(found.lstrip())
        if _looks_like_signature(found):
            return content[: match.start()]
        line_end = content.find("\n", start)
        if line_end < 0:
            return content
        position = line_end
    return content


def _looks_like_signature(signature: str) -> bool:
    """Whether the parser's signature really starts one, not a sentence that opens with "Thanks,".

    The parser takes any line starting with a closing phrase as the signature's start; "Thanks,
    that fixed it." is the reply itself. A signature opens with a separator, a "Sent from" line,
    or a short closing line ("Best regards, Anna").
    """
    first = signature.strip().splitlines()[0].lstrip("> ").strip() if signature.strip() else ""
    if not first or first[0] in "-_" or _SENT_FROM.match(first):
        return True
    words = first.split()
    if len(words) > 4:
        return False
    return len(words) <= 2 or first[-1] not in ".!?"


def _non_space_count(text: str) -> int:
    return len("".join(text.split()))


def _cut_after(text: str, count: int) -> int:
    """The end of the line holding the `count`-th non-blank character of `text`.

    The reply parser normalises whitespace (strips lines, CRLF to LF), so its output is mapped back
    onto the original text by counting the characters that are not blank.
    """
    if count <= 0:
        return 0
    seen = 0
    for match in re.finditer(r"[^\s]+", text):
        seen += match.end() - match.start()
        if seen >= count:
            newline = text.find("\n", match.end())
            return len(text) if newline < 0 else newline + 1
    return len(text)


# --- HTML ---------------------------------------------------------------------------------

# A cheap test before any other work (substrings of the lowercased HTML: a case-insensitive
# regular expression with alternatives took 7 ms on a 38 kB newsletter).
_HINTS = (
    "gmail_quote",
    "gmail_signature",
    "divrplyfwdmsg",
    "appendonsend",
    "moz-cite-prefix",
    "moz-signature",
    "yahoo_quoted",
    "cite",
    "border-top",
)
_OPEN_TAG = re.compile(r"<(div|blockquote|hr|pre|p)\b([^>]*)>", re.IGNORECASE)
_CLASS_ELEMENT = re.compile(
    r"""\bclass\s*=\s*["']?[^"'>]*?\b(?:gmail_quote|gmail_signature|moz-cite-prefix|moz-signature|yahoo_quoted)\b""",
    re.IGNORECASE,
)
_CITE = re.compile(r"""\btype\s*=\s*["']?cite\b""", re.IGNORECASE)
_OUTLOOK_ID = re.compile(r"""\bid\s*=\s*["']?(?:divRplyFwdMsg|appendonsend)\b""", re.IGNORECASE)
# Outlook desktop's "From: … Sent: …" block: a div with a thin top border (#E1E1E1 since 2013,
# #B5C4DF before).
_OUTLOOK_BORDER = re.compile(
    r"""\bstyle\s*=\s*["'][^"']*border-top\s*:\s*solid\s+#(?:e1e1e1|b5c4df)""", re.IGNORECASE
)
_HR_BEFORE = re.compile(r"<hr\b[^>]*>\s*$", re.IGNORECASE)

# The tags of nh3's output: well-formed, attribute values double-quoted with < > & " escaped.
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s=/>]+(?:=\"[^\"]*\")?)*)\s*/?>")
_VOID = frozenset(
    {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_MARK = re.compile(r'\sdata-quoted="([^"]*)"')
# Any tag of raw HTML, for the nesting limit (a ">" inside an attribute value ends it early:
# the rest of that tag then reads as text, which is harmless here).
_ANY_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
_MAX_DEPTH = 200
# Below this many tags even the deepest nesting sanitises in a few milliseconds.
_DEPTH_CHECK_TAGS = 5_000


@cache
def _attributes() -> dict[str, set[str]]:
    """nh3's default attributes, plus our mark on the elements that can carry it."""
    allowed = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag in ("div", "blockquote", "hr", "pre", "p"):
        allowed.setdefault(tag, set()).add(_QUOTED)
    return allowed


def clean_html(html: str) -> str:
    """Sanitise customer HTML like sanitize_html, with the quoted reply and signature wrapped in
    `<div data-quoted="">…</div>`."""
    if not html:
        return ""
    if html.count("<") > _DEPTH_CHECK_TAGS:
        html = _limit_depth(html)
    lowered = html.lower()
    if _QUOTED in lowered:
        # Only the marks set here may survive: a sender's own data-quoted would hide their text.
        html = re.sub(_QUOTED, "data-x", html, flags=re.IGNORECASE)
    if not any(hint in lowered for hint in _HINTS):
        return sanitize_html(html).strip()
    marked = _mark(html)
    if marked is None:
        return sanitize_html(html).strip()
    # The same settings as sanitize_html, with the mark allowed.
    cleaned = nh3.clean(
        marked,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attributes=_attributes(),
    )
    return _wrap(cleaned).strip()


def _limit_depth(html: str) -> str:
    """Drop the tags nested deeper than _MAX_DEPTH, keeping their content.

    The HTML5 tree builder nh3 uses checks the open elements on every block start tag: 100,000
    nested divs took 20 s. Real mail nests a few dozen levels.
    """
    pieces: list[str] = []
    last = 0
    depth = 0
    dropped = 0
    for match in _ANY_TAG.finditer(html):
        name = match.group(2).lower()
        if name in _VOID:
            continue
        if match.group(1):
            if dropped:
                dropped -= 1
                pieces.append(html[last : match.start()])
                last = match.end()
            else:
                depth = max(0, depth - 1)
        elif depth >= _MAX_DEPTH:
            dropped += 1
            pieces.append(html[last : match.start()])
            last = match.end()
        else:
            depth += 1
    if not pieces:
        return html
    pieces.append(html[last:])
    return "".join(pieces)


def _mark(html: str) -> str | None:
    """Put data-quoted on the elements where a quoted part starts; None when there is none."""
    pieces: list[str] = []
    last = 0
    found = False
    for match in _OPEN_TAG.finditer(html):
        attrs = match.group(2)
        kind = ""
        cited = match.group(1).lower() == "blockquote" and _CITE.search(attrs) is not None
        if cited or _CLASS_ELEMENT.search(attrs):
            kind = _ELEMENT
        elif _OUTLOOK_ID.search(attrs) or _OUTLOOK_BORDER.search(attrs):
            kind = _REST
        if not kind:
            continue
        start = match.start()
        if kind == _REST:
            # Outlook on the web: <hr> then <div id="divRplyFwdMsg">; the rule belongs to the quote.
            hr = _HR_BEFORE.search(html, max(last, start - 300), start)
            if hr is not None:
                start = hr.start()
        tag_end = html.find(">", start)
        name_end = start + 1
        while name_end < tag_end and html[name_end].isalnum():
            name_end += 1
        pieces.append(html[last:name_end])
        pieces.append(f' {_QUOTED}="{kind}"')
        last = name_end
        found = True
    if not found:
        return None
    pieces.append(html[last:])
    return "".join(pieces)


def _wrap(cleaned: str) -> str:
    """Turn the marks in sanitised HTML into `<div data-quoted="">` wrappers."""
    # (start, end, ancestors' open tags or None for an element wrap)
    regions: list[tuple[int, int, list[str] | None]] = []
    stack: list[tuple[str, str, int, str]] = []  # (tag, open tag text, start, mark kind)
    inside_until_depth: int | None = None
    for match in _TAG.finditer(cleaned):
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            # nh3's output is well formed, but stay safe on a stray end tag.
            while stack and stack[-1][0] != name:
                stack.pop()
            if not stack:
                continue
            tag, _, start, kind = stack.pop()
            if kind == _ELEMENT and inside_until_depth == len(stack):
                regions.append((start, match.end(), None))
                inside_until_depth = None
            continue
        mark = _MARK.search(match.group(3))
        kind = mark.group(1) if mark else ""
        if kind and inside_until_depth is None:
            if kind == _REST:
                ancestors = [open_tag for _, open_tag, _, _ in stack]
                regions.append((match.start(), len(cleaned), ancestors))
                break
            if name in _VOID:
                regions.append((match.start(), match.end(), None))
            else:
                inside_until_depth = len(stack)
        if name not in _VOID:
            stack.append((name, match.group(0), match.start(), kind))
    if not regions:
        return _MARK.sub("", cleaned)
    return _apply(cleaned, _merge(cleaned, regions))


def _merge(
    cleaned: str, regions: list[tuple[int, int, list[str] | None]]
) -> list[tuple[int, int, list[str] | None]]:
    """Join regions that touch (Thunderbird's "On … wrote:" line and its blockquote)."""
    merged: list[tuple[int, int, list[str] | None]] = []
    for start, end, ancestors in regions:
        if merged and merged[-1][2] is None:
            between = cleaned[merged[-1][1] : start]
            if not re.sub(r"<br>|\s|&nbsp;", "", between):
                merged[-1] = (merged[-1][0], end, ancestors)
                continue
        merged.append((start, end, ancestors))
    return merged


def _apply(cleaned: str, regions: list[tuple[int, int, list[str] | None]]) -> str:
    out: list[str] = []
    last = 0
    for start, end, ancestors in regions:
        out.append(cleaned[last:start])
        body = _MARK.sub("", cleaned[start:end])
        if ancestors is None:
            out.append(f'<div {_QUOTED}="">{body}</div>')
        else:
            # Close the ancestors here and reopen them inside the wrapper: their own end tags,
            # further down, now close the reopened copies, and the wrapper closes last.
            closers = "".join(f"</{_tag_name(tag)}>" for tag in reversed(ancestors))
            reopen = "".join(_MARK.sub("", tag) for tag in ancestors)
            out.append(f'{closers}<div {_QUOTED}="">{reopen}{body}</div>')
        last = end
    out.append(_MARK.sub("", cleaned[last:]))
    return "".join(out)


def _tag_name(open_tag: str) -> str:
    match = re.match(r"<([a-zA-Z][a-zA-Z0-9]*)", open_tag)
    return match.group(1).lower() if match else "div"
