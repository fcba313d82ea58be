"""`premura fetchmail`: keep every IMAP mailbox fetched (IDLE or polling), or one pass with --once."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from premura.mail import imap, watch
from premura.mail.models import Mailbox


class Command(BaseCommand):
    help = (
        "Fetch email over IMAP: one thread per mailbox waiting in IDLE (or polling) until "
        "stopped; --once runs one pass per mailbox and prints a JSON report per line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--mailbox", type=int, action="append", help="mailbox id (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            self._once(options["mailbox"] or [])
            return
        if options["mailbox"]:
            raise CommandError("--mailbox goes with --once; the loop fetches every mailbox")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("Fetching mail; press Ctrl+C to stop.")
        watch.run_fetchers(stop)

    def _once(self, ids: list[int]) -> None:
        mailboxes = imap.fetched_mailboxes()
        if ids:
            known = {m.pk for m in Mailbox.objects.filter(pk__in=ids)}
            missing = sorted(set(ids) - known)
            if missing:
                raise CommandError(f"no mailbox {', '.join(map(str, missing))}")
            mailboxes = [m for m in mailboxes if m.pk in ids]
        failed = False
        for mailbox in mailboxes:
            report = imap.fetch_once(mailbox)
            failed = failed or bool(report.error)
            self.stdout.write(
                json.dumps(
                    {
                        "mailbox": mailbox.pk,
                        "address": mailbox.address,
                        "stored": report.stored,
                        "duplicates": report.duplicates,
                        "skipped": report.skipped,
                        "failed": report.failed,
                        "quarantined": report.quarantined,
                        "resynced": report.resynced,
                        "busy": report.busy,
                        "last_uid": report.last_uid,
                        "error": report.error,
                    }
                )
            )
        if failed:
            raise CommandError("some mailboxes could not be fetched (see the reports above)")
