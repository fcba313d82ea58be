"""`premura token create EMAIL [--name NAME]`: issue a personal API token, printed once as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from premura.accounts.models import User
from premura.accounts.services import issue_api_token


class Command(BaseCommand):
    help = "Create a personal API token for an agent."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token")
        create.add_argument("email")
        create.add_argument("--name", default="API")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active agent with email {options['email']}")
        issued = issue_api_token(user, options["name"])
        self.stdout.write(
            json.dumps(
                {
                    "id": issued.token.pk,
                    "user_id": user.pk,
                    "name": issued.token.name,
                    "token": issued.plaintext,
                }
            )
        )
