"""Settings for the test suite: the real settings with fast password hashing and a private data folder."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PREMURA_DATA_DIR", tempfile.mkdtemp(prefix="premura-test-"))

from premura.settings import *  # noqa: E402,F403
from premura.settings import DATA_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = DATA_DIR / "media"
PREMURA_OUTBOX_BACKOFF_SECONDS = 1
PREMURA_INBOX_COUNT_SECONDS = 0  # tests read counts right after they change
LOGGING = {"version": 1, "disable_existing_loggers": False}

# A file (not :memory:) so that worker subprocesses started by tests see the same database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
