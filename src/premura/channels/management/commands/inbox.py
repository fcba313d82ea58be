"""`premura inbox create api --name NAME [--webhook-url URL] [--team TEAM]`, printing one JSON object."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from premura.channels.services import create_api_inbox
from premura.routing.models import Team


class Command(BaseCommand):
    help = "Create inboxes from scripts; secrets are printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an inbox")
        kinds = create.add_subparsers(dest="kind", required=True)
        api = kinds.add_parser("api", help="an API channel inbox")
        api.add_argument("--name", required=True)
        api.add_argument("--webhook-url", default="")
        api.add_argument("--team", default=None, help="team name, slug or id")

    def handle(self, *args: Any, **options: Any) -> None:
        team = None
        if options.get("team"):
            ref = options["team"]
            query = Q(name__iexact=ref) | Q(slug=ref)
            if ref.isdigit():
                query |= Q(pk=int(ref))
            team = Team.objects.filter(query).first()
            if team is None:
                raise CommandError(f"no team {ref!r}")
        url = options["webhook_url"]
        if url and not url.startswith(("http://", "https://")):
            raise CommandError("--webhook-url must be an http(s) URL")
        created = create_api_inbox(options["name"], webhook_url=url, team=team)
        self.stdout.write(
            json.dumps(
                {
                    "id": created.inbox.pk,
                    "name": created.inbox.name,
                    "kind": created.inbox.kind,
                    "team_id": created.inbox.team_id,
                    "webhook_url": created.inbox.webhook_url,
                    "token": created.token,
                    "webhook_secret": created.webhook_secret,
                    "messages_url": f"/api/v1/inboxes/{created.inbox.pk}/messages",
                }
            )
        )
