"""Fixtures shared by every test: agents, teams, an API inbox, API clients, a webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection

from premura.accounts.models import User
from premura.accounts.services import create_agent
from premura.channels.services import NewAPIInbox, create_api_inbox
from premura.routing.models import Team
from premura.routing.services import create_team
from premura.translations import compile_catalogs
from tests.helpers import APIClient, client_for

compile_catalogs()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` need real concurrent connections: skipped on SQLite runs."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://…)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def admin(db: None) -> User:
    return create_agent(
        "admin@example.com", role=User.Role.ADMIN, password="x", display_name="Ada Admin"
    )


@pytest.fixture
def supervisor(db: None) -> User:
    return create_agent(
        "sup@example.com", role=User.Role.SUPERVISOR, display_name="Sara Supervisor"
    )


@pytest.fixture
def support_team(db: None) -> Team:
    return create_team("Support")


@pytest.fixture
def legal_team(db: None) -> Team:
    return create_team("Legal", restricted=True)


@pytest.fixture
def support_agent(support_team: Team) -> User:
    user = create_agent("giulia@example.com", display_name="Giulia Rossi")
    support_team.members.add(user)
    return user


@pytest.fixture
def sales_agent(db: None) -> User:
    team = create_team("Sales")
    user = create_agent("tom@example.com", display_name="Tom Baker")
    team.members.add(user)
    return user


@pytest.fixture
def lawyer(legal_team: Team) -> User:
    user = create_agent("avv@example.com", display_name="Avv. Bianchi")
    legal_team.members.add(user)
    return user


@pytest.fixture
def api_inbox(support_team: Team) -> NewAPIInbox:
    return create_api_inbox("Shop", webhook_url="http://127.0.0.1:9/unused", team=support_team)


@pytest.fixture
def inbox_client(api_inbox: NewAPIInbox) -> APIClient:
    return APIClient(api_inbox.token)


@pytest.fixture
def admin_client(admin: User) -> APIClient:
    return client_for(admin)


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A local HTTP server standing in for a system that receives Premura's webhooks."""

    url: str
    requests: list[ReceivedRequest] = field(default_factory=list)
    # Status codes to answer, in order; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])
    answer: dict[str, Any] = field(default_factory=lambda: {"message_id": "ext-1"})
    delay: float = 0.0
    hold: threading.Event | None = None


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(
                ReceivedRequest(self.path, {k: v for k, v in self.headers.items()}, body)
            )
            if receiver.hold is not None:
                receiver.hold.wait(30)
            index = min(len(receiver.requests), len(receiver.statuses)) - 1
            status = receiver.statuses[index]
            payload = json.dumps(receiver.answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                return  # the sender died mid-request (a test kills it on purpose)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    if receiver.hold is not None:
        receiver.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _forget_inbox_tokens() -> Iterator[None]:
    """Each test starts without tokens remembered by an earlier one (ids are reused)."""
    from premura.channels.services import forget_cached_tokens

    forget_cached_tokens()
    yield
    forget_cached_tokens()


@pytest.fixture(autouse=True)
def _forget_search_estimates() -> None:
    """Each test plans its searches afresh (a query-count test counts the planning statement)."""
    from premura.search.api import forget_estimates

    forget_estimates()
