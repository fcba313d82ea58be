"""`premura worker`: run background tasks from every queue (django-tasks-db's worker)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run background tasks (outbox delivery, routing, periodic jobs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queues", default="*", help="comma-separated queue names, * for all")
        parser.add_argument("--interval", type=float, default=0.5)
        parser.add_argument("--batch", action="store_true", help="run what is due, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command(
            "db_worker",
            queue_name=options["queues"],
            interval=options["interval"],
            batch=options["batch"],
            reload=False,
            startup_delay=not options["batch"],
            verbosity=options["verbosity"],
        )
