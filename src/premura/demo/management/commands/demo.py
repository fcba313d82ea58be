"""`premura demo`: load realistic demo data in Italian and English."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from premura.demo.generator import generate


class Command(BaseCommand):
    help = "Load realistic demo data: agents, teams, inboxes, contacts and their conversations."

    def add_arguments(self, parser: ArgumentParser) -> None:
        """Declare --conversations, --seed and --no-progress."""
        parser.add_argument(
            "--conversations", type=int, default=300, help="how many conversations (default 300)"
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed: the same seed writes the same data"
        )
        parser.add_argument(
            "--no-progress", action="store_false", dest="progress", help="no progress bar"
        )
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="spread the cases over this many days (default: 30 for the demo, up to a year "
            "for larger sets, so a small demo still has a full inbox of waiting cases)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Generate the data and print a one-line summary."""
        verbosity = options["verbosity"]
        conversations = options["conversations"]
        days = options.get("days") or min(365, max(30, conversations // 10))
        result = generate(
            conversations,
            seed=options["seed"],
            days=days,
            progress=options.get("progress", True) and verbosity > 0,
        )
        if verbosity > 0:
            self.stdout.write(
                f"Demo data loaded: {result['conversations']} conversations, {result['contacts']} contacts, "
                f"{result['messages']} messages, {result['events']} events in {result['seconds']:.1f} s "
                f"({result['database']})."
            )
