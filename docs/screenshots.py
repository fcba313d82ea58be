"""Make the screenshots in docs/screenshots/ from the demo data.

    .venv/bin/python docs/screenshots.py

Builds a throw-away SQLite database with `premura migrate` and `premura demo`, creates an admin,
starts `premura web` on a free port and drives Debian's Chromium through Playwright: the inbox
and a conversation at 1280 × 800, and both on a phone (390 × 844). Needs /usr/bin/chromium
(`apt-get install chromium`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
OUT = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
]


def premura(env: dict[str, str], *args: str) -> str:
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "premura.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="premura-screenshots-"))
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PREMURA_DATA_DIR": str(data),
        "PREMURA_ALLOWED_HOSTS": HOST,
        "DJANGO_SETTINGS_MODULE": "premura.settings",
    }
    env.pop("DATABASE_URL", None)
    premura(env, "migrate")
    premura(env, "demo")
    admin = json.loads(
        premura(env, "createadmin", "ada@example.com", "--name", "Ada").splitlines()[-1]
    )
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "premura.cli", "web", "--bind", f"{HOST}:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/healthz") as answer:  # noqa: S310
                if answer.status == 200:
                    break
            time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        OUT.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            for name, viewport in (
                ("", {"width": 1280, "height": 800}),
                ("-phone", {"width": 390, "height": 844}),
            ):
                context = browser.new_context(base_url=base, viewport=viewport, locale="en-GB")
                page = context.new_page()
                page.goto("/login/")
                page.fill("#id_username", admin["email"])
                page.fill("#id_password", admin["password"])
                page.click("button[type=submit]")
                page.wait_for_url("**/inbox/**")
                page.goto("/inbox/?view=all")
                page.keyboard.press("j")
                page.keyboard.press("j")
                page.screenshot(path=OUT / f"inbox{name}.png")
                page.keyboard.press("Enter")
                page.wait_for_url("**/conversations/**")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=OUT / f"conversation{name}.png")
                context.close()
            browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    for path in sorted(OUT.glob("*.png")):
        sys.stdout.write(f"{path.relative_to(OUT.parent.parent)}\n")


if __name__ == "__main__":
    main()
