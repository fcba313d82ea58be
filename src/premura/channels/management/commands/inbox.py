"""`premura inbox create api|email …`, printing one JSON object.

    premura inbox create api --name NAME [--webhook-url URL] [--team TEAM]
    premura inbox create email --name NAME --address ADDRESS --imap-host H [--imap-port P]
        [--imap-security tls|starttls|none] --imap-user U --imap-password-env VAR [--folder F]
        [--fetch-since new|YYYY-MM-DD] [--smtp-host H --smtp-port P --smtp-user U
        --smtp-password-env VAR] [--team TEAM]

Passwords are read from the environment variable named on the command line, never from the
command line itself (it is visible to every user of the machine in the process list).
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
        email = kinds.add_parser("email", help="an email inbox read over IMAP")
        email.add_argument("--name", required=True)
        email.add_argument("--address", required=True, help="the inbox's email address")
        email.add_argument("--team", default=None, help="team name, slug or id")
        email.add_argument("--imap-host", required=True)
        email.add_argument("--imap-port", type=int, default=None, help="993 (tls) or 143")
        email.add_argument("--imap-security", choices=["tls", "starttls", "none"], default="tls")
        email.add_argument("--imap-user", required=True)
        email.add_argument(
            "--imap-password-env", required=True, metavar="VAR", help="variable with the password"
        )
        email.add_argument("--folder", default="INBOX")
        email.add_argument(
            "--fetch-since",
            default="new",
            help="'new' (only mail arriving from now on) or a date YYYY-MM-DD (import since)",
        )
        email.add_argument("--smtp-host", default="")
        email.add_argument("--smtp-port", type=int, default=587)
        email.add_argument("--smtp-security", choices=["tls", "starttls", "none"], default=None)
        email.add_argument("--smtp-user", default="")
        email.add_argument("--smtp-password-env", default="", metavar="VAR")

    def handle(self, *args: Any, **options: Any) -> None:
        team = _team(options.get("team"))
        if options["kind"] == "email":
            self._create_email(team, options)
            return
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

    def _create_email(self, team: Team | None, options: dict[str, Any]) -> None:
        from premura.mail.services import create_email_inbox

        security = options["imap_security"]
        port = options["imap_port"] or (993 if security == "tls" else 143)
        since = options["fetch_since"]
        fetch_since = None
        if since != "new":
            try:
                fetch_since = dt.date.fromisoformat(since)
            except ValueError:
                raise CommandError("--fetch-since must be 'new' or a date YYYY-MM-DD") from None
        secrets = {"imap_password": _password(options["imap_password_env"], "--imap-password-env")}
        fields: dict[str, Any] = {
            "imap_host": options["imap_host"],
            "imap_port": port,
            "imap_security": security,
            "imap_user": options["imap_user"],
            "folder": options["folder"],
            "fetch_since": fetch_since,
        }
        if options["smtp_host"]:
            smtp_port = options["smtp_port"]
            fields.update(
                smtp_host=options["smtp_host"],
                smtp_port=smtp_port,
                smtp_security=options["smtp_security"]
                or ("tls" if smtp_port == 465 else "starttls"),
                smtp_user=options["smtp_user"] or options["imap_user"],
            )
            if options["smtp_password_env"]:
                secrets["smtp_password"] = _password(
                    options["smtp_password_env"], "--smtp-password-env"
                )
            else:
                # The same account usually sends and receives.
                secrets["smtp_password"] = secrets["imap_password"]
        try:
            mailbox = create_email_inbox(
                name=options["name"],
                address=options["address"],
                team=team,
                secrets=secrets,
                **fields,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            json.dumps(
                {
                    "id": mailbox.inbox.pk,
                    "name": mailbox.inbox.name,
                    "kind": mailbox.inbox.kind,
                    "team_id": mailbox.inbox.team_id,
                    "mailbox_id": mailbox.pk,
                    "address": mailbox.address,
                    "imap": f"{mailbox.imap_security}://{mailbox.imap_host}:{mailbox.imap_port}",
                    "folder": mailbox.folder,
                    "fetch_since": fetch_since.isoformat() if fetch_since else "new",
                    "smtp": (
                        f"{mailbox.smtp_security}://{mailbox.smtp_host}:{mailbox.smtp_port}"
                        if mailbox.smtp_host
                        else ""
                    ),
                }
            )
        )


def _team(ref: str | None) -> Team | None:
    if not ref:
        return None
    query = Q(name__iexact=ref) | Q(slug=ref)
    if ref.isdigit():
        query |= Q(pk=int(ref))
    team = Team.objects.filter(query).first()
    if team is None:
        raise CommandError(f"no team {ref!r}")
    return team


def _password(variable: str, option: str) -> str:
    """A password from the environment variable the command line names."""
    value = os.environ.get(variable)
    if value is None:
        raise CommandError(f"{option}: the environment variable {variable} is not set")
    if not value:
        raise CommandError(f"{option}: the environment variable {variable} is empty")
    return value
