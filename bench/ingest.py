"""Throughput of the inbound API channel: `POST /api/v1/inboxes/{id}/messages` under load.

    .venv/bin/python bench/ingest.py [--messages 8000] [--concurrency 32] [--workers 2]
        [--threads 4] [--new-ratio 0.3] [--thread-ratio 0.2] [--warmup 1000]
        [--client raw|httpx] [--wsgi-app MODULE:CALLABLE]
        [--database-url postgres://postgres@127.0.0.1:5432/premura_ingest_bench]
        [--query-sample 300] [--profile 0] [--keep]

What it does:

1. drops and recreates a dedicated PostgreSQL database (its name must contain "bench"; one run
   at a time per database, an advisory lock makes a second run wait), runs
   `premura migrate`, `premura inbox create api`, starts `premura web` (gunicorn gthread, WSGI;
   or, with --wsgi-app, gunicorn with the same options serving that application) on a free port
   and waits for /healthz;
2. posts --warmup messages (not measured), then --messages measured ones, from a cheap asyncio
   client (`raw`: HTTP/1.1 written by hand over keep-alive streams, uvloop when installed;
   `httpx`: httpx.AsyncClient) with --concurrency connections (the raw client spreads them evenly
   over the gunicorn workers). A fraction --new-ratio of the messages come from customers never
   seen before, the others from earlier customers; every message has its own message_id, a
   fraction --thread-ratio carries a thread key; ANALYZE runs between the two phases;
3. reports messages/s and latency p50/p95/p99 of the measured phase, checks every answer was 201,
   the CPU spent per message by the client, gunicorn and PostgreSQL (from /proc), and after
   stopping the server verifies in the database that every message, raw payload and routing task
   row (django_tasks_database_dbtaskresult) was stored; counts conversations and contacts and the
   PostgreSQL transactions per message (pg_stat_database, which also sees the connection health
   check that Django's query log does not);
4. counts database queries per ingested message in-process: Django set up against the same
   database (a separate inbox), django.test.Client and CaptureQueriesContext around
   --query-sample requests; average and max, new vs existing customers; the SQL of one typical
   request of each kind goes to stderr and, abbreviated, into "detail". --profile N runs N more
   in-process requests under cProfile and prints the top functions to stderr;
5. stops the server (SIGTERM, gunicorn's graceful shutdown) and prints one JSON object as the
   last stdout line. Exit status 1 when a request failed or the database check did not add up.

"queries_per_message" counts the statements CaptureQueriesContext records minus transaction
control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE), as tests/channels/test_query_counts.py
does; "statements_per_message" counts them all (each is a round trip to PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import math
import os
import pstats
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from premura.web.management.commands.web import default_threads

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/premura_ingest_bench"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TX_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.I)


def log(*parts: Any) -> None:
    print("[ingest]", *parts, file=sys.stderr, flush=True)


# --- Messages ------------------------------------------------------------------------------------

TEXTS = (
    "Buongiorno, il mio ordine {n} non è ancora arrivato, potete verificare?",
    "Hello, I was charged twice for order {n}. Can you refund one of the payments?",
    "Ciao, vorrei cambiare l'indirizzo di consegna dell'ordine {n}.",
    "Hi, the tracking link for order {n} does not work. Thanks in advance.",
)


@dataclass
class MessagePlan:
    """Pre-built messages, so the load client spends its CPU on sending them only."""

    bodies: list[bytes] = field(default_factory=list)
    new_customer: list[bool] = field(default_factory=list)
    threaded: list[bool] = field(default_factory=list)


class MessageFactory:
    """Customers and messages: new customers at `new_ratio`, the rest repeat earlier customers."""

    def __init__(
        self,
        tag: str,
        new_ratio: float,
        thread_ratio: float,
        lag: int,
        seed: int,
        phone_base: int = 0,
    ) -> None:
        self.tag = tag
        # Phone identities are global (not per inbox): two factories in one database must not
        # hand out the same number, or their customers would be merged into one.
        self.phone_base = phone_base
        self.new_ratio = new_ratio
        self.thread_ratio = thread_ratio
        # An "existing" customer is picked among those created at least `lag` messages earlier,
        # so that their first message has most likely been committed already.
        self.lag = lag
        self.rng = random.Random(seed)
        self.customers: list[int] = []  # message index at which each customer first wrote
        self.eligible = 0  # customers[:eligible] may be picked as "existing"
        self.count = 0

    def _contact(self, n: int) -> dict[str, str]:
        contact = {"identifier": f"{self.tag}-cust-{n}", "name": f"Cliente {n}"}
        contact["email"] = f"cust{n}.{self.tag}@example.com"
        if n % 2 == 0:  # half the customers give a phone number (unique, valid Italian mobile)
            contact["phone"] = f"+39347{(self.phone_base + n) % 10_000_000:07d}"
        return contact

    def next(self) -> tuple[dict[str, Any], bool, bool]:
        index = self.count
        self.count += 1
        while (
            self.eligible < len(self.customers)
            and self.customers[self.eligible] <= index - self.lag
        ):
            self.eligible += 1
        eligible = self.eligible
        if eligible == 0 or self.rng.random() < self.new_ratio:
            customer = len(self.customers)
            self.customers.append(index)
            new = True
        else:
            customer = self.rng.randrange(eligible)
            new = False
        threaded = self.rng.random() < self.thread_ratio
        body: dict[str, Any] = {
            "message_id": f"{self.tag}-msg-{index}",
            "contact": self._contact(customer),
            "text": self.rng.choice(TEXTS).format(n=100_000 + index),
        }
        if threaded:
            body["thread"] = f"{self.tag}-cust-{customer}-thread-{self.rng.randrange(2)}"
        return body, new, threaded

    def plan(self, count: int) -> MessagePlan:
        plan = MessagePlan()
        for _ in range(count):
            body, new, threaded = self.next()
            plan.bodies.append(json.dumps(body, ensure_ascii=False).encode())
            plan.new_customer.append(new)
            plan.threaded.append(threaded)
        return plan


# --- Setup: database, premura commands, server ----------------------------------------------------


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = database_name(url)
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def maintenance_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


@contextlib.contextmanager
def exclusive_run(url: str) -> Iterator[None]:
    """One run at a time per bench database: a second run would drop the first one's database.

    A PostgreSQL advisory lock, held by a connection to the maintenance database for the whole
    run (released when it closes, even if this process dies); a second run waits for it.
    """
    import psycopg

    key = f"premura-bench-ingest:{database_name(url)}"
    conn = psycopg.connect(maintenance_url(url), autocommit=True)
    try:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()
        if not (row and row[0]):
            log(f"another run is using {database_name(url)}: waiting for it to finish")
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
        yield
    finally:
        conn.close()


def premura(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "premura.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"premura {' '.join(args)} failed with status {result.returncode}")
    return result.stdout


def last_json(output: str) -> dict[str, Any]:
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"no JSON object in output: {output[-500:]!r}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """`premura web` as a subprocess (it execs gunicorn, so the pid is gunicorn's master)."""

    def __init__(
        self,
        env: dict[str, str],
        port: int,
        workers: int,
        threads: int,
        log_path: Path,
        wsgi_app: str = "",
    ):
        self.port = port
        self.log_path = log_path
        self._log = log_path.open("wb")
        args = [
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ]
        if wsgi_app:
            # gunicorn with `premura web`'s options, serving another WSGI application
            command = [sys.executable, "-m", "gunicorn", wsgi_app, *args]
            command += [
                "--worker-class",
                "gthread",
                "--graceful-timeout",
                "20",
                "--keep-alive",
                "5",
            ]
            env = {**env, "PREMURA_SERVER_MODE": "wsgi"}
        else:
            command = [sys.executable, "-m", "premura.cli", "web", *args]
        self.proc = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{HOST}:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
            time.sleep(0.2)
        raise SystemExit(f"server not healthy after {timeout}s:\n{self.log_tail()}")

    def workers(self) -> list[int]:
        return [pid for pid, ppid, _ in list_processes() if ppid == self.proc.pid]

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log("server did not stop in 30 s, killing it")
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


# --- CPU accounting from /proc --------------------------------------------------------------------


def list_processes() -> list[tuple[int, int, str]]:
    """(pid, ppid, comm) of every process we can see."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            rest = stat[stat.rindex(")") + 2 :].split()
            found.append((int(entry), int(rest[1]), comm))
    return found


def cpu_seconds(pid: int) -> float | None:
    """user + system CPU of one process, in seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = stat[stat.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def machine_ticks() -> tuple[int, int, int]:
    """(busy, total, steal) jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total, fields[7]


def calibrate() -> float:
    """Milliseconds of a fixed pure-Python workload: the speed of the CPU right now.

    The bench machine is a VM whose speed drifts (up to ±25 % between runs); compare CPU figures
    of two runs only when their calibrations are close.
    """
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(300_000):
            total += i * i % 7
        best = min(best, time.process_time() - start)
    return round(1000 * best, 1)


@dataclass
class CpuSnapshot:
    server: dict[int, float]
    postgres: dict[int, float]
    machine: tuple[int, int, int]

    @classmethod
    def take(cls, server: Server, postgres_pids: list[int]) -> CpuSnapshot:
        server_pids = [server.proc.pid, *server.workers()]
        return cls(
            server={pid: v for pid in server_pids if (v := cpu_seconds(pid)) is not None},
            postgres={pid: v for pid in postgres_pids if (v := cpu_seconds(pid)) is not None},
            machine=machine_ticks(),
        )


def postgres_pids(url: str) -> list[int]:
    """The backends serving the bench database, and the shared WAL and checkpoint processes.

    Backends of other databases (other people's tests on a shared machine) are left out.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE (datname = current_database()"
            " AND pid <> pg_backend_pid()) OR backend_type IN"
            " ('walwriter', 'checkpointer', 'background writer')"
        ).fetchall()
    return [row[0] for row in rows]


def cpu_delta(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, Any]:
    def delta(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
        return {pid: b[pid] - a[pid] for pid in a if pid in b}

    server = delta(before.server, after.server)
    postgres = delta(before.postgres, after.postgres)
    busy = after.machine[0] - before.machine[0]
    total = after.machine[1] - before.machine[1]
    return {
        "server_s": sum(server.values()),
        "server_per_process_s": {str(pid): round(v, 2) for pid, v in server.items()},
        # share of the busiest gunicorn process: 1/workers when balanced, 1.0 when one worker
        # got every keep-alive connection
        "busiest_worker_share": round(max(server.values()) / sum(server.values()), 2)
        if server and sum(server.values())
        else None,
        "postgres_s": sum(postgres.values()),
        "machine_busy_pct": round(100 * busy / total, 1) if total else None,
        "steal_pct": round(100 * (after.machine[2] - before.machine[2]) / total, 1)
        if total
        else None,
        "machine_busy_cores": busy / total * (os.cpu_count() or 1) if total else 0.0,
    }


# --- Load clients ---------------------------------------------------------------------------------


@dataclass
class Results:
    latency: list[float]
    status: list[int]

    @classmethod
    def sized(cls, n: int) -> Results:
        return cls(latency=[0.0] * n, status=[0] * n)


class RawConnection:
    """One keep-alive HTTP/1.1 connection, requests written by hand."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.local_port = 0

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.local_port = self.writer.get_extra_info("sockname")[1]

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None

    async def run(self, work: Any, requests: list[bytes], results: Results, offset: int) -> None:
        perf = time.perf_counter
        for i in work:
            if self.writer is None:
                await self.connect()
            reader, writer = self.reader, self.writer
            assert reader is not None
            assert writer is not None
            start = perf()
            try:
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                lower = head.lower()
                at = lower.find(b"\r\ncontent-length:")
                if at >= 0:
                    end = lower.index(b"\r\n", at + 2)
                    await reader.readexactly(int(lower[at + 17 : end]))
                elif b"transfer-encoding: chunked" in lower:
                    await read_chunked(reader)
                else:  # no length: the server closes the connection after the body
                    await reader.read()
                    await self.close()
                if b"\r\nconnection: close" in lower:
                    await self.close()
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                status = 0
                log(f"request {offset + i} failed: {exc!r}")
                await self.close()
            results.latency[i] = perf() - start
            results.status[i] = status


async def read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


class RawClient:
    def __init__(self, port: int, path: str, token: str, concurrency: int) -> None:
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.connections = [RawConnection(port) for _ in range(concurrency)]
        self.split: list[int] = []

    async def open(self, workers: list[int]) -> None:
        """Open the connections, spread evenly over the gunicorn workers.

        Every worker accepts on the shared socket and keeps a keep-alive connection for good;
        opened in a burst, most connections land on the worker that wakes first (seen: all 16 on
        one of 4 workers). So: look up in /proc which worker holds each connection and reopen
        those of an overloaded worker until the split is even.
        """
        for connection in self.connections:
            await connection.connect()
            await asyncio.sleep(0.005)
        if len(workers) < 2:
            return
        fair = math.ceil(len(self.connections) / len(workers))
        for _attempt in range(50):
            await asyncio.sleep(0.05)  # let the workers accept
            owners = connection_owners(workers)
            by_worker: dict[int, list[RawConnection]] = {pid: [] for pid in workers}
            for connection in self.connections:
                owner = owners.get(connection.local_port)
                if owner is not None:
                    by_worker[owner].append(connection)
            crowded = [conns[fair:] for conns in by_worker.values() if len(conns) > fair]
            if not crowded:
                self.split = sorted(len(c) for c in by_worker.values())
                return
            for connection in (c for extra in crowded for c in extra):
                await connection.close()
                await connection.connect()
        log("could not spread the connections evenly over the workers")

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections))

    def prepare(self, bodies: list[bytes]) -> list[bytes]:
        return [self.head + str(len(b)).encode() + b"\r\n\r\n" + b for b in bodies]

    async def run(self, prepared: list[bytes], offset: int) -> Results:
        results = Results.sized(len(prepared))
        work = iter(range(len(prepared)))  # shared by every connection: the next free one takes it
        await asyncio.gather(*(c.run(work, prepared, results, offset) for c in self.connections))
        return results


def connection_owners(workers: list[int]) -> dict[int, int]:
    """Client port -> pid of the gunicorn worker holding that connection (from /proc)."""
    inode_owner: dict[int, int] = {}
    for pid in workers:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inode_owner[int(target[8:-1])] = pid
    owners: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                owner = inode_owner.get(int(fields[9]))
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if owner is not None and remote_port:
                    owners[remote_port] = owner
    return owners


class HttpxClient:
    def __init__(self, port: int, path: str, token: str, concurrency: int) -> None:
        import httpx

        self.url = f"http://{HOST}:{port}{path}"
        self.concurrency = concurrency
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(limits=limits, timeout=120)
        self.split: list[int] = []

    async def open(self, workers: list[int]) -> None:
        pass  # httpx opens its connections lazily: no control over their spread

    async def close(self) -> None:
        await self.client.aclose()

    def prepare(self, bodies: list[bytes]) -> list[bytes]:
        return bodies

    async def run(self, prepared: list[bytes], offset: int) -> Results:
        import httpx

        results = Results.sized(len(prepared))
        work = iter(range(len(prepared)))
        perf = time.perf_counter

        async def worker() -> None:
            for i in work:
                start = perf()
                try:
                    response = await self.client.post(
                        self.url, content=prepared[i], headers=self.headers
                    )
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = 0
                    log(f"request {offset + i} failed: {exc!r}")
                results.latency[i] = perf() - start
                results.status[i] = status

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return results


@dataclass
class LoadOutcome:
    warmup: Results
    measured: Results
    elapsed: float
    client_cpu: float
    cpu: dict[str, Any]


async def run_load(
    kind: str,
    server: Server,
    path: str,
    token: str,
    concurrency: int,
    warmup: MessagePlan,
    measured: MessagePlan,
    between_phases: Callable[[], None],
    database_url: str,
) -> LoadOutcome:
    client: RawClient | HttpxClient
    if kind == "raw":
        client = RawClient(server.port, path, token, concurrency)
    else:
        client = HttpxClient(server.port, path, token, concurrency)
    warm_requests = client.prepare(warmup.bodies)
    measured_requests = client.prepare(measured.bodies)
    await client.open(server.workers())
    if client.split:
        log(f"connections per worker: {client.split}")
    try:
        log(f"warm-up: {len(warm_requests)} messages")
        warm = await client.run(warm_requests, 0)
        between_phases()
        log(f"measured phase: {len(measured_requests)} messages, {concurrency} connections")
        calibration = calibrate()
        pg_pids = postgres_pids(database_url)
        before = CpuSnapshot.take(server, pg_pids)
        cpu0 = time.process_time()
        start = time.perf_counter()
        results = await client.run(measured_requests, len(warm_requests))
        elapsed = time.perf_counter() - start
        client_cpu = time.process_time() - cpu0
        after = CpuSnapshot.take(server, pg_pids)
    finally:
        await client.close()
    cpu = cpu_delta(before, after)
    cpu["calibration_ms"] = calibration
    cpu["connections_per_worker"] = client.split
    return LoadOutcome(warm, results, elapsed, client_cpu, cpu)


def event_loop_runner() -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run, "asyncio"
    return (lambda coro: uvloop.run(coro)), "uvloop"


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[index]


# --- Verification in the database -----------------------------------------------------------------


def pg_stats(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched"
            " FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return dict(
        zip(
            ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_fetched"),
            row,
            strict=True,
        )
    )


def analyze(url: str) -> None:
    """Planner statistics for the tables the warm-up filled.

    A fresh database has none and, when autovacuum is off (it is on this bench machine), never
    gets any: PostgreSQL then picks plans that scan every conversation of the inbox.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def verify(url: str, inbox_id: int, posted: int) -> dict[str, Any]:
    import psycopg

    queries = {
        "messages": (
            "SELECT count(*) FROM conversations_message WHERE inbox_id = %s AND direction = 'in'",
            (inbox_id,),
        ),
        "raw_rows": (
            "SELECT count(*) FROM conversations_rawinbound WHERE inbox_id = %s",
            (inbox_id,),
        ),
        "raw_failed": (
            "SELECT count(*) FROM conversations_rawinbound WHERE inbox_id = %s AND state = 'failed'",
            (inbox_id,),
        ),
        "messages_with_raw": (
            "SELECT count(*) FROM conversations_message WHERE inbox_id = %s AND raw_id IS NOT NULL",
            (inbox_id,),
        ),
        "routing_tasks": (
            "SELECT count(*) FROM django_tasks_database_dbtaskresult t"
            " JOIN conversations_message m ON m.id = (t.args_kwargs->'args'->>1)::bigint"
            " WHERE t.task_path LIKE %s AND m.inbox_id = %s",
            ("%route_conversation", inbox_id),
        ),
        "task_rows_total": ("SELECT count(*) FROM django_tasks_database_dbtaskresult", ()),
        "conversations": (
            "SELECT count(*) FROM conversations_conversation WHERE inbox_id = %s",
            (inbox_id,),
        ),
        "threaded_conversations": (
            "SELECT count(*) FROM conversations_conversation WHERE inbox_id = %s AND thread_key <> ''",
            (inbox_id,),
        ),
        "contacts": (
            "SELECT count(DISTINCT contact_id) FROM contacts_identity WHERE kind = 'api' AND scope = %s",
            (str(inbox_id),),
        ),
        "events": (
            "SELECT count(*) FROM conversations_conversationevent e"
            " JOIN conversations_conversation c ON c.id = e.conversation_id WHERE c.inbox_id = %s",
            (inbox_id,),
        ),
    }
    with psycopg.connect(url, autocommit=True) as conn:
        counts: dict[str, Any] = {}
        for name, (query, params) in queries.items():
            row = conn.execute(query, params).fetchone()
            counts[name] = row[0] if row else None
    counts["ok"] = (
        counts["messages"] == posted
        and counts["raw_rows"] == posted
        and counts["messages_with_raw"] == posted
        and counts["raw_failed"] == 0
        and counts["routing_tasks"] == posted
    )
    return counts


# --- Queries per message, in-process --------------------------------------------------------------


def abbreviate(sql: str) -> str:
    """One line per statement: column lists and literal values collapsed."""
    sql = re.sub(r"^SELECT .*? FROM", "SELECT … FROM", sql, flags=re.S)
    sql = re.sub(
        r"^(INSERT INTO \S+) \(.*?\) (VALUES|SELECT) .*?( ON CONFLICT.*?)?( RETURNING .*)?$",
        r"\1 …\3\4",
        sql,
        flags=re.S,
    )
    sql = re.sub(r"RETURNING .*$", "RETURNING …", sql)
    sql = re.sub(r"'[^']*'(::\w+)?", "?", sql)
    sql = re.sub(r"\b\d+\b", "?", sql)
    return sql[:200]


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "premura.settings")
    import django

    django.setup()


def measure_queries(
    tag: str, sample: int, new_ratio: float, thread_ratio: float, profile: int
) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from premura.channels.services import create_api_inbox

    created = create_api_inbox(f"bench-queries-{tag}")
    path = f"/api/v1/inboxes/{created.inbox.pk}/messages"
    client = Client(HTTP_HOST=HOST)
    auth = f"Bearer {created.token}"
    factory = MessageFactory(
        f"{tag}q", new_ratio, thread_ratio, lag=1, seed=7, phone_base=5_000_000
    )

    def post(body: dict[str, Any]) -> int:
        response = client.post(
            path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth
        )
        return response.status_code

    # Warm caches (URL resolver, schema, first connection) outside the counts.
    for _ in range(5):
        post(factory.next()[0])

    # "queries": data statements, transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE) left
    # out, as tests/channels/test_query_counts.py counts them; "statements": everything.
    queries: dict[str, list[int]] = {"new": [], "existing": [], "threaded": [], "unthreaded": []}
    statements_all: dict[str, list[int]] = {"new": [], "existing": []}
    examples: dict[str, list[list[str]]] = {"new": [], "existing": []}
    statuses: Counter[int] = Counter()
    posted: list[dict[str, Any]] = []
    start = time.perf_counter()
    for _ in range(sample):
        body, new, threaded = factory.next()
        with CaptureQueriesContext(connection) as ctx:
            statuses[post(body)] += 1
        posted.append(body)
        statements = [q["sql"] for q in ctx.captured_queries]
        data = sum(1 for sql in statements if not TX_CONTROL.match(sql))
        kind = "new" if new else "existing"
        queries[kind].append(data)
        queries["threaded" if threaded else "unthreaded"].append(data)
        statements_all[kind].append(len(statements))
        if not threaded:
            examples[kind].append(statements)
    elapsed = time.perf_counter() - start

    replays: list[int] = []
    replay_statuses: Counter[int] = Counter()
    for body in posted[:: max(1, len(posted) // 20)]:
        with CaptureQueriesContext(connection) as ctx:
            replay_statuses[post(body)] += 1
        replays.append(sum(1 for q in ctx.captured_queries if not TX_CONTROL.match(q["sql"])))

    def summary(values: list[int]) -> dict[str, Any]:
        if not values:
            return {"n": 0}
        return {
            "n": len(values),
            "avg": round(sum(values) / len(values), 2),
            "max": max(values),
            "min": min(values),
        }

    typical: dict[str, list[str]] = {}
    for kind, requests in examples.items():
        if not requests:
            continue
        mode = Counter(len(r) for r in requests).most_common(1)[0][0]
        typical[kind] = next(r for r in requests if len(r) == mode)
        log(f"SQL of a typical {kind}-customer request without thread key ({mode} statements):")
        for i, sql in enumerate(typical[kind], 1):
            log(f"  {i:2}. {sql}")

    every = queries["new"] + queries["existing"]
    every_all = statements_all["new"] + statements_all["existing"]
    result: dict[str, Any] = {
        "avg": round(sum(every) / len(every), 2),
        "max": max(every),
        "new_customer": summary(queries["new"]),
        "existing_customer": summary(queries["existing"]),
        "threaded": summary(queries["threaded"]),
        "unthreaded": summary(queries["unthreaded"]),
        "replay": summary(replays),
        "replay_statuses": {str(k): v for k, v in replay_statuses.items()},
        "statements_avg": round(sum(every_all) / len(every_all), 2),
        "statements_max": max(every_all),
        "statements_new_customer": summary(statements_all["new"]),
        "statements_existing_customer": summary(statements_all["existing"]),
        "statuses": {str(k): v for k, v in statuses.items()},
        "inprocess_ms_per_request": round(1000 * elapsed / sample, 2),
        "sql_new_customer": [abbreviate(s) for s in typical.get("new", [])],
        "sql_existing_customer": [abbreviate(s) for s in typical.get("existing", [])],
    }

    if profile:
        profiler = cProfile.Profile()
        bodies = [factory.next()[0] for _ in range(profile)]
        start = time.perf_counter()
        profiler.enable()
        for body in bodies:
            post(body)
        profiler.disable()
        result["profile_ms_per_request"] = round(1000 * (time.perf_counter() - start) / profile, 2)
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(35)
            log(f"cProfile of {profile} in-process requests, by {order}:\n{out.getvalue()}")
    return result


# --- Main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=8_000, help="measured messages")
    parser.add_argument("--warmup", type=int, default=1_000, help="messages before measuring")
    parser.add_argument("--concurrency", type=int, default=32, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads(),
        help="threads per gunicorn worker (default: what `premura web` runs)",
    )
    parser.add_argument("--new-ratio", type=float, default=0.3, help="share of new customers")
    parser.add_argument("--thread-ratio", type=float, default=0.2, help="share with a thread key")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="skip ANALYZE between warm-up and measured phase (no planner statistics)",
    )
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument(
        "--wsgi-app",
        default="",
        help="serve this gunicorn app (e.g. 'premura.api.wsgi:wsgi_application()') with the"
        " options of `premura web` instead of `premura web` itself",
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("PREMURA_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--query-sample",
        type=int,
        default=300,
        help="in-process requests for query counts (0: skip)",
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="in-process requests to run under cProfile"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder and server log")
    return parser.parse_args(argv)


def source_version() -> dict[str, Any]:
    """The commit measured and whether src/ differs from it (read-only git commands)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            result = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
            if result.returncode == 0:
                return result.stdout.strip()
        return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", "src")),
    }


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the server on the way out
    data_dir = Path(tempfile.mkdtemp(prefix="premura-ingest-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "PREMURA_DATA_DIR": str(data_dir),
        "PREMURA_LOG_LEVEL": "WARNING",
        "PREMURA_DEBUG": "0",
    }
    tag = f"b{int(time.time())}"
    server: Server | None = None
    cleanup = contextlib.ExitStack()
    cleanup.enter_context(exclusive_run(args.database_url))
    try:
        log(f"recreating database {database_name(args.database_url)}")
        recreate_database(args.database_url)
        premura(env, "migrate", "--no-input")
        inbox = last_json(premura(env, "inbox", "create", "api", "--name", "bench-ingest"))
        inbox_id, token = int(inbox["id"]), inbox["token"]
        path = inbox.get("messages_url") or f"/api/v1/inboxes/{inbox_id}/messages"

        lag = 4 * args.concurrency
        factory = MessageFactory(tag, args.new_ratio, args.thread_ratio, lag=lag, seed=42)
        warmup_plan = factory.plan(args.warmup)
        measured_plan = factory.plan(args.messages)
        posted = args.warmup + args.messages

        stats_before = pg_stats(args.database_url)
        port = free_port()
        server = Server(
            env, port, args.workers, args.threads, data_dir / "server.log", args.wsgi_app
        )
        server.wait_healthy()
        log(f"server up on {HOST}:{port} (pid {server.proc.pid}, workers {server.workers()})")

        def between_phases() -> None:
            if not args.no_analyze:
                log("ANALYZE after the warm-up")
                analyze(args.database_url)

        runner, loop_name = event_loop_runner()
        load = runner(
            run_load(
                args.client,
                server,
                path,
                token,
                args.concurrency,
                warmup_plan,
                measured_plan,
                between_phases,
                args.database_url,
            )
        )
        rc = server.stop()
        log(f"server stopped (exit status {rc})")
        server_log_tail = server.log_tail(15)
        server = None
        time.sleep(0.5)
        stats_after = pg_stats(args.database_url)
        checks = verify(args.database_url, inbox_id, posted)

        queries: dict[str, Any] = {}
        if args.query_sample > 0:
            setup_django(env)
            queries = measure_queries(
                tag, args.query_sample, args.new_ratio, args.thread_ratio, args.profile
            )
    finally:
        if server is not None:
            server.stop()
        cleanup.close()  # releases the database for the next run
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    latencies = sorted(load.measured.latency)
    status_counts = Counter(load.measured.status) + Counter(load.warmup.status)
    errors = sum(v for k, v in status_counts.items() if k != 201)
    rate = args.messages / load.elapsed
    new_share = sum(measured_plan.new_customer) / max(1, args.messages)
    cpu = load.cpu
    per_message_ms = {
        "server": round(1000 * cpu["server_s"] / args.messages, 3),
        "postgres": round(1000 * cpu["postgres_s"] / args.messages, 3),
        "client": round(1000 * load.client_cpu / args.messages, 3),
    }
    xacts = stats_after["xact_commit"] - stats_before["xact_commit"]
    ok = errors == 0 and checks["ok"]
    if errors:
        log(f"non-201 answers: {dict(status_counts)}; server log tail:\n{server_log_tail}")
    if not checks["ok"]:
        log(f"database check failed: {checks}")

    result: dict[str, Any] = {
        "bench": "ingest",
        "metric": "messages_per_second",
        "value": round(rate, 1),
        "unit": "messages/s",
        "target": 500,
        "p50_ms": round(1000 * percentile(latencies, 0.50), 2),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 2),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "max_ms": round(1000 * latencies[-1], 2) if latencies else None,
        "p99_target_ms": 100,
        "queries_per_message": queries.get("avg"),
        "queries_per_message_max": queries.get("max"),
        "queries_new_customer": queries.get("new_customer", {}).get("avg"),
        "queries_existing_customer": queries.get("existing_customer", {}).get("avg"),
        "statements_per_message": queries.get("statements_avg"),
        "statements_per_message_max": queries.get("statements_max"),
        "queries_target": 10,
        "messages": args.messages,
        "warmup": args.warmup,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "threads": args.threads,
        "new_ratio": args.new_ratio,
        "thread_ratio": args.thread_ratio,
        "analyzed": not args.no_analyze,
        "new_customer_share": round(new_share, 3),
        "errors": errors,
        "status_counts": {str(k): v for k, v in sorted(status_counts.items())},
        "duration_s": round(load.elapsed, 2),
        "client": f"{args.client}/{loop_name}",
        "server": args.wsgi_app or "premura web",
        "cpu_ms_per_message": per_message_ms,
        "machine_busy_pct": cpu["machine_busy_pct"],
        "busiest_worker_share": cpu["busiest_worker_share"],
        "connections_per_worker": cpu["connections_per_worker"],
        "steal_pct": cpu["steal_pct"],
        "cpu_calibration_ms": cpu["calibration_ms"],
        # CPU used by anything else on the machine while measuring (other people's jobs): when
        # this is well above 0.1 the figures are disturbed, run again on a quiet machine.
        "other_cpu_cores": round(
            cpu["machine_busy_cores"]
            - (cpu["server_s"] + cpu["postgres_s"] + load.client_cpu) / load.elapsed,
            2,
        ),
        "cores": os.cpu_count(),
        "pg_transactions_per_message": round(xacts / posted, 2),
        "db": checks,
        "ok": ok,
        "meets_targets": bool(
            ok
            and rate >= 500
            and percentile(latencies, 0.99) * 1000 <= 100
            and queries.get("max", 99) <= 10
        ),
        "source": source_version(),
        "detail": {
            "server_cpu_per_process_s": cpu["server_per_process_s"],
            "queries": queries,
        },
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
