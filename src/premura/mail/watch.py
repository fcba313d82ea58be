"""Keeping mailboxes fetched: IDLE or polling threads, and the alert for fetchers gone stale.

`run_fetchers` starts one thread per IMAP mailbox (`premura fetchmail`, `premura run`); each waits
in IDLE when the server offers it, or polls, and runs a pass (premura.mail.imap.fetch_once) on
every wake-up. `alert_stale_mailboxes` runs from the scheduler's periodic job.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from imapclient import IMAPClient

from premura.mail.connection import _quietly_close, connect_imap
from premura.mail.imap import fetch_once, fetched_mailboxes, stale_after, stale_mailboxes
from premura.mail.models import Mailbox

logger = logging.getLogger(__name__)

# IDLE is renewed before the 30 minutes after which RFC 2177 lets a server drop the connection.
IDLE_RENEW_SECONDS = 29 * 60
BACKOFF_MAX_SECONDS = 300.0

STALE_ALERT_KEY = "mail_stale_alert_for"


def alert_stale_mailboxes(now: dt.datetime | None = None) -> int:
    """Email the active admins once per stale episode of each mailbox; returns how many alerts.

    An episode is identified by the last success before it; the inbox's settings remember the
    episode already alerted, claimed under a row lock so two schedulers send it once.
    """
    from django.core.mail import send_mail

    from premura.accounts.models import User
    from premura.channels.models import Inbox

    now = now or timezone.now()
    sent = 0
    for mailbox in stale_mailboxes(now):
        state = mailbox.fetch_state
        episode = (state.last_success_at or state.last_attempt_at or now).isoformat()
        with transaction.atomic():
            inbox = Inbox.objects.select_for_update().get(pk=mailbox.inbox_id)
            if (inbox.settings or {}).get(STALE_ALERT_KEY) == episode:
                continue
            inbox.settings = {**(inbox.settings or {}), STALE_ALERT_KEY: episode}
            inbox.save(update_fields=["settings"])
            recipients = list(
                User.objects.filter(role=User.Role.ADMIN, is_active=True)
                .exclude(email="")
                .values_list("email", flat=True)
            )
            if not recipients:
                continue
            subject = _("Premura: the mailbox %(address)s has not been fetched since %(since)s") % {
                "address": mailbox.address,
                "since": episode[:16].replace("T", " "),
            }
            body = _(
                "Fetching mail for the inbox “%(inbox)s” (%(address)s) has not succeeded for more "
                "than %(minutes)d minutes.\n\nLast error: %(error)s\n\nNo mail is lost: fetching "
                "resumes from the last message stored as soon as the server answers again. "
                "Check the inbox's settings and use “Test connection”."
            ) % {
                "inbox": inbox.name,
                "address": mailbox.address,
                "minutes": int(stale_after().total_seconds() // 60),
                "error": state.last_error or _("none recorded"),
            }

            def deliver(
                subject: str = subject, body: str = body, to: list[str] = recipients
            ) -> None:
                send_mail(subject, body, None, to, fail_silently=True)

            transaction.on_commit(deliver)
            sent += 1
    return sent


# --- Long-running fetchers (IDLE or polling) -----------------------------------------------------


def watch_mailbox(mailbox_id: int, stop: threading.Event) -> None:
    """Keep one mailbox fetched until `stop`: IDLE when the server offers it, else poll.

    After an error it reconnects with a growing pause (1 s doubling to 5 minutes); a successful
    pass resets it. IDLE is renewed every 29 minutes, and every wake-up runs a full pass, so a
    notification the server forgot to send delays mail by that long at most.
    """
    try:
        _watch(mailbox_id, stop)
    finally:
        # This thread's database connection dies with it (a persistent one would stay open).
        connection.close()


def _watch(mailbox_id: int, stop: threading.Event) -> None:
    backoff = 1.0
    while not stop.is_set():
        client: IMAPClient | None = None
        try:
            close_old_connections()
            mailbox = Mailbox.objects.select_related("inbox").filter(pk=mailbox_id).first()
            if mailbox is None or not mailbox.inbox.is_active or mailbox.inbound != "imap":
                return
            client = connect_imap(mailbox, timeout=IDLE_RENEW_SECONDS + 60)
            idle = mailbox.use_idle and client.has_capability("IDLE")
            while not stop.is_set():
                report = fetch_once(mailbox, client=client)
                if report.error:
                    raise RuntimeError(report.error)
                backoff = 1.0
                close_old_connections()
                if idle:
                    _idle(client, stop)
                else:
                    stop.wait(mailbox.poll_seconds)
                mailbox.refresh_from_db()
        except Exception as exc:
            logger.warning("mailbox %s fetcher: %s; retrying in %.0fs", mailbox_id, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
        finally:
            if client is not None:
                _quietly_close(client)
            close_old_connections()


def _idle(client: IMAPClient, stop: threading.Event) -> None:
    """Wait in IDLE until the server reports a change, `stop` is set, or it is time to renew."""
    client.idle()
    try:
        deadline = time.monotonic() + IDLE_RENEW_SECONDS
        while not stop.is_set() and time.monotonic() < deadline:
            responses = client.idle_check(timeout=1.0)
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                return
    finally:
        client.idle_done()


def run_fetchers(stop: threading.Event, *, rescan_seconds: float = 60.0) -> None:
    """One watching thread per IMAP mailbox, started and forgotten as mailboxes come and go."""
    threads: dict[int, tuple[threading.Thread, threading.Event]] = {}
    while not stop.is_set():
        try:
            close_old_connections()
            wanted = {m.pk for m in fetched_mailboxes()}
        except Exception:
            logger.exception("listing mailboxes to fetch failed")
            wanted = set(threads)
        finally:
            close_old_connections()
        for mailbox_id in wanted:
            running = threads.get(mailbox_id)
            if running is None or not running[0].is_alive():
                own_stop = threading.Event()
                thread = threading.Thread(
                    target=watch_mailbox,
                    args=(mailbox_id, own_stop),
                    name=f"premura-mail-{mailbox_id}",
                    daemon=True,
                )
                thread.start()
                threads[mailbox_id] = (thread, own_stop)
        for mailbox_id in set(threads) - wanted:
            threads.pop(mailbox_id)[1].set()
        stop.wait(rescan_seconds)
    for _thread, own_stop in threads.values():
        own_stop.set()
    for thread, _own_stop in threads.values():
        thread.join(5)
    connection.close()
