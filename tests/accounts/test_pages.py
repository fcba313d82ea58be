"""The agent's own settings page (/account/): permissions, saving, validation, language, time zone."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils import timezone, translation
from django_otp.plugins.otp_totp.models import TOTPDevice

import premura.accounts
from premura.accounts import two_factor
from premura.accounts.forms import SIGNATURE_MAX_CHARS
from premura.accounts.models import User

pytestmark = pytest.mark.django_db

VALID = {
    "display_name": "Giulia R.",
    "language": "it",
    "timezone": "America/New_York",
    "signature": "Giulia\nServizio clienti",
    "availability": "away",
}
EDITABLE = ("display_name", "language", "timezone", "signature", "availability")


def signed_in(user: User, **headers: str) -> Client:
    client = Client(headers=headers)
    client.force_login(user)
    return client


def editable(user: User) -> dict[str, str]:
    user.refresh_from_db()
    return {field: getattr(user, field) for field in EDITABLE}


# --- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/account/"),
        ("post", "/account/"),
        ("post", "/account/availability/"),
        ("post", "/account/password/"),
        ("post", "/account/two-factor/start/"),
        ("post", "/account/two-factor/confirm/"),
        ("post", "/account/two-factor/cancel/"),
        ("post", "/account/two-factor/disable/"),
    ],
)
def test_anonymous_is_sent_to_sign_in(method: str, path: str) -> None:
    # when
    client = Client()
    response = client.get(path) if method == "get" else client.post(path, {"availability": "away"})

    # then
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"
    assert TOTPDevice.objects.count() == 0


@pytest.mark.parametrize("who", ["sales_agent", "support_agent", "supervisor", "admin"])
def test_every_role_sees_and_edits_only_their_own_settings(
    who: str, request: pytest.FixtureRequest, lawyer: User
) -> None:
    # given: agents of another team, of a team, a supervisor and an admin, and a colleague
    user: User = request.getfixturevalue(who)
    before = editable(lawyer)
    client = signed_in(user)

    # when
    page = client.get("/account/")
    saved = client.post("/account/", VALID)
    toggled = client.post("/account/availability/", {"availability": "offline"})

    # then
    assert page.status_code == 200
    assert user.email in page.content.decode()
    assert lawyer.email not in page.content.decode()
    assert saved.status_code == 302
    assert toggled.status_code == 302
    assert editable(user) == {**VALID, "availability": "offline"}
    assert editable(lawyer) == before


def test_page_is_highlighted_as_account_in_the_menu(support_agent: User) -> None:
    # when
    response = signed_in(support_agent).get("/account/")

    # then
    assert response.context["nav"] == "account"
    assert '<h1 id="profile-title">Your account</h1>' in response.content.decode()


# --- saving --------------------------------------------------------------------------------------


def test_saving_the_settings(support_agent: User) -> None:
    # given
    client = signed_in(support_agent)

    # when
    response = client.post("/account/", VALID, follow=True)

    # then
    assert response.redirect_chain == [("/account/", 302)]
    assert editable(support_agent) == VALID
    # the confirmation speaks the language just chosen
    assert "Impostazioni salvate." in response.content.decode()


def test_blank_language_and_time_zone_mean_browser_and_server_default(support_agent: User) -> None:
    # given
    support_agent.language = "it"
    support_agent.timezone = "Asia/Tokyo"
    support_agent.save()

    # when
    signed_in(support_agent).post(
        "/account/", {**VALID, "language": "", "timezone": "", "signature": ""}
    )

    # then
    support_agent.refresh_from_db()
    assert (support_agent.language, support_agent.timezone, support_agent.signature) == ("", "", "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus_Mons", "Select a valid choice. Mars/Olympus_Mons is not one"),
        ("timezone", "localtime", "Select a valid choice. localtime is not one"),
        ("language", "fr", "Select a valid choice. fr is not one of the available choices."),
        ("availability", "busy", "Select a valid choice. busy is not one"),
        ("availability", "", "This field is required."),
        (
            "signature",
            "x" * (SIGNATURE_MAX_CHARS + 1),
            "Ensure this value has at most 10000 characters (it has 10001).",
        ),
        ("display_name", "n" * 151, "Ensure this value has at most 150 characters (it has 151)."),
        ("display_name", "Giulia\nRossi", "The name cannot contain line breaks or tabs."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_written(
    support_agent: User, field: str, value: str, message: str
) -> None:
    # given
    before = editable(support_agent)
    client = signed_in(support_agent)

    # when
    response = client.post("/account/", {**VALID, field: value})

    # then
    assert response.status_code == 400
    assert message in response.content.decode()
    assert editable(support_agent) == before


def test_signature_of_exactly_the_limit_is_accepted(support_agent: User) -> None:
    # when
    response = signed_in(support_agent).post(
        "/account/", {**VALID, "signature": "x" * SIGNATURE_MAX_CHARS}
    )

    # then
    assert response.status_code == 302
    assert len(editable(support_agent)["signature"]) == SIGNATURE_MAX_CHARS


def test_validation_messages_speak_italian(support_agent: User) -> None:
    # given
    support_agent.language = "it"
    support_agent.save()

    # when
    response = signed_in(support_agent).post("/account/", {**VALID, "display_name": "a\tb"})

    # then
    assert response.status_code == 400
    assert "Il nome non può contenere a capo o tabulazioni." in response.content.decode()


def test_agent_text_is_escaped(support_agent: User) -> None:
    # given
    script = '<script>alert("x")</script>'
    client = signed_in(support_agent)
    client.post("/account/", {**VALID, "display_name": script, "signature": script})

    # when
    body = client.get("/account/").content.decode()

    # then
    assert script not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


def test_only_get_and_post(support_agent: User) -> None:
    assert signed_in(support_agent).put("/account/").status_code == 405
    assert signed_in(support_agent).get("/account/password/").status_code == 405


# --- language and time zone ----------------------------------------------------------------------


def test_agent_language_applies_on_every_page_whatever_the_browser_says(
    support_agent: User,
) -> None:
    # given
    support_agent.language = "it"
    support_agent.save()
    client = signed_in(support_agent, **{"Accept-Language": "en"})

    # when
    account = client.get("/account/").content.decode()
    inbox = client.get("/inbox/").content.decode()

    # then
    assert '<html lang="it">' in account
    assert '<h1 id="profile-title">Il tuo account</h1>' in account
    assert "Salva le impostazioni" in account
    assert '<html lang="it">' in inbox
    assert ">Esci</button>" in inbox


def test_without_a_choice_the_browser_language_applies(support_agent: User) -> None:
    # when
    italian = signed_in(support_agent, **{"Accept-Language": "it"}).get("/account/")
    english = signed_in(support_agent, **{"Accept-Language": "en"}).get("/account/")

    # then
    assert '<html lang="it">' in italian.content.decode()
    assert '<html lang="en">' in english.content.decode()


def test_sign_in_page_follows_the_browser_not_the_last_agent(support_agent: User) -> None:
    # given
    support_agent.language = "it"
    support_agent.save()
    signed_in(support_agent).get("/account/")

    # when
    response = Client(headers={"Accept-Language": "en"}).get("/login/")

    # then
    assert "<h1>Sign in</h1>" in response.content.decode()


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("America/New_York", "2025-01-15T07:00:00-05:00"),
        ("Asia/Tokyo", "2025-01-15T21:00:00+09:00"),
        ("", "2025-01-15T13:00:00+01:00"),  # the server's default, Europe/Rome
    ],
)
def test_times_show_in_the_agents_time_zone(support_agent: User, zone: str, expected: str) -> None:
    # given
    client = signed_in(support_agent)
    User.objects.filter(pk=support_agent.pk).update(
        timezone=zone, last_login=dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)
    )

    # when
    response = client.get("/account/")

    # then
    assert f'<time id="last-login" datetime="{expected}">' in response.content.decode()
    # the agent's zone does not leak into whatever the thread runs next
    assert timezone.get_current_timezone_name() == "Europe/Rome"


def test_an_unknown_stored_time_zone_falls_back_to_the_default(support_agent: User) -> None:
    # given: a zone that a newer tz database knew and this one does not
    client = signed_in(support_agent)
    User.objects.filter(pk=support_agent.pk).update(
        timezone="Nowhere/Atlantis", last_login=dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)
    )

    # when
    response = client.get("/account/")

    # then
    assert response.status_code == 200
    assert 'datetime="2025-01-15T13:00:00+01:00"' in response.content.decode()


def test_time_zone_choices_are_the_iana_names(support_agent: User) -> None:
    # when
    body = signed_in(support_agent).get("/account/").content.decode()

    # then
    assert '<option value="Europe/Rome">Europe/Rome</option>' in body
    assert (
        '<option value="America/Argentina/Buenos_Aires">America/Argentina/Buenos Aires</option>'
        in body
    )
    assert 'value="localtime"' not in body


# --- password ------------------------------------------------------------------------------------


def test_changing_the_password_keeps_this_session_and_ends_the_others(admin: User) -> None:
    # given
    this_one, other = signed_in(admin), signed_in(admin)

    # when
    response = this_one.post(
        "/account/password/",
        {"old_password": "x", "new_password1": "n3w Secret!", "new_password2": "n3w Secret!"},
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/account/#password"
    admin.refresh_from_db()
    assert admin.check_password("n3w Secret!")
    assert this_one.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "old_password": "wrong",
                "new_password1": "n3w Secret!",
                "new_password2": "n3w Secret!",
            },
            "Your old password was entered incorrectly.",
        ),
        (
            {"old_password": "x", "new_password1": "n3w Secret!", "new_password2": "other one!"},
            "The two password fields didn’t match.",
        ),
        (
            {"old_password": "x", "new_password1": "password", "new_password2": "password"},
            "This password is too common.",
        ),
    ],
)
def test_a_bad_password_change_is_refused(admin: User, data: dict[str, str], message: str) -> None:
    # when
    response = signed_in(admin).post("/account/password/", data)

    # then
    assert response.status_code == 400
    assert message in response.content.decode()
    admin.refresh_from_db()
    assert admin.check_password("x")


# --- availability --------------------------------------------------------------------------------


def test_quick_availability_switch_answers_htmx_with_the_fragment(support_agent: User) -> None:
    # when
    response = signed_in(support_agent).post(
        "/account/availability/", {"availability": "away"}, headers={"HX-Request": "true"}
    )

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<form class="availability-switch"')
    assert '<option value="away" selected>Away</option>' in body
    assert 'class="availability-dot availability-away"' in body
    assert editable(support_agent)["availability"] == "away"


def test_quick_availability_switch_without_htmx_goes_back(support_agent: User) -> None:
    # given
    client = signed_in(support_agent)

    # when
    back = client.post("/account/availability/", {"availability": "offline", "next": "/inbox/"})
    outside = client.post(
        "/account/availability/", {"availability": "online", "next": "https://evil.example/"}
    )

    # then
    assert back["Location"] == "/inbox/"
    assert outside["Location"] == "/account/"
    assert editable(support_agent)["availability"] == "online"


def test_quick_availability_switch_refuses_an_unknown_state(support_agent: User) -> None:
    # when
    response = signed_in(support_agent).post("/account/availability/", {"availability": "busy"})

    # then
    assert response.status_code == 400
    assert editable(support_agent)["availability"] == "online"


def test_availability_fragment_renders_in_italian_for_the_top_bar(
    support_agent: User, rf: RequestFactory
) -> None:
    # given
    request = rf.get("/inbox/")
    request.user = support_agent

    # when
    with translation.override("it"):
        html = render_to_string("accounts/_availability.html", {"user": support_agent}, request)

    # then
    assert 'hx-post="/account/availability/"' in html
    assert '<option value="online" selected>Online</option>' in html
    assert '<option value="away">Assente</option>' in html
    assert 'name="csrfmiddlewaretoken"' in html


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("colleagues", [3, 30])
def test_settings_page_query_count_is_fixed(
    support_agent: User, colleagues: int, django_assert_num_queries: Any
) -> None:
    # given: the page shows only the agent's own data, however many agents exist
    for n in range(colleagues):
        User.objects.create_user(f"agent{n}@example.com")
    client = signed_in(support_agent)

    # when / then: session, user, pending authenticator
    with django_assert_num_queries(3):
        response = client.get("/account/")
    assert response.status_code == 200


def test_settings_page_query_count_with_two_factor_on(
    support_agent: User, django_assert_num_queries: Any
) -> None:
    # given
    device = two_factor.start_setup(support_agent)
    from django_otp.oath import totp

    two_factor.confirm_setup(
        support_agent, f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"
    )
    client = Client()
    client.force_login(support_agent)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()

    # when / then: session, user, the device that verified the session
    with django_assert_num_queries(3):
        response = client.get("/account/")
    assert response.status_code == 200
    assert 'id="two-factor-state">On<' in response.content.decode()


# --- Italian is complete -------------------------------------------------------------------------

NAMES_SAME_IN_ITALIAN = {"Email", "Password", "Online", "Offline"}


def _template_strings() -> set[str]:
    package = Path(premura.accounts.__file__).parent
    templates = [
        *package.glob("templates/accounts/*"),
        package.parent / "web/templates/web/login.html",
    ]
    found: set[str] = set()
    for path in templates:
        text = path.read_text()
        found.update(re.findall(r'{%\s*translate\s+"([^"]+)"', text))
        found.update(re.findall(r"{%\s*translate\s+'([^']+)'", text))
        for block in re.findall(
            r"{%\s*blocktranslate[^%]*%}(.*?){%\s*endblocktranslate", text, re.S
        ):
            found.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", block))
    return found


def test_every_string_of_the_sign_in_and_account_pages_has_italian() -> None:
    # given
    strings = _template_strings()

    # when
    with translation.override("it"):
        missing = sorted(s for s in strings if translation.gettext(s) == s)

    # then
    assert len(strings) > 50
    assert [s for s in missing if s not in NAMES_SAME_IN_ITALIAN] == []
