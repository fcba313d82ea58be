"""Mail that a machine wrote: autoresponders, bounces, mailing lists, our own mail coming back.

Answering any of these automatically starts a loop (two autoresponders answering each other
forever) or spams a list, so such a message is ingested with `automated` set and never
auto-answered. A bounce of an email we sent also says which message failed and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message

# The reasons, as stored and shown.
AUTO_SUBMITTED = "auto-submitted"
AUTO_REPLY = "auto-reply"
BOUNCE = "bounce"
LIST = "list"
PRECEDENCE = "precedence"
MAILER_DAEMON = "mailer-daemon"
OWN_ADDRESS = "own-address"

_PRECEDENCE_VALUES = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
# X-Auto-Response-Suppress values by which a sender (Exchange, most notification systems) says it
# is a machine that wants no auto-replies.
_SUPPRESS_VALUES = frozenset({"all", "oof", "autoreply"})
_DAEMON_LOCALPARTS = frozenset({"mailer-daemon", "postmaster"})
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "mailing-list")
_REPORTS = frozenset({"message/delivery-status", "message/global-delivery-status"})
_OTHER_REPORTS = frozenset({"disposition-notification", "feedback-report"})

# Unfolding as the stdlib policy does it: only CR and LF go.
_LINE_BREAKS = re.compile(r"[\r\n]")
_MESSAGE_ID = re.compile(r"^\s*Message-ID\s*:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_NOT_FINAL = re.compile(
    r"delay|warning|will (?:retry|continue|keep)|not yet been delivered", re.IGNORECASE
)
# How far into a bounce's text the original Message-ID and the status are looked for.
_SCAN_CHARS = 50_000


@dataclass(frozen=True)
class Bounce:
    """A delivery failure report: which message bounced, for whom and why."""

    original_message_id: str  # Message-ID (no <>) of the message that bounced; "" if unknown
    recipient: str
    status: str  # "5.1.1" …
    diagnostic: str
    permanent: bool


def header(msg: Message, name: str) -> str:
    """A header's raw value, unfolded, "" when absent; never parsed (cheap, never raises)."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return _LINE_BREAKS.sub("", str(value)).strip()
    return ""


def header_index(msg: Message) -> dict[str, str]:
    """Every header's first raw value by lowercased name, unfolded: one pass for all lookups."""
    index: dict[str, str] = {}
    for key, value in msg.raw_items():
        name = key.lower()
        if name not in index:
            index[name] = str(value)
    return {name: _LINE_BREAKS.sub("", value).strip() for name, value in index.items()}


def classify(
    msg: Message,
    *,
    from_address: str,
    own_addresses: frozenset[str],
    text: str = "",
    headers: Mapping[str, str] | None = None,
) -> tuple[str, Bounce | None]:
    """Why this message is automated ("" when a person wrote it), and its bounce report if any.

    `text` is the message's plain text, where a bounce without a delivery-status part keeps the
    original Message-ID; `headers` the message's header_index when the caller has it.
    """
    fields = header_index(msg) if headers is None else headers
    content_type = msg.get_content_type()
    report_type = ""
    if content_type == "multipart/report":
        report_type = str(msg.get_param("report-type", "") or "").strip().lower()
    if (
        report_type == "delivery-status"
        or content_type in _REPORTS
        or (content_type == "multipart/report" and _find_report(msg) is not None)
    ):
        return BOUNCE, parse_bounce(msg, text=text)
    local_part = from_address.partition("@")[0]
    if local_part in _DAEMON_LOCALPARTS:
        return MAILER_DAEMON, parse_bounce(msg, text=text)
    if from_address and from_address in own_addresses:
        return OWN_ADDRESS, None
    auto_submitted = fields.get("auto-submitted", "").lower()
    keyword = re.split(r"[\s;(]", auto_submitted, maxsplit=1)[0] if auto_submitted else ""
    if keyword == "auto-replied" or fields.get("x-autoreply") or fields.get("x-autorespond"):
        return AUTO_REPLY, None
    if keyword and keyword != "no":
        return AUTO_SUBMITTED, None
    suppress = {v.strip().lower() for v in fields.get("x-auto-response-suppress", "").split(",")}
    if suppress & _SUPPRESS_VALUES:
        return AUTO_SUBMITTED, None
    if report_type in _OTHER_REPORTS:
        # Read receipts and abuse reports: machines too.
        return AUTO_SUBMITTED, None
    if any(fields.get(name) for name in _LIST_HEADERS):
        return LIST, None
    if fields.get("precedence", "").lower() in _PRECEDENCE_VALUES:
        return PRECEDENCE, None
    if fields.get("return-path", "").replace(" ", "") == "<>":
        # The null sender is reserved for delivery reports (RFC 5321 §4.5.5).
        return BOUNCE, parse_bounce(msg, text=text)
    return "", None


def _find_report(msg: Message) -> Message | None:
    """The message/delivery-status part of a report, at most two levels down."""
    if msg.get_content_type() in _REPORTS:
        return msg
    for part in _children(msg):
        if part.get_content_type() in _REPORTS:
            return part
        for inner in _children(part):
            if inner.get_content_type() in _REPORTS:
                return inner
    return None


def _children(msg: Message) -> list[Message]:
    if msg.get_content_maintype() != "multipart":
        return []
    payload = msg.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def parse_bounce(msg: Message, *, text: str = "") -> Bounce:
    """Read a bounce: the delivery-status fields (RFC 3464) when present, else what the text says."""
    recipient = status = diagnostic = action = ""
    report = _find_report(msg)
    if report is not None:
        recipient, status, diagnostic, action = _delivery_status(report)
    original = _original_message_id(msg) or _search_message_id(text)
    if not status:
        found = _STATUS.search(text[:_SCAN_CHARS])
        status = found.group(1) if found else ""
    if action:
        permanent = action == "failed"
    elif status:
        permanent = status.startswith("5")
    else:
        permanent = not _NOT_FINAL.search(text[:_SCAN_CHARS])
    return Bounce(
        original_message_id=original,
        recipient=recipient,
        status=status,
        diagnostic=diagnostic,
        permanent=permanent,
    )


def _delivery_status(report: Message) -> tuple[str, str, str, str]:
    """(recipient, status, diagnostic, action) of the first recipient that failed (else the first)."""
    payload = report.get_payload()
    blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
    if not blocks and isinstance(payload, str):
        # Not parsed into field blocks (a part with a transfer encoding): read the text.
        blocks = _field_blocks(payload)
    chosen: tuple[str, str, str, str] | None = None
    for block in blocks:
        recipient = _typed_value(header(block, "final-recipient")) or _typed_value(
            header(block, "original-recipient")
        )
        action = header(block, "action").lower().split(" ")[0] if header(block, "action") else ""
        if not recipient and not action and not header(block, "status"):
            continue  # the per-message block (Reporting-MTA, Arrival-Date)
        found = _STATUS.search(header(block, "status"))
        status = found.group(1) if found else ""
        diagnostic = " ".join(_typed_value(header(block, "diagnostic-code")).split())
        fields = (recipient.strip("<> ").lower(), status, diagnostic, action)
        if chosen is None:
            chosen = fields
        if action == "failed":
            return fields
    return chosen or ("", "", "", "")


def _field_blocks(text: str) -> list[Message]:
    from email.parser import HeaderParser

    parser = HeaderParser()
    return [
        parser.parsestr(block.strip() + "\n")
        for block in re.split(r"\r?\n\s*\r?\n", text[:_SCAN_CHARS])
        if block.strip()
    ]


def _typed_value(value: str) -> str:
    """`rfc822; anna@example.com` → `anna@example.com` (the type before ";" dropped)."""
    kind, sep, rest = value.partition(";")
    return (rest if sep else kind).strip()


def _original_message_id(msg: Message) -> str:
    """The Message-ID of the returned message (message/rfc822) or headers (text/rfc822-headers)."""
    stack = [msg]
    seen = 0
    while stack and seen < 50:
        part = stack.pop()
        seen += 1
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "message/global", "message/global-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found = re.search(r"<([^<>\s]+)>", header(payload[0], "message-id"))
                if found:
                    return found.group(1)
            elif isinstance(payload, str):
                return _search_message_id(payload)
        elif content_type == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                found_id = _search_message_id(raw.decode("utf-8", "replace"))
                if found_id:
                    return found_id
        elif part.get_content_maintype() == "multipart":
            stack.extend(reversed(_children(part)))
    return ""


def _search_message_id(text: str) -> str:
    found = _MESSAGE_ID.search(text[:_SCAN_CHARS])
    return found.group(1) if found else ""
