"""Two-factor sign-in (TOTP): set up, confirm, the code step after the password, turning it off."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from premura.accounts import two_factor
from premura.accounts.models import User
from premura.accounts.services import issue_api_token

pytestmark = pytest.mark.django_db


def code(device: TOTPDevice, drift: int = 0) -> str:
    """The device's current code (drift=1: the next one, accepted once the current was used)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift):06d}"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def with_two_factor(user: User) -> TOTPDevice:
    """Turn two-factor sign-in on for `user` through the services, as the settings page does."""
    device = two_factor.start_setup(user)
    two_factor.confirm_setup(user, code(device))
    device.refresh_from_db()
    return device


def sign_in_with_password(
    email: str,
    password: str = "x",  # noqa: S107 - the fixtures' test password
    next_url: str = "",
) -> tuple[Client, Any]:
    client = Client()
    path = "/login/" + (f"?next={quote(next_url)}" if next_url else "")
    return client, client.post(path, {"username": email, "password": password})


# --- setting it up -------------------------------------------------------------------------------


def test_setting_up_shows_a_qr_code_and_the_key_as_text(admin: User) -> None:
    # given
    client = signed_in(admin)

    # when
    started = client.post("/account/two-factor/start/")
    page = client.get("/account/")

    # then
    device = TOTPDevice.objects.get(user=admin)
    body = page.content.decode()
    assert started.status_code == 302
    assert started["Location"] == "/account/#two-factor"
    assert device.confirmed is False
    assert 'src="data:image/svg+xml' in body
    assert two_factor.secret_text(device) in body
    assert len(two_factor.secret_text(device).replace(" ", "")) == 32
    admin.refresh_from_db()
    assert admin.two_factor_enabled is False


def test_provisioning_uri_names_premura_and_the_agent(admin: User) -> None:
    # given
    device = two_factor.start_setup(admin)

    # when
    uri = two_factor.provisioning_uri(device)

    # then
    secret = two_factor.secret_text(device).replace(" ", "")
    assert uri == (
        f"otpauth://totp/Premura%3Aadmin%40example.com?secret={secret}"
        "&issuer=Premura&algorithm=SHA1&digits=6&period=30"
    )


def test_confirming_with_the_first_code_turns_it_on_and_keeps_this_session(admin: User) -> None:
    # given
    client = signed_in(admin)
    client.post("/account/two-factor/start/")
    device = TOTPDevice.objects.get(user=admin)

    # when
    confirmed = client.post("/account/two-factor/confirm/", {"code": code(device)})
    page = client.get("/account/")

    # then
    assert confirmed.status_code == 302
    admin.refresh_from_db()
    device.refresh_from_db()
    assert admin.two_factor_enabled is True
    assert device.confirmed is True
    assert page.status_code == 200
    assert 'id="two-factor-state">On<' in page.content.decode()


def test_confirming_with_a_wrong_code_changes_nothing(admin: User) -> None:
    # given
    client = signed_in(admin)
    client.post("/account/two-factor/start/")
    device = TOTPDevice.objects.get(user=admin)
    wrong = f"{(int(code(device)) + 500000) % 1000000:06d}"

    # when
    malformed = client.post("/account/two-factor/confirm/", {"code": "12ab"})
    refused = client.post("/account/two-factor/confirm/", {"code": wrong})

    # then
    assert malformed.status_code == 400
    assert "Enter the 6 digits shown in your authenticator app." in malformed.content.decode()
    assert refused.status_code == 400
    assert "This code is not correct, or it was already used." in refused.content.decode()
    admin.refresh_from_db()
    device.refresh_from_db()
    assert admin.two_factor_enabled is False
    assert device.confirmed is False


def test_cancelling_the_setup_forgets_the_key(admin: User) -> None:
    # given
    client = signed_in(admin)
    client.post("/account/two-factor/start/")

    # when
    client.post("/account/two-factor/cancel/")

    # then
    assert TOTPDevice.objects.filter(user=admin).count() == 0


def test_starting_again_replaces_an_unfinished_setup(admin: User) -> None:
    # given
    first = two_factor.start_setup(admin)

    # when
    second = two_factor.start_setup(admin)

    # then
    assert list(TOTPDevice.objects.filter(user=admin).values_list("pk", flat=True)) == [second.pk]
    assert second.key != first.key


# --- the code step -------------------------------------------------------------------------------


def test_password_alone_leads_to_the_code_step(admin: User) -> None:
    # given
    with_two_factor(admin)

    # when
    client, response = sign_in_with_password("admin@example.com", next_url="/account/")
    blocked = client.get("/account/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/code/?next=%2Faccount%2F"
    assert blocked.status_code == 302
    assert blocked["Location"] == "/login/code/?next=%2Faccount%2F"


def test_the_right_code_finishes_signing_in(admin: User) -> None:
    # given
    device = with_two_factor(admin)
    client, _ = sign_in_with_password("admin@example.com")

    # when
    page = client.get("/login/code/?next=/account/")
    verified = client.post("/login/code/", {"code": code(device, drift=1), "next": "/account/"})

    # then
    assert page.status_code == 200
    assert "admin@example.com" in page.content.decode()
    assert 'class="topbar"' not in page.content.decode()
    assert verified.status_code == 302
    assert verified["Location"] == "/account/"
    assert client.get("/account/").status_code == 200


def test_a_wrong_code_is_refused_and_then_throttled(admin: User) -> None:
    # given
    device = with_two_factor(admin)
    client, _ = sign_in_with_password("admin@example.com")
    wrong = f"{(int(code(device, drift=1)) + 500000) % 1000000:06d}"

    # when: a wrong code, then (as after three wrong codes in a row) even the right one
    first = client.post("/login/code/", {"code": wrong})
    failures = TOTPDevice.objects.get().throttling_failure_count
    TOTPDevice.objects.update(
        throttling_failure_count=3, throttling_failure_timestamp=timezone.now()
    )
    second = client.post("/login/code/", {"code": code(device, drift=1)})

    # then
    assert first.status_code == 400
    assert "This code is not correct, or it was already used." in first.content.decode()
    assert failures == 1
    assert second.status_code == 400
    assert "Too many wrong codes. Wait 4 seconds and try again." in second.content.decode()
    assert client.get("/account/").status_code == 302


def test_a_wrong_code_then_the_right_one_when_not_throttled(admin: User, settings: Any) -> None:
    # given
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = with_two_factor(admin)
    client, _ = sign_in_with_password("admin@example.com")

    # when
    client.post("/login/code/", {"code": "000000" if code(device, 1) != "000000" else "111111"})
    verified = client.post("/login/code/", {"code": code(device, drift=1)})

    # then
    assert verified.status_code == 302
    assert client.get("/account/").status_code == 200


def test_a_used_code_cannot_be_used_again(admin: User) -> None:
    # given
    device = with_two_factor(admin)
    reused = code(device)  # spent by the confirmation

    # when
    client, _ = sign_in_with_password("admin@example.com")
    response = client.post("/login/code/", {"code": reused})

    # then
    assert response.status_code == 400
    assert client.get("/account/").status_code == 302


def test_code_step_speaks_italian(admin: User) -> None:
    # given
    with_two_factor(admin)
    client = Client(headers={"Accept-Language": "it"})
    client.post("/login/", {"username": "admin@example.com", "password": "x"})

    # when
    page = client.get("/login/code/")

    # then
    assert "<h1>Accesso in due passaggi</h1>" in page.content.decode()


def test_code_step_rejects_an_outside_next(admin: User) -> None:
    # given
    device = with_two_factor(admin)
    client, _ = sign_in_with_password("admin@example.com")

    # when
    response = client.post(
        "/login/code/", {"code": code(device, drift=1), "next": "https://evil.example/"}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_code_step_without_a_session_goes_to_sign_in() -> None:
    response = Client().get("/login/code/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"


def test_agent_without_two_factor_skips_the_code_step(admin: User) -> None:
    # given
    client = signed_in(admin)

    # when
    response = client.get("/login/code/?next=/account/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/account/"


# --- the guard on every page ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/inbox/", "/account/", "/contacts/", "/settings/", "/django-admin/"]
)
def test_every_agent_page_waits_for_the_code(admin: User, path: str) -> None:
    # given
    with_two_factor(admin)
    client, _ = sign_in_with_password("admin@example.com")

    # when
    response = client.get(path)

    # then
    assert response.status_code == 302
    assert response["Location"] == f"/login/code/?next={quote(path, safe='')}"


def test_posts_wait_for_the_code_too(admin: User) -> None:
    # given
    with_two_factor(admin)
    client, _ = sign_in_with_password("admin@example.com")

    # when
    response = client.post("/account/", {"display_name": "Hacker", "availability": "online"})

    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/code/?next=%2F"
    admin.refresh_from_db()
    assert admin.display_name == "Ada Admin"


def test_htmx_requests_are_sent_to_the_code_step_as_a_full_page(admin: User) -> None:
    # given
    with_two_factor(admin)
    client, _ = sign_in_with_password("admin@example.com")

    # when
    response = client.get("/inbox/", headers={"HX-Request": "true"})

    # then
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/code/?next=%2Finbox%2F"


def test_a_session_verified_elsewhere_is_asked_again_after_two_factor_is_turned_on(
    admin: User,
) -> None:
    # given: a session opened before two-factor sign-in was turned on
    client = signed_in(admin)

    # when
    with_two_factor(admin)
    response = client.get("/account/")

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/login/code/")


def test_sign_out_and_sign_in_pages_stay_open_during_the_code_step(admin: User) -> None:
    # given
    with_two_factor(admin)
    client, _ = sign_in_with_password("admin@example.com")

    # when
    reset_page = client.get("/login/reset/")
    signed_out = client.post("/logout/")

    # then
    assert reset_page.status_code == 200
    assert signed_out.status_code == 302
    assert signed_out["Location"] == "/login/"


def test_api_tokens_are_not_affected(admin: User) -> None:
    # given
    with_two_factor(admin)
    token = issue_api_token(admin).plaintext

    # when
    response = Client().get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})

    # then
    assert response.status_code == 200


# --- turning it off ------------------------------------------------------------------------------


def test_turning_it_off_takes_a_current_code(admin: User) -> None:
    # given
    device = with_two_factor(admin)
    client = Client()
    client.post("/login/", {"username": "admin@example.com", "password": "x"})
    client.post("/login/code/", {"code": code(device, drift=1)})
    wrong = "000000" if code(device, drift=2) != "000000" else "111111"

    # when
    refused = client.post("/account/two-factor/disable/", {"code": wrong})
    admin.refresh_from_db()
    still_on = admin.two_factor_enabled
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    accepted = client.post("/account/two-factor/disable/", {"code": code(device, drift=2)})

    # then
    assert refused.status_code == 400
    assert still_on is True
    assert accepted.status_code == 302
    admin.refresh_from_db()
    assert admin.two_factor_enabled is False
    assert TOTPDevice.objects.filter(user=admin).count() == 0
    _, again = sign_in_with_password("admin@example.com")
    assert again["Location"] == "/"


def test_an_admin_resets_two_factor_for_an_agent_who_lost_their_phone(
    admin: User, support_agent: User
) -> None:
    # given
    support_agent.set_password("y")
    support_agent.save()
    with_two_factor(support_agent)
    client = signed_in(admin)

    # when
    response = client.post(
        "/django-admin/accounts/user/",
        {"action": "reset_two_factor", "_selected_action": [support_agent.pk]},
    )

    # then
    assert response.status_code == 302
    support_agent.refresh_from_db()
    assert support_agent.two_factor_enabled is False
    assert TOTPDevice.objects.filter(user=support_agent).count() == 0
    _, signed = sign_in_with_password("giulia@example.com", "y")
    assert signed["Location"] == "/"


def test_device_removed_behind_the_flag_does_not_lock_the_agent_out(admin: User) -> None:
    # given: an admin deleted the device in the Django admin, not through the reset action
    with_two_factor(admin)
    TOTPDevice.objects.all().delete()
    client, _ = sign_in_with_password("admin@example.com")

    # when
    response = client.post("/login/code/", {"code": "123456", "next": "/account/"})

    # then
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    admin.refresh_from_db()
    assert admin.two_factor_enabled is False
    assert client.get("/account/").status_code == 200
