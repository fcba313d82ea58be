"""Fetching a mailbox over IMAP: nothing lost, nothing stored twice, nothing retried forever.

One pass (`fetch_once`):

1. SELECT the folder and compare its UIDVALIDITY with the one we stored. First connection: the
   folder's current top UID (UIDNEXT - 1) becomes the *baseline*; with no `fetch_since` only
   mail above it is fetched, with a date the mail SEARCHed SINCE that date is imported first as
   history (no acknowledgements, no routing). A changed UIDVALIDITY (the folder was rebuilt)
   starts again from UID 1 above a new baseline: mail below it is fetched again from the date the
   inbox was connected and deduplicated on its Message-ID by ingest, so nothing is lost and
   nothing stored twice.
2. FETCH the UIDs after the last committed one, 200 at a time, with BODY.PEEK[] (flags are left
   alone, and mail already read in another client is fetched like any other).
3. Messages are ingested in small groups (COMMIT_EVERY), each message in a savepoint of its
   own, and each group's transaction also moves FetchState.last_uid to its last UID: a crash, a
   kill or a week offline resumes right after the last message committed, and a message is
   never stored without the UID moving past it, nor the UID moved past a message not stored.
4. After the commit the messages are flagged \\Seen and $PremuraImported; nothing is ever
   deleted or moved.
5. A message that fails (parse or ingest) stops the pass at its UID, so it is tried again next
   time, after PREMURA_MAIL_MAX_ATTEMPTS failures it is quarantined with its raw source for an
   admin (QuarantinedEmail) and fetching moves on.
6. The server's count of messages above the baseline is compared with the count fetched; a
   difference raises FetchState.count_warning.

premura.mail.watch keeps one thread per mailbox waiting in IDLE (or polling), for `premura
fetchmail` and `premura run`; the scheduler's periodic job also runs passes, so `premura worker` and
`premura scheduler` alone fetch mail. Two passes over one mailbox never overlap (an advisory
lock on PostgreSQL, a process lock elsewhere).
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from premura.conversations.ingest import IngestResult
from premura.mail.connection import IMAPConnectError, _quietly_close, connect_imap
from premura.mail.inbound import TransactionSpoiled, ingest_email, parse_for
from premura.mail.models import FetchState, Mailbox, QuarantinedEmail
from premura.mail.parsing import ParsedEmail, parse_email

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# Messages committed together (with the folder's last UID): a commit waits for the disk, so one
# per message would cap throughput; a crash loses at most an uncommitted group, which is fetched
# again. Kept small so the cases it touches are not locked for long.
COMMIT_EVERY = 20
COMMIT_SECONDS = 0.25
IMPORTED_FLAGS = [b"\\Seen", b"$PremuraImported"]


def max_attempts() -> int:
    return int(settings.PREMURA_MAIL_MAX_ATTEMPTS)


def stale_after() -> dt.timedelta:
    return dt.timedelta(minutes=int(settings.PREMURA_MAIL_STALE_MINUTES))


@dataclass
class FetchReport:
    """What one pass did."""

    mailbox_id: int
    stored: int = 0  # new messages stored
    duplicates: int = 0  # already stored before (a re-fetch after a crash or a resync)
    skipped: int = 0  # a deleted case's email, our own email, or mail from before the connection
    failed: int = 0  # failed this pass: tried again next pass
    quarantined: int = 0  # failed too often: kept for an admin, fetching moved on
    resynced: bool = False  # UIDVALIDITY changed
    busy: bool = False  # another pass over this mailbox was running
    last_uid: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not self.busy


# --- One pass at a time per mailbox ------------------------------------------------------------

_LOCK_NAMESPACE = zlib.crc32(b"premura.mail.fetch") & 0x7FFFFFFF
_local_locks: dict[int, threading.Lock] = {}
_local_locks_guard = threading.Lock()


@contextmanager
def mailbox_lock(mailbox_id: int) -> Iterator[bool]:
    """Hold the mailbox's fetch lock for a pass; yields False when another pass holds it."""
    with _local_locks_guard:
        local = _local_locks.setdefault(mailbox_id, threading.Lock())
    if not local.acquire(blocking=False):
        yield False
        return
    try:
        if connection.vendor != "postgresql":
            yield True
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, mailbox_id])
            row = cursor.fetchone()
        if not (row and row[0]):
            yield False
            return
        try:
            yield True
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, mailbox_id]
                    )
            except Exception:  # a broken connection has released its locks already
                logger.warning("could not release the fetch lock of mailbox %s", mailbox_id)
    finally:
        local.release()


# --- A pass --------------------------------------------------------------------------------------


def fetch_once(mailbox: Mailbox, *, client: IMAPClient | None = None) -> FetchReport:
    """One pass over the mailbox's folder: new UIDs since the last committed one (see above).

    Never raises for a server or network problem: the report (and FetchState.last_error) says
    what failed. A connection given by the caller (the IDLE loop's) is used and left open.
    """
    report = FetchReport(mailbox_id=mailbox.pk)
    with mailbox_lock(mailbox.pk) as locked:
        if not locked:
            report.busy = True
            return report
        state, _created = FetchState.objects.get_or_create(mailbox=mailbox)
        FetchState.objects.filter(pk=state.pk).update(last_attempt_at=timezone.now())
        own = client is None
        try:
            if client is None:
                client = connect_imap(mailbox)
            _pass(mailbox, state, client, report)
        except IMAPConnectError as exc:
            report.error = exc.message
        except (IMAPClientError, OSError, ssl.SSLError) as exc:
            report.error = _("The connection to the mail server failed: %(error)s") % {
                "error": str(exc) or exc.__class__.__name__
            }
        except Exception as exc:
            logger.exception("fetching mailbox %s failed", mailbox.pk)
            report.error = repr(exc)
        finally:
            if own and client is not None:
                _quietly_close(client)
        _finish(state, report)
    return report


def _finish(state: FetchState, report: FetchReport) -> None:
    now = timezone.now()
    if report.error:
        FetchState.objects.filter(pk=state.pk).update(
            last_error=report.error[:2000], last_error_at=now
        )
        logger.warning("mailbox %s: %s", state.mailbox_id, report.error)
    else:
        FetchState.objects.filter(pk=state.pk).update(last_success_at=now, last_error="")


def _pass(mailbox: Mailbox, state: FetchState, client: IMAPClient, report: FetchReport) -> None:
    client.normalise_times = False
    info = client.select_folder(mailbox.folder)
    uidvalidity = int(info[b"UIDVALIDITY"])
    top = int(info.get(b"UIDNEXT") or 0) - 1
    if top < 0:
        top = max(client.search(["ALL"]) or [0])
    if state.uidvalidity is None:
        state.uidvalidity = uidvalidity
        state.baseline_uid = top
        state.last_uid = top if mailbox.fetch_since is None else 0
        state.fetched_count = 0
        state.save(update_fields=["uidvalidity", "baseline_uid", "last_uid", "fetched_count"])
    elif state.uidvalidity != uidvalidity:
        logger.warning(
            "mailbox %s: UIDVALIDITY %s -> %s, fetching the folder again",
            mailbox.pk,
            state.uidvalidity,
            uidvalidity,
        )
        report.resynced = True
        state.uidvalidity = uidvalidity
        state.baseline_uid = top
        state.last_uid = 0
        state.fetched_count = 0
        state.save(update_fields=["uidvalidity", "baseline_uid", "last_uid", "fetched_count"])
    baseline = state.baseline_uid or 0
    # UIDs that failed before: their row goes when they succeed; a quarantined one whose group
    # rolled back (see _spoiled) is passed over.
    pending: dict[int | None, bool] = dict(
        QuarantinedEmail.objects.filter(
            mailbox=mailbox, uidvalidity=uidvalidity, released_at__isnull=True
        ).values_list("uid", "quarantined")
    )
    uids = _uids_to_fetch(mailbox, client, state.last_uid, baseline)
    report.last_uid = state.last_uid
    for start in range(0, len(uids), BATCH_SIZE):
        batch = uids[start : start + BATCH_SIZE]
        data = client.fetch(batch, [b"BODY.PEEK[]", b"INTERNALDATE"])
        # A message expunged between SEARCH and FETCH is simply not there.
        items = [(uid, data[uid]) for uid in batch if uid in data]
        _parse_ahead(mailbox, items)
        done: list[int] = []
        position = 0
        while position < len(items):
            group = _Group(last_uid=state.last_uid)
            try:
                with transaction.atomic():
                    position = _ingest_group(
                        mailbox, state, items, position, baseline, pending, group
                    )
                    if group.last_uid != state.last_uid:
                        # Never backwards: on SQLite two processes may both run a pass (the
                        # lock is per process there); the slower one's UID must not win.
                        FetchState.objects.filter(pk=state.pk, last_uid__lt=group.last_uid).update(
                            last_uid=group.last_uid,
                            fetched_count=F("fetched_count") + group.counted,
                        )
            except _GroupSpoiled as spoiled:
                # The whole group rolled back; its messages are fetched again next pass.
                _spoiled(mailbox, state, spoiled, report)
                if done:
                    _flag(client, done)
                return
            # Committed: only now do the counts and the UID move forward, and flags follow.
            state.last_uid = report.last_uid = group.last_uid
            report.stored += group.stored
            report.duplicates += group.duplicates
            report.skipped += group.skipped
            report.quarantined += group.quarantined
            done += group.uids
            if group.failure:
                report.failed += 1
                report.error = group.failure
                if done:
                    _flag(client, done)
                return
        if done:
            _flag(client, done)
    _check_count(mailbox, state, client, baseline)


@dataclass
class _Group:
    """The messages of one transaction: what they did, and the UID to commit with them."""

    last_uid: int
    counted: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    quarantined: int = 0
    failure: str = ""
    uids: list[int] = field(default_factory=list)


_PARSED = b"premura-parsed"
# A bulk import (a backfill, a history import) parses in a child process while this one waits for
# the database; a few messages are parsed in line. Not a thread: a thread parsing pure Python
# holds the GIL, and every database answer would then wait up to the interpreter's switch
# interval (5 ms) to be read, slower than parsing in line.
PARSE_AHEAD_MIN = 20
_parse_pool: ProcessPoolExecutor | None = None
_parse_pool_guard = threading.Lock()


def _parse_processes() -> int:
    return int(settings.PREMURA_MAIL_PARSE_PROCESSES)


def _parser() -> ProcessPoolExecutor | None:
    """The process that parses ahead (started on first use, shared by the mailboxes)."""
    global _parse_pool
    if _parse_processes() <= 0:
        return None
    with _parse_pool_guard:
        if _parse_pool is None:
            _parse_pool = ProcessPoolExecutor(
                max_workers=_parse_processes(),
                # Never fork a process holding database connections and threads.
                mp_context=multiprocessing.get_context("spawn"),
            )
        return _parse_pool


def _forget_parser() -> None:
    """After the parsing process died: the next bulk import starts a new one."""
    global _parse_pool
    with _parse_pool_guard:
        pool, _parse_pool = _parse_pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _parse_ahead(mailbox: Mailbox, items: list[tuple[int, dict[bytes, Any]]]) -> None:
    if len(items) < PARSE_AHEAD_MIN:
        return
    pool = _parser()
    if pool is None:
        return
    own = frozenset({mailbox.address.lower()})
    try:
        for _uid, item in items:
            raw = bytes(item.get(b"BODY[]") or b"")
            item[_PARSED] = pool.submit(parse_email, raw, own_addresses=own)
    except BrokenProcessPool:
        _forget_parser()


def _parsed(mailbox: Mailbox, item: dict[bytes, Any], raw: bytes) -> ParsedEmail:
    """The email parsed ahead, or parsed now (no pool, or its process died)."""
    future: Future[ParsedEmail] | None = item.pop(_PARSED, None)
    if future is not None:
        try:
            return future.result()
        except (BrokenProcessPool, CancelledError):
            _forget_parser()
    return parse_for(mailbox, raw)


def _ingest_group(
    mailbox: Mailbox,
    state: FetchState,
    items: list[tuple[int, dict[bytes, Any]]],
    position: int,
    baseline: int,
    pending: dict[int | None, bool],
    group: _Group,
) -> int:
    """Ingest messages from `position` until the group is full or one fails; returns the next
    position. Runs inside the group's transaction, each message in a savepoint of its own."""
    started = time.monotonic()
    while position < len(items):
        uid, item = items[position]
        position += 1
        if not _one(mailbox, state, uid, item, baseline, pending, group):
            break
        if len(group.uids) >= COMMIT_EVERY or time.monotonic() - started >= COMMIT_SECONDS:
            break
    return position


def _uids_to_fetch(mailbox: Mailbox, client: IMAPClient, last_uid: int, baseline: int) -> list[int]:
    """The UIDs after `last_uid`: SINCE the start date up to the baseline, everything above it."""
    uids: list[int] = []
    if last_uid < baseline:
        since = mailbox.fetch_since or _connected_at(mailbox).date() - dt.timedelta(days=1)
        uids += client.search(["UID", f"{last_uid + 1}:{baseline}", "SINCE", since])
    start = max(last_uid, baseline) + 1
    # "n:*" always matches the highest UID, even below n: filtered out here.
    uids += [uid for uid in client.search(["UID", f"{start}:*"]) if uid >= start]
    return sorted(set(uids))


def _connected_at(mailbox: Mailbox) -> dt.datetime:
    """When the mailbox was connected: mail older than this was never meant to be fetched."""
    return mailbox.inbox.created_at.replace(microsecond=0)


def _arrived(item: dict[bytes, Any]) -> dt.datetime | None:
    value = item.get(b"INTERNALDATE")
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo is not None else value.astimezone()


def _one(
    mailbox: Mailbox,
    state: FetchState,
    uid: int,
    item: dict[bytes, Any],
    baseline: int,
    pending: dict[int | None, bool],
    group: _Group,
) -> bool:
    """Ingest one fetched message into the group; False stops the pass (retried next time).

    Raises _GroupSpoiled when the group's transaction must roll back whole.
    """
    raw = bytes(item.get(b"BODY[]") or b"")
    counted = 1 if uid > baseline else 0
    if pending.get(uid):  # quarantined already: move past it
        group.last_uid = uid
        group.counted += counted
        return True
    historical, skip = False, False
    if uid <= baseline:
        # Below the baseline: history (fetch_since) or a re-fetch after a UIDVALIDITY change.
        arrived = _arrived(item)
        if arrived is not None and arrived < _connected_at(mailbox):
            historical = mailbox.fetch_since is not None
            skip = not historical
    try:
        result = None
        if not skip:
            parsed = _parsed(mailbox, item, raw)
            result = ingest_email(
                mailbox, raw, historical=historical, parsed=parsed, savepoint=False
            )
        if uid in pending:
            QuarantinedEmail.objects.filter(
                mailbox=mailbox, uidvalidity=state.uidvalidity, uid=uid
            ).delete()
    except TransactionSpoiled as exc:
        raise _GroupSpoiled(uid, raw, counted, exc) from exc
    except DatabaseError as exc:
        raise _GroupSpoiled(uid, raw, counted, exc) from exc
    except Exception as exc:
        return _failed(mailbox, state, uid, raw, exc, counted, group)
    group.last_uid = uid
    group.counted += counted
    group.uids.append(uid)
    if result is None:
        group.skipped += 1
    elif result.created:
        group.stored += 1
    else:
        group.duplicates += 1
    return True


class _GroupSpoiled(Exception):
    """A message left the group's transaction inconsistent: the group rolls back whole."""

    def __init__(self, uid: int, raw: bytes, counted: int, error: Exception) -> None:
        super().__init__(uid)
        self.uid = uid
        self.raw = raw
        self.counted = counted
        self.error = error.__cause__ if isinstance(error, TransactionSpoiled) else error


def _spoiled(
    mailbox: Mailbox, state: FetchState, spoiled: _GroupSpoiled, report: FetchReport
) -> None:
    """Count the failure of a message whose group rolled back, in a transaction of its own.

    At the limit it is quarantined without moving the last UID (the messages before it in the
    group were rolled back too); the next pass stores them and passes over it.
    """
    scratch = _Group(last_uid=state.last_uid)
    error = spoiled.error if isinstance(spoiled.error, Exception) else Exception(spoiled.error)
    if _failed(mailbox, state, spoiled.uid, spoiled.raw, error, spoiled.counted, scratch):
        report.quarantined += 1
    else:
        report.failed += 1
        report.error = scratch.failure


def _message_id(raw: bytes) -> str:
    try:
        value = BytesHeaderParser().parsebytes(raw[:65536]).get("Message-ID", "")
        return str(value).strip().strip("<>")[:998]
    except Exception:
        return ""


def _failed(
    mailbox: Mailbox,
    state: FetchState,
    uid: int,
    raw: bytes,
    exc: Exception,
    counted: int,
    group: _Group,
) -> bool:
    """Count a failed attempt; at the limit quarantine the message and move on (True).

    The message's savepoint has rolled back; this writes in the group's transaction, which
    commits the messages before it either way.
    """
    logger.warning("mailbox %s: UID %s failed: %r", mailbox.pk, uid, exc)
    error = f"{exc.__class__.__name__}: {exc}"[:4000]
    now = timezone.now()
    with transaction.atomic():
        item, created = QuarantinedEmail.objects.select_for_update().get_or_create(
            mailbox=mailbox,
            uidvalidity=state.uidvalidity,
            uid=uid,
            defaults={
                "raw": raw,
                "error": error,
                "attempts": 1,
                "message_id": _message_id(raw),
                "created_at": now,
                "updated_at": now,
            },
        )
        if not created:
            item.attempts += 1
            item.error = error
            item.updated_at = now
        give_up = item.attempts >= max_attempts()
        item.quarantined = give_up
        item.save()
    if give_up:
        group.last_uid = uid
        group.counted += counted
        group.quarantined += 1
        return True
    group.failure = _(
        "The message with UID %(uid)s could not be imported (attempt %(attempt)s of %(limit)s): "
        "%(error)s"
    ) % {"uid": uid, "attempt": item.attempts, "limit": max_attempts(), "error": error}
    return False


def _flag(client: IMAPClient, uids: list[int]) -> None:
    """Mark committed messages read and imported: a courtesy for people reading the mailbox.

    Fetching never depends on it (UIDs do), so a server that refuses a flag is only logged.
    """
    try:
        client.add_flags(uids, IMPORTED_FLAGS, silent=True)
    except IMAPClientError as exc:
        logger.info("could not flag imported messages: %s", exc)


def _check_count(mailbox: Mailbox, state: FetchState, client: IMAPClient, baseline: int) -> None:
    """Compare the server's messages above the baseline with those we went through."""
    last = state.last_uid
    server = 0
    if last > baseline:
        server = len([u for u in client.search(["UID", f"{baseline + 1}:{last}"]) if u <= last])
    fetched = FetchState.objects.filter(pk=state.pk).values_list("fetched_count", flat=True)[0]
    warning = ""
    if server > fetched:
        warning = _(
            "The folder “%(folder)s” holds %(server)d messages that Premura has gone past, but "
            "only %(fetched)d were fetched: %(missing)d may be missing. Check the quarantine "
            "and the server; fetching the folder again (after a UIDVALIDITY change) recovers them."
        ) % {
            "folder": mailbox.folder,
            "server": server,
            "fetched": fetched,
            "missing": server - fetched,
        }
    FetchState.objects.filter(pk=state.pk).update(server_count=server, count_warning=warning)


def retry_quarantined(item: QuarantinedEmail) -> IngestResult | None:
    """Import a quarantined message again (an admin's "retry", after a fix); raises if it fails.

    On success the row is kept as a record, released; on failure the new error is stored.
    """
    mailbox = Mailbox.objects.select_related("inbox").get(pk=item.mailbox_id)
    try:
        result = ingest_email(mailbox, bytes(item.raw))
    except Exception as exc:
        QuarantinedEmail.objects.filter(pk=item.pk).update(
            attempts=F("attempts") + 1,
            error=f"{exc.__class__.__name__}: {exc}"[:4000],
            updated_at=timezone.now(),
        )
        raise
    now = timezone.now()
    QuarantinedEmail.objects.filter(pk=item.pk).update(
        quarantined=False, released_at=now, updated_at=now
    )
    return result


# --- Stale fetchers ------------------------------------------------------------------------------


def fetched_mailboxes() -> list[Mailbox]:
    """The mailboxes fetched over IMAP, of active inboxes."""
    return list(
        Mailbox.objects.filter(inbound=Mailbox.Inbound.IMAP, inbox__is_active=True)
        .select_related("inbox", "fetch_state")
        .order_by("pk")
    )


def stale_mailboxes(now: dt.datetime | None = None) -> list[Mailbox]:
    """Mailboxes whose fetching has not succeeded for PREMURA_MAIL_STALE_MINUTES (admin UI)."""
    now = now or timezone.now()
    threshold = stale_after()
    stale = []
    for mailbox in fetched_mailboxes():
        state = getattr(mailbox, "fetch_state", None)
        if state is not None and state.is_stale(now, threshold):
            stale.append(mailbox)
    return stale
