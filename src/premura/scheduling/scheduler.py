"""The scheduler loop: enqueue every due periodic job exactly once.

Several schedulers may run (one per node, for availability). Each due run is claimed with a
conditional UPDATE of the job's row — `next_run_at` moves forward only where it is still the value
this scheduler read — and the task row is written in that same transaction, so exactly one
scheduler enqueues each run, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import threading

from django.apps import apps
from django.db import close_old_connections, transaction
from django.utils import timezone

from premura.scheduling.models import ScheduledJob
from premura.scheduling.registry import PeriodicJob, jobs

logger = logging.getLogger(__name__)


def load_jobs() -> list[PeriodicJob]:
    """Import every Premura app's tasks module so its periodic jobs register."""
    for config in apps.get_app_configs():
        if config.name.startswith("premura."):
            try:
                importlib.import_module(f"{config.name}.tasks")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.tasks":
                    raise
    return jobs()


def tick(now: dt.datetime | None = None) -> list[str]:
    """Enqueue the jobs that are due; returns the names of those this scheduler enqueued."""
    now = now or timezone.now()
    enqueued = []
    for job in load_jobs():
        row, _created = ScheduledJob.objects.get_or_create(
            name=job.name, defaults={"next_run_at": now}
        )
        if row.next_run_at > now:
            continue
        with transaction.atomic():
            claimed = ScheduledJob.objects.filter(pk=row.pk, next_run_at=row.next_run_at).update(
                next_run_at=now + dt.timedelta(seconds=job.every_seconds), last_enqueued_at=now
            )
            if claimed:
                job.task.enqueue()
                enqueued.append(job.name)
    return enqueued


def run_forever(stop: threading.Event, interval: float = 5.0) -> None:
    """Tick every `interval` seconds until `stop` is set."""
    while not stop.is_set():
        try:
            close_old_connections()
            names = tick()
            if names:
                logger.debug("scheduler enqueued %s", ", ".join(names))
        except Exception:
            logger.exception("scheduler tick failed")
        finally:
            close_old_connections()
        stop.wait(interval)
