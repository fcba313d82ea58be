"""The outbox: every outbound message is a row with a delivery state, delivered by a task.

queued → sending → sent → delivered → read, or failed with the provider's error. A delivery is
claimed with a conditional UPDATE, so a duplicate task or a second worker never sends twice at once;
transient errors are retried with exponential backoff; after PREMURA_OUTBOX_MAX_ATTEMPTS, or on a
permanent error, the message ends "failed" with a delivery_failed event, never silently.

Channel adapters register their sender here (the domain never imports the adapters).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from premura.conversations.models import ConversationEvent, Message

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendResult:
    """What a channel reports after handing a message to its provider."""

    provider_message_id: str = ""


class DeliveryError(Exception):
    """A failed send; `permanent` failures are not retried (bad address, rejected content …)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


Sender = Callable[[Message], SendResult]
_senders: dict[str, Sender] = {}


def register_sender(channel_kind: str, sender: Sender) -> None:
    """Called by each channel adapter at start-up for the inbox kind it sends through."""
    _senders[channel_kind] = sender


_RANK: dict[str, int] = {
    Message.Delivery.QUEUED: 1,
    Message.Delivery.SENDING: 2,
    Message.Delivery.SENT: 3,
    Message.Delivery.DELIVERED: 4,
    Message.Delivery.READ: 5,
}


def backoff_seconds(attempt: int) -> int:
    """Wait before the next attempt: base × 2^(attempt-1), capped."""
    base = settings.PREMURA_OUTBOX_BACKOFF_SECONDS
    return int(min(settings.PREMURA_OUTBOX_BACKOFF_CAP_SECONDS, base * 2 ** max(0, attempt - 1)))


def deliver(message_id: int) -> str:
    """Try to deliver one queued message; returns the delivery state afterwards."""
    now = timezone.now()
    claimed = Message.objects.filter(
        pk=message_id,
        delivery_state=Message.Delivery.QUEUED,
        next_attempt_at__lte=now,
    ).update(
        delivery_state=Message.Delivery.SENDING,
        delivery_attempts=F("delivery_attempts") + 1,
        delivery_updated_at=now,
    )
    if not claimed:
        return "skipped"
    message = Message.objects.select_related("inbox", "conversation__contact", "author_user").get(
        pk=message_id
    )
    sender = _senders.get(message.inbox.kind)
    if sender is None:
        return _failed(message, f"no sender for channel {message.inbox.kind!r}", permanent=True)
    try:
        result = sender(message)
    except DeliveryError as exc:
        return _failed(message, str(exc), permanent=exc.permanent)
    except Exception as exc:
        logger.exception("sender for message %s raised", message_id)
        return _failed(message, f"unexpected error: {exc!r}", permanent=False)
    Message.objects.filter(pk=message_id, delivery_state=Message.Delivery.SENDING).update(
        delivery_state=Message.Delivery.SENT,
        provider_message_id=result.provider_message_id[:255] or F("provider_message_id"),
        delivery_error="",
        next_attempt_at=None,
        delivery_updated_at=timezone.now(),
    )
    return Message.Delivery.SENT


def _failed(message: Message, error: str, *, permanent: bool) -> str:
    from premura.conversations.tasks import deliver_message

    now = timezone.now()
    attempts = message.delivery_attempts
    with transaction.atomic():
        if permanent or attempts >= settings.PREMURA_OUTBOX_MAX_ATTEMPTS:
            Message.objects.filter(pk=message.pk).update(
                delivery_state=Message.Delivery.FAILED,
                delivery_error=error[:2000],
                next_attempt_at=None,
                delivery_updated_at=now,
            )
            ConversationEvent.objects.create(
                conversation_id=message.conversation_id,
                kind=ConversationEvent.Kind.DELIVERY_FAILED,
                message=message,
                payload={"error": error[:500], "attempts": attempts, "permanent": permanent},
                created_at=now,
            )
            return Message.Delivery.FAILED
        retry_at = now + dt.timedelta(seconds=backoff_seconds(attempts))
        Message.objects.filter(pk=message.pk).update(
            delivery_state=Message.Delivery.QUEUED,
            delivery_error=error[:2000],
            next_attempt_at=retry_at,
            delivery_updated_at=now,
        )
        deliver_message.using(queue_name="outbox", run_after=retry_at).enqueue(message.pk)
    return Message.Delivery.QUEUED


def retry_failed(message: Message) -> Message:
    """Queue a failed message for a new round of attempts (the agent's "retry" button)."""
    from premura.conversations.tasks import deliver_message

    if message.delivery_state != Message.Delivery.FAILED:
        raise ValueError("only a failed message can be retried")
    now = timezone.now()
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, delivery_state=Message.Delivery.FAILED).update(
            delivery_state=Message.Delivery.QUEUED,
            delivery_attempts=0,
            next_attempt_at=now,
            delivery_updated_at=now,
        )
        deliver_message.using(queue_name="outbox").enqueue(message.pk)
    message.refresh_from_db()
    return message


def apply_receipt(
    message: Message, state: str, *, error: str = "", at: dt.datetime | None = None
) -> bool:
    """Record a provider's status callback; states only move forward. Returns True if applied."""
    at = at or timezone.now()
    if state == Message.Delivery.FAILED:
        applies = Q(delivery_state__in=[Message.Delivery.SENDING, Message.Delivery.SENT])
    elif state in (Message.Delivery.SENT, Message.Delivery.DELIVERED, Message.Delivery.READ):
        lower = [s for s, rank in _RANK.items() if rank < _RANK[state]]
        applies = Q(delivery_state__in=lower)
    else:
        raise ValueError(f"unknown delivery state {state!r}")
    with transaction.atomic():
        updated = Message.objects.filter(Q(pk=message.pk) & applies).update(
            delivery_state=state,
            delivery_error=error[:2000] if state == Message.Delivery.FAILED else "",
            next_attempt_at=None,
            delivery_updated_at=at,
        )
        if updated and state == Message.Delivery.FAILED:
            ConversationEvent.objects.create(
                conversation_id=message.conversation_id,
                kind=ConversationEvent.Kind.DELIVERY_FAILED,
                message=message,
                payload={"error": error[:500], "source": "receipt"},
                created_at=at,
            )
    return bool(updated)


def sweep(now: dt.datetime | None = None) -> int:
    """Hand stuck deliveries to a new task: queued ones whose task was lost, sending ones whose
    worker died. Returns how many were re-enqueued."""
    from premura.conversations.tasks import deliver_message

    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.PREMURA_OUTBOX_STALE_SECONDS)
    count = 0
    with transaction.atomic():
        stuck_sending = list(
            Message.objects.filter(
                delivery_state=Message.Delivery.SENDING, delivery_updated_at__lt=stale
            )
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:1000]
        )
        if stuck_sending:
            Message.objects.filter(pk__in=stuck_sending).update(
                delivery_state=Message.Delivery.QUEUED, next_attempt_at=now, delivery_updated_at=now
            )
        overdue = list(
            Message.objects.filter(
                delivery_state=Message.Delivery.QUEUED, next_attempt_at__lt=stale
            )
            .exclude(pk__in=stuck_sending)
            .values_list("id", flat=True)[:1000]
        )
        for message_id in [*stuck_sending, *overdue]:
            deliver_message.using(queue_name="outbox").enqueue(message_id)
            count += 1
    return count
