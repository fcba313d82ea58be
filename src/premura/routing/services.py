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


class TeamInUse(Exception):
    """A team still owns conversations (or receives an inbox's): deleting it would hide history."""

    def __init__(self, conversations: int, inboxes: int) -> None:
        super().__init__(f"team has {conversations} conversations and {inboxes} inboxes")
        self.conversations = conversations
        self.inboxes = inboxes


def update_team(team: Team, *, name: str, restricted: bool) -> Team:
    """Rename a team or change whether outsiders see its conversations' content (slug unchanged)."""
    team.name = name
    team.restricted = restricted
    # A savepoint: a duplicate name fails here and leaves the caller's transaction usable.
    with transaction.atomic():
        team.save(update_fields=["name", "restricted"])
    return team


def add_team_members(team: Team, users: Iterable[User]) -> None:
    """Make agents members of a team (they act on its conversations)."""
    team.members.add(*users)


def remove_team_member(team: Team, user: User) -> None:
    """Take an agent out of a team."""
    team.members.remove(user)


def set_agent_teams(user: User, teams: Iterable[Team]) -> None:
    """Make an agent a member of exactly these teams."""
    user.teams.set(list(teams))


def delete_team(team: Team) -> None:
    """Delete a team that owns no conversation and receives no inbox's; else raise TeamInUse."""
    from premura.channels.models import Inbox
    from premura.conversations.models import Conversation

    with transaction.atomic():
        # The row lock makes a conversation or inbox pointing at this team wait (foreign-key
        # check), so nothing can be handed to the team between the check and the delete.
        locked = Team.objects.select_for_update().get(pk=team.pk)
        conversations = Conversation.objects.filter(team=locked).count()
        inboxes = Inbox.objects.filter(team=locked).count()
        if conversations or inboxes:
            raise TeamInUse(conversations, inboxes)
        locked.delete()
