"""Opening an IMAP connection to a mailbox, and the "test connection" check that names what failed.

`check_imap` walks the stages one by one (DNS, TCP connect, TLS, login, folder) so that its answer
says exactly which one failed, in words an admin can act on. `connect_imap` is what the fetcher
uses: TLS, STARTTLS or (for tests only) a plain connection, with timeouts, then a password login
or XOAUTH2 with a token from premura.mail.oauth.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from premura.mail.models import Mailbox
from premura.mail.services import mailbox_secret

CONNECT_TIMEOUT = 15.0
# IDLE waits longer than this in idle_check, with its own timeout; plain commands never should.
READ_TIMEOUT = 120.0


@dataclass(frozen=True)
class CheckReport:
    """The answer of a connection test: ok, the stage reached or failed, and a message for admins.

    stage: "dns" | "connect" | "tls" | "login" | "folder" | "ok".
    """

    ok: bool
    stage: str
    message: str


class IMAPConnectError(Exception):
    """Connecting or signing in to a mailbox failed; `stage` says where (as in CheckReport)."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message


def ssl_context() -> ssl.SSLContext:
    """Certificates are always verified; PREMURA_MAIL_CA_FILE adds a private CA (tests, on-site)."""
    cafile = settings.PREMURA_MAIL_CA_FILE or None
    return ssl.create_default_context(cafile=cafile)


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = exc.verify_message or text
    return text.removeprefix("b'").removesuffix("'") or exc.__class__.__name__


def _tls_failure(host: str, exc: BaseException) -> IMAPConnectError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return IMAPConnectError(
            "tls",
            _("The certificate of %(host)s is not valid: %(error)s")
            % {"host": host, "error": _error_text(exc)},
        )
    return IMAPConnectError(
        "tls",
        _("The secure connection (TLS) to %(host)s failed: %(error)s")
        % {"host": host, "error": _error_text(exc)},
    )


def _resolve(host: str, port: int) -> None:
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise IMAPConnectError(
            "dns",
            _("The server name %(host)s cannot be found (DNS): %(error)s")
            % {"host": host, "error": _error_text(exc)},
        ) from exc


def _open(mailbox: Mailbox, *, timeout: float) -> IMAPClient:
    """Connect and secure the connection; raises IMAPConnectError naming the stage."""
    host, port = mailbox.imap_host.strip(), mailbox.imap_port
    if not host:
        raise IMAPConnectError("dns", _("No IMAP server is set."))
    _resolve(host, port)
    security = mailbox.imap_security
    where = f"{host}:{port}"
    # A TCP connection on its own first: a refused or unreachable port is then told apart from a
    # TLS handshake that fails on an open one.
    try:
        with socket.create_connection((host, port), timeout=min(timeout, CONNECT_TIMEOUT)):
            pass
    except TimeoutError as exc:
        raise IMAPConnectError(
            "connect",
            _("No answer from %(where)s within %(seconds)d seconds (timeout).")
            % {"where": where, "seconds": int(min(timeout, CONNECT_TIMEOUT))},
        ) from exc
    except OSError as exc:
        raise IMAPConnectError(
            "connect",
            _("Cannot connect to %(where)s: %(error)s")
            % {"where": where, "error": _error_text(exc)},
        ) from exc
    timeouts = SocketTimeout(connect=min(timeout, CONNECT_TIMEOUT), read=timeout)
    context = ssl_context()
    try:
        client = IMAPClient(
            host,
            port=port,
            ssl=security == Mailbox.Security.TLS,
            ssl_context=context,
            timeout=timeouts,
        )
    except ssl.SSLError as exc:
        raise _tls_failure(host, exc) from exc
    except (OSError, IMAPClientError) as exc:
        if security == Mailbox.Security.TLS and "EOF" in str(exc):
            raise _tls_failure(host, exc) from exc
        raise IMAPConnectError(
            "connect",
            _("Cannot connect to %(where)s: %(error)s")
            % {"where": where, "error": _error_text(exc)},
        ) from exc
    if security == Mailbox.Security.STARTTLS:
        try:
            client.starttls(context)
        except (ssl.SSLError, OSError, IMAPClientError) as exc:
            _quietly_close(client)
            raise _tls_failure(host, exc) from exc
    return client


def _login(client: IMAPClient, mailbox: Mailbox) -> None:
    user = mailbox.imap_user or mailbox.address
    try:
        if mailbox.auth == Mailbox.Auth.OAUTH2:
            from premura.mail.oauth import OAuthError, access_token

            try:
                token = access_token(mailbox)
            except OAuthError as exc:
                raise IMAPConnectError(
                    "login",
                    _("Signing in with OAuth2 failed: %(error)s") % {"error": _error_text(exc)},
                ) from exc
            client.oauth2_login(user, token)
        else:
            client.login(user, mailbox_secret(mailbox, "imap_password"))
    except LoginError as exc:
        raise IMAPConnectError(
            "login",
            _("The server refused the sign-in of %(user)s: %(error)s")
            % {"user": user, "error": _error_text(exc)},
        ) from exc


def connect_imap(mailbox: Mailbox, *, timeout: float = READ_TIMEOUT) -> IMAPClient:
    """A signed-in IMAP connection to the mailbox; raises IMAPConnectError naming the stage."""
    client = _open(mailbox, timeout=timeout)
    try:
        _login(client, mailbox)
    except BaseException:
        _quietly_close(client)
        raise
    return client


def _quietly_close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # closing a connection that already failed
        with contextlib.suppress(Exception):
            client.shutdown()


def check_imap(mailbox: Mailbox, *, timeout: float = 15.0) -> CheckReport:
    """Try the mailbox's IMAP settings stage by stage; the report names the first that failed."""
    try:
        client = connect_imap(mailbox, timeout=timeout)
    except IMAPConnectError as exc:
        return CheckReport(ok=False, stage=exc.stage, message=exc.message)
    except (OSError, IMAPClientError) as exc:
        return CheckReport(
            ok=False,
            stage="connect",
            message=_("The connection to %(host)s broke: %(error)s")
            % {"host": mailbox.imap_host, "error": _error_text(exc)},
        )
    try:
        if not client.folder_exists(mailbox.folder):
            return CheckReport(
                ok=False,
                stage="folder",
                message=_("The folder “%(folder)s” does not exist in this mailbox.")
                % {"folder": mailbox.folder},
            )
        status = client.folder_status(mailbox.folder, [b"MESSAGES"])
        idle = client.has_capability("IDLE")
    except (OSError, IMAPClientError) as exc:
        return CheckReport(
            ok=False,
            stage="folder",
            message=_("The folder “%(folder)s” cannot be read: %(error)s")
            % {"folder": mailbox.folder, "error": _error_text(exc)},
        )
    finally:
        _quietly_close(client)
    count = int(status.get(b"MESSAGES", 0))
    if idle:
        message = _(
            "Connected: the folder “%(folder)s” holds %(count)d messages; "
            "new mail arrives at once (IDLE)."
        )
    else:
        message = _(
            "Connected: the folder “%(folder)s” holds %(count)d messages; "
            "the server has no IDLE, so it is checked every poll interval."
        )
    return CheckReport(
        ok=True, stage="ok", message=message % {"folder": mailbox.folder, "count": count}
    )
