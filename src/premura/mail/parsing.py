"""Raw email bytes into a ParsedEmail: headers, text, safe HTML, attachments, loop flags.

Pure functions, no database. Built on the stdlib `email` package with the default policy and
made to survive what real mailboxes hold: any charset or a wrong one, broken MIME, raw 8-bit
headers, missing headers, hostile sizes. Nothing raises except UnparseableEmail for an empty
input; every limit below cuts what is considered, never the stored raw message.
"""

from __future__ import annotations

import email
import io
import mimetypes
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from charset_normalizer import from_bytes

from premura.mail.loops import Bounce, classify, header, header_index
from premura.mail.quoting import clean_html

__all__ = [
    "Bounce",
    "ParsedAttachment",
    "ParsedEmail",
    "UnparseableEmail",
    "decode_bytes",
    "parse_email",
]

# Parts looked at in one message: a normal one has fewer than 20, a hostile one 10,000.
MAX_PARTS = 500
# Characters of text and of HTML kept per message (a 30 MB body is cut, never parsed whole).
MAX_TEXT_CHARS = 1_000_000
MAX_HTML_CHARS = 2_000_000
# The default policy parses ~1 ms per 1,000 characters of encoded words: longer header values
# (a 200 kB Subject is in the corpus) are cut before parsing.
MAX_HEADER_CHARS = 8_000
MAX_SUBJECT_CHARS = 2_000
MAX_REFERENCES = 100
# Text derived from HTML: inscriptis lays out the whole document, so its input is bounded.
_MAX_HTML_TO_TEXT = 300_000
_CACHE_LIMIT = 4096
_CACHEABLE_CHARS = 1_000

# Report parts that are not files: the bounce reader uses them, nobody downloads them.
_NOT_ATTACHMENTS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
        "message/feedback-report",
        "message/external-body",
        "message/partial",
    }
)
# Text subtypes without a name that are the body's words rather than a file, used when the
# message has no text/plain nor text/html.
_BODY_TEXT_SUBTYPES = frozenset({"enriched", "richtext", "rfc822-headers", "x-unknown"})
# Charset labels that mail clients write for a superset (the WHATWG encoding standard's choice).
_CHARSET_SUPERSETS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "tis-620": "cp874",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
}
_HIGH_BYTES = bytes(range(0x80, 0x100))
_BOUNDARY = re.compile(rb"""boundary\s*=\s*["']?([^"';\r\n]{1,200})""", re.IGNORECASE)
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_RAW_NAME = re.compile(r"""(?:^|;)\s*(?:file)?name\s*=\s*"?([^";]+)""", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UnparseableEmail(Exception):
    """The input is not an email at all (empty)."""


@dataclass(frozen=True)
class ParsedAttachment:
    """A file of an email: a real attachment, an inline image, a forwarded message, a signature."""

    filename: str
    content_type: str  # as declared (lowercase)
    content: bytes
    content_id: str = ""  # without <>, for cid: references
    inline: bool = False


@dataclass(frozen=True)
class ParsedEmail:
    """What Premura keeps of an inbound email."""

    message_id: str  # Message-ID without <>; "" when absent
    in_reply_to: tuple[str, ...]  # ids without <>
    references: tuple[str, ...]
    subject: str
    from_name: str
    from_address: str  # lowercased; "" when absent/unparseable
    reply_to: str  # lowercased address or ""
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None  # aware
    text: str  # full plain text (from text/plain, else derived from the HTML)
    # Sanitised with nh3; cid: URLs kept; the quoted reply / signature wrapped in
    # <div data-quoted="">…</div> when detected.
    html: str
    attachments: tuple[ParsedAttachment, ...]
    # "" or why: "auto-submitted", "auto-reply", "bounce", "list", "precedence",
    # "mailer-daemon", "own-address".
    automated: str
    bounce: Bounce | None


class _CachedHeaderRegistry(HeaderRegistry):
    """The default policy's header classes, with each short (name, value) parsed once.

    The stdlib parses a part's Content-Type again on every get_content_type() call, several times
    per part while parsing: memoising made the default policy about five times faster. Header
    objects are immutable, so sharing them is safe.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name, value)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        parsed = super().__call__(name, value[:MAX_HEADER_CHARS])
        if len(value) <= _CACHEABLE_CHARS:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = parsed
        return parsed


_POLICY = email_policy.default.clone(header_factory=_CachedHeaderRegistry())
# Writing a forwarded message back out: headers as they came (compat32 does not refold them),
# CRLF as in any .eml file.
_EML_POLICY = email_policy.compat32.clone(linesep="\r\n")


def parse_email(raw: bytes, *, own_addresses: frozenset[str] = frozenset()) -> ParsedEmail:
    """Parse one raw RFC 822 message; never raises on content, only on an empty input."""
    if not raw or not raw.strip():
        raise UnparseableEmail("empty message")
    msg = _message(_cap_parts(raw))
    headers = header_index(msg)
    body_charset = _body_charset(msg)
    from_name, from_address = _first_address(headers, "from", body_charset)
    _, reply_to = _first_address(headers, "reply-to", body_charset)
    body = _Body()
    body.collect(msg)
    html = clean_html(body.html()) if body.html_parts else ""
    text = body.text(html)
    cids = _referenced_cids(html) if body.html_parts else frozenset()
    attachments = tuple(
        ParsedAttachment(
            filename=item.filename,
            content_type=item.content_type,
            content=item.content,
            content_id=item.content_id,
            inline=bool(item.content_id) and item.content_id.lower() in cids,
        )
        for item in body.attachments
    )
    owned = frozenset(address.lower() for address in own_addresses)
    automated, bounce = classify(
        msg, from_address=from_address, own_addresses=owned, text=text, headers=headers
    )
    return ParsedEmail(
        message_id=_message_id(headers.get("message-id", "")),
        in_reply_to=_ids(headers.get("in-reply-to", "")),
        references=_references(headers.get("references", "")),
        subject=_subject(headers, body_charset),
        from_name=from_name,
        from_address=from_address,
        reply_to=reply_to,
        to=_addresses(headers, "to", body_charset),
        cc=_addresses(headers, "cc", body_charset),
        date=_date(headers.get("date", "")),
        text=text,
        html=html,
        attachments=attachments,
        automated=automated,
        bounce=bounce,
    )


def _cap_parts(raw: bytes) -> bytes:
    """The message cut before the part after MAX_PARTS: the stdlib parser reads every part (10,000
    parts took 3 s), and the parts past the limit are never looked at anyway.

    Only MIME delimiter lines of the message's own boundaries count, so a text full of dashed
    lines is never cut. The stored raw message keeps everything.
    """
    limit = 2 * MAX_PARTS  # every part has one delimiter line, every multipart one closing line
    if raw.count(b"\n--") <= limit:
        return raw
    boundaries = dict.fromkeys(
        found.strip() for found in _BOUNDARY.findall(raw, 0, 50_000_000) if found.strip()
    )
    if not boundaries:
        return raw
    delimiter = re.compile(
        rb"\n--(?:" + b"|".join(re.escape(b) for b in list(boundaries)[:MAX_PARTS]) + rb")"
    )
    for count, match in enumerate(delimiter.finditer(raw), 1):
        if count > limit:
            return raw[: match.start() + 1]
    return raw


def _message(raw: bytes) -> Message:
    """The parsed message; on nesting too deep for the stdlib, its headers and a raw text body."""
    try:
        return email.message_from_bytes(raw, policy=_POLICY)
    except RecursionError:
        pass
    msg = BytesParser(policy=_POLICY).parsebytes(raw, headersonly=True)
    for name in ("content-type", "content-transfer-encoding"):
        del msg[name]
    msg["Content-Type"] = "text/plain"
    return msg


# --- headers ------------------------------------------------------------------------------


def _text_header(headers: Mapping[str, str], name: str, charset: str | None) -> str:
    """A header's value as text: raw 8-bit bytes decoded (UTF-8, else guessed), unfolded."""
    value = headers.get(name, "")
    if not value:
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Raw 8-bit bytes kept as surrogates by the parser: UTF-8 (RFC 6532) first, then the
        # body's charset, which legacy clients used for the headers too.
        value = decode_bytes(value.encode("ascii", "surrogateescape"), charset, utf8_first=True)
    return value


def _subject(headers: Mapping[str, str], charset: str | None) -> str:
    value = _text_header(headers, "subject", charset)
    if not value:
        return ""
    if len(value) > MAX_SUBJECT_CHARS:
        cut = value.rfind(" ", 0, MAX_SUBJECT_CHARS)
        value = value[: cut if cut > 0 else MAX_SUBJECT_CHARS]
    try:
        decoded = str(_POLICY.header_factory("Subject", value))
    except Exception:  # the header parser has had bugs on hostile input
        decoded = _decode_words(value)
    return _clean(decoded).strip()


def _decode_words(value: str) -> str:
    """Encoded words decoded with the older, more lenient stdlib decoder."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def _address_list(
    headers: Mapping[str, str], name: str, charset: str | None
) -> list[tuple[str, str]]:
    """(display name, lowercased address) pairs of an address header; invalid ones left out."""
    value = _text_header(headers, name, charset)
    if not value:
        return []
    if len(value) > MAX_HEADER_CHARS:
        # Cut between two addresses, not inside one.
        value = value[: max(value.rfind(",", 0, MAX_HEADER_CHARS), 0)]
    try:
        parsed = _POLICY.header_factory(name, value)
        pairs = [
            (address.display_name or "", address.addr_spec)
            for address in getattr(parsed, "addresses", ())
        ]
    except Exception:
        pairs = [
            (_decode_words(display), addr)
            for display, addr in getaddresses([value[:MAX_HEADER_CHARS]])
        ]
    return [
        (_clean(display).strip(), addr.strip().lower())
        for display, addr in pairs
        if "@" in addr and not any(c.isspace() for c in addr.strip())
    ]


def _first_address(headers: Mapping[str, str], name: str, charset: str | None) -> tuple[str, str]:
    pairs = _address_list(headers, name, charset)
    return pairs[0] if pairs else ("", "")


def _addresses(headers: Mapping[str, str], name: str, charset: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(addr for _, addr in _address_list(headers, name, charset)))


def _message_id(value: str) -> str:
    found = _ANGLE_ID.search(value)
    if found:
        return found.group(1)
    # Some clients write the id without angle brackets.
    token = value.strip()
    return token if token and "@" in token and not any(c.isspace() for c in token) else ""


def _ids(value: str) -> tuple[str, ...]:
    ids = _ANGLE_ID.findall(value)
    if not ids:
        single = _message_id(value)
        return (single,) if single else ()
    return tuple(dict.fromkeys(ids))


def _references(value: str) -> tuple[str, ...]:
    ids = _ids(value)
    if len(ids) > MAX_REFERENCES:
        # The first id is the thread's start, the last ones its most recent messages.
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return ids


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # "-0000": the time is UTC, the zone unknown (RFC 5322 §3.3).
        parsed = parsed.replace(tzinfo=UTC)
    if not 1970 <= parsed.year <= 2999:
        return None
    return parsed


def _body_charset(msg: Message) -> str | None:
    """The charset of the first text part: raw 8-bit headers are most often in it."""
    stack: list[Message] = [msg]
    seen = 0
    while stack and seen < 20:
        part = stack.pop(0)
        seen += 1
        charset = _param_charset(part)
        if charset:
            return charset
        if part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in payload if isinstance(p, Message))
    return None


def _param_charset(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except Exception:
        return None
    return str(charset) if charset else None


# --- body ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    filename: str
    content_type: str
    content: bytes
    content_id: str


class _Body:
    """The text, HTML and files of a message, collected in document order."""

    def __init__(self) -> None:
        self.plain_parts: list[str] = []
        self.html_parts: list[str] = []
        self.other_text: list[str] = []
        self.attachments: list[_File] = []

    def collect(self, msg: Message) -> None:
        for part, content_type in _leaves(msg):
            self._take(part, content_type)

    def _take(self, part: Message, content_type: str) -> None:
        maintype, _, subtype = content_type.partition("/")
        try:
            disposition = part.get_content_disposition()
        except Exception:
            disposition = None
        filename = _filename(part)
        if maintype == "message" and content_type not in _NOT_ATTACHMENTS:
            self._add_message(part, content_type, filename)
            return
        if content_type in _NOT_ATTACHMENTS:
            # A report's fields: the words shown when the report has no readable part.
            self.other_text.append(_report_text(part))
            return
        if maintype == "multipart":
            # A multipart without usable boundaries: its body is all there is.
            self.plain_parts.append(_decode_part(part))
            return
        if maintype == "text" and not filename and disposition != "attachment":
            if subtype == "plain":
                self.plain_parts.append(_decode_part(part))
                return
            if subtype == "html":
                self.html_parts.append(_decode_part(part, MAX_HTML_CHARS))
                return
            if subtype in _BODY_TEXT_SUBTYPES:
                self.other_text.append(_decode_part(part))
                return
        content = _payload(part)
        self.attachments.append(
            _File(
                filename=filename or self._made_up_name(content_type),
                content_type=content_type,
                content=content,
                content_id=_content_id(part),
            )
        )

    def _add_message(self, part: Message, content_type: str, filename: str) -> None:
        """A forwarded message, kept whole as an .eml file."""
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            content = _as_bytes(inner)
            name = filename or _eml_name(inner)
        else:
            content = _payload(part)
            name = filename or "message.eml"
        self.attachments.append(_File(name, content_type, content, content_id=_content_id(part)))

    def _made_up_name(self, content_type: str) -> str:
        extension = {"message/rfc822": ".eml", "text/plain": ".txt"}.get(content_type) or (
            mimetypes.guess_extension(content_type) or ".bin"
        )
        return f"attachment-{len(self.attachments) + 1}{extension}"

    def html(self) -> str:
        return "\n".join(self.html_parts)[:MAX_HTML_CHARS]

    def text(self, cleaned_html: str) -> str:
        """The plain text parts, else the text of the (sanitised) HTML, else any other text."""
        text = "\n".join(part for part in self.plain_parts if part.strip())
        if not text.strip() and cleaned_html:
            text = _html_to_text(cleaned_html)
        if not text.strip() and self.other_text:
            text = "\n".join(self.other_text)
        return _normalise_newlines(text)[:MAX_TEXT_CHARS]


def _leaves(msg: Message) -> Iterator[tuple[Message, str]]:
    """The non-multipart parts and their content types in document order, at most MAX_PARTS
    parts visited, without recursion."""
    stack: list[Message] = [msg]
    visited = 0
    while stack and visited < MAX_PARTS:
        part = stack.pop()
        visited += 1
        content_type = _content_type(part)
        if content_type.startswith("multipart/"):
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
                continue
        yield part, content_type


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _filename(part: Message) -> str:
    """The declared file name, decoded (RFC 2231 or encoded words), without any path."""
    name = ""
    raw_values: list[str] = []
    for header_name, param in (("content-disposition", "filename"), ("content-type", "name")):
        raw = header(part, header_name)
        if not raw:
            continue
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            # Raw 8-bit bytes: decoded here, the header parser would turn them into "?".
            raw = decode_bytes(
                raw.encode("ascii", "surrogateescape"), _param_charset(part), utf8_first=True
            )
        raw_values.append(raw)
        try:
            params = getattr(_POLICY.header_factory(header_name, raw), "params", None)
            value = params.get(param) if params else None
        except Exception:
            value = None
        if value:
            name = str(value)
            break
    if not name:
        # The header parser drops a parameter it cannot read (an unquoted encoded word: a
        # client's `filename==?utf-8?B?…?=`); read the raw header.
        for raw in raw_values:
            found = _RAW_NAME.search(raw)
            if found:
                name = found.group(1).strip()
                break
    if not name:
        return ""
    if "=?" in name:
        name = _decode_words(name)
    name = _clean(name)
    name = _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = f"{stem[:180]}.{extension[:15]}" if dot and len(extension) <= 15 else name[:200]
    return name


def _content_id(part: Message) -> str:
    value = header(part, "content-id")
    found = _ANGLE_ID.search(value)
    return (found.group(1) if found else value.strip())[:250]


def _payload(part: Message) -> bytes:
    try:
        content = part.get_payload(decode=True)
    except Exception:
        content = None
    if isinstance(content, bytes):
        return content
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape")
    return b""


def _as_bytes(msg: Message) -> bytes:
    """A message as bytes, its headers written back as they came."""
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_EML_POLICY).flatten(msg)
    except Exception:
        return b""
    return buffer.getvalue()


def _report_text(part: Message) -> str:
    """A report's fields as lines of text ("Status: 5.1.1")."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [
            "\n".join(f"{name}: {value}" for name, value in block.raw_items())
            for block in payload
            if isinstance(block, Message)
        ]
        return _clean("\n\n".join(blocks))
    return decode_bytes(_payload(part), _param_charset(part))


def _eml_name(msg: Message) -> str:
    subject = _subject(header_index(msg), None)
    stem = re.sub(r"[\\/:*?\"<>|]+", " ", subject).strip()[:100]
    return f"{stem or 'message'}.eml"


def _decode_part(part: Message, limit: int = MAX_TEXT_CHARS) -> str:
    # Twice the characters: a multibyte charset needs up to 4 bytes a character, most text 1-2.
    text = decode_bytes(_payload(part)[: limit * 2], _param_charset(part))
    return _normalise_newlines(text)[:limit]


def decode_bytes(data: bytes, declared: str | None, *, utf8_first: bool = False) -> str:
    """Decode text in its declared charset; when that is wrong or unknown, guess, never raise."""
    if not data:
        return ""
    label = (declared or "").strip().strip("\"'").lower()
    candidates = [_CHARSET_SUPERSETS.get(label, label)] if label else []
    if utf8_first:
        candidates.insert(0, "utf-8")
    elif "utf-8" not in candidates:
        candidates.append("utf-8")
    for charset in candidates:
        try:
            return _clean(data.decode(charset))
        except (UnicodeDecodeError, LookupError):
            continue
    return _clean(_guess(data))


def _guess(data: bytes) -> str:
    """Text of an unknown charset: Western Windows text when most bytes are ASCII, else detected.

    Short Western text fools statistical detectors (a French line comes out as Big5), and by far
    the most frequent wrong declaration is windows-1252 sent as UTF-8 or ASCII: few high bytes
    mean Latin text with accents.
    """
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    if high <= len(data) * 0.15:
        return data.decode("cp1252", errors="replace")
    best = from_bytes(data[:100_000]).best()
    if best is not None:
        try:
            return data.decode(best.encoding, errors="replace")
        except LookupError:
            pass
    return data.decode("utf-8", errors="replace")


def _clean(text: str) -> str:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (no encoding accepts it)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _html_to_text(cleaned_html: str) -> str:
    from inscriptis import get_text

    try:
        return str(get_text(cleaned_html[:_MAX_HTML_TO_TEXT])).strip()
    except Exception:  # lxml on a hostile document: fall back to the tags stripped
        return re.sub(r"<[^>]+>", " ", cleaned_html[:_MAX_HTML_TO_TEXT]).strip()


def _referenced_cids(html: str) -> frozenset[str]:
    return frozenset(m.lower() for m in re.findall(r"cid:([^\"'\s)>]+)", html, re.IGNORECASE))
