"""Premura settings: defaults in code, overridden by environment variables, computed values last.

Nothing here needs configuring for the embedded default (SQLite in a data folder). Production
sets at least DATABASE_URL, PREMURA_SECRET_KEY and PREMURA_ALLOWED_HOSTS.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Read an integer environment variable."""
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated environment variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# --- Where state lives -------------------------------------------------------------------------
DATA_DIR = Path(os.environ.get("PREMURA_DATA_DIR", Path.cwd() / ".premura")).resolve()


def _secret_from_data_dir(filename: str) -> str:
    """Embedded default: a random secret kept in the data folder, created on first use."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / filename
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = os.environ.get("PREMURA_SECRET_KEY") or _secret_from_data_dir("secret_key")
# Keys that encrypt inbox credentials and webhook secrets at rest (Fernet, comma-separated,
# newest first so older keys still decrypt). Defaults to a key derived from SECRET_KEY.
PREMURA_ENCRYPTION_KEYS = env_list("PREMURA_ENCRYPTION_KEYS", [])

DEBUG = env_bool("PREMURA_DEBUG", False)
ALLOWED_HOSTS = env_list("PREMURA_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("PREMURA_CSRF_TRUSTED_ORIGINS", [])
PREMURA_BASE_URL = os.environ.get("PREMURA_BASE_URL", "http://127.0.0.1:8000")

# --- Applications ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_htmx",
    "template_partials",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "premura.accounts",
    "premura.contacts",
    "premura.routing",
    "premura.channels",
    "premura.conversations",
    "premura.scheduling",
    "premura.mail",
    "premura.demo",
    "premura.api",
    "premura.search",
    "premura.inbox",
    "premura.administration",
    "premura.webforms",
    "premura.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "premura.accounts.middleware.AgentPreferencesMiddleware",
    "premura.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a lockout during sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "premura.urls"
WSGI_APPLICATION = "premura.wsgi.application"
ASGI_APPLICATION = "premura.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
# The rate limit comes first: a locked-out email and address never reach the password check.
AUTHENTICATION_BACKENDS = [
    "premura.accounts.backends.SignInRateLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    }
]

# --- Database ----------------------------------------------------------------------------------
# PREMURA_SERVER_MODE is set by `premura run` (uvicorn, ASGI) and `premura web` (gunicorn, WSGI):
# persistent connections are right under WSGI threads and leak a connection per thread under ASGI,
# where PostgreSQL uses Django's psycopg pool instead (docs/architecture.md, "serving HTTP").
SERVER_MODE = os.environ.get("PREMURA_SERVER_MODE", "wsgi")
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'premura.sqlite3'}")
_default_db = dj_database_url.parse(DATABASE_URL)
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on the busy timeout instead of failing with "database is locked".
    _default_db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA busy_timeout=30000;"
        ),
    }
elif _default_db["ENGINE"] == "django.db.backends.postgresql":
    # Server-side parameter binding lets psycopg prepare a statement after it ran
    # PREMURA_DB_PREPARE_THRESHOLD times on a connection: PostgreSQL then skips parsing and
    # planning, about a third of its CPU on the inbound hot path (docs/architecture.md §6).
    # A transaction-mode connection pooler without prepared-statement support (PgBouncer < 1.21)
    # needs PREMURA_DB_PREPARE_THRESHOLD=0 (never prepare).
    _prepare_threshold = env_int("PREMURA_DB_PREPARE_THRESHOLD", 5)
    _default_db.setdefault("OPTIONS", {})["server_side_binding"] = True
    _default_db["OPTIONS"]["prepare_threshold"] = _prepare_threshold or None
    if SERVER_MODE == "asgi":
        _default_db["CONN_MAX_AGE"] = 0
        _default_db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("PREMURA_DB_POOL_SIZE", 10),
        }
    else:
        _default_db["CONN_MAX_AGE"] = env_int("PREMURA_DB_CONN_MAX_AGE", 600)
        # A health check costs a round trip per request; after a database restart the first
        # request of each thread fails instead (PREMURA_DB_HEALTH_CHECKS=1 to trade back).
        _default_db["CONN_HEALTH_CHECKS"] = env_bool("PREMURA_DB_HEALTH_CHECKS", False)
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background work ---------------------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "outbox", "periodic"],
    }
}
# Outbox delivery: attempts before a message is marked failed, and the first backoff in seconds
# (doubled at every attempt, capped).
PREMURA_OUTBOX_MAX_ATTEMPTS = env_int("PREMURA_OUTBOX_MAX_ATTEMPTS", 8)
PREMURA_OUTBOX_BACKOFF_SECONDS = env_int("PREMURA_OUTBOX_BACKOFF_SECONDS", 10)
PREMURA_OUTBOX_BACKOFF_CAP_SECONDS = env_int("PREMURA_OUTBOX_BACKOFF_CAP_SECONDS", 3600)
PREMURA_OUTBOX_TIMEOUT_SECONDS = float(os.environ.get("PREMURA_OUTBOX_TIMEOUT_SECONDS", "10"))
# A delivery left "sending" this long (its worker died) is handed to a new attempt.
PREMURA_OUTBOX_STALE_SECONDS = env_int("PREMURA_OUTBOX_STALE_SECONDS", 300)

# --- Cases -------------------------------------------------------------------------------------
# A customer who writes again within this many days of a resolution reopens the same case.
PREMURA_REOPEN_WINDOW_DAYS = env_int("PREMURA_REOPEN_WINDOW_DAYS", 7)
# Email inboxes: attempts before a message that fails to parse or ingest is quarantined; minutes
# without a successful fetch before admins are alerted; a CA bundle for mail servers with a
# private certificate authority; processes that parse a large import ahead of the database.
PREMURA_MAIL_MAX_ATTEMPTS = env_int("PREMURA_MAIL_MAX_ATTEMPTS", 3)
PREMURA_MAIL_STALE_MINUTES = env_int("PREMURA_MAIL_STALE_MINUTES", 30)
PREMURA_MAIL_CA_FILE = os.environ.get("PREMURA_MAIL_CA_FILE", "")
PREMURA_MAIL_PARSE_PROCESSES = env_int("PREMURA_MAIL_PARSE_PROCESSES", 1)
# How long an agent's inbox view counts are reused before they are counted again.
PREMURA_INBOX_COUNT_SECONDS = env_int("PREMURA_INBOX_COUNT_SECONDS", 10)
PREMURA_MAX_ATTACHMENT_BYTES = env_int("PREMURA_MAX_ATTACHMENT_BYTES", 25 * 1024 * 1024)
# Largest request body the inbound API accepts (attachments travel base64-encoded inside it).
PREMURA_MAX_API_BODY_BYTES = env_int("PREMURA_MAX_API_BODY_BYTES", 40 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = PREMURA_MAX_API_BODY_BYTES

# --- Cache and realtime ------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("PREMURA_LANGUAGE", "en")
LANGUAGES = [("en", _("English")), ("it", _("Italian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("PREMURA_TIME_ZONE", "Europe/Rome")
USE_I18N = True
USE_TZ = True
PREMURA_DEFAULT_PHONE_REGION = os.environ.get("PREMURA_DEFAULT_PHONE_REGION", "IT")

# --- Static and uploaded files -----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(os.environ.get("PREMURA_MEDIA_DIR", DATA_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security ----------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
_https = PREMURA_BASE_URL.startswith("https://")
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SESSION_COOKIE_AGE = env_int("PREMURA_SESSION_SECONDS", 12 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Sessions end SESSION_COOKIE_AGE after sign-in (a work shift), with no separate idle timeout:
# open conversation pages poll by themselves, so "idle" would mean little, and a sliding expiry
# would write the session on every request.
SESSION_SAVE_EVERY_REQUEST = False
# Sign-in rate limit (django-axes): after this many wrong passwords for one email from one
# address, that pair is locked out for the cool-off; an admin can unlock earlier.
AXES_FAILURE_LIMIT = env_int("PREMURA_SIGNIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PREMURA_SIGNIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in form's field (it holds the email)
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_CALLABLE = "premura.accounts.signin.locked_out"
AXES_CLIENT_IP_CALLABLE = "premura.accounts.signin.client_ip"
AXES_VERBOSE = False  # failures and lockouts are still logged; no banner on every command
if _https:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Mail --------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "PREMURA_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("PREMURA_DEFAULT_FROM_EMAIL", "premura@localhost")
# The SMTP server of password resets and invitations (with the smtp EmailBackend).
EMAIL_HOST = os.environ.get("PREMURA_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("PREMURA_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("PREMURA_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("PREMURA_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("PREMURA_EMAIL_STARTTLS", "") == "1"
EMAIL_USE_SSL = os.environ.get("PREMURA_EMAIL_TLS", "") == "1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PREMURA_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # One line per task run is noise in the embedded server's console; failures still show.
        "django_tasks": {"level": os.environ.get("PREMURA_TASKS_LOG_LEVEL", "WARNING")},
        "django_tasks_db": {"level": os.environ.get("PREMURA_TASKS_LOG_LEVEL", "WARNING")},
    },
}
