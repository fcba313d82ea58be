"""A private, real IMAP server for the tests and the email benchmark: Debian's Dovecot.

`Dovecot.start()` writes a temporary configuration (Maildir under a temporary folder, a
passwd-file per user, plaintext login allowed) and runs `dovecot -F` on two free ports of
127.0.0.1: plain IMAP (which also offers STARTTLS) and IMAP over TLS with a certificate made on the
fly, signed by a throw-away CA whose certificate is `ca_file`. Users are added while it runs (a
passwd-file each), so every test gets an empty mailbox of its own.

When `dovecot` is missing and we run as root (CI), Debian's `dovecot-imapd` is installed with
apt-get, as tests/browser/conftest.py does for Chromium; elsewhere the error says what to install.
The benchmark imports this file by path (bench/email_ingest.py), so it only uses the standard
library, `cryptography` and `imapclient`.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from imapclient import IMAPClient

from tests.processes import free_port

DOVECOT = os.environ.get("PREMURA_DOVECOT", "/usr/sbin/dovecot")
HOST = "127.0.0.1"


class DovecotUnavailable(RuntimeError):
    """Dovecot is not installed and cannot be installed here."""


def install_dovecot() -> str:
    """The dovecot binary; installs Debian's dovecot-imapd first when missing and we are root."""
    if Path(DOVECOT).exists():
        return DOVECOT
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise DovecotUnavailable(
            f"{DOVECOT} is missing: install Debian's dovecot-imapd package "
            "(sudo apt-get install dovecot-imapd) or set PREMURA_DOVECOT to a dovecot binary."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [apt, "install", "-y", "--no-install-recommends", "dovecot-imapd"]
    if subprocess.run(command, env=env, check=False).returncode != 0:  # noqa: S603
        subprocess.run([apt, "update"], env=env, check=True)  # noqa: S603
        subprocess.run(command, env=env, check=True)  # noqa: S603
    return DOVECOT


def _make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Premura test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    cert_file = folder / "server.pem"
    key_file = folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


_CONFIG = """\
# Written by tests/mail/dovecot.py: a private Dovecot for one test session.
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = premura-test-{port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{users}
first_valid_uid = 0
first_valid_gid = 0
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 0
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
mail_location = maildir:~/Maildir
mail_fsync = never
maildir_very_dirty_syncs = yes
imap_idle_notify_interval = 1 secs
login_greeting = Premura test Dovecot ready.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
  process_min_avail = 1
  {login_user}
}}
service imap {{
  process_limit = 200
}}
service anvil {{
  chroot =
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    """A running private Dovecot (see the module's docstring)."""

    root: Path
    port: int
    tls_port: int
    ca_file: Path
    process: subprocess.Popen[bytes] | None = None
    users: dict[str, str] = field(default_factory=dict)
    _counter: int = 0

    @classmethod
    def start(cls, root: Path | None = None) -> Dovecot:
        """Write the configuration and start Dovecot; returns once both ports accept connections."""
        binary = install_dovecot()
        root = root or Path(tempfile.mkdtemp(prefix="premura-dovecot-"))
        for name in ("run", "state", "home", "users"):
            (root / name).mkdir(parents=True, exist_ok=True)
        ca_file, cert_file, key_file = _make_certificates(root)
        port, tls_port = free_port(), free_port()
        while tls_port == port:
            tls_port = free_port()
        me = _current_user()
        if os.geteuid() == 0:
            users = ""  # root: Dovecot's own unprivileged users (from the package) run the logins
            login_user = ""
        else:
            users = f"default_internal_user = {me}\ndefault_login_user = {me}"
            login_user = f"user = {me}\n  chroot ="
        config = root / "dovecot.conf"
        config.write_text(
            _CONFIG.format(
                host=HOST,
                root=root,
                port=port,
                tls_port=tls_port,
                cert=cert_file,
                key=key_file,
                users=users,
                login_user=login_user,
            )
        )
        if os.geteuid() == 0:
            # The login and auth processes run as dovenull / dovecot and read these.
            os.chmod(root, 0o755)  # noqa: S103 - a test folder; Dovecot's own users must reach it
            for name in ("run", "state", "home", "users"):
                os.chmod(root / name, 0o755)  # noqa: S103
        process = subprocess.Popen(  # noqa: S603
            [binary, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(root / "stderr.log", "wb"),  # noqa: SIM115 - lives as long as dovecot
            start_new_session=True,
        )
        server = cls(root=root, port=port, tls_port=tls_port, ca_file=ca_file, process=process)
        server._wait_ready()
        return server

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                for port in (self.port, self.tls_port):
                    with socket.create_connection((HOST, port), timeout=1):
                        pass
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start within {timeout}s: {self.log()}")

    def log(self) -> str:
        parts = []
        for name in ("stderr.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop the Dovecot this object started (its own process group only)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def add_user(self, name: str | None = None, password: str = "secret") -> str:  # noqa: S107 - a test account
        """A new, empty mail account; returns its login name."""
        if name is None:
            self._counter += 1
            name = f"user{self._counter}-{os.urandom(3).hex()}"
        home = self.root / "home" / name
        home.mkdir(parents=True, exist_ok=True)
        uid, gid = _mail_owner()
        os.chown(home, uid, gid)
        # One passwd-file per user: Dovecot opens the new file at the first login (a shared file
        # changed twice within a second may not be read again).
        with (self.root / "users" / name).open("w") as fh:
            fh.write(f"{name}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
        self.users[name] = password
        return name

    def client(self, user: str) -> IMAPClient:
        """A logged-in IMAP client (plain connection) for a test to set up or inspect a mailbox."""
        client = IMAPClient(HOST, port=self.port, ssl=False, timeout=30)
        client.login(user, self.users[user])
        return client

    def append(
        self,
        user: str,
        messages: Iterable[bytes],
        *,
        folder: str = "INBOX",
        flags: Sequence[str] = (),
        date: dt.datetime | None = None,
    ) -> list[int]:
        """Deliver messages into a folder (created when missing); returns their UIDs."""
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            uids = []
            for raw in messages:
                answer = client.append(folder, raw, flags=tuple(flags), msg_time=date)
                uids.append(_appended_uid(answer))
            return uids
        finally:
            client.logout()

    def multiappend(self, user: str, messages: Sequence[bytes], *, folder: str = "INBOX") -> None:
        """Deliver many messages at once (MULTIAPPEND, in chunks): the benchmark's mailbox."""
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for start in range(0, len(messages), 500):
                client.multiappend(folder, list(messages[start : start + 500]))
        finally:
            client.logout()


def _appended_uid(answer: bytes) -> int:
    """The UID from an APPEND answer: b'[APPENDUID <validity> <uid>] Append completed.'"""
    text = answer.decode(errors="replace")
    if "APPENDUID" in text:
        return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
    return 0


def _mail_owner() -> tuple[int, int]:
    """Who owns the mail files: the current user, or `nobody` for root (Dovecot never serves
    mail as root)."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    import pwd

    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def make_email(
    *,
    subject: str = "Order 1234 not arrived",
    sender: str = "Mario Rossi <mario@example.it>",
    to: str = "support@shop.example",
    body: str = "Buongiorno, il mio ordine non è arrivato.",
    message_id: str | None = None,
    in_reply_to: str = "",
    references: str = "",
    date: dt.datetime | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A plain-text email as a mail client sends it (UTF-8, CRLF line ends)."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(date or dt.datetime.now(dt.UTC))
    message["Message-ID"] = (
        message_id if message_id is not None else email.utils.make_msgid(domain="example.it")
    )
    if not message["Message-ID"]:
        del message["Message-ID"]
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in extra_headers:
        message[name] = value
    message.set_content(body)
    # CRLF line ends, as on the wire (and as IMAP hands a message back).
    return message.as_bytes(policy=email.policy.SMTP)
