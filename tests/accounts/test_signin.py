"""Signing in: password, rate limit (django-axes), password reset by email, sessions, cookies."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client, RequestFactory
from django.utils import timezone

from premura.accounts.models import User
from premura.accounts.services import create_agent, issue_api_token, unlock_sign_in
from premura.accounts.signin import client_ip

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT


def sign_in(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post("/login/", {"username": email, "password": password}, **extra)


def fail_until_locked(email: str, address: str = "10.0.0.1") -> list[int]:
    client = Client(REMOTE_ADDR=address)
    return [sign_in(client, email, "wrong").status_code for _ in range(LIMIT)]


# --- password ------------------------------------------------------------------------------------


def test_sign_in_with_the_right_password_opens_the_page_asked_for(admin: User) -> None:
    # given
    client = Client()

    # when
    response = client.post(
        "/login/?next=/account/", {"username": "admin@example.com", "password": "x"}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200


def test_sign_in_ignores_the_case_of_the_email(admin: User) -> None:
    # when
    response = sign_in(Client(), "  Admin@Example.COM ", "x")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_wrong_password_shows_the_error_and_signs_nobody_in(admin: User) -> None:
    # given
    client = Client(headers={"Accept-Language": "it"})

    # when
    response = sign_in(client, "admin@example.com", "wrong")

    # then
    assert response.status_code == 200
    assert "Email o password non corretti." in response.content.decode()
    assert 'value="admin@example.com"' in response.content.decode()
    assert client.get("/account/").status_code == 302


def test_deactivated_agent_cannot_sign_in(admin: User) -> None:
    # given
    admin.is_active = False
    admin.save(update_fields=["is_active"])

    # when
    response = sign_in(Client(), "admin@example.com", "x")

    # then
    assert response.status_code == 200
    assert "Email or password is not correct." in response.content.decode()


def test_login_without_a_request_still_works_for_tests_and_scripts(admin: User) -> None:
    # the rate limit needs the request's address; code calling authenticate() without one
    # (the test client's login()) is let through to the password check
    assert Client().login(username="admin@example.com", password="x") is True
    assert Client().login(username="admin@example.com", password="wrong") is False


# --- rate limit ----------------------------------------------------------------------------------


def test_too_many_wrong_passwords_lock_the_email_from_that_address(admin: User) -> None:
    # when
    statuses = fail_until_locked("admin@example.com")
    locked = sign_in(Client(REMOTE_ADDR="10.0.0.1"), "admin@example.com", "x")

    # then
    assert statuses == [200] * (LIMIT - 1) + [429]
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "Too many failed sign-in attempts. Wait 15 minutes and try again" in body
    assert 'id="id_username"' in body
    assert "_auth_user_id" not in Client(REMOTE_ADDR="10.0.0.1").session


def test_lockout_message_speaks_italian(admin: User) -> None:
    # given
    fail_until_locked("admin@example.com")

    # when
    response = Client(REMOTE_ADDR="10.0.0.1", headers={"Accept-Language": "it"}).post(
        "/login/", {"username": "admin@example.com", "password": "x"}
    )

    # then
    assert response.status_code == 429
    assert "Troppi tentativi di accesso non riusciti. Attendi 15 minuti" in (
        response.content.decode()
    )


def test_lockout_is_per_email_and_address(admin: User, support_agent: User) -> None:
    # given
    support_agent.set_password("y")
    support_agent.save()
    fail_until_locked("admin@example.com", "10.0.0.1")

    # when
    other_address = sign_in(Client(REMOTE_ADDR="10.0.0.2"), "admin@example.com", "x")
    other_email = sign_in(Client(REMOTE_ADDR="10.0.0.1"), "giulia@example.com", "y")

    # then
    assert other_address.status_code == 302
    assert other_email.status_code == 302


def test_lockout_ends_after_the_cool_off(admin: User) -> None:
    # given
    fail_until_locked("admin@example.com")
    past = timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)

    # when
    response = sign_in(Client(REMOTE_ADDR="10.0.0.1"), "admin@example.com", "x")

    # then
    assert response.status_code == 302


def test_an_admin_can_unlock_an_agent(admin: User) -> None:
    # given
    fail_until_locked("admin@example.com")

    # when
    lifted = unlock_sign_in("Admin@Example.com")
    response = sign_in(Client(REMOTE_ADDR="10.0.0.1"), "admin@example.com", "x")

    # then
    assert lifted == 1
    assert response.status_code == 302


def test_unlock_from_the_django_admin(admin: User, support_agent: User) -> None:
    # given
    fail_until_locked("giulia@example.com")
    client = Client()
    client.force_login(admin)

    # when
    response = client.post(
        "/django-admin/accounts/user/",
        {"action": "unlock_sign_in", "_selected_action": [support_agent.pk]},
    )

    # then
    assert response.status_code == 302
    assert AccessAttempt.objects.count() == 0


def test_a_successful_sign_in_forgets_earlier_failures(admin: User) -> None:
    # given
    client = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(LIMIT - 1):
        sign_in(client, "admin@example.com", "wrong")

    # when
    sign_in(client, "admin@example.com", "x")
    after = sign_in(Client(REMOTE_ADDR="10.0.0.1"), "admin@example.com", "wrong")

    # then
    assert after.status_code == 200
    assert AccessAttempt.objects.get().failures_since_start == 1


def test_locked_out_agent_keeps_using_the_api_with_a_token(admin: User) -> None:
    # given
    token = issue_api_token(admin).plaintext
    fail_until_locked("admin@example.com", "127.0.0.1")

    # when
    response = Client().get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})

    # then
    assert response.status_code == 200


def test_rate_limit_uses_the_address_the_trusted_proxy_appended(
    rf: RequestFactory, settings: Any
) -> None:
    # given
    request = rf.post(
        "/login/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )

    # when
    settings.SECURE_PROXY_SSL_HEADER = None
    direct = client_ip(request)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = client_ip(request)

    # then
    assert direct == "10.9.9.9"
    assert proxied == "203.0.113.7"


# --- password reset ------------------------------------------------------------------------------


def reset_link(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/login/reset/[^\s]+/)", str(message.body))
    assert match is not None, message.body
    return match.group(1)


def test_password_reset_round_trip(admin: User, mailoutbox: list[mail.EmailMessage]) -> None:
    # given
    client = Client()

    # when: the agent asks for a link, opens it and chooses a new password
    asked = client.post("/login/reset/", {"email": "Admin@Example.com"})
    link = reset_link(mailoutbox[0])
    opened = client.get(link)
    form_url = opened["Location"]
    saved = client.post(
        form_url, {"new_password1": "a new Secret 42", "new_password2": "a new Secret 42"}
    )

    # then
    assert asked.status_code == 302
    assert asked["Location"] == "/login/reset/sent/"
    assert mailoutbox[0].to == ["admin@example.com"]
    assert mailoutbox[0].subject == "Reset your Premura password"
    assert mailoutbox[0].body.startswith("Hello Ada Admin,")
    assert link.startswith("/login/reset/")
    assert opened.status_code == 302
    assert form_url.endswith("/set-password/")
    assert saved.status_code == 302
    assert saved["Location"] == "/login/reset/done/"
    assert sign_in(Client(), "admin@example.com", "a new Secret 42").status_code == 302
    assert sign_in(Client(), "admin@example.com", "x").status_code == 200


def test_password_reset_link_works_once(admin: User, mailoutbox: list[mail.EmailMessage]) -> None:
    # given
    Client().post("/login/reset/", {"email": "admin@example.com"})
    link = reset_link(mailoutbox[0])
    client = Client()
    form_url = client.get(link)["Location"]
    client.post(form_url, {"new_password1": "a new Secret 42", "new_password2": "a new Secret 42"})

    # when
    again = Client().get(link, follow=True)

    # then
    assert again.status_code == 200
    assert "This link does not work any more" in again.content.decode()
    assert 'name="new_password1"' not in again.content.decode()


def test_password_reset_rejects_a_weak_or_mismatched_password(
    admin: User, mailoutbox: list[mail.EmailMessage]
) -> None:
    # given
    Client().post("/login/reset/", {"email": "admin@example.com"})
    client = Client(headers={"Accept-Language": "it"})
    form_url = client.get(reset_link(mailoutbox[0]))["Location"]

    # when
    weak = client.post(form_url, {"new_password1": "short", "new_password2": "short"})
    mismatched = client.post(
        form_url, {"new_password1": "a new Secret 42", "new_password2": "a new Secret 43"}
    )

    # then
    assert weak.status_code == 200
    assert "Questa password è troppo corta" in weak.content.decode()
    assert mismatched.status_code == 200
    assert "I due campi password non corrispondono" in mismatched.content.decode()
    admin.refresh_from_db()
    assert admin.check_password("x")


def test_password_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(
    admin: User, mailoutbox: list[mail.EmailMessage]
) -> None:
    # when
    response = Client().post("/login/reset/", {"email": "nobody@example.com"})

    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/reset/sent/"
    assert mailoutbox == []


def test_password_reset_rejects_a_malformed_email(mailoutbox: list[mail.EmailMessage]) -> None:
    # when
    response = Client().post("/login/reset/", {"email": "not an email"})

    # then
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert mailoutbox == []


def test_password_reset_email_speaks_the_agents_language(
    support_agent: User, mailoutbox: list[mail.EmailMessage]
) -> None:
    # given
    support_agent.language = "it"
    support_agent.save(update_fields=["language"])

    # when
    Client(headers={"Accept-Language": "en"}).post("/login/reset/", {"email": "giulia@example.com"})

    # then
    assert mailoutbox[0].subject == "Reimposta la password di Premura"
    assert mailoutbox[0].body.startswith("Ciao Giulia Rossi,")


def test_agent_invited_without_a_password_can_choose_one(
    mailoutbox: list[mail.EmailMessage],
) -> None:
    # given: created through the API, no password yet
    create_agent("new@example.com")

    # when
    Client().post("/login/reset/", {"email": "new@example.com"})
    client = Client()
    form_url = client.get(reset_link(mailoutbox[0]))["Location"]
    client.post(form_url, {"new_password1": "first Secret 77", "new_password2": "first Secret 77"})

    # then
    assert sign_in(Client(), "new@example.com", "first Secret 77").status_code == 302


def test_deactivated_agent_gets_no_reset_email(
    support_agent: User, mailoutbox: list[mail.EmailMessage]
) -> None:
    # given
    support_agent.is_active = False
    support_agent.save(update_fields=["is_active"])

    # when
    Client().post("/login/reset/", {"email": "giulia@example.com"})

    # then
    assert mailoutbox == []


def test_password_reset_lifts_a_lockout(admin: User, mailoutbox: list[mail.EmailMessage]) -> None:
    # given
    fail_until_locked("admin@example.com")
    Client().post("/login/reset/", {"email": "admin@example.com"})
    client = Client()
    form_url = client.get(reset_link(mailoutbox[0]))["Location"]

    # when
    client.post(form_url, {"new_password1": "a new Secret 42", "new_password2": "a new Secret 42"})
    response = sign_in(Client(REMOTE_ADDR="10.0.0.1"), "admin@example.com", "a new Secret 42")

    # then
    assert response.status_code == 302


def test_reset_link_is_built_on_the_base_url_not_the_host_header(
    admin: User, mailoutbox: list[mail.EmailMessage], settings: Any
) -> None:
    # given
    settings.PREMURA_BASE_URL = "https://care.example.com"
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]

    # when
    Client(HTTP_HOST="evil.example").post("/login/reset/", {"email": "admin@example.com"})

    # then
    assert "https://care.example.com/login/reset/" in mailoutbox[0].body
    assert "evil.example" not in mailoutbox[0].body


# --- sessions and cookies ------------------------------------------------------------------------


def test_session_cookie_is_http_only_lax_and_expires_with_the_shift(admin: User) -> None:
    # when
    response = sign_in(Client(), "admin@example.com", "x")

    # then
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 12 * 3600
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.SESSION_SAVE_EVERY_REQUEST is False


def test_expired_session_sends_the_agent_back_to_sign_in(admin: User) -> None:
    # given
    client = Client()
    sign_in(client, "admin@example.com", "x")
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))

    # when
    response = client.get("/account/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/"


def test_sign_out_ends_the_session(admin: User) -> None:
    # given
    client = Client()
    sign_in(client, "admin@example.com", "x")

    # when
    response = client.post("/logout/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/account/").status_code == 302


def _settings_with(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    code = (
        "import json, premura.settings as s; print(json.dumps({k: getattr(s, k, None) for k in "
        "['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
        "'SESSION_COOKIE_SAMESITE', 'SESSION_COOKIE_AGE', 'SECURE_PROXY_SSL_HEADER', "
        "'AXES_FAILURE_LIMIT']}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREMURA_")}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        env={**clean, "PREMURA_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_cookies_are_secure_behind_https(tmp_path: Path) -> None:
    # when
    https = _settings_with(
        {
            "PREMURA_BASE_URL": "https://care.example.com",
            "PREMURA_SESSION_SECONDS": "3600",
            "PREMURA_SIGNIN_FAILURE_LIMIT": "3",
        },
        tmp_path,
    )
    http = _settings_with({"PREMURA_BASE_URL": "http://127.0.0.1:8000"}, tmp_path)

    # then
    assert https == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_AGE": 3600,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "AXES_FAILURE_LIMIT": 3,
    }
    assert http["SESSION_COOKIE_SECURE"] is False
    assert http["CSRF_COOKIE_SECURE"] is False
    assert http["SECURE_PROXY_SSL_HEADER"] is None
