"""IMAP fetching against a real Dovecot: connection checks, UIDs, UIDVALIDITY, quarantine, IDLE."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.core import mail as django_mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from premura.conversations.models import Conversation, Message
from premura.mail import imap, watch
from premura.mail.connection import check_imap
from premura.mail.inbound import provider_message_id
from premura.mail.models import EmailReference, FetchState, Mailbox, QuarantinedEmail
from premura.mail.parsing import parse_email
from premura.mail.services import update_mailbox
from premura.scheduling.scheduler import load_jobs
from tests.helpers import email_corpus_dir
from tests.mail.conftest import make_mailbox
from tests.mail.dovecot import Dovecot, free_port, make_email

ROUTE_TASK = "premura.routing.tasks.route_conversation"


def _stored_subjects(mailbox: Mailbox) -> list[str]:
    return list(
        Conversation.objects.filter(inbox=mailbox.inbox)
        .order_by("pk")
        .values_list("subject", flat=True)
    )


def _messages(mailbox: Mailbox) -> list[str]:
    return list(
        Message.objects.filter(inbox=mailbox.inbox)
        .order_by("pk")
        .values_list("provider_message_id", flat=True)
    )


# --- Connection check ----------------------------------------------------------------------------


def test_check_reports_ok_with_message_count(mailbox: Mailbox, dovecot: Dovecot) -> None:
    # given
    dovecot.append(mailbox.imap_user, [make_email(), make_email()])

    # when
    report = check_imap(mailbox)

    # then
    assert (report.ok, report.stage) == (True, "ok")
    assert report.message == (
        "Connected: the folder “INBOX” holds 2 messages; new mail arrives at once (IDLE)."
    )


def test_check_names_dns_failure(mailbox: Mailbox) -> None:
    # given
    mailbox.imap_host = "no-such-host.invalid"

    # when
    report = check_imap(mailbox)

    # then
    assert (report.ok, report.stage) == (False, "dns")
    assert report.message.startswith("The server name no-such-host.invalid cannot be found (DNS): ")


def test_check_names_refused_connection(mailbox: Mailbox) -> None:
    # given: a port nobody listens on
    mailbox.imap_port = free_port()

    # when
    report = check_imap(mailbox)

    # then
    assert (report.ok, report.stage) == (False, "connect")
    assert report.message.startswith(f"Cannot connect to 127.0.0.1:{mailbox.imap_port}: ")
    assert "refused" in report.message


def test_check_names_untrusted_certificate(
    mailbox: Mailbox, dovecot: Dovecot, settings: Any
) -> None:
    # given: TLS on the TLS port, without trusting the test CA
    settings.PREMURA_MAIL_CA_FILE = None
    mailbox.imap_security = "tls"
    mailbox.imap_port = dovecot.tls_port

    # when
    report = check_imap(mailbox)

    # then
    assert (report.ok, report.stage) == (False, "tls")
    assert report.message.startswith("The certificate of 127.0.0.1 is not valid: ")


def test_check_names_tls_spoken_to_a_plain_port(mailbox: Mailbox) -> None:
    # given: "TLS" chosen for the plain IMAP port
    mailbox.imap_security = "tls"

    # when
    report = check_imap(mailbox)

    # then
    assert (report.ok, report.stage) == (False, "tls")
    assert report.message.startswith("The secure connection (TLS) to 127.0.0.1 failed: ")


@pytest.mark.parametrize(("security", "port"), [("tls", "tls_port"), ("starttls", "port")])
def test_check_succeeds_over_tls_and_starttls(
    mailbox: Mailbox, dovecot: Dovecot, security: str, port: str
) -> None:
    # given
    mailbox.imap_security = security
    mailbox.imap_port = getattr(dovecot, port)

    # when
    report = check_imap(mailbox)

    # then
    assert (report.ok, report.stage) == (True, "ok")


def test_check_names_rejected_login(mailbox: Mailbox) -> None:
    # given
    mailbox = update_mailbox(mailbox, secrets={"imap_password": "wrong"})

    # when
    report = check_imap(mailbox)

    # then
    assert (report.ok, report.stage) == (False, "login")
    assert report.message == (
        f"The server refused the sign-in of {mailbox.imap_user}: "
        "[AUTHENTICATIONFAILED] Authentication failed."
    )


def test_check_names_missing_folder(mailbox: Mailbox) -> None:
    # given
    mailbox.folder = "Assistenza"

    # when
    report = check_imap(mailbox)

    # then
    assert (report.ok, report.stage) == (False, "folder")
    assert report.message == "The folder “Assistenza” does not exist in this mailbox."


def test_oauth2_mailbox_signs_in_with_xoauth2_token(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an OAuth2 mailbox whose token the server does not accept (Dovecot here has no
    # XOAUTH2), so the XOAUTH2 attempt itself is what the check reports
    from premura.mail import oauth

    tokens: list[int] = []
    monkeypatch.setattr(oauth, "access_token", lambda m: tokens.append(m.pk) or "ya29.token")
    mailbox.auth = "oauth2"

    # when
    report = check_imap(mailbox)

    # then
    assert tokens == [mailbox.pk]
    assert (report.ok, report.stage) == (False, "login")


# --- Fetching ------------------------------------------------------------------------------------


def test_first_connection_fetches_only_mail_that_arrives_afterwards(
    mailbox: Mailbox, dovecot: Dovecot
) -> None:
    # given: two messages were in the folder before the mailbox was connected
    dovecot.append(mailbox.imap_user, [make_email(subject="old 1"), make_email(subject="old 2")])
    first = imap.fetch_once(mailbox)

    # when: a new one arrives
    dovecot.append(mailbox.imap_user, [make_email(subject="Ordine 1234 in ritardo")])
    second = imap.fetch_once(mailbox)

    # then
    assert (first.ok, first.stored, second.ok, second.stored) == (True, 0, True, 1)
    assert _stored_subjects(mailbox) == ["Ordine 1234 in ritardo"]
    conversation = Conversation.objects.get(inbox=mailbox.inbox)
    assert conversation.contact.email == "mario@example.it"
    message = conversation.messages.get()
    assert message.text.strip() == "Buongiorno, il mio ordine non è arrivato."
    assert message.raw is not None
    assert bytes(message.raw.body).startswith(b"From: Mario Rossi <mario@example.it>")
    assert message.raw.content_type == "message/rfc822"
    assert DBTaskResult.objects.filter(task_path=ROUTE_TASK).count() == 1
    state = FetchState.objects.get(mailbox=mailbox)
    assert (state.baseline_uid, state.last_uid, state.fetched_count) == (2, 3, 1)
    assert state.last_success_at is not None
    assert state.count_warning == ""


def test_mail_already_read_elsewhere_is_fetched_and_flagged_after_commit(
    mailbox: Mailbox, dovecot: Dovecot
) -> None:
    # given: one message read in another client, one unread
    imap.fetch_once(mailbox)
    read = make_email(subject="read", sender="anna@example.it")
    dovecot.append(mailbox.imap_user, [read], flags=["\\Seen"])
    dovecot.append(mailbox.imap_user, [make_email(subject="unread", sender="bob@example.it")])

    # when
    report = imap.fetch_once(mailbox)

    # then
    assert report.stored == 2
    assert sorted(_stored_subjects(mailbox)) == ["read", "unread"]
    client = dovecot.client(mailbox.imap_user)
    client.select_folder("INBOX", readonly=True)
    flags = client.get_flags([1, 2])
    client.logout()
    assert {uid: set(value) for uid, value in flags.items()} == {
        1: {b"\\Seen", b"$PremuraImported"},
        2: {b"\\Seen", b"$PremuraImported"},
    }


def test_fetching_never_deletes_or_moves_mail(mailbox: Mailbox, dovecot: Dovecot) -> None:
    # given
    imap.fetch_once(mailbox)
    dovecot.append(mailbox.imap_user, [make_email(), make_email(), make_email()])

    # when
    imap.fetch_once(mailbox)

    # then
    client = dovecot.client(mailbox.imap_user)
    status = client.folder_status("INBOX", [b"MESSAGES"])
    client.logout()
    assert status[b"MESSAGES"] == 3


def test_fetching_in_batches_keeps_every_message_once(
    mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: more messages than one FETCH batch
    monkeypatch.setattr(imap, "BATCH_SIZE", 4)
    imap.fetch_once(mailbox)
    ids = [f"batch-{n}@example.it" for n in range(10)]
    dovecot.append(mailbox.imap_user, [make_email(message_id=f"<{i}>") for i in ids])

    # when
    report = imap.fetch_once(mailbox)

    # then
    assert (report.stored, report.last_uid) == (10, 10)
    assert _messages(mailbox) == ids


def test_fetching_again_from_an_earlier_uid_stores_nothing_twice(
    mailbox: Mailbox, dovecot: Dovecot
) -> None:
    # given: everything fetched, then the fetch state goes back (a restored backup, say)
    imap.fetch_once(mailbox)
    dovecot.append(mailbox.imap_user, [make_email(), make_email(message_id="")])
    imap.fetch_once(mailbox)
    FetchState.objects.filter(mailbox=mailbox).update(last_uid=0)

    # when
    report = imap.fetch_once(mailbox)

    # then
    assert (report.stored, report.duplicates) == (0, 2)
    assert Message.objects.filter(inbox=mailbox.inbox).count() == 2


def test_uidvalidity_change_refetches_without_loss_or_duplicates(
    db: None, dovecot: Dovecot, imap_user: str, mail_settings: Any
) -> None:
    # given: a mailbox reading the folder "Support", two messages fetched
    old = make_email(subject="before", date=timezone.now() - dt.timedelta(days=3))
    dovecot.append(imap_user, [old], folder="Support", date=timezone.now() - dt.timedelta(days=3))
    time.sleep(1.1)  # INTERNALDATE has whole seconds
    mailbox = make_mailbox(dovecot, imap_user, folder="Support")
    imap.fetch_once(mailbox)
    first = make_email(subject="first", sender="anna@example.it")
    second = make_email(subject="second", sender="bob@example.it", message_id="")
    dovecot.append(imap_user, [first, second], folder="Support")
    imap.fetch_once(mailbox)
    uidvalidity = FetchState.objects.get(mailbox=mailbox).uidvalidity

    # when: the folder is rebuilt (new UIDVALIDITY) with the same mail and one more
    client = dovecot.client(imap_user)
    client.delete_folder("Support")
    client.logout()
    dovecot.append(imap_user, [old], folder="Support", date=timezone.now() - dt.timedelta(days=3))
    dovecot.append(
        imap_user,
        [first, second, make_email(subject="third", sender="carla@example.it")],
        folder="Support",
    )
    report = imap.fetch_once(mailbox)

    # then: the rebuilt folder is read again; the mail from before the connection stays out
    assert report.resynced is True
    assert (report.stored, report.duplicates, report.skipped) == (1, 2, 0)
    assert _stored_subjects(mailbox) == ["first", "second", "third"]
    state = FetchState.objects.get(mailbox=mailbox)
    assert state.uidvalidity != uidvalidity
    assert state.last_uid == 4


def test_fetch_since_imports_history_without_routing(
    db: None, dovecot: Dovecot, imap_user: str, mail_settings: Any
) -> None:
    # given: mail of 40 and 3 days ago in the folder; the inbox imports since 7 days ago
    now = timezone.now()
    for days in (40, 3):
        sent = now - dt.timedelta(days=days)
        dovecot.append(imap_user, [make_email(subject=f"{days} days", date=sent)], date=sent)
    time.sleep(1.1)
    mailbox = make_mailbox(dovecot, imap_user, fetch_since=(now - dt.timedelta(days=7)).date())

    # when
    history = imap.fetch_once(mailbox)
    dovecot.append(imap_user, [make_email(subject="new", sender="anna@example.it")])
    fresh = imap.fetch_once(mailbox)

    # then: the history is stored with its own date and triggers nothing; new mail is routed
    assert (history.stored, fresh.stored) == (1, 1)
    assert _stored_subjects(mailbox) == ["3 days", "new"]
    old = Message.objects.get(conversation__subject="3 days")
    assert old.created_at == old.sent_at
    assert old.created_at < now - dt.timedelta(days=2)
    routed = DBTaskResult.objects.filter(task_path=ROUTE_TASK)
    assert [row.args_kwargs["args"][1] for row in routed] == [
        Message.objects.get(conversation__subject="new").pk
    ]
    assert not Message.objects.filter(direction="out").exists()


def test_failing_message_is_retried_then_quarantined_with_its_raw_source(
    mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the second of three messages makes ingest fail every time
    real = imap.ingest_email

    def flaky(mailbox: Mailbox, raw: bytes, **kwargs: Any) -> Any:
        if b"POISON" in raw:
            raise ValueError("cannot read this one")
        return real(mailbox, raw, **kwargs)

    monkeypatch.setattr(imap, "ingest_email", flaky)
    imap.fetch_once(mailbox)
    poison = make_email(subject="POISON", message_id="<poison@example.it>")
    dovecot.append(
        mailbox.imap_user,
        [make_email(subject="a"), poison, make_email(subject="c", sender="carla@example.it")],
    )

    # when
    reports = [imap.fetch_once(mailbox) for _ in range(3)]

    # then: passes 1 and 2 stop at it (the third message waits), pass 3 quarantines it
    assert [(r.stored, r.failed, r.quarantined) for r in reports] == [
        (1, 1, 0),
        (0, 1, 0),
        (1, 0, 1),
    ]
    assert reports[0].error == (
        "The message with UID 2 could not be imported (attempt 1 of 3): "
        "ValueError: cannot read this one"
    )
    assert _stored_subjects(mailbox) == ["a", "c"]
    item = QuarantinedEmail.objects.get(mailbox=mailbox)
    assert (item.uid, item.attempts, item.quarantined) == (2, 3, True)
    assert item.message_id == "poison@example.it"
    assert bytes(item.raw) == poison
    assert item.error == "ValueError: cannot read this one"
    state = FetchState.objects.get(mailbox=mailbox)
    assert (state.last_uid, state.last_error) == (3, "")


def test_message_that_fails_once_then_works_leaves_no_quarantine_row(
    mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: ingest fails once (the database was restarting, say)
    real = imap.ingest_email
    failures = [ValueError("database restarting")]

    def once(mailbox: Mailbox, raw: bytes, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(mailbox, raw, **kwargs)

    monkeypatch.setattr(imap, "ingest_email", once)
    imap.fetch_once(mailbox)
    dovecot.append(mailbox.imap_user, [make_email(subject="hello")])

    # when
    reports = [imap.fetch_once(mailbox) for _ in range(2)]

    # then
    assert [(r.stored, r.failed) for r in reports] == [(0, 1), (1, 0)]
    assert not QuarantinedEmail.objects.exists()


def test_retry_quarantined_imports_it_after_a_fix(
    mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # given: a message quarantined at the first failure
    settings.PREMURA_MAIL_MAX_ATTEMPTS = 1
    real = imap.ingest_email
    monkeypatch.setattr(imap, "ingest_email", lambda *a, **k: 1 / 0)
    imap.fetch_once(mailbox)
    dovecot.append(mailbox.imap_user, [make_email(subject="fixed later")])
    imap.fetch_once(mailbox)
    monkeypatch.setattr(imap, "ingest_email", real)
    item = QuarantinedEmail.objects.get(mailbox=mailbox, quarantined=True)

    # when
    result = imap.retry_quarantined(item)

    # then
    assert result is not None
    assert result.conversation.subject == "fixed later"
    item.refresh_from_db()
    assert (item.quarantined, item.released_at is not None) == (False, True)


def test_count_disagreement_raises_a_warning(mailbox: Mailbox, dovecot: Dovecot) -> None:
    # given: the server holds three messages past the baseline, our count says one
    imap.fetch_once(mailbox)
    dovecot.append(mailbox.imap_user, [make_email(), make_email(), make_email()])
    imap.fetch_once(mailbox)
    FetchState.objects.filter(mailbox=mailbox).update(fetched_count=1)

    # when
    imap.fetch_once(mailbox)

    # then
    state = FetchState.objects.get(mailbox=mailbox)
    assert (state.server_count, state.fetched_count) == (3, 1)
    assert state.count_warning == (
        "The folder “INBOX” holds 3 messages that Premura has gone past, but only 1 were "
        "fetched: 2 may be missing. Check the quarantine and the server; fetching the folder "
        "again (after a UIDVALIDITY change) recovers them."
    )


def test_connection_failure_is_recorded_and_fetching_resumes_afterwards(
    mailbox: Mailbox, dovecot: Dovecot
) -> None:
    # given: the password was changed on the server side while mail kept arriving
    imap.fetch_once(mailbox)
    dovecot.append(mailbox.imap_user, [make_email(subject="while down")])
    update_mailbox(mailbox, secrets={"imap_password": "outdated"})
    failed = imap.fetch_once(mailbox)

    # when: the admin enters the right password
    update_mailbox(mailbox, secrets={"imap_password": dovecot.users[mailbox.imap_user]})
    resumed = imap.fetch_once(mailbox)

    # then
    assert failed.error.startswith("The server refused the sign-in of ")
    assert resumed.stored == 1
    assert _stored_subjects(mailbox) == ["while down"]
    assert FetchState.objects.get(mailbox=mailbox).last_error == ""


def test_a_second_pass_over_the_same_mailbox_waits_its_turn(mailbox: Mailbox) -> None:
    # given: a pass holds the mailbox
    with imap.mailbox_lock(mailbox.pk) as locked:
        # when
        report = imap.fetch_once(mailbox)

    # then
    assert locked is True
    assert (report.busy, report.ok) == (True, False)


# --- Stale fetchers ------------------------------------------------------------------------------


def test_stale_mailbox_alerts_admins_once_per_episode(mailbox: Mailbox, admin: Any) -> None:
    # given: no successful fetch for 31 minutes
    now = timezone.now()
    FetchState.objects.filter(mailbox=mailbox).update(
        last_success_at=now - dt.timedelta(minutes=31),
        last_attempt_at=now,
        last_error="The server refused the sign-in",
    )

    # when
    stale = imap.stale_mailboxes(now)
    first = _alert(now)
    second = _alert(now + dt.timedelta(minutes=5))

    # then
    assert [m.pk for m in stale] == [mailbox.pk]
    assert (first, second) == (1, 0)
    assert len(django_mail.outbox) == 1
    assert django_mail.outbox[0].to == ["admin@example.com"]
    assert django_mail.outbox[0].subject.startswith(
        "Premura: the mailbox support@shop.example has not been fetched since "
    )
    assert "Last error: The server refused the sign-in" in django_mail.outbox[0].body


def _alert(now: dt.datetime) -> int:
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        return watch.alert_stale_mailboxes(now)


def test_a_new_stale_episode_alerts_again(mailbox: Mailbox, admin: Any) -> None:
    # given: an alert was sent, then a success, then a new long failure
    now = timezone.now()
    FetchState.objects.filter(mailbox=mailbox).update(
        last_success_at=now - dt.timedelta(minutes=40), last_attempt_at=now
    )
    _alert(now)
    FetchState.objects.filter(mailbox=mailbox).update(last_success_at=now - dt.timedelta(minutes=5))
    recovered = imap.stale_mailboxes(now)

    # when
    later = now + dt.timedelta(minutes=60)
    count = _alert(later)

    # then
    assert recovered == []
    assert count == 1
    assert len(django_mail.outbox) == 2


# --- Periodic job and IDLE ------------------------------------------------------------------------


def test_scheduler_job_enqueues_a_pass_per_due_mailbox(mailbox: Mailbox, dovecot: Dovecot) -> None:
    # given
    from premura.mail.tasks import fetch_mailbox, fetch_mailboxes

    names = [job.name for job in load_jobs()]

    # when
    enqueued = fetch_mailboxes.call()
    imap.fetch_once(mailbox)
    dovecot.append(mailbox.imap_user, [make_email(subject="via the worker")])
    result = fetch_mailbox.call(mailbox.pk)

    # then
    assert "premura.mail.tasks.fetch_mailboxes" in names
    assert enqueued == 1
    rows = DBTaskResult.objects.filter(task_path="premura.mail.tasks.fetch_mailbox")
    assert [row.args_kwargs["args"] for row in rows] == [[mailbox.pk]]
    assert result["stored"] == 1
    assert _stored_subjects(mailbox) == ["via the worker"]


def test_recently_polled_mailbox_is_not_enqueued_again(mailbox: Mailbox) -> None:
    # given
    from premura.mail.tasks import fetch_mailboxes

    FetchState.objects.filter(mailbox=mailbox).update(last_attempt_at=timezone.now())

    # when
    enqueued = fetch_mailboxes.call()

    # then
    assert enqueued == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("use_idle", [True, False])
def test_watcher_fetches_new_mail_within_seconds(
    dovecot: Dovecot, imap_user: str, mail_settings: Any, use_idle: bool
) -> None:
    # given: a watcher waiting in IDLE (or polling every second)
    mailbox = make_mailbox(dovecot, imap_user, use_idle=use_idle)
    Mailbox.objects.filter(pk=mailbox.pk).update(poll_seconds=1)
    stop = threading.Event()
    thread = threading.Thread(target=watch.watch_mailbox, args=(mailbox.pk, stop), daemon=True)
    thread.start()
    try:
        _wait(lambda: FetchState.objects.get(mailbox=mailbox).last_success_at is not None)

        # when
        dovecot.append(imap_user, [make_email(subject="pushed")])
        _wait(lambda: Message.objects.filter(inbox=mailbox.inbox).exists())
    finally:
        stop.set()
        thread.join(10)

    # then
    assert _stored_subjects(mailbox) == ["pushed"]
    assert not thread.is_alive()


def _wait(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


CORPUS = email_corpus_dir()


@pytest.mark.slow
def test_whole_corpus_fetched_from_imap_without_a_failure(
    db: None, dovecot: Dovecot, imap_user: str, mail_settings: Any
) -> None:
    # given: every message of the real-world corpus delivered to the mailbox
    files = sorted(CORPUS.glob("*.eml"))
    mailbox = make_mailbox(dovecot, imap_user)
    imap.fetch_once(mailbox)
    dovecot.multiappend(imap_user, [path.read_bytes() for path in files])

    # when
    report = imap.fetch_once(mailbox)

    # then: each one stored (or recognised as a copy of one with the same Message-ID)
    assert len(files) == 220
    assert (report.error, report.failed, report.quarantined) == ("", 0, 0)
    assert report.stored + report.duplicates + report.skipped == len(files)
    # The libraries' test suites reuse Message-IDs: a later message with the same id is a copy.
    distinct = {
        provider_message_id(parse_email(path.read_bytes()), path.read_bytes()) for path in files
    }
    assert report.stored == len(distinct)
    assert report.stored == Message.objects.filter(inbox=mailbox.inbox).count()
    assert report.skipped == 0
    assert not QuarantinedEmail.objects.exists()
    assert FetchState.objects.get(mailbox=mailbox).count_warning == ""


def test_failure_after_the_message_was_stored_rolls_its_group_back_then_quarantines(
    mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: what follows ingest for one email (marking a bounced reply failed, say) always fails
    # after ingest stored it, so its whole group must roll back, the messages before it included
    from premura.mail import inbound

    real_ingest = inbound.ingest

    def failing_after(inbox: Any, message: Any, raw: Any, **options: Any) -> Any:
        result = real_ingest(inbox, message, raw, **options)
        if message.provider_message_id == "bad@example.it":
            cause = RuntimeError("bounced reply not marked: table unavailable")
            raise inbound.TransactionSpoiled(repr(cause)) from cause
        return result

    monkeypatch.setattr(inbound, "ingest", failing_after)
    imap.fetch_once(mailbox)
    dovecot.append(
        mailbox.imap_user,
        [
            make_email(sender="a@example.it", message_id="<good-1@example.it>"),
            make_email(sender="b@example.it", message_id="<bad@example.it>"),
            make_email(sender="c@example.it", message_id="<good-2@example.it>"),
        ],
    )

    # when
    reports = [imap.fetch_once(mailbox) for _ in range(4)]

    # then: two passes roll back (good-1 with it), the third quarantines it without moving past
    # good-1, the fourth stores good-1 and good-2 and passes over the quarantined one
    assert [(r.stored, r.failed, r.quarantined) for r in reports] == [
        (0, 1, 0),
        (0, 1, 0),
        (0, 0, 1),
        (2, 0, 0),
    ]
    assert _messages(mailbox) == ["good-1@example.it", "good-2@example.it"]
    assert list(EmailReference.objects.values_list("header_message_id", flat=True)) == [
        "good-1@example.it",
        "good-2@example.it",
    ]
    item = QuarantinedEmail.objects.get(mailbox=mailbox)
    assert (item.uid, item.attempts, item.quarantined) == (2, 3, True)
    assert item.error == "RuntimeError: bounced reply not marked: table unavailable"
    assert FetchState.objects.get(mailbox=mailbox).last_uid == 3


def test_bulk_import_parses_in_line_when_the_parsing_process_died(
    mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the parsing process is gone (killed by the OOM killer, say)
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    class DeadPool:
        def submit(self, *args: Any, **kwargs: Any) -> Future[Any]:
            future: Future[Any] = Future()
            future.set_exception(BrokenProcessPool("the parsing process died"))
            return future

        def shutdown(self, **kwargs: Any) -> None:
            return None

    monkeypatch.setattr(imap, "_parser", lambda: DeadPool())
    imap.fetch_once(mailbox)
    ids = [f"bulk-{n}@example.it" for n in range(imap.PARSE_AHEAD_MIN + 5)]
    dovecot.append(mailbox.imap_user, [make_email(message_id=f"<{i}>") for i in ids])

    # when
    report = imap.fetch_once(mailbox)

    # then
    assert (report.stored, report.failed, report.error) == (len(ids), 0, "")
    assert _messages(mailbox) == ids
