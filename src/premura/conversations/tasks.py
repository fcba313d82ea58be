"""Background work of conversations: outbox delivery, outbox sweep, snooze wake-up."""

from __future__ import annotations

from django_tasks import task

from premura.conversations import outbox, services
from premura.scheduling.registry import periodic


@task(queue_name="outbox")
def deliver_message(message_id: int) -> str:
    """Deliver one outbound message through its channel."""
    return outbox.deliver(message_id)


@periodic(every_seconds=60)
@task(queue_name="periodic")
def sweep_outbox() -> int:
    """Re-enqueue deliveries whose task was lost or whose worker died."""
    return outbox.sweep()


@periodic(every_seconds=60)
@task(queue_name="periodic")
def wake_snoozed_conversations() -> int:
    """Reopen snoozed conversations whose date has come."""
    return services.wake_snoozed()
