"""Declaring periodic jobs: `@periodic(every_seconds=60)` on a django-tasks task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class PeriodicJob:
    """A task to enqueue every `every_seconds`."""

    name: str
    task: Any
    every_seconds: int


_jobs: dict[str, PeriodicJob] = {}


def periodic(*, every_seconds: int) -> Callable[[T], T]:
    """Register a task to be enqueued by the scheduler at this interval."""

    def register(task: T) -> T:
        name = str(getattr(task, "module_path"))  # noqa: B009 - tasks expose their dotted path
        _jobs[name] = PeriodicJob(name=name, task=task, every_seconds=every_seconds)
        return task

    return register


def jobs() -> list[PeriodicJob]:
    """Every registered periodic job (apps register theirs when their tasks module is imported)."""
    return sorted(_jobs.values(), key=lambda job: job.name)
