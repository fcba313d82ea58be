"""Email ingest throughput: messages/s fetched from a real IMAP mailbox into cases.

    .venv/bin/python bench/email_ingest.py [--messages 10000] [--corpus-share 0.1]
        [--reply-share 0.35] [--html-share 0.5]
        [--database-url postgres://postgres@127.0.0.1:5432/premura_email_bench]
        [--profile] [--keep] [--seed 1]

What it does:

1. drops and recreates a dedicated PostgreSQL database (its name must contain "bench"; one run
   at a time per database, as bench/ingest.py), migrates it and creates an email inbox;
2. starts a private Dovecot (tests/mail/dovecot.py, imported by path) and fills one mailbox with
   --messages messages: a share from the real-world corpus (../shared/corpus/emails, each copy
   under a Message-ID of its own) and generated ones from a few thousand customers, a share of
   them replies (In-Reply-To / References to an earlier message of the same customer, "Re:"
   subject), a share multipart/alternative with HTML;
3. runs `premura.mail.imap.fetch_once` (the fetcher itself: FETCH in batches of 200, one
   transaction per message that also moves the folder's last UID) until every message is in, and
   measures the wall time: every message is parsed, its HTML sanitised, threaded, stored with its
   raw source, its events and its routing task row, and its Message-ID recorded;
4. verifies in the database that every message was stored once, that every reply joined the case
   of the message it answers, and prints one JSON object as the last line of stdout.

--profile runs the fetch under cProfile and prints the top functions to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import email.policy
import email.utils
import importlib.util
import io
import json
import os
import pstats
import random
import re
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(
    os.environ.get("PREMURA_EMAIL_CORPUS") or ROOT.parent / "shared" / "corpus" / "emails"
)
if (
    not (CORPUS / "MANIFEST.tsv").exists()
    and Path("/work/shared/corpus/emails/MANIFEST.tsv").exists()
):
    CORPUS = Path("/work/shared/corpus/emails")
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/premura_email_bench"
TARGET = 300


def log(*parts: Any) -> None:
    print("[email_ingest]", *parts, file=sys.stderr, flush=True)


def load(name: str, path: Path) -> ModuleType:
    """Import a file by path (the bench helpers and the test Dovecot harness)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- Messages ------------------------------------------------------------------------------------

TEXTS = (
    "Buongiorno,\nil mio ordine {n} non è ancora arrivato, potete verificare?\nGrazie",
    "Hello,\nI was charged twice for order {n}. Can you refund one of the payments?\nBest",
    "Ciao,\nvorrei cambiare l'indirizzo di consegna dell'ordine {n}.\nSaluti",
    "Hi,\nthe tracking link for order {n} does not work. Thanks in advance.",
)
HTML = (
    '<div dir="ltr"><p>{text}</p><p>Cordiali saluti,<br><b>{name}</b></p>'
    '<img src="https://tracker.example.com/open.gif?id={n}" width="1" height="1">'
    '<a href="https://shop.example/orders/{n}" onclick="steal()">ordine</a></div>'
)
_MESSAGE_ID = re.compile(rb"^message-id:", re.IGNORECASE | re.MULTILINE)


def corpus_copy(raw: bytes, message_id: str) -> bytes:
    """A corpus message under a Message-ID of its own (the libraries' suites reuse theirs)."""
    split = raw.find(b"\r\n\r\n")
    split = raw.find(b"\n\n") if split < 0 else split
    head, body = (raw, b"") if split < 0 else (raw[:split], raw[split:])
    head = _MESSAGE_ID.sub(b"X-Original-Message-ID:", head)
    return f"Message-ID: <{message_id}>\r\n".encode() + head + body


def generated(
    n: int,
    customer: int,
    *,
    subject: str,
    parent: list[str] | None,
    html: bool,
    rng: random.Random,
) -> tuple[bytes, str]:
    message_id = f"bench-{n}.{customer}@mail.example.com"
    message = EmailMessage()
    name = f"Cliente {customer}"
    message["From"] = f"{name} <cliente{customer}@example.com>"
    message["To"] = "Assistenza <support@shop.example>"
    message["Subject"] = f"Re: {subject}" if parent else subject
    message["Date"] = email.utils.format_datetime(
        dt.datetime(2025, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
    )
    message["Message-ID"] = f"<{message_id}>"
    if parent:
        message["In-Reply-To"] = f"<{parent[-1]}>"
        message["References"] = " ".join(f"<{i}>" for i in parent[-10:])
    text = rng.choice(TEXTS).format(n=1000 + n)
    if parent:
        text += "\n\nIl giorno 1 mar 2025 ha scritto Assistenza:\n> Gentile cliente,\n> grazie."
    message.set_content(text)
    if html:
        message.add_alternative(
            HTML.format(text=text.replace("\n", "<br>"), name=name, n=n), subtype="html"
        )
    return message.as_bytes(policy=email.policy.SMTP), message_id


def build_mailbox(
    count: int, corpus_share: float, reply_share: float, html_share: float, seed: int
) -> tuple[list[bytes], list[tuple[str, str]]]:
    """The messages, and for every reply (its Message-ID, the Message-ID it answers)."""
    rng = random.Random(seed)
    corpus = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    messages: list[bytes] = []
    replies: list[tuple[str, str]] = []
    threads: dict[int, tuple[str, list[str]]] = {}  # customer -> (subject, the chain of ids)
    customers = max(10, count // 4)
    for n in range(count):
        if corpus and rng.random() < corpus_share:
            messages.append(corpus_copy(rng.choice(corpus), f"bench-corpus-{n}@bench.example"))
            continue
        customer = rng.randrange(customers)
        thread = threads.get(customer)
        parent = thread[1] if thread is not None and rng.random() < reply_share else None
        subject = thread[0] if thread is not None else f"Ordine {1000 + n}: una domanda"
        raw, message_id = generated(
            n, customer, subject=subject, parent=parent, html=rng.random() < html_share, rng=rng
        )
        messages.append(raw)
        if parent:
            replies.append((message_id, parent[-1]))
            threads[customer] = (subject, [*parent, message_id])
        else:
            threads[customer] = (subject, [message_id])
    return messages, replies


# --- Run -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--corpus-share", type=float, default=0.1)
    parser.add_argument("--reply-share", type=float, default=0.35)
    parser.add_argument("--html-share", type=float, default=0.5)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--parse-processes", type=int, default=1, help="0: parse in the fetching thread"
    )
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave Dovecot's folder behind")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    helpers = load("bench_ingest_helpers", ROOT / "bench" / "ingest.py")
    sys.path.insert(0, str(ROOT))  # the harness imports tests.processes
    harness = load("premura_test_dovecot", ROOT / "tests" / "mail" / "dovecot.py")
    url = args.database_url
    with helpers.exclusive_run(url):
        log(f"recreating database {helpers.database_name(url)}")
        helpers.recreate_database(url)
        data_dir = tempfile.mkdtemp(prefix="premura-email-bench-")
        os.environ.update(
            {
                "DATABASE_URL": url,
                "PREMURA_DATA_DIR": data_dir,
                "DJANGO_SETTINGS_MODULE": "premura.settings",
                "PREMURA_LOG_LEVEL": "WARNING",
            }
        )
        sys.path.insert(0, str(ROOT / "src"))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        args.calibration_ms = helpers.calibrate()
        log("starting Dovecot")
        server = harness.Dovecot.start()
        try:
            return run(args, server)
        finally:
            server.stop()
            if not args.keep:
                import shutil

                shutil.rmtree(server.root, ignore_errors=True)
                shutil.rmtree(data_dir, ignore_errors=True)


def run(args: argparse.Namespace, server: Any) -> int:
    from django.conf import settings
    from django.db import connection

    settings.PREMURA_MAIL_PARSE_PROCESSES = args.parse_processes

    from premura.conversations.models import Conversation, ConversationEvent, Message
    from premura.mail import imap
    from premura.mail.models import EmailReference, FetchState
    from premura.mail.services import create_email_inbox

    user = server.add_user()
    mailbox = create_email_inbox(
        name="Assistenza",
        address="support@shop.example",
        secrets={"imap_password": server.users[user]},
        imap_host="127.0.0.1",
        imap_port=server.port,
        imap_security="none",
        imap_user=user,
    )
    first = imap.fetch_once(mailbox)  # the baseline: an empty folder
    assert first.ok, first.error
    log(f"building {args.messages} messages")
    messages, replies = build_mailbox(
        args.messages, args.corpus_share, args.reply_share, args.html_share, args.seed
    )
    size = sum(len(m) for m in messages)
    log(f"appending them to the mailbox ({size / 1e6:.1f} MB)")
    started = time.monotonic()
    server.multiappend(user, messages)
    log(f"appended in {time.monotonic() - started:.1f}s; fetching")

    profiler = cProfile.Profile() if args.profile else None
    passes = 0
    stored = duplicates = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    if profiler is not None:
        profiler.enable()
    while stored + duplicates < len(messages) and passes < 5:
        report = imap.fetch_once(mailbox)
        passes += 1
        if report.error:
            log("pass failed:", report.error)
        stored += report.stored
        duplicates += report.duplicates
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        out.write("\n--- by own time ---\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
        print(out.getvalue(), file=sys.stderr)

    # Verify: every message once, every reply in its parent's case, events and references.
    inbox = mailbox.inbox
    in_db = Message.objects.filter(inbox=inbox, direction="in").count()
    refs = dict(
        EmailReference.objects.filter(outbound=False).values_list(
            "header_message_id", "conversation_id"
        )
    )
    threaded = sum(1 for child, parent in replies if refs.get(child) == refs.get(parent))
    events = ConversationEvent.objects.filter(conversation__inbox=inbox, kind="message_in").count()
    state = FetchState.objects.get(mailbox=mailbox)
    ok = (
        in_db == len(messages)
        and stored == len(messages)
        and threaded == len(replies)
        and events == len(messages)
        and not state.count_warning
    )
    result = {
        "bench": "email_ingest",
        "metric": "messages_per_second",
        "value": round(stored / seconds, 1),
        "unit": "msg/s",
        "target": TARGET,
        "messages": len(messages),
        "seconds": round(seconds, 2),
        "stored": stored,
        "passes": passes,
        "fetcher_cpu_ms_per_message": round(cpu * 1000 / max(stored, 1), 2),
        "mailbox_mb": round(size / 1e6, 1),
        "corpus_share": args.corpus_share,
        "parse_processes": args.parse_processes,
        "replies": len(replies),
        "replies_threaded": threaded,
        "conversations": Conversation.objects.filter(inbox=inbox).count(),
        "message_in_events": events,
        "email_references": len(refs),
        "count_warning": state.count_warning,
        "database": connection.vendor,
        # The VM's speed drifts between runs: compare figures whose calibrations are close.
        "calibration_ms": args.calibration_ms,
        "ok": ok,
    }
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
