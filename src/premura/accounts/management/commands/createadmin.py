"""`premura createadmin EMAIL`: create an admin and print one JSON object with the password."""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from premura.accounts.models import User
from premura.accounts.services import create_agent


class Command(BaseCommand):
    help = (
        "Create an admin (a random password is printed once); --reset-password for an existing one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="", help="display name")
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="give an existing admin a new random password",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip().lower()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"not a valid email address: {email}") from exc
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            if not options["reset_password"]:
                raise CommandError(
                    f"{email} exists; use --reset-password to give it a new password"
                )
            user.set_password(password)
            user.role = User.Role.ADMIN
            user.is_staff = user.is_superuser = True
            user.save()
        else:
            user = create_agent(
                email, role=User.Role.ADMIN, password=password, display_name=options["name"]
            )
        self.stdout.write(
            json.dumps(
                {"id": user.pk, "email": user.email, "role": user.role, "password": password}
            )
        )
