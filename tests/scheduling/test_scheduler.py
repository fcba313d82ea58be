"""Periodic jobs: enqueued once per due run, however many schedulers tick."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from premura.scheduling.models import ScheduledJob
from premura.scheduling.scheduler import load_jobs, tick

pytestmark = pytest.mark.django_db


def test_every_periodic_job_is_registered() -> None:
    names = {job.name for job in load_jobs()}
    assert {
        "premura.conversations.tasks.sweep_outbox",
        "premura.conversations.tasks.wake_snoozed_conversations",
    } <= names


def test_due_jobs_are_enqueued_once_and_rescheduled() -> None:
    # given
    now = timezone.now()

    # when: two schedulers tick at the same moment, then again before the interval passed
    first = tick(now)
    second = tick(now)
    later = tick(now + dt.timedelta(seconds=30))

    # then
    assert "premura.conversations.tasks.sweep_outbox" in first
    assert second == []
    assert later == []
    assert (
        DBTaskResult.objects.filter(task_path="premura.conversations.tasks.sweep_outbox").count()
        == 1
    )
    job = ScheduledJob.objects.get(name="premura.conversations.tasks.sweep_outbox")
    assert job.next_run_at == now + dt.timedelta(seconds=60)


def test_a_scheduler_that_read_a_stale_row_does_not_enqueue_again() -> None:
    # given: another scheduler claimed the run after this one read the row
    now = timezone.now()
    tick(now)
    ScheduledJob.objects.update(next_run_at=now)  # due again
    stale = ScheduledJob.objects.get(name="premura.conversations.tasks.sweep_outbox")
    ScheduledJob.objects.filter(pk=stale.pk).update(next_run_at=now + dt.timedelta(seconds=60))

    # when
    claimed = ScheduledJob.objects.filter(pk=stale.pk, next_run_at=stale.next_run_at).update(
        next_run_at=now + dt.timedelta(seconds=120)
    )

    # then
    assert claimed == 0
