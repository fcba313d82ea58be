"""A fetcher that dies mid-batch loses nothing and stores nothing twice after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from premura.conversations.models import Message, RawInbound
from premura.mail import imap
from premura.mail.models import EmailReference, FetchState, Mailbox
from tests.mail.conftest import make_mailbox
from tests.mail.dovecot import Dovecot, make_email


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing catches it on the way."""


def _emails(count: int, tag: str) -> list[bytes]:
    return [
        make_email(
            sender=f"cliente{n % 7}@example.it",
            subject=f"Richiesta {n}",
            message_id=f"<{tag}-{n}@example.it>",
        )
        for n in range(count)
    ]


def _assert_each_once(mailbox: Mailbox, tag: str, count: int) -> None:
    ids = list(
        Message.objects.filter(inbox=mailbox.inbox).values_list("provider_message_id", flat=True)
    )
    assert sorted(ids) == sorted(f"{tag}-{n}@example.it" for n in range(count))
    assert RawInbound.objects.filter(inbox=mailbox.inbox).count() == count
    assert EmailReference.objects.filter(outbound=False).count() == count


def test_crash_inside_a_batch_resumes_after_the_last_committed_message(
    mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the process "dies" while ingesting the 13th of 30 messages, committed 5 at a time
    monkeypatch.setattr(imap, "COMMIT_EVERY", 5)
    imap.fetch_once(mailbox)
    dovecot.append(mailbox.imap_user, _emails(30, "sim"))
    real = imap.ingest_email
    calls = []

    def dying(mailbox: Mailbox, raw: bytes, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 13:
            real(mailbox, raw, **kwargs)  # stored, then the crash rolls its group back
            raise Crash
        return real(mailbox, raw, **kwargs)

    monkeypatch.setattr(imap, "ingest_email", dying)
    with pytest.raises(Crash):
        imap.fetch_once(mailbox)
    after_crash = FetchState.objects.get(mailbox=mailbox).last_uid
    stored_before_restart = Message.objects.filter(inbox=mailbox.inbox).count()

    # when: a new process starts
    monkeypatch.setattr(imap, "ingest_email", real)
    report = imap.fetch_once(mailbox)

    # then
    assert (after_crash, stored_before_restart) == (10, 10)
    assert (report.stored, report.duplicates) == (20, 0)
    _assert_each_once(mailbox, "sim", 30)


def _subprocess_env() -> dict[str, str]:
    """Environment for a `premura` subprocess on the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "PREMURA_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "premura.settings",
        "PREMURA_LOG_LEVEL": "ERROR",
    }
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}"
            f":{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    return env


def _fetchmail(mailbox: Mailbox) -> list[str]:
    return [
        sys.executable,
        "-m",
        "premura.cli",
        "fetchmail",
        "--once",
        "--mailbox",
        str(mailbox.pk),
    ]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_fetcher_killed_mid_batch_loses_and_duplicates_nothing(
    dovecot: Dovecot, imap_user: str, mail_settings: Any
) -> None:
    # given: 300 new messages, and a fetcher process working through them
    count = 300
    mailbox = make_mailbox(dovecot, imap_user)
    imap.fetch_once(mailbox)
    dovecot.multiappend(imap_user, _emails(count, "kill"))
    fetcher = subprocess.Popen(
        _fetchmail(mailbox),
        env=_subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if FetchState.objects.get(mailbox=mailbox).last_uid >= 20:
                break
            time.sleep(0.01)

        # when: it is killed in the middle of the batch, then started again
        fetcher.send_signal(signal.SIGKILL)
        fetcher.wait(10)
    finally:
        if fetcher.poll() is None:
            fetcher.kill()
    killed_at = FetchState.objects.get(mailbox=mailbox).last_uid
    stored_when_killed = Message.objects.filter(inbox=mailbox.inbox).count()
    restart = subprocess.run(
        _fetchmail(mailbox),
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )

    # then: it died mid-batch (the first FETCH holds 200), its last UID exactly at the messages
    # it had committed; after the restart every message is there exactly once
    assert fetcher.returncode == -signal.SIGKILL
    assert 20 <= killed_at < 200
    assert stored_when_killed == killed_at
    report = restart.stdout.strip().splitlines()[-1]
    assert f'"stored": {count - killed_at}, "duplicates": 0' in report
    _assert_each_once(mailbox, "kill", count)
    assert FetchState.objects.get(mailbox=mailbox).last_uid == count
