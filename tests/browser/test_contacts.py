"""The customer in the browser: the panel with every channel, merging two contacts and undoing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox
from premura.contacts.models import Contact, ContactMerge
from premura.conversations.services import set_team
from premura.routing.models import Team
from tests.contacts.test_pages import email_inbox, from_api, from_email


def test_customer_panel_shows_the_same_customer_on_two_channels(
    page: Any,
    sign_in: Callable[[User], Any],
    support_agent: User,
    api_inbox: NewAPIInbox,
    support_team: Team,
    csp_violations: list[str],
) -> None:
    # given: Mario wrote through the shop's API and, later, by email
    api_case = from_api(api_inbox, "m-1", text="Il mio ordine non è arrivato.").conversation
    set_team(api_case, None, team=support_team)
    mail_case = from_email(
        email_inbox(support_team), "<a1@mail>", subject="Fattura", text="Dov'è la fattura?"
    ).conversation
    sign_in(support_agent)

    # when: the agent opens the API conversation; the customer panel loads beside it
    page.goto(f"/conversations/{api_case.pk}/")

    # then: both conversations, newest first, the current one marked
    panel = page.locator("#customer-panel .contact-panel")
    panel.wait_for()
    entries = panel.locator(".timeline > li.entry")
    assert entries.count() == 2
    assert entries.nth(0).locator(".channel").inner_text() == "Email · Assistenza email"
    assert entries.nth(1).locator(".channel").inner_text() == "API · Shop"
    assert entries.nth(1).locator(".badge.this-one").inner_text() == "This conversation"
    assert panel.get_by_text("mario@example.it").first.is_visible()

    # when: the email conversation is opened in place
    entries.nth(0).locator("summary").click()

    # then: its latest messages appear inside the panel, with a link to the whole conversation
    preview = entries.nth(0).locator(".preview-messages")
    preview.wait_for()
    assert "Dov'è la fattura?" in preview.inner_text()
    link = entries.nth(0).get_by_role("link", name=f"Open {mail_case.reference}")
    assert link.get_attribute("href") == f"/conversations/{mail_case.pk}/"
    assert csp_violations == []


def test_merge_two_contacts_through_the_page_and_undo(
    page: Any,
    sign_in: Callable[[User], Any],
    support_agent: User,
    api_inbox: NewAPIInbox,
    csp_violations: list[str],
) -> None:
    # given: the same person twice, under two identifiers and two emails
    anna = from_api(api_inbox, "m-1", identifier="anna", name="Anna Verdi", email="anna@x.it")
    twin = from_api(api_inbox, "m-2", identifier="a-verdi", name="A. Verdi", email="av@y.it")
    sign_in(support_agent)
    page.goto(f"/contacts/{anna.contact.pk}/")
    assert page.locator(".contact-history .timeline > li.entry").count() == 1

    # when: the agent presses m, finds the twin and reviews the merge
    page.keyboard.press("m")
    page.keyboard.type("A. Verdi")
    page.locator("#merge-results").get_by_role("link", name="A. Verdi").click()
    page.wait_for_url(f"**/contacts/{anna.contact.pk}/merge?other={twin.contact.pk}")
    assert page.get_by_role("heading", name="Merge A. Verdi into Anna Verdi?").is_visible()
    assert page.get_by_text("1 conversation moves").is_visible()
    page.get_by_role("button", name="Merge", exact=True).click()

    # then: the twin's conversation is in Anna's history and an Undo is offered
    page.wait_for_url(f"**/contacts/{anna.contact.pk}/?merged=*")
    flash = page.locator(".merge-flash")
    assert "A. Verdi was merged into this contact" in flash.inner_text()
    assert page.locator(".contact-history .timeline > li.entry").count() == 2
    assert Contact.objects.get(pk=twin.contact.pk).merged_into_id == anna.contact.pk

    # when: the agent changes their mind
    flash.get_by_role("button", name="Undo").click()

    # then: both contacts are back as they were
    page.wait_for_url(f"**/contacts/{anna.contact.pk}/")
    assert page.get_by_text("Merge undone: A. Verdi is a separate contact again.").is_visible()
    assert page.locator(".contact-history .timeline > li.entry").count() == 1
    assert Contact.objects.get(pk=twin.contact.pk).merged_into_id is None
    assert ContactMerge.objects.get().undone_by == support_agent
    assert csp_violations == []


def test_contacts_list_from_the_keyboard_and_an_edit(
    page: Any,
    sign_in: Callable[[User], Any],
    support_agent: User,
    api_inbox: NewAPIInbox,
    csp_violations: list[str],
) -> None:
    # given
    from_api(api_inbox, "m-1", identifier="a", name="Anna Verdi", email="anna@x.it")
    luca = from_api(api_inbox, "m-2", identifier="b", name="Luca Neri", email="luca@y.it")
    sign_in(support_agent)
    page.goto("/contacts/")

    # when: j selects the newest contact, Enter opens it, e opens the form
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/contacts/{luca.contact.pk}/")
    page.keyboard.press("e")
    page.fill("#id_phone", "06 1234 5678")
    page.get_by_role("button", name="Save").click()

    # then
    page.wait_for_url(f"**/contacts/{luca.contact.pk}/")
    assert page.get_by_text("Contact saved.").is_visible()
    assert page.locator(".facts").first.get_by_text("+390612345678").is_visible()
    assert csp_violations == []
