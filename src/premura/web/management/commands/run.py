"""`premura run`: everything in one process on the embedded default.

Migrates, creates an admin with a random password on first start, loads demo data into an empty
database, then serves HTTP with uvicorn (ASGI) on one port while a task worker, the scheduler and the email
fetchers run in threads of the same process.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from premura.accounts.models import User
from premura.accounts.services import ensure_admin
from premura.conversations.models import Conversation
from premura.scheduling.scheduler import run_forever
from premura.translations import compile_catalogs
from premura.webforms.models import ContactForm

ADMIN_EMAIL = "admin@example.com"


def _initial_login_file() -> Path:
    return Path(settings.DATA_DIR) / "initial-admin.json"


def admin_login() -> tuple[str, str | None]:
    """Create the first admin if needed; return its email and, while unchanged, its password."""
    path = _initial_login_file()
    user, password = ensure_admin(ADMIN_EMAIL)
    if password is not None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"email": user.email, "password": password}, fh)
        return user.email, password
    if path.exists():
        stored = json.loads(path.read_text())
        fresh = User.objects.get(pk=user.pk)
        if fresh.check_password(stored.get("password", "")):
            return user.email, stored["password"]
    return user.email, None


def start_worker(stop: threading.Event) -> threading.Thread:
    """Run django-tasks-db's worker loop in a daemon thread, for every queue."""
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["*"],
        interval=0.5,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="embedded-" + os.urandom(4).hex(),
        excluded_queue_names=[],
    )

    def loop() -> None:
        def stopper() -> None:
            stop.wait()
            worker.running = False

        threading.Thread(target=stopper, daemon=True).start()
        worker.run()

    thread = threading.Thread(target=loop, name="premura-worker", daemon=True)
    thread.start()
    return thread


class Command(BaseCommand):
    help = "Start Premura on the embedded default: migrate, admin, demo data, HTTP + worker + scheduler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("PREMURA_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PREMURA_PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
        parser.add_argument("--demo-conversations", type=int, default=300)

    def handle(self, *args: Any, **options: Any) -> None:
        import uvicorn

        compile_catalogs()
        call_command("migrate", interactive=False, verbosity=0)
        email, password = admin_login()
        if not options["no_demo"] and not Conversation.objects.exists():
            self.stdout.write("Loading demo data …")
            call_command("demo", conversations=options["demo_conversations"], verbosity=0)

        stop = threading.Event()
        start_worker(stop)
        threading.Thread(
            target=run_forever, args=(stop,), name="premura-scheduler", daemon=True
        ).start()
        # Email inboxes: one IDLE (or polling) thread per IMAP mailbox.
        from premura.mail.watch import run_fetchers

        threading.Thread(
            target=run_fetchers, args=(stop,), name="premura-mail", daemon=True
        ).start()

        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write("")
        self.stdout.write(f"Premura is running at {url}")
        if password:
            self.stdout.write(f"Sign in as {email} with password {password}")
        else:
            self.stdout.write(
                f"Sign in as {email} (password changed since the first start; "
                f"`premura createadmin {email} --reset-password` sets a new one)"
            )
        form = ContactForm.objects.filter(is_active=True).order_by("id").first()
        if form is not None:
            self.stdout.write(f"Contact form: {url}forms/{form.slug}/")
        self.stdout.write(f"API documentation: {url}api/docs")
        self.stdout.write("Press Ctrl+C to stop.")
        self.stdout.flush()
        try:
            uvicorn.run(
                "premura.asgi:application",
                host=options["host"],
                port=options["port"],
                log_level="warning",
                lifespan="off",
            )
        finally:
            stop.set()
