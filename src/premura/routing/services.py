"""Writes on teams."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.text import slugify

from premura.accounts.models import User
from premura.routing.models import Team


def create_team(name: str, *, restricted: bool = False, members: Iterable[User] = ()) -> Team:
    """Create a team with a unique slug derived from its name."""
    with transaction.atomic():
        base = slugify(name)[:90] or "team"
        slug = base
        n = 1
        while Team.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        team = Team.objects.create(name=name, slug=slug, restricted=restricted)
        team.members.add(*members)
        return team
