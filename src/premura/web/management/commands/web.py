"""`premura web`: the production HTTP server — Django as WSGI under gunicorn with threads.

docs/architecture.md explains the choice: on this kind of machine gunicorn's gthread workers serve
the API and webhooks more than twice as fast as Django's ASGI handler; persistent database
connections (CONN_MAX_AGE) are safe under threads.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from premura.translations import compile_catalogs

# Threads per gunicorn worker. With PostgreSQL on the same machine, four keep two cores busy;
# more only add hand-offs of the interpreter lock between threads. Measured with bench/ingest.py
# (2 workers, 32 connections, three runs each, back to back): 587–701 messages/s with p99 65–83 ms
# on 4 threads, 576–645 messages/s with p99 88–140 ms on 8. A database on another host, with
# longer round trips, may want more.
DEFAULT_THREADS = 4


def default_threads() -> int:
    """Threads per worker: `PREMURA_WEB_THREADS`, else DEFAULT_THREADS."""
    return int(os.environ.get("PREMURA_WEB_THREADS", DEFAULT_THREADS))


class Command(BaseCommand):
    help = "Serve HTTP with gunicorn (WSGI, gthread workers)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("PREMURA_BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("PREMURA_WEB_WORKERS", os.cpu_count() or 2)),
        )
        parser.add_argument("--threads", type=int, default=default_threads())
        parser.add_argument("--access-log", action="store_true", help="log every request")

    def handle(self, *args: Any, **options: Any) -> None:
        compile_catalogs()
        env = {**os.environ, "PREMURA_SERVER_MODE": "wsgi"}
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "premura.wsgi:application",
            "--worker-class",
            "gthread",
            "--workers",
            str(options["workers"]),
            "--threads",
            str(options["threads"]),
            "--bind",
            options["bind"],
            "--graceful-timeout",
            "20",
            "--keep-alive",
            "5",
        ]
        if options["access_log"]:
            argv += ["--access-logfile", "-"]
        sys.stdout.flush()
        os.execve(sys.executable, argv, env)  # noqa: S606 - replaces this process with gunicorn
