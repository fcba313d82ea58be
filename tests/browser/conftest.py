"""Browser tests: Debian's Chromium driven by Playwright against the live test server.

The test setup installs Chromium from Debian's packages when it is missing and the tests run as
root (as on CI); elsewhere it says exactly what to install. Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from premura.accounts.models import User

CHROMIUM = Path(os.environ.get("PREMURA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in the test's thread; the ORM calls that tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _install_chromium() -> None:
    if CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(sudo apt-get install chromium) or set PREMURA_CHROMIUM to a Chromium binary."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [apt, "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(command, env=env, check=False).returncode != 0:  # noqa: S603
        subprocess.run([apt, "update"], env=env, check=True)  # noqa: S603
        subprocess.run(command, env=env, check=True)  # noqa: S603


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _install_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser tab (English, 1280×800) with the live server as its base URL."""
    context = browser.new_context(
        base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def csp_violations(page: Any) -> list[str]:
    """What the browser reports as blocked by the Content-Security-Policy (must stay empty)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security" in msg.text else None,
    )
    return violations


@pytest.fixture
def sign_in(page: Any, live_server: Any) -> Callable[[User], Any]:
    """Sign a user in without going through the form (the sign-in test uses the form)."""

    def _sign_in(user: User) -> Any:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        return page

    return _sign_in


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
