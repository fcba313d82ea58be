"""The `premura` command: thin wrappers over Django management commands.

premura run          everything in one process on the embedded default (SQLite, demo data)
premura web          production HTTP server (gunicorn, WSGI, threads)
premura worker       run background tasks
premura scheduler    enqueue periodic jobs
premura migrate      apply database migrations
premura createadmin EMAIL
premura fetchmail    fetch the email inboxes over IMAP (IDLE where the server supports it)
premura inbox create api --name NAME [--webhook-url URL] [--team TEAM]
premura inbox create email --name NAME --address ADDRESS --imap-host H --imap-user U
                     --imap-password-env VAR [...]   (premura inbox create email --help)
premura token create EMAIL
premura demo         load demo data
premura <any Django management command>
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `premura` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "premura.settings")
    if args and args[0] == "run":
        # The embedded server is ASGI (uvicorn): settings pick the database pool accordingly.
        os.environ.setdefault("PREMURA_SERVER_MODE", "asgi")
    if not args or args[0] in {"-h", "--help", "help"}:
        print(__doc__)
        if not args:
            return
    from django.core.management import execute_from_command_line

    execute_from_command_line(["premura", *args])


if __name__ == "__main__":
    main()
