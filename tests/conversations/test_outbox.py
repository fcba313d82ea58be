"""The outbox: replies delivered to the API channel's webhook, signed, retried, never lost."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.conversations import outbox
from premura.conversations.models import Conversation, ConversationEvent, Message
from premura.conversations.services import reply
from tests.conftest import WebhookReceiver
from tests.helpers import APIClient, message_body


def _conversation(api_inbox: NewAPIInbox, receiver_url: str) -> Conversation:
    Inbox.objects.filter(pk=api_inbox.inbox.pk).update(webhook_url=receiver_url)
    data = (
        APIClient(api_inbox.token)
        .post(f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", message_body())
        .json()
    )
    return Conversation.objects.get(pk=data["conversation"]["id"])


@pytest.mark.django_db
def test_reply_is_queued_with_its_task_in_one_transaction(
    api_inbox: NewAPIInbox, admin: User
) -> None:
    # given
    conversation = _conversation(api_inbox, "http://127.0.0.1:9/hook")

    # when
    message = reply(conversation, admin, "Il pacco parte oggi.")

    # then
    assert message.delivery_state == "queued"
    task = DBTaskResult.objects.get(task_path="premura.conversations.tasks.deliver_message")
    assert task.args_kwargs == {"args": [message.pk], "kwargs": {}}
    assert task.queue_name == "outbox"
    conversation.refresh_from_db()
    assert conversation.first_response_at == message.created_at
    assert conversation.last_sequence == 2


@pytest.mark.django_db
def test_delivery_posts_signed_webhook_and_marks_sent(
    api_inbox: NewAPIInbox, admin: User, webhook_receiver: WebhookReceiver
) -> None:
    # given
    conversation = _conversation(api_inbox, webhook_receiver.url)
    message = reply(conversation, admin, "Il pacco parte oggi.")

    # when
    state = outbox.deliver(message.pk)

    # then
    assert state == "sent"
    message.refresh_from_db()
    assert message.delivery_state == "sent"
    assert message.provider_message_id == "ext-1"
    [request] = webhook_receiver.requests
    assert request.headers["X-Premura-Event"] == "message.created"
    assert request.headers["X-Premura-Delivery"] == str(message.delivery_id)
    expected = (
        "sha256="
        + hmac.new(api_inbox.webhook_secret.encode(), request.body, hashlib.sha256).hexdigest()
    )
    assert request.headers["X-Premura-Signature"] == expected
    body = json.loads(request.body)
    assert body["event"] == "message.created"
    assert body["message"]["id"] == message.pk
    assert body["message"]["text"] == "Il pacco parte oggi."
    assert body["message"]["author"] == {"name": "Ada Admin"}
    assert body["conversation"]["reference"] == conversation.reference
    assert body["contact"]["identifier"] == "cust-1"


@pytest.mark.django_db
def test_transient_failure_is_retried_with_backoff(
    api_inbox: NewAPIInbox, admin: User, webhook_receiver: WebhookReceiver
) -> None:
    # given
    webhook_receiver.statuses = [503, 200]
    conversation = _conversation(api_inbox, webhook_receiver.url)
    message = reply(conversation, admin, "Ciao")

    # when
    first = outbox.deliver(message.pk)
    message.refresh_from_db()
    retry_at = message.next_attempt_at
    too_early = outbox.deliver(message.pk)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    second = outbox.deliver(message.pk)

    # then
    assert first == "queued"
    assert message.delivery_error.startswith("webhook answered HTTP 503")
    assert retry_at is not None
    assert retry_at > timezone.now() - dt.timedelta(seconds=1)
    assert too_early == "skipped"
    assert second == "sent"
    retries = DBTaskResult.objects.filter(task_path="premura.conversations.tasks.deliver_message")
    assert retries.count() == 2
    assert retries.exclude(run_after__year=9999).count() == 1
    message.refresh_from_db()
    assert message.delivery_attempts == 2
    assert [r.headers["X-Premura-Delivery"] for r in webhook_receiver.requests] == [
        str(message.delivery_id)
    ] * 2


def test_backoff_doubles_and_is_capped() -> None:
    with override_settings(
        PREMURA_OUTBOX_BACKOFF_SECONDS=10, PREMURA_OUTBOX_BACKOFF_CAP_SECONDS=100
    ):
        assert [outbox.backoff_seconds(n) for n in range(1, 6)] == [10, 20, 40, 80, 100]


@pytest.mark.django_db
def test_permanent_failure_ends_failed_with_event(
    api_inbox: NewAPIInbox, admin: User, webhook_receiver: WebhookReceiver
) -> None:
    # given
    webhook_receiver.statuses = [410]
    conversation = _conversation(api_inbox, webhook_receiver.url)
    message = reply(conversation, admin, "Ciao")

    # when
    state = outbox.deliver(message.pk)

    # then
    message.refresh_from_db()
    assert state == "failed"
    assert message.delivery_state == "failed"
    assert message.delivery_error.startswith("webhook answered HTTP 410")
    event = ConversationEvent.objects.get(kind="delivery_failed")
    assert event.message_id == message.pk
    assert event.payload["permanent"] is True


@pytest.mark.django_db
@override_settings(PREMURA_OUTBOX_MAX_ATTEMPTS=3)
def test_keeps_failing_until_max_attempts_then_failed(
    api_inbox: NewAPIInbox, admin: User, webhook_receiver: WebhookReceiver
) -> None:
    # given
    webhook_receiver.statuses = [500]
    conversation = _conversation(api_inbox, webhook_receiver.url)
    message = reply(conversation, admin, "Ciao")

    # when
    states = []
    for _ in range(3):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        states.append(outbox.deliver(message.pk))

    # then
    assert states == ["queued", "queued", "failed"]
    message.refresh_from_db()
    assert message.delivery_attempts == 3
    assert ConversationEvent.objects.filter(kind="delivery_failed", message=message).count() == 1


@pytest.mark.django_db
def test_retry_failed_message_queues_it_again(
    api_inbox: NewAPIInbox, admin: User, webhook_receiver: WebhookReceiver
) -> None:
    # given
    webhook_receiver.statuses = [400, 200]
    conversation = _conversation(api_inbox, webhook_receiver.url)
    message = reply(conversation, admin, "Ciao")
    outbox.deliver(message.pk)

    # when
    outbox.retry_failed(Message.objects.get(pk=message.pk))
    state = outbox.deliver(message.pk)

    # then
    assert state == "sent"


@pytest.mark.django_db
def test_no_webhook_url_fails_with_clear_reason(api_inbox: NewAPIInbox, admin: User) -> None:
    # given
    conversation = _conversation(api_inbox, "")
    message = reply(conversation, admin, "Ciao")

    # when
    outbox.deliver(message.pk)

    # then
    message.refresh_from_db()
    assert message.delivery_state == "failed"
    assert message.delivery_error == "this API inbox has no webhook URL to deliver replies to"


@pytest.mark.django_db
def test_notes_never_enter_the_outbox(api_inbox: NewAPIInbox, admin: User) -> None:
    # given
    from premura.conversations.services import add_note

    conversation = _conversation(api_inbox, "http://127.0.0.1:9/hook")

    # when
    note = add_note(conversation, admin, "Cliente VIP")

    # then
    assert note.delivery_state == ""
    assert not DBTaskResult.objects.filter(
        task_path="premura.conversations.tasks.deliver_message"
    ).exists()


def _subprocess_env() -> dict[str, str]:
    """Environment for a `premura` subprocess on the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "PREMURA_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "premura.settings",
    }
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env["PREMURA_OUTBOX_STALE_SECONDS"] = "1"
    return env


def _premura(*args: str) -> list[str]:
    return [sys.executable, "-m", "premura.cli", *args]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_committed_reply_is_delivered_by_a_worker_started_later(
    api_inbox: NewAPIInbox, admin: User, webhook_receiver: WebhookReceiver
) -> None:
    # given: the reply is committed while no worker runs (the process "crashed" after commit)
    conversation = _conversation(api_inbox, webhook_receiver.url)
    message = reply(conversation, admin, "Arriva domani")

    # when: a worker starts afterwards
    subprocess.run(
        _premura("worker", "--batch"),
        env=_subprocess_env(),
        check=True,
        timeout=120,
        capture_output=True,
    )

    # then
    message.refresh_from_db()
    assert message.delivery_state == "sent"
    assert len(webhook_receiver.requests) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_delivery_loses_nothing(
    api_inbox: NewAPIInbox, admin: User, webhook_receiver: WebhookReceiver
) -> None:
    # given: a worker is in the middle of delivering (the receiver holds the request)
    import threading

    webhook_receiver.hold = threading.Event()
    conversation = _conversation(api_inbox, webhook_receiver.url)
    message = reply(conversation, admin, "Arriva domani")
    worker = subprocess.Popen(
        _premura("worker"),
        env=_subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not webhook_receiver.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert webhook_receiver.requests, "the worker never called the webhook"
        message.refresh_from_db()
        assert message.delivery_state == "sending"

        # when: the worker dies, then the scheduler's sweep and a new worker run
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    webhook_receiver.hold.set()
    webhook_receiver.hold = None
    time.sleep(1.2)  # PREMURA_OUTBOX_STALE_SECONDS=1 in the subprocesses
    env = _subprocess_env()
    code = "from premura.conversations.outbox import sweep; print(sweep())"
    swept = subprocess.run(
        _premura("shell", "-c", code),
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    subprocess.run(
        _premura("worker", "--batch"), env=env, check=True, timeout=120, capture_output=True
    )

    # then: delivered once more with the same delivery id, nothing lost
    assert swept.stdout.strip().splitlines()[-1] == "1"
    message.refresh_from_db()
    assert message.delivery_state == "sent"
    ids = {r.headers["X-Premura-Delivery"] for r in webhook_receiver.requests}
    assert ids == {str(message.delivery_id)}
    assert len(webhook_receiver.requests) == 2
    assert Path(settings.DATA_DIR).exists()
