"""`premura web` end to end: gunicorn serving Django, the lean inbound API path and the full stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from premura.web.management.commands.web import DEFAULT_THREADS
from tests.processes import free_port, stop

pytestmark = pytest.mark.slow


def _premura(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "premura.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}


def _post(url: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - local test server
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def web(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A migrated SQLite data folder with an API inbox, served by `premura web` (one worker)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PREMURA_WEB_THREADS"}
    }
    env["PREMURA_DATA_DIR"] = str(tmp_path / "data")
    _premura(env, "migrate", "--no-input")
    inbox = _premura(env, "inbox", "create", "api", "--name", "Shop")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "premura.cli",
            "web",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "premura web exited"
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as answer:  # noqa: S310
                    if answer.read().strip() == b"ok":
                        break
            except OSError:  # refused, reset, or the worker still loading (a read timeout)
                pass
            assert time.monotonic() < deadline, "premura web did not answer /healthz"
            time.sleep(0.2)
        yield {"url": url, "inbox": inbox, "pid": process.pid}
    finally:
        stop(process, timeout=30)


def test_web_runs_gunicorn_with_the_default_threads(web: dict[str, Any]) -> None:
    # when: `premura web` replaced itself with gunicorn
    argv = Path(f"/proc/{web['pid']}/cmdline").read_bytes().split(b"\0")

    # then
    assert b"gunicorn" in argv
    assert argv[argv.index(b"--worker-class") + 1] == b"gthread"
    assert argv[argv.index(b"--threads") + 1] == str(DEFAULT_THREADS).encode()


def test_web_serves_the_inbound_api_with_replay_and_errors(web: dict[str, Any]) -> None:
    # given
    inbox = web["inbox"]
    url = f"{web['url']}api/v1/inboxes/{inbox['id']}/messages"
    message = {"message_id": "web-1", "contact": {"identifier": "c-1"}, "text": "Buongiorno"}

    # when
    first = _post(url, message, inbox["token"])
    replay = _post(url, message, inbox["token"])
    bad_token = _post(url, {**message, "message_id": "web-2"}, "prm_in_wrong")
    invalid = _post(url, {"message_id": "web-3"}, inbox["token"])

    # then
    assert first[0] == 201
    assert first[1]["conversation"]["reference"].startswith("PRM-")
    assert replay == (200, first[1])
    assert bad_token[0] == 401
    assert bad_token[1]["error"]["code"] == "unauthorized"
    assert invalid[0] == 422
    assert invalid[1]["error"]["code"] == "validation_error"


def test_web_serves_the_agent_ui_through_the_full_middleware(web: dict[str, Any]) -> None:
    # when
    with urllib.request.urlopen(web["url"] + "login/", timeout=10) as answer:  # noqa: S310
        headers = answer.headers
        page = answer.read().decode()

    # then: sessions, CSRF and the content security policy are on for the UI
    assert 'name="csrfmiddlewaretoken"' in page
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "csrftoken=" in (headers["Set-Cookie"] or "")
