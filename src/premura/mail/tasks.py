"""Background work of email inboxes: periodic IMAP passes and the stale-fetcher alert.

With `premura worker` and `premura scheduler` alone, every IMAP mailbox is fetched at its poll
interval by these tasks; `premura fetchmail` (or `premura run`) adds IDLE, so mail arrives within
seconds. The two never fetch one mailbox at the same time (premura.mail.imap.mailbox_lock).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tasks import task

from premura.mail import imap, watch
from premura.mail.models import Mailbox
from premura.scheduling.registry import periodic


@task(queue_name="periodic")
def fetch_mailbox(mailbox_id: int) -> dict[str, object]:
    """One IMAP pass over one mailbox."""
    mailbox = Mailbox.objects.select_related("inbox").filter(pk=mailbox_id).first()
    if mailbox is None or not mailbox.inbox.is_active or mailbox.inbound != Mailbox.Inbound.IMAP:
        return {"skipped": True}
    report = imap.fetch_once(mailbox)
    return {
        "stored": report.stored,
        "duplicates": report.duplicates,
        "quarantined": report.quarantined,
        "failed": report.failed,
        "busy": report.busy,
        "error": report.error,
    }


@periodic(every_seconds=60)
@task(queue_name="periodic")
def fetch_mailboxes() -> int:
    """Enqueue a pass for each IMAP mailbox whose poll interval has passed; alert stale ones."""
    now = timezone.now()
    enqueued = 0
    for mailbox in imap.fetched_mailboxes():
        state = getattr(mailbox, "fetch_state", None)
        last = state.last_attempt_at if state is not None else None
        # A little early rather than a whole scheduler period late.
        if last is None or now - last >= dt.timedelta(seconds=max(mailbox.poll_seconds - 5, 0)):
            fetch_mailbox.enqueue(mailbox.pk)
            enqueued += 1
    watch.alert_stale_mailboxes(now)
    return enqueued
