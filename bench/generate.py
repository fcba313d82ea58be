"""Benchmark: how fast the data generator writes realistic conversations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/premura_bench python bench/generate.py --conversations 100000

Applies migrations, calls premura.demo.generator.generate() and prints, as its last line, one JSON
object. The target is 1,000,000 conversations on PostgreSQL in under 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

TARGET_CONVERSATIONS = 1_000_000
TARGET_SECONDS = 30 * 60


def backend_cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds used so far by a local PostgreSQL backend (None when it is not readable)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Run the benchmark and print its JSON result last."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "premura.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from premura.demo.generator import generate

    call_command("migrate", verbosity=0, interactive=False)
    backend_pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = int(cursor.fetchone()[0])
    # CPU seconds show the cost apart from other load on the machine: wall time on a busy machine
    # says little.
    python_cpu = time.process_time()
    backend_cpu = backend_cpu_seconds(backend_pid)
    result = generate(
        args.conversations,
        seed=args.seed,
        progress=not args.no_progress,
        batch_size=args.batch_size,
    )
    result["cpu_seconds"] = {"python": round(time.process_time() - python_cpu, 1)}
    backend_after = backend_cpu_seconds(backend_pid)
    if backend_cpu is not None and backend_after is not None:
        result["cpu_seconds"]["postgres_backend"] = round(backend_after - backend_cpu, 1)
    print(json.dumps({"details": result}))
    print(
        json.dumps(
            {
                "bench": "generate",
                "metric": "conversations_per_second",
                "value": result["conversations_per_second"],
                "unit": "conversations/s",
                "target": round(TARGET_CONVERSATIONS / TARGET_SECONDS),
                "conversations": result["conversations"],
                "messages": result["messages"],
                "events": result["events"],
                "seconds": result["seconds"],
                "database": result["database"],
            }
        )
    )


if __name__ == "__main__":
    main()
