"""Which case an inbound email belongs to: its headers first, then the reference in its subject.

1. In-Reply-To, then References from the newest to the oldest, against every Message-ID Premura
   sent or received (EmailReference). Mail clients rewrite In-Reply-To (Outlook points it at a
   message of its own we never saw) but keep the chain in References, so the whole chain is
   looked at in one query and the most recent id we know wins.
2. A case reference such as "[PRM-000123]" in the subject, when that case exists and belongs to
   the sender (the case's customer has this email address) or to this mailbox's inbox: a
   stranger cannot join someone else's case by typing a number.
3. Otherwise None: ingest threads by the sender's open case or opens a new one.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from django.db.models import Q

from premura.contacts.models import Identity
from premura.conversations import statements
from premura.conversations.models import Conversation, parse_reference
from premura.mail.models import EmailReference

if TYPE_CHECKING:
    from premura.mail.models import Mailbox
    from premura.mail.parsing import ParsedEmail

# Long threads carry dozens of ids; the newest ones are the ones that can point at us.
MAX_IDS = 50

_SUBJECT_REFERENCE = re.compile(r"\[\s*(PRM-\d{1,12})\s*\]", re.IGNORECASE)


def header_ids(parsed: ParsedEmail) -> list[str]:
    """The ids an email replies to, most telling first: In-Reply-To, then References newest first."""
    ids: list[str] = []
    for value in (*parsed.in_reply_to, *reversed(parsed.references)):
        if value and value not in ids and value != parsed.message_id:
            ids.append(value[:998])
        if len(ids) >= MAX_IDS:
            break
    return ids


@cache
def _lookup_sql(count: int) -> str:
    """Runs for every reply fetched: SQL written once per number of ids, not compiled each time."""
    marks = ", ".join(["%s"] * count)
    return (
        f'SELECT "header_message_id", "conversation_id" FROM {statements.table(EmailReference)}'  # noqa: S608 - table name from the model, values bound
        f' WHERE "header_message_id" IN ({marks}) ORDER BY "created_at"'
    )


def case_from_headers(parsed: ParsedEmail) -> int | None:
    """The case of the most telling id in In-Reply-To / References that Premura knows."""
    ids = header_ids(parsed)
    if not ids:
        return None
    with statements.cursor() as cursor:
        cursor.execute(_lookup_sql(len(ids)), ids)
        found = dict(cursor.fetchall())
    for value in ids:
        if value in found:
            return int(found[value])
    return None


def case_from_subject(parsed: ParsedEmail, mailbox: Mailbox | None = None) -> int | None:
    """The case named by "[PRM-000123]" in the subject, when it belongs to the sender or inbox."""
    for match in _SUBJECT_REFERENCE.finditer(parsed.subject):
        conversation_id = parse_reference(match.group(1))
        if conversation_id is None:
            continue
        allowed = Q(pk=-1)
        sender = parsed.from_address
        if sender:
            allowed |= Q(contact__email=sender) | Q(
                contact__identities__kind=Identity.Kind.EMAIL,
                contact__identities__scope="",
                contact__identities__external_id=sender,
            )
        if mailbox is not None:
            allowed |= Q(inbox_id=mailbox.inbox_id)
        if Conversation.objects.filter(allowed, pk=conversation_id).exists():
            return conversation_id
    return None


def find_case(parsed: ParsedEmail, mailbox: Mailbox | None = None) -> int | None:
    """The case id this email threads into, or None for a new case (see the module docstring)."""
    return case_from_headers(parsed) or case_from_subject(parsed, mailbox)
