"""WSGI entry point: `premura web` serves this under gunicorn (docs/architecture.md).

The inbound API channel's endpoints skip the web UI's middleware (premura.api.wsgi).
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "premura.settings")

from premura.api.wsgi import with_lean_inbound_api  # noqa: E402 - needs the settings module set

application = with_lean_inbound_api(get_wsgi_application())
