"""Speed of the agent workspace at scale: inbox lists, search, conversation and contact pages.

    .venv/bin/python bench/inbox.py [--conversations 100000] [--requests 40]
        [--database-url postgres://postgres@127.0.0.1:5432/premura_inbox_bench] [--regenerate]

What it does:

1. makes sure the bench database (PostgreSQL; its name must contain "bench") holds at least
   --conversations generated conversations: when it holds fewer, it is dropped and filled again by
   bench/generate.py (about 9 minutes for 1,000,000 here); otherwise it is reused, and only
   `premura migrate` runs, so new indexes reach an existing database;
2. adds what the generator does not make: a conversation of 10,000 messages and a customer with
   200 conversations (both found again on later runs), and an agent of the busiest team; ANALYZE;
3. starts `premura web` (gunicorn, WSGI, the production server) on a free port, signs the agent in
   (a real session row) and requests each page with one keep-alive HTTP connection, as a browser
   would: --warmup unmeasured requests, then --requests measured ones per scenario;
   The data folder (PREMURA_DATA_DIR, by default premura-bench-<database> in the temp folder)
   keeps the secret key that encrypts the database's inbox credentials, so it goes with the
   database;
4. prints p50/p95 per scenario and, as the last line, one JSON object whose value is the worst
   p95 of the list and search scenarios (target 50 ms); the page scenarios have their own target
   (100 ms) in "scenarios".

Scenarios: the inbox's first page (All), a filtered view (team + status + label), page 50 of All
by cursor, a full-text search, a typical conversation page, the conversation of 10,000 messages
and the contact page of the customer with 200 conversations.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

# The bench database helpers are ingest.py's (this folder is on sys.path when a script runs).
from ingest import database_name, recreate_database

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
LIST_TARGET_MS = 50.0
PAGE_TARGET_MS = 100.0
LONG_THREAD_KEY = "bench-long-thread"
LONG_MESSAGES = 10_000
BIG_CUSTOMER_EMAIL = "bench-200@example.com"
BIG_CUSTOMER_CONVERSATIONS = 200
AGENT_EMAIL = "bench-agent@example.com"
SEARCH_WORD = "rimborso"


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --- Database ---------------------------------------------------------------------------------


def conversations_in(url: str) -> int:
    """How many conversations the bench database holds (0 when it or its tables don't exist)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM conversations_conversation").fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def premura(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "premura.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"premura {' '.join(args)} failed with status {result.returncode}")
    return result.stdout


def ensure_data(url: str, env: dict[str, str], conversations: int, regenerate: bool) -> float:
    """Fill the database when it holds fewer conversations than asked; returns seconds spent."""
    present = conversations_in(url)
    if present >= conversations * 0.99 and not regenerate:
        log(f"reusing {database_name(url)}: {present:,} conversations")
        return 0.0
    log(f"generating {conversations:,} conversations into {database_name(url)} …")
    recreate_database(url)
    started = time.monotonic()
    subprocess.run(  # noqa: S603 - our own bench script
        [
            sys.executable,
            str(ROOT / "bench" / "generate.py"),
            "--conversations",
            str(conversations),
            "--no-progress",
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "premura.settings")
    import django

    django.setup()


def ensure_fixtures() -> dict[str, Any]:
    """The agent, the 10,000-message conversation and the customer with 200 conversations."""
    import datetime as dt

    from django.db import connection, transaction
    from django.db.models import Count
    from django.utils import timezone

    from premura.accounts.models import User
    from premura.accounts.services import create_agent
    from premura.channels.models import Inbox
    from premura.contacts.models import Contact
    from premura.conversations.models import Conversation, Label, Message
    from premura.routing.models import Team

    team = Team.objects.annotate(n=Count("conversations")).order_by("-n", "id").first()
    assert team is not None, "the generator made no team"
    agent = User.objects.filter(email=AGENT_EMAIL).first() or create_agent(
        AGENT_EMAIL, display_name="Bench Agent"
    )
    team.members.add(agent)
    inbox = Inbox.objects.order_by("id").first()
    assert inbox is not None
    label = Label.objects.order_by("id").first()
    now = timezone.now()

    with transaction.atomic():
        contact = Contact.objects.filter(email=BIG_CUSTOMER_EMAIL).first()
        if contact is None:
            contact = Contact.objects.create(name="Bench Customer", email=BIG_CUSTOMER_EMAIL)
            start = now - dt.timedelta(days=400)
            conversations = [
                Conversation(
                    contact=contact,
                    inbox=inbox,
                    team=team,
                    status=Conversation.Status.RESOLVED if i < 195 else Conversation.Status.OPEN,
                    subject=f"Request {i + 1}",
                    created_at=start + dt.timedelta(days=2 * i),
                    last_activity_at=start + dt.timedelta(days=2 * i, hours=3),
                    last_sequence=3,
                )
                for i in range(BIG_CUSTOMER_CONVERSATIONS)
            ]
            Conversation.objects.bulk_create(conversations)
            Message.objects.bulk_create(
                Message(
                    conversation=conversation,
                    inbox=inbox,
                    sequence=seq,
                    direction="in" if seq != 2 else "out",
                    kind="customer" if seq != 2 else "agent",
                    author_contact=contact if seq != 2 else None,
                    text=f"Message {seq} of {conversation.subject}",
                    created_at=conversation.created_at + dt.timedelta(minutes=seq),
                    delivery_state="" if seq != 2 else "delivered",
                )
                for conversation in conversations
                for seq in (1, 2, 3)
            )

        long = Conversation.objects.filter(inbox=inbox, thread_key=LONG_THREAD_KEY).first()
        if long is None:
            long = Conversation.objects.create(
                contact=contact,
                inbox=inbox,
                team=team,
                status=Conversation.Status.OPEN,
                subject="A very long conversation",
                thread_key=LONG_THREAD_KEY,
                created_at=now - dt.timedelta(days=60),
                last_activity_at=now - dt.timedelta(days=1),
                last_sequence=LONG_MESSAGES,
            )
            start = now - dt.timedelta(days=60)
            for first in range(1, LONG_MESSAGES + 1, 2000):
                Message.objects.bulk_create(
                    Message(
                        conversation=long,
                        inbox=inbox,
                        sequence=seq,
                        direction="in" if seq % 2 else "out",
                        kind="customer" if seq % 2 else "agent",
                        author_contact=contact if seq % 2 else None,
                        author_user=None if seq % 2 else agent,
                        text=f"Message number {seq}: la spedizione è in ritardo, any news?",
                        created_at=start + dt.timedelta(minutes=5 * seq),
                        delivery_state="" if seq % 2 else "read",
                    )
                    for seq in range(first, min(first + 2000, LONG_MESSAGES + 1))
                )
    typical = (
        Conversation.objects.filter(team=team, last_sequence__gte=5, last_sequence__lte=7)
        .exclude(thread_key=LONG_THREAD_KEY)
        .order_by("-last_activity_at")
        .first()
    )
    assert typical is not None
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "agent": agent,
        "team_id": team.pk,
        "label_id": label.pk if label else None,
        "long_id": long.pk,
        "typical_id": typical.pk,
        "contact_id": contact.pk,
    }


def session_cookie(agent: Any) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(agent)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


# --- Server and requests ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(env: dict[str, str], log_path: Path) -> Iterator[int]:
    """`premura web` (gunicorn, one worker: requests are sequential) on a free port."""
    port = free_port()
    with log_path.open("wb") as output:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [
                sys.executable,
                "-m",
                "premura.cli",
                "web",
                "--bind",
                f"{HOST}:{port}",
                "--workers",
                "1",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"server exited:\n{log_path.read_text()[-3000:]}")
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as answer,  # noqa: S310
                ):
                    if answer.status == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"server not healthy:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
            yield port
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


class Browser:
    """One keep-alive connection with the agent's session cookie."""

    def __init__(self, port: int, cookie: str) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookie = cookie

    def get(self, path: str) -> tuple[int, str, float]:
        started = time.perf_counter()
        self.conn.request("GET", path, headers={"Cookie": self.cookie, "Accept-Language": "en"})
        response = self.conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, body, (time.perf_counter() - started) * 1000


NEXT_LINK = re.compile(r'href="([^"]*(?:\?|&amp;)cursor=[^"]+)"')


def next_page(body: str) -> str | None:
    """The "older" link of an inbox page (the last cursor link on the page)."""
    links = NEXT_LINK.findall(body)
    return links[-1].replace("&amp;", "&") if links else None


def measure(browser: Browser, path: str, warmup: int, requests: int, expect: str) -> dict[str, Any]:
    timings = []
    for i in range(warmup + requests):
        status, body, ms = browser.get(path)
        if status != 200 or expect not in body:
            raise SystemExit(f"GET {path} answered {status} without {expect!r}:\n{body[:2000]}")
        if i >= warmup:
            timings.append(ms)
    return {
        "path": path,
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "max_ms": round(max(timings), 1),
        "bytes": len(body),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "PREMURA_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/premura_inbox_bench"
        ),
    )
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args(argv)

    # The data folder holds the secret key that encrypts the inboxes' credentials: it belongs to
    # the database and is kept with it between runs.
    data_dir = Path(
        os.environ.get("PREMURA_DATA_DIR")
        or Path(tempfile.gettempdir()) / f"premura-bench-{database_name(args.database_url)}"
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "PREMURA_DATA_DIR": str(data_dir),
        "PREMURA_ALLOWED_HOSTS": f"{HOST},localhost,testserver",
        "PREMURA_SERVER_MODE": "wsgi",
        "DJANGO_SETTINGS_MODULE": "premura.settings",
    }
    generated_seconds = ensure_data(args.database_url, env, args.conversations, args.regenerate)
    premura(env, "migrate")
    setup_django(env)
    fixtures = ensure_fixtures()
    cookie = session_cookie(fixtures["agent"])
    total = conversations_in(args.database_url)
    from django.db import connection

    connection.close()

    scenarios: dict[str, dict[str, Any]] = {}
    with server(env, data_dir / "server.log") as port:
        browser = Browser(port, cookie)
        all_view = "/inbox/?" + urlencode({"view": "all"})
        filtered = "/inbox/?" + urlencode(
            {"view": "all", "team": fixtures["team_id"], "status": "open"}
            | ({"label": fixtures["label_id"]} if fixtures["label_id"] else {})
        )
        # Page 50 of All: follow the "older" links like an agent scrolling down.
        page = all_view
        for _ in range(49):
            status, body, _ms = browser.get(page)
            following = next_page(body)
            if status != 200 or following is None:
                raise SystemExit(f"no next page after {page} ({status})")
            page = following
        plan = [
            ("inbox_first_page", all_view, "data-rows", LIST_TARGET_MS),
            ("inbox_filtered_team_status_label", filtered, "data-rows", LIST_TARGET_MS),
            ("inbox_page_50_by_cursor", page, "data-rows", LIST_TARGET_MS),
            (
                "search_full_text",
                "/inbox/?" + urlencode({"view": "all", "q": SEARCH_WORD}),
                "data-rows",
                LIST_TARGET_MS,
            ),
            (
                "conversation_typical",
                f"/conversations/{fixtures['typical_id']}/",
                "PRM-",
                PAGE_TARGET_MS,
            ),
            (
                "conversation_10000_messages",
                f"/conversations/{fixtures['long_id']}/",
                f"Message number {LONG_MESSAGES}:",
                PAGE_TARGET_MS,
            ),
            (
                "contact_200_conversations",
                f"/contacts/{fixtures['contact_id']}/",
                "Bench Customer",
                PAGE_TARGET_MS,
            ),
        ]
        for name, path, expect, target in plan:
            result = measure(browser, path, args.warmup, args.requests, expect)
            result["target_p95_ms"] = target
            result["ok"] = result["p95_ms"] <= target
            scenarios[name] = result
            log(f"{name:36} p50 {result['p50_ms']:7.1f} ms  p95 {result['p95_ms']:7.1f} ms")

    lists = [s for s in scenarios.values() if s["target_p95_ms"] == LIST_TARGET_MS]
    pages = [s for s in scenarios.values() if s["target_p95_ms"] == PAGE_TARGET_MS]
    print(
        json.dumps(
            {
                "bench": "inbox",
                "metric": "worst_list_p95",
                "value": max(s["p95_ms"] for s in lists),
                "unit": "ms",
                "target": LIST_TARGET_MS,
                "worst_page_p95_ms": max(s["p95_ms"] for s in pages),
                "page_target_ms": PAGE_TARGET_MS,
                "all_within_targets": all(s["ok"] for s in scenarios.values()),
                "conversations": total,
                "generated_seconds": round(generated_seconds, 1),
                "requests_per_scenario": args.requests,
                "scenarios": scenarios,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
