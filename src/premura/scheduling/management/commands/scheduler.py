"""`premura scheduler`: enqueue periodic jobs (safe to run on several nodes)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from premura.scheduling.scheduler import run_forever, tick


class Command(BaseCommand):
    help = "Enqueue due periodic jobs; runs until stopped (or once with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=5.0)
        parser.add_argument("--once", action="store_true", help="tick once and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            for name in tick():
                self.stdout.write(name)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        run_forever(stop, options["interval"])
