"""`premura run` end to end: a fresh data folder, demo data, the printed login, the in-process worker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.processes import free_port, stop

pytestmark = pytest.mark.slow


@pytest.fixture
def running(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["PREMURA_DATA_DIR"] = str(tmp_path / "data")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "premura.cli",
            "run",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = []
    info: dict[str, str] = {"env_dir": env["PREMURA_DATA_DIR"]}
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if match := re.search(r"Premura is running at (\S+)", line):
                info["url"] = match.group(1)
            if match := re.search(r"Sign in as (\S+) with password (\S+)", line):
                info["email"], info["password"] = match.group(1), match.group(2)
            if match := re.search(r"Contact form: (\S+)", line):
                info["form"] = match.group(1)
            if "Press Ctrl+C" in line:
                break
        assert "url" in info, "".join(output)
        for _ in range(100):
            try:
                urllib.request.urlopen(info["url"] + "healthz", timeout=2)  # noqa: S310 - local test server
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        yield info
    finally:
        stop(process)


def test_run_prints_url_and_login_that_signs_in(running: dict[str, str]) -> None:
    # given
    assert running["url"].startswith("http://127.0.0.1:")
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(running["url"] + "login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None

    # when
    data = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": running["email"],
            "password": running["password"],
        }
    ).encode()
    request = urllib.request.Request(
        running["url"] + "login/", data=data, headers={"Referer": running["url"]}
    )
    home = opener.open(request).read().decode()

    # then: the inbox lists the demo cases, and the printed contact form answers
    rows = re.findall(r'data-conversation="(\d+)"', home)
    assert len(rows) >= 10
    assert running["form"] == running["url"] + "forms/contatti/"
    form_page = urllib.request.urlopen(running["form"]).read().decode()  # noqa: S310 - local test server
    assert 'name="message"' in form_page


def test_run_processes_background_work_in_process(running: dict[str, str]) -> None:
    # given: an API inbox created from the command line on the same data folder
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["PREMURA_DATA_DIR"] = running["env_dir"]
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "premura.cli",
            "inbox",
            "create",
            "api",
            "--name",
            "Shop",
            "--team",
            "1",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    inbox = json.loads(created.stdout.strip().splitlines()[-1])

    # when: a message arrives through the running server
    body = json.dumps(
        {"message_id": "run-1", "contact": {"identifier": "c-1"}, "text": "Ciao"}
    ).encode()
    request = urllib.request.Request(
        f"{running['url']}api/v1/inboxes/{inbox['id']}/messages",
        data=body,
        headers={"Authorization": f"Bearer {inbox['token']}", "Content-Type": "application/json"},
    )
    answer = json.loads(urllib.request.urlopen(request, timeout=10).read())  # noqa: S310 - local test server

    # then: the in-process worker routes it to the inbox's team within seconds
    token = subprocess.run(
        [sys.executable, "-m", "premura.cli", "token", "create", "admin@example.com"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    personal = json.loads(token.stdout.strip().splitlines()[-1])["token"]
    team_id = None
    for _ in range(60):
        request = urllib.request.Request(
            f"{running['url']}api/v1/conversations/{answer['conversation']['id']}",
            headers={"Authorization": f"Bearer {personal}"},
        )
        team_id = json.loads(urllib.request.urlopen(request, timeout=10).read())["team_id"]  # noqa: S310
        if team_id is not None:
            break
        time.sleep(0.5)
    assert team_id == 1
