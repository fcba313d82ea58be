"""Realistic demo and benchmark data in Italian and English, written in bulk.

Reference data (teams, agents, inboxes, labels) goes through the services and the ORM and is reused
when present. The bulk tables (organizations, contacts, identities, conversations, messages, events,
conversation labels) get explicit ids allocated after the current maximum and are written with COPY
on PostgreSQL and `executemany` on SQLite, one transaction per batch, while a second thread builds
the next batch. Cases are laid out in time order over the past year, so ids grow with time as they
do in production. Provider message ids and identity external ids derive from the allocated ids, so
a second run appends without collisions. Run it while nothing else writes those tables: the ids are
read once, up front.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import math
import queue
import random
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from premura.accounts.models import User
from premura.accounts.services import create_agent
from premura.channels.models import Inbox
from premura.conversations.models import Label
from premura.demo.contact_form import ensure_demo_contact_form
from premura.demo.texts import (
    AGENT_CLOSING,
    AGENT_HELLO_CHAT,
    AGENT_HELLO_FORMAL,
    AGENT_SIGNOFF_FORMAL,
    AGENTS,
    CHAT_OPENER,
    CUSTOMER_DELAY,
    CUSTOMER_THANKS,
    EN_COMPANY,
    EN_FIRST,
    EN_LAST,
    EN_MAIL_DOMAINS,
    EN_PRODUCTS,
    FORMAL_KINDS,
    GREETING,
    INBOXES,
    IT_COMPANY,
    IT_FIRST,
    IT_LAST,
    IT_MAIL_DOMAINS,
    IT_MOBILE_PREFIXES,
    IT_PRODUCTS,
    LABELS,
    NOTES,
    PLANS,
    RESPONSE_DELAY,
    SIGNATURE,
    TEAMS,
    TOPICS,
    Topic,
)
from premura.demo.writer import (
    TABLE_ORDER,
    Rows,
    Writer,
)
from premura.routing.models import Team
from premura.routing.services import create_team
from premura.search.api import rebuild as rebuild_search

DAY = 86400.0
YEAR_DAYS = 365


# fmt: off
# Statuses follow age: a new case is still waiting (open, pending, snoozed) nine times in ten,
# the share falling by e (2.7) every UNRESOLVED_DAYS; cases older than CLOSABLE_DAYS are often closed.
UNRESOLVED_DAYS = 12.0
CLOSABLE_DAYS = 10.0
# Customers write between 07:00 and 22:00 UTC.
DAY_STARTS_HOUR, ACTIVE_HOURS = 7, 15
# A case comes from a returning customer this often (about 1.6 cases a customer), drawn from the
# last RETURNING_POOL customers.
RETURNING_SHARE = 0.38
RETURNING_POOL = 50_000
EMAIL_KINDS = frozenset({"email", "webform", "api"})
PHONE_KINDS = frozenset({"whatsapp", "sms", "voice"})
UNRESOLVED = (("open", 45), ("pending", 35), ("snoozed", 20))
PRIORITIES = ((0, 45), (1, 15), (2, 25), (3, 11), (4, 4))
MESSAGE_COUNTS = ((1, 3), (2, 15), (3, 16), (4, 20), (5, 14), (6, 12), (7, 8), (8, 5), (9, 3), (10, 2), (12, 1), (14, 1))
# fmt: on


class Weighted:
    """A fast weighted choice over a fixed population."""

    def __init__(self, pairs: Iterable[tuple[Any, float]]) -> None:
        """Keep the values and their cumulative weights."""
        items = list(pairs)
        self.values = [value for value, _weight in items]
        self.cumulative: list[float] = []
        total = 0.0
        for _value, weight in items:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def pick(self, rng: random.Random) -> Any:
        """One value, drawn by weight."""
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


@dataclass
class Reference:
    """The teams, agents, inboxes and labels the bulk data points to."""

    teams: dict[str, Team]
    agents: list[User]
    members: dict[int, list[User]]
    inboxes: list[Inbox]
    inbox_weights: dict[str, Weighted]
    labels: dict[str, int]


def ensure_reference_data() -> Reference:
    """Create the demo teams, agents, inboxes and labels, reusing those already present."""
    with transaction.atomic():
        teams: dict[str, Team] = {}
        for name, restricted in TEAMS:
            team = Team.objects.filter(name=name).first()
            teams[name] = team or create_team(name, restricted=restricted)
        agents: list[User] = []
        for email, display_name, role, language, team_names in AGENTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = create_agent(email, role=role, display_name=display_name, language=language)
                first, _space, last = display_name.removeprefix("Avv. ").partition(" ")
                user.first_name, user.last_name = first, last
                user.save(update_fields=["first_name", "last_name"])
            agents.append(user)
            for team_name in team_names:
                teams[team_name].members.add(user)
        inboxes: list[Inbox] = []
        for name, kind, team_name, _it, _en in INBOXES:
            inbox = Inbox.objects.filter(name=name, kind=kind).first()
            inboxes.append(
                inbox or Inbox.objects.create(name=name, kind=kind, team=teams[team_name])
            )
        labels = {}
        for name, color in LABELS:
            label, _created = Label.objects.get_or_create(name=name, defaults={"color": color})
            labels[name] = label.pk
    members = {
        team.pk: [agent for agent, spec in zip(agents, AGENTS, strict=True) if name in spec[4]]
        for name, team in teams.items()
    }
    weights = {
        "it": Weighted((index, spec[3]) for index, spec in enumerate(INBOXES)),
        "en": Weighted((index, spec[4]) for index, spec in enumerate(INBOXES)),
    }
    return Reference(teams, agents, members, inboxes, weights, labels)


# --- Bulk data ---------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    """Lower-case ASCII letters only, for email local parts and domains."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in plain.lower() if char.isalnum())


def _scramble(value: int, modulus: int) -> int:
    """A bijection of [0, modulus): ids map to distinct, random-looking numbers."""
    return (value * 2654435761 + 97531) % modulus


def _iso(seconds: float) -> str:
    """An ISO 8601 UTC timestamp, as event payloads carry them."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _channel_style(kind: str) -> str:
    """Formal (email-like), live chat, or messaging app."""
    if kind in FORMAL_KINDS:
        return "formal"
    return "chat" if kind == "webchat" else "messaging"


@dataclass
class Person:
    """A contact being generated and what the channels know about them."""

    id: int
    language: str
    first: str
    last: str
    email: str
    phone: str
    favourite: int
    identities: set[tuple[str, str]]


@dataclass
class Case:
    """The conversation being generated: what its messages and events refer to."""

    id: int
    inbox: int
    channel: str
    contact: int
    author: int
    language: str
    messages: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]
    sequence: int = 0


class Generator:
    """Builds the rows of one batch at a time, deterministically for a seed."""

    def __init__(
        self,
        rng: random.Random,
        reference: Reference,
        writer: Writer,
        now: float,
        total: int,
        days: int = YEAR_DAYS,
    ) -> None:
        """Start allocating ids after the current maxima of the bulk tables."""
        self.rng = rng
        self.ref = reference
        self.writer = writer
        self.now = now
        self.total = total
        self.made = 0
        # Cases are laid out in time order over the customers' active hours of the past year, so
        # that ids grow with time as in production (and index inserts stay at the right edge).
        self.day_zero = now - now % DAY - days * DAY
        today = now - now % DAY + DAY_STARTS_HOUR * 3600
        self.active_seconds = days * ACTIVE_HOURS * 3600 + min(
            max(now - today, 0.0), ACTIVE_HOURS * 3600
        )
        self.pool: list[Person] = []
        self.ids = writer.next_ids()
        self.ts = writer.ts
        self.unresolved = Weighted(UNRESOLVED)
        self.priorities = Weighted(PRIORITIES)
        self.message_counts = Weighted(MESSAGE_COUNTS)
        self.topics = Weighted((topic, topic.weight) for topic in TOPICS)
        self.organizations: list[tuple[int, str]] = []
        self.counts: dict[str, int] = dict.fromkeys(TABLE_ORDER, 0)
        self.build_seconds = 0.0
        self.team_names = {team.pk: name for name, team in reference.teams.items()}
        self.agent_names = {
            agent.pk: agent.display_name.removeprefix("Avv. ").split(" ")[0]
            for agent in reference.agents
        }

    def take(self, key: str) -> int:
        """Allocate the next id of a bulk table."""
        value = self.ids[key]
        self.ids[key] = value + 1
        return value

    def organization_rows(self, count: int) -> list[tuple[Any, ...]]:
        """Companies some customers belong to."""
        rng = self.rng
        rows = []
        for _ in range(count):
            pk = self.take("organizations")
            italian = rng.random() < 0.5
            last = rng.choice(IT_LAST if italian else EN_LAST)
            name = rng.choice(IT_COMPANY if italian else EN_COMPANY).format(last=last)
            domain = f"{_ascii(last)}{pk}.example"
            created = self.now - rng.uniform(YEAR_DAYS, 3 * YEAR_DAYS) * DAY
            rows.append((pk, name, domain, "", self.ts(created)))
            self.organizations.append((pk, domain))
        return rows

    def batch(self, conversations: int) -> tuple[Rows, int]:
        """The rows of the next `conversations` cases, in time order."""
        rows: Rows = {key: [] for key in TABLE_ORDER}
        rng = self.rng
        for _ in range(conversations):
            position = (self.made + rng.random()) / self.total * self.active_seconds
            self.made += 1
            day, offset = divmod(position, ACTIVE_HOURS * 3600)
            start = self.day_zero + day * DAY + DAY_STARTS_HOUR * 3600 + offset
            age = (self.now - start) / DAY
            if rng.random() < 0.9 * math.exp(-age / UNRESOLVED_DAYS):
                status = self.unresolved.pick(rng)
            elif age > CLOSABLE_DAYS and rng.random() < 0.45:
                status = "closed"
            else:
                status = "resolved"
            if self.pool and rng.random() < RETURNING_SHARE:
                person = rng.choice(self.pool)
            else:
                person = self._person(rows, start)
            weights = self.ref.inbox_weights[person.language]
            index = person.favourite if rng.random() < 0.75 else weights.pick(rng)
            inbox = self.ref.inboxes[index]
            if (inbox.kind in EMAIL_KINDS and not person.email) or (
                inbox.kind in PHONE_KINDS and not person.phone
            ):
                inbox = self.ref.inboxes[person.favourite]
            self._identify(rows, person, inbox, start)
            self._conversation(rows, person, inbox, start, status)
        for key, value in rows.items():
            self.counts[key] += len(value)
        return rows, conversations

    def _person(self, rows: Rows, at: float) -> Person:
        """A new customer, first heard of at `at`, added to the pool of returning ones."""
        rng = self.rng
        pk = self.take("contacts")
        language = "it" if rng.random() < 0.4 else "en"
        italian = language == "it"
        first = rng.choice(IT_FIRST if italian else EN_FIRST)
        last = rng.choice(IT_LAST if italian else EN_LAST)
        organization = None
        domain = rng.choice(IT_MAIL_DOMAINS if italian else EN_MAIL_DOMAINS)
        if self.organizations and rng.random() < 0.25:
            organization, domain = rng.choice(self.organizations)
        favourite = self.ref.inbox_weights[language].pick(rng)
        kind = self.ref.inboxes[favourite].kind
        email = ""
        if kind in EMAIL_KINDS or rng.random() < 0.6:
            email = f"{_ascii(first)}.{_ascii(last)}{pk}@{domain}"
        # Phone numbers are a bijection of the contact id: unique without looking anything up.
        phone = ""
        if kind in PHONE_KINDS or rng.random() < 0.25:
            if italian:
                number = _scramble(pk, len(IT_MOBILE_PREFIXES) * 10_000_000)
                prefix = IT_MOBILE_PREFIXES[number // 10_000_000]
                phone = f"+39{prefix}{number % 10_000_000:07d}"
            else:
                number = _scramble(pk, 600_000_000)
                phone = f"+447{4 + number // 100_000_000}{number % 100_000_000:08d}"
        attributes = "{}"
        if rng.random() < 0.3:
            attributes = f'{{"plan": "{rng.choice(PLANS)}", "customer_code": "C-{pk:07d}"}}'
        created = self.ts(at)
        row = (pk, f"{first} {last}", email, phone, organization, language, attributes, "")
        rows["contacts"].append((*row, created, created))
        person = Person(pk, language, first, last, email, phone, favourite, set())
        if len(self.pool) < RETURNING_POOL:
            self.pool.append(person)
        else:
            self.pool[pk % RETURNING_POOL] = person
        return person

    def _identify(self, rows: Rows, person: Person, inbox: Inbox, at: float) -> None:
        """Add the identities through which the contact reaches `inbox`, when new."""
        kind = inbox.kind
        pk = person.id
        keys: list[tuple[str, str, str]] = []
        if kind in ("email", "webform"):
            keys.append(("email", "", person.email))
        elif kind == "whatsapp":
            keys.append(("whatsapp", "", person.phone.removeprefix("+")))
        elif kind in ("sms", "voice"):
            keys.append(("phone", "", person.phone))
        elif kind == "telegram":
            keys.append(("telegram", "", str(100_000_000 + _scramble(pk, 6_900_000_000))))
        elif kind in ("messenger", "instagram"):
            psid = 7_000_000_000_000_000 + _scramble(pk, 10**15)
            keys.append((kind, str(inbox.pk), str(psid)))
        elif kind == "webchat":
            if ("webchat", "") not in person.identities:
                keys.append(("webchat", "", f"visitor-{pk:x}-{self.rng.getrandbits(32):08x}"))
            if person.email and self.rng.random() < 0.6:
                keys.append(("email", "", person.email))
        elif kind == "api":
            keys.append(("api", str(inbox.pk), f"cust-{pk}"))
            if person.email:
                keys.append(("email", "", person.email))
        for identity_kind, scope, external_id in keys:
            if (identity_kind, scope) not in person.identities:
                person.identities.add((identity_kind, scope))
                row = (self.take("identities"), pk, identity_kind, scope, external_id, self.ts(at))
                rows["identities"].append(row)

    def _conversation(
        self, rows: Rows, person: Person, inbox: Inbox, start: float, status: str
    ) -> None:
        """Append one case with its messages, events and labels."""
        rng = self.rng
        pk = self.take("conversations")
        language = person.language
        channel = inbox.kind
        topic: Topic = self.topics.pick(rng)
        style = _channel_style(channel)
        formal = style == "formal"
        closing = status in ("resolved", "closed")
        team = self.ref.teams[topic.team].pk if topic.team else inbox.team_id
        members = self.ref.members.get(team or 0) or self.ref.agents
        assignee = None if status == "open" and rng.random() < 0.4 else rng.choice(members).pk
        author = assignee or rng.choice(members).pk
        priority = self.priorities.pick(rng)
        if topic.key == "legal":
            priority = max(priority, 3)

        # How many messages, with the parity the status implies: an open case waits for us (the
        # customer wrote last), a pending or snoozed one waits for the customer (we wrote last).
        n = self.message_counts.pick(rng)
        if status == "open":
            n += 1 - n % 2
        elif not closing or (n % 2 == 1 and rng.random() < 0.6):
            n = max(2, n + n % 2)
        # Some resolved cases were reopened once: resolved after the first reply, then the
        # customer wrote again.
        reopened = closing and n >= 4 and rng.random() < 0.06
        note_at = rng.randrange(1, n, 2) if n >= 2 and rng.random() < 0.12 else 0

        # The timeline first, so that it can be squeezed to end before now.
        times = [start]
        t = start
        for index in range(1, n):
            median = CUSTOMER_DELAY[style] if index % 2 == 0 else RESPONSE_DELAY[style]
            t += min(rng.lognormvariate(0.0, 1.0) * median, 5 * DAY)
            if reopened and index == 2:
                t += rng.uniform(1, 5) * DAY
            times.append(t)
        end_by = self.now - (rng.uniform(5, 12) * 3600 if closing else rng.uniform(60, 3600))
        if end_by <= start:
            end_by = start + (self.now - start) / 2
        if t > end_by:
            scale = (end_by - start) / (t - start)
            times = [start + (moment - start) * scale for moment in times]

        ctx = self._context(person, pk, author, team, start)
        case = Case(
            pk, inbox.pk, channel, person.id, author, language, rows["messages"], rows["events"]
        )
        subject = rng.choice(topic.subjects[language]).format_map(ctx)
        thread_key = f"chat-{pk:x}{rng.getrandbits(24):06x}" if channel == "webchat" else ""
        self._event(
            case, "created", start, f'{{"inbox": {inbox.pk}, "channel": "{channel}"}}', contact=True
        )
        first_response = last_agent = None
        for index, t in enumerate(times):
            if index % 2 == 0:
                if index == 0:
                    text = self._opening(topic, language, formal, ctx)
                elif closing and index == n - 1:
                    text = rng.choice(CUSTOMER_THANKS[language])
                else:
                    text = rng.choice(topic.followups[language]).format_map(ctx)
                if reopened and index == 2:
                    self._event(case, "reopened", t, '{"from": "resolved"}', contact=True)
                    payload = '{"from": "resolved", "to": "open"}'
                    self._event(case, "status_changed", t, payload, contact=True)
                self._message(case, "customer", t, text)
                if index == 0:
                    self._routing(case, inbox.team_id, team, assignee, priority, start)
                continue
            if index == note_at:
                # A private note for colleagues, written before this reply.
                note_time = t - rng.uniform(0.2, 0.8) * (t - times[index - 1])
                self._message(case, "note", note_time, rng.choice(NOTES[language]).format_map(ctx))
            last = closing and index == n - 1
            text = self._agent_text(topic, formal, ctx, first=first_response is None, last=last)
            self._message(case, "agent", t, text, read=not formal and rng.random() < 0.7)
            last_agent = t
            if first_response is None:
                first_response = t
                self._labels(rows, case, topic, priority, t + rng.uniform(5, 60))
            if reopened and index == 1:
                at = t + rng.uniform(0.1, 0.9) * (times[2] - t)
                self._event(
                    case, "status_changed", at, '{"from": "open", "to": "resolved"}', user=True
                )

        last_activity = times[-1]
        last_customer = times[-1] if n % 2 == 1 else times[-2]
        resolved = snoozed_until = None
        if closing:
            resolved = min(
                last_activity + rng.uniform(30, 4 * 3600), (last_activity + self.now) / 2
            )
            payload = '{"from": "open", "to": "resolved"}'
            self._event(case, "status_changed", resolved, payload, user=True)
            if status == "closed":
                closed = min(resolved + 7 * DAY, self.now - 30)
                self._event(case, "status_changed", closed, '{"from": "resolved", "to": "closed"}')
        elif status != "open":
            payload = '{"from": "open", "to": "pending"}'
            if status == "snoozed":
                snoozed_until = self.now + rng.uniform(1, 10) * DAY
                until = _iso(snoozed_until)
                payload = f'{{"from": "open", "to": "snoozed", "snoozed_until": "{until}"}}'
            at = min(last_activity + rng.uniform(5, 50), (last_activity + self.now) / 2)
            self._event(case, "status_changed", at, payload, user=True)
        ts = self.ts
        rows["conversations"].append(
            (
                pk,
                person.id,
                inbox.pk,
                team,
                assignee,
                status,
                priority,
                language,
                subject,
                thread_key,
            )
            + (ts(snoozed_until), case.sequence, ts(start), ts(start), ts(first_response))
            + (ts(last_customer), ts(last_agent), ts(last_activity), ts(resolved), int(reopened))
        )

    def _message(self, case: Case, kind: str, at: float, text: str, *, read: bool = False) -> None:
        """Append a customer message, agent reply or note, and the event that records it."""
        case.sequence += 1
        pk = self.take("messages")
        ts = self.ts
        created = ts(at)
        row: tuple[Any, ...]
        if kind == "customer":
            provider_id = self._provider_id(case.channel, pk)
            sent_at = ts(at - self.rng.uniform(1, 20))
            row = (pk, case.id, case.inbox, case.sequence, "in", kind, None, case.contact, text, "")
            row += (provider_id, sent_at, created, self.writer.uuid(), "", "", 0, None)
            payload = f'{{"sequence": {case.sequence}, "channel": "{case.channel}"}}'
            self._event(case, "message_in", at, payload, contact=True, message=pk)
        elif kind == "agent":
            state = "read" if read else "delivered"
            receipt = ts(at + self.rng.uniform(1, 90))
            provider_id = self._provider_id(case.channel, pk)
            row = (pk, case.id, case.inbox, case.sequence, "out", kind, case.author, None, text, "")
            row += (provider_id, None, created, self.writer.uuid(), state, "", 1, receipt)
            payload = f'{{"sequence": {case.sequence}, "kind": "agent"}}'
            self._event(case, "message_out", at, payload, user=True, message=pk)
        else:
            row = (pk, case.id, case.inbox, case.sequence, "out", kind, case.author, None, text, "")
            row += ("", None, created, self.writer.uuid(), "", "", 0, None)
            self._event(case, "note", at, f'{{"sequence": {case.sequence}}}', user=True, message=pk)
        case.messages.append(row)

    def _event(
        self,
        case: Case,
        kind: str,
        at: float,
        payload: str,
        *,
        user: bool = False,
        contact: bool = False,
        message: int | None = None,
    ) -> None:
        """Append an event; `user` and `contact` say whether the agent or the customer did it."""
        actor_user = case.author if user else None
        actor_contact = case.contact if contact else None
        row = (self.take("events"), case.id, kind, actor_user, actor_contact, message, payload)
        case.events.append((*row, self.ts(at)))

    def _routing(
        self,
        case: Case,
        inbox_team: int | None,
        team: int | None,
        assignee: int | None,
        priority: int,
        start: float,
    ) -> None:
        """The events routing appends right after the first message: team, assignee, priority."""
        if team != inbox_team:
            payload = f'{{"from": {inbox_team or "null"}, "to": {team}}}'
            self._event(case, "team_changed", start + 1, payload)
        if assignee is not None:
            self._event(case, "assigned", start + 2, f'{{"from": null, "to": {assignee}}}')
        if priority:
            self._event(case, "priority_changed", start + 3, f'{{"from": 0, "to": {priority}}}')

    def _labels(self, rows: Rows, case: Case, topic: Topic, priority: int, at: float) -> None:
        """The labels the agent puts on the case with the first reply, and their event."""
        rng = self.rng
        names = [topic.label] if topic.label else []
        if rng.random() < 0.05:
            names.append("vip")
        if priority == 4:
            names.append("urgent")
        if rng.random() < 0.04:
            names.append("feedback")
        if not names:
            return
        for name in names:
            rows["labels"].append((self.take("labels"), case.id, self.ref.labels[name]))
        added = ", ".join(f'"{name}"' for name in sorted(names))
        self._event(case, "labels_changed", at, f'{{"added": [{added}], "removed": []}}', user=True)

    def _context(
        self, person: Person, pk: int, author: int, team: int | None, start: float
    ) -> dict[str, str]:
        """The values the dialogue templates fill in for one case."""
        rng = self.rng
        italian = person.language == "it"
        day = dt.datetime.fromtimestamp(start - rng.uniform(1, 20) * DAY, dt.UTC)
        amount = rng.randrange(990, 89900) / 100
        return {
            "language": person.language,
            "first": person.first,
            "last": person.last,
            "email": person.email,
            "agent": self.agent_names[author],
            "team": self.team_names.get(team or 0, ""),
            "order": f"{rng.randrange(100000, 999999)}",
            "invoice": f"{day.year}/{rng.randrange(1, 99999):05d}",
            "ref": f"PRM-{pk:06d}",
            "product": rng.choice(IT_PRODUCTS if italian else EN_PRODUCTS),
            "tracking": f"{rng.choice(('BRT', 'GLS', 'SDA', 'DHL'))}{rng.randrange(10**9, 10**10)}",
            "date": day.strftime("%d/%m") if italian else day.strftime("%d %b"),
            "amount": f"{amount:.2f} €".replace(".", ",") if italian else f"£{amount:.2f}",
            "plan": rng.choice(PLANS),
            "vat": f"{rng.randrange(10**9, 10**10)}",
        }

    def _opening(self, topic: Topic, language: str, formal: bool, ctx: dict[str, str]) -> str:
        """The customer's first message, with greeting and signature on formal channels."""
        rng = self.rng
        body = rng.choice(topic.openings[language]).format_map(ctx)
        if formal:
            return (
                rng.choice(GREETING[language])
                + body
                + rng.choice(SIGNATURE[language]).format_map(ctx)
            )
        opener = rng.choice(CHAT_OPENER[language])
        if opener.endswith(", "):
            body = body[0].lower() + body[1:]
        return opener + body

    def _agent_text(
        self, topic: Topic, formal: bool, ctx: dict[str, str], *, first: bool, last: bool
    ) -> str:
        """An agent's reply: the topic's answer, a follow-up or a closing, styled for the channel."""
        rng = self.rng
        language = ctx["language"]
        if first:
            body = rng.choice(topic.first_replies[language]).format_map(ctx)
            if last:
                body += " " + rng.choice(AGENT_CLOSING[language])
        elif last:
            body = rng.choice(AGENT_CLOSING[language])
        else:
            body = rng.choice(topic.replies[language]).format_map(ctx)
        if formal:
            hello = rng.choice(AGENT_HELLO_FORMAL[language]).format_map(ctx)
            return hello + body + rng.choice(AGENT_SIGNOFF_FORMAL[language]).format_map(ctx)
        if first:
            return rng.choice(AGENT_HELLO_CHAT[language]).format_map(ctx) + body
        return body

    def _provider_id(self, channel: str, message_id: int) -> str:
        """A provider message id shaped like the channel's, unique through the message id.

        The id comes first so that the (inbox, provider_message_id) index grows at its right edge.
        """
        noise = self.rng.getrandbits(40)
        if channel == "email":
            return f"<{message_id:012d}.{noise:010x}@mail.example.net>"
        if channel == "whatsapp":
            return f"wamid.HBgM{message_id:012d}{noise:010X}"
        if channel == "telegram":
            return f"{message_id:012d}"
        if channel in ("messenger", "instagram"):
            return f"m_{message_id:012x}{noise:010x}"
        if channel == "sms":
            return f"SM{message_id:022x}{noise:010x}"
        return f"{channel}-{message_id:012d}"


def _produce(
    generator: Generator,
    conversations: int,
    batch_size: int,
    out: queue.Queue[Any],
    stop: threading.Event,
) -> None:
    """Build batches ahead of the writer; the writer's waits on the database release the GIL."""
    try:
        done = 0
        while done < conversations and not stop.is_set():
            started = time.perf_counter()
            rows, made = generator.batch(min(batch_size, conversations - done))
            generator.build_seconds += time.perf_counter() - started
            out.put((rows, made))
            done += made
    except BaseException as exc:  # handed to the writer's thread, which raises it
        out.put(exc)
    finally:
        out.put(None)


def generate(
    conversations: int,
    *,
    seed: int = 1,
    progress: bool = True,
    batch_size: int = 5000,
    now: dt.datetime | None = None,
    days: int = YEAR_DAYS,
) -> dict[str, Any]:
    """Write `conversations` realistic cases over the last `days` days; return counts and timings."""
    started = time.perf_counter()
    rng = random.Random(seed)
    reference = ensure_reference_data()
    reference_seconds = time.perf_counter() - started
    writer = Writer()
    moment = (now or timezone.now()).timestamp()
    generator = Generator(rng, reference, writer, moment, conversations, days)
    organizations = max(3, conversations // 40)
    writer.write({"organizations": generator.organization_rows(organizations)})
    generator.counts["organizations"] = organizations
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce, args=(generator, conversations, batch_size, batches, stop), daemon=True
    )
    bar = tqdm(total=conversations, unit="conv", disable=not progress, smoothing=0.1)
    producer.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            rows, made = item
            writer.write(rows)
            bar.update(made)
    finally:
        stop.set()
        while producer.is_alive():  # let a producer blocked on a full queue see the stop
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)
        bar.close()
    # Planner statistics (PostgreSQL) and FTS tables (SQLite) for what was just loaded.
    search_started = time.perf_counter()
    ensure_demo_contact_form()
    rebuild_search()
    search_seconds = time.perf_counter() - search_started
    seconds = time.perf_counter() - started
    counts = generator.counts
    return {
        "database": writer.vendor,
        "seed": seed,
        "organizations": counts["organizations"],
        "contacts": counts["contacts"],
        "identities": counts["identities"],
        "conversations": counts["conversations"],
        "messages": counts["messages"],
        "events": counts["events"],
        "conversation_labels": counts["labels"],
        "seconds": round(seconds, 3),
        "conversations_per_second": round(counts["conversations"] / seconds, 1) if seconds else 0.0,
        "timings": {
            "reference": round(reference_seconds, 3),
            "build_overlapping_writes": round(generator.build_seconds, 3),
            **{f"write_{key}": round(value, 3) for key, value in writer.seconds.items()},
            "search_rebuild": round(search_seconds, 3),
        },
    }
