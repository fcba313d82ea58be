"""Merging two contacts and undoing it: the service and the contact page's merge flow."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox
from premura.contacts.merging import MergeError, merge, merge_contacts, undo_merge
from premura.contacts.models import Contact, ContactMerge, Identity, Organization
from premura.conversations.models import Conversation, ConversationEvent
from premura.conversations.services import set_team
from premura.routing.models import Team
from tests.contacts.test_pages import SECRET, browser_for, email_inbox, from_api, from_email, html

pytestmark = pytest.mark.django_db


def snapshot(*contacts: Contact) -> dict[str, Any]:
    """Everything a merge touches, to compare before and after an undo."""
    ids = [c.pk for c in contacts]
    return {
        "contacts": list(
            Contact.objects.filter(pk__in=ids)
            .order_by("id")
            .values(
                "id",
                "name",
                "email",
                "phone",
                "language",
                "notes",
                "organization_id",
                "attributes",
                "merged_into_id",
            )
        ),
        "identities": sorted(
            Identity.objects.filter(contact_id__in=ids).values_list(
                "id", "contact_id", "kind", "external_id"
            )
        ),
        "conversations": sorted(
            Conversation.objects.filter(contact_id__in=ids).values_list("id", "contact_id")
        ),
    }


@pytest.fixture
def pair(api_inbox: NewAPIInbox, support_team: Team, legal_team: Team) -> dict[str, Any]:
    """Anna (one API case) and her duplicate by email (a Support case and a Legal case)."""
    acme = Organization.objects.create(name="ACME")
    anna = from_api(api_inbox, "m-1", identifier="anna", name="Anna", email="anna@example.it")
    Contact.objects.filter(pk=anna.contact.pk).update(attributes={"piano": "base"})
    mail = email_inbox(support_team)
    dup_first = from_email(mail, "<d1@mail>", email="a.verdi@example.it", name="")
    dup = dup_first.contact
    Contact.objects.filter(pk=dup.pk).update(
        phone="+390612345678",
        language="it",
        notes="Chiama di sera",
        organization=acme,
        attributes={"piano": "premium", "tessera": 42},
    )
    set_team(dup_first.conversation, None, team=support_team)
    legal = from_api(api_inbox, "m-2", identifier="verdi", email="a.verdi@example.it")
    set_team(legal.conversation, None, team=legal_team)
    Conversation.objects.filter(pk=legal.conversation.pk).update(subject=SECRET)
    anna.contact.refresh_from_db()
    dup.refresh_from_db()
    return {
        "target": anna.contact,
        "source": dup,
        "acme": acme,
        "moved": sorted([dup_first.conversation.pk, legal.conversation.pk]),
        "kept": anna.conversation.pk,
    }


def test_merge_and_undo_round_trip_exactly(pair: dict[str, Any], supervisor: User) -> None:
    # given
    source, target = pair["source"], pair["target"]
    before = snapshot(source, target)
    source_identities = sorted(source.identities.values_list("id", flat=True))

    # when
    record = merge(source, target, supervisor)
    merged = snapshot(source, target)
    undo_merge(record, supervisor)
    after = snapshot(source, target)

    # then
    assert sorted(record.identity_ids) == source_identities
    assert sorted(record.conversation_ids) == pair["moved"]
    assert {c["id"]: c["merged_into_id"] for c in merged["contacts"]} == {
        target.pk: None,
        source.pk: target.pk,
    }
    merged_target = next(c for c in merged["contacts"] if c["id"] == target.pk)
    assert merged_target["phone"] == "+390612345678"
    assert merged_target["language"] == "it"
    assert merged_target["notes"] == "Chiama di sera"
    assert merged_target["organization_id"] == pair["acme"].pk
    assert merged_target["attributes"] == {"piano": "base", "tessera": 42}
    assert merged_target["email"] == "anna@example.it"
    assert {cid for cid, owner in merged["conversations"] if owner == target.pk} == {
        pair["kept"],
        *pair["moved"],
    }
    assert after == before
    record.refresh_from_db()
    assert record.undone_by == supervisor
    assert record.undone_at is not None
    events = list(
        ConversationEvent.objects.filter(kind="contact_merged")
        .order_by("id")
        .values_list("conversation_id", "actor_user_id", "payload")
    )
    merged_payload = {"from_contact": source.pk, "into_contact": target.pk}
    assert events == [
        *[(cid, supervisor.pk, merged_payload) for cid in pair["moved"]],
        *[(cid, supervisor.pk, {**merged_payload, "undone": True}) for cid in pair["moved"]],
    ]


def test_undo_moves_back_only_what_moved_and_keeps_later_edits(
    pair: dict[str, Any], api_inbox: NewAPIInbox, admin: User
) -> None:
    # given
    source, target = pair["source"], pair["target"]
    record = merge(source, target, admin)
    Contact.objects.filter(pk=target.pk).update(
        language="en", attributes={"piano": "base", "tessera": 42, "nuovo": "sì"}
    )
    later = from_api(api_inbox, "m-3", identifier="anna", thread="dopo").conversation

    # when
    undo_merge(record, admin)

    # then
    target.refresh_from_db()
    source.refresh_from_db()
    assert target.language == "en"  # edited after the merge: kept
    assert target.phone == ""  # filled by the merge: restored
    assert target.organization_id is None
    assert target.attributes == {"piano": "base", "nuovo": "sì"}
    assert source.merged_into_id is None
    assert Conversation.objects.get(pk=later.pk).contact_id == target.pk
    moved_back = Conversation.objects.filter(contact=source).values_list("id", flat=True)
    assert sorted(moved_back) == pair["moved"]


def test_merge_contacts_keeps_its_contract_for_the_api(pair: dict[str, Any], admin: User) -> None:
    # when
    kept = merge_contacts(pair["source"], pair["target"], admin)

    # then
    assert kept.pk == pair["target"].pk
    assert ContactMerge.objects.get().merged_by == admin


def test_impossible_merges_and_undos_say_why(pair: dict[str, Any], api_inbox: NewAPIInbox) -> None:
    # given
    source, target = pair["source"], pair["target"]
    third = from_api(api_inbox, "m-9", identifier="terzo", name="Terzo", email="t@example.it")

    # then
    with pytest.raises(MergeError, match="cannot be merged into itself"):
        merge(target, target, None)
    record = merge(source, target, None)
    with pytest.raises(MergeError, match="was already merged into another contact"):
        merge(source, third.contact, None)
    with pytest.raises(MergeError, match="merge into that one instead"):
        merge(third.contact, source, None)
    later = merge(target, third.contact, None)
    with pytest.raises(MergeError, match="undo that merge first"):
        undo_merge(record, None)
    undo_merge(later, None)
    undo_merge(record, None)
    with pytest.raises(MergeError, match="already undone"):
        undo_merge(record, None)
    assert Contact.objects.filter(merged_into__isnull=False).count() == 0


# --- the merge flow on the contact page --------------------------------------------------------


def test_an_agent_finds_confirms_merges_and_undoes_on_the_page(
    pair: dict[str, Any], sales_agent: User
) -> None:
    # given
    source, target = pair["source"], pair["target"]
    before = snapshot(source, target)
    identities = source.identities.count()
    client = browser_for(sales_agent)

    # when
    found = html(client.get(f"/contacts/{target.pk}/merge/search?q=Mario"))
    confirm = client.get(f"/contacts/{target.pk}/merge?other={source.pk}")
    merged = client.post(f"/contacts/{target.pk}/merge", {"other": source.pk})
    flash = html(client.get(merged["Location"]))
    record = ContactMerge.objects.get()
    undone = client.post(f"/contacts/{target.pk}/merges/{record.pk}/undo", follow=True)

    # then
    assert re.findall(r"merge\?other=(\d+)", found) == [str(source.pk)]
    assert confirm.status_code == 200
    text = html(confirm)
    assert "a.verdi@example.it" in text
    assert "2 conversations move" in text
    assert SECRET not in text  # the Legal case shows as an entry only
    assert "Restricted to the Legal team" in text
    assert "+390612345678" in text  # the phone fills the target's empty one
    assert merged.status_code == 302
    assert merged["Location"] == f"/contacts/{target.pk}/?merged={record.pk}"
    assert (
        f"Mario Rossi was merged into this contact (identities moved: {identities}, "
        "conversations moved: 2)." in flash
    )
    assert f'action="/contacts/{target.pk}/merges/{record.pk}/undo"' in flash
    assert undone.redirect_chain == [(f"/contacts/{target.pk}/", 302)]
    assert "Merge undone:" in html(undone)
    assert snapshot(source, target) == before
    assert "undone on" in html(undone)


def test_search_for_the_other_contact_leaves_out_this_one_and_merged_ones(
    pair: dict[str, Any], api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    target = pair["target"]
    ghost = from_api(api_inbox, "m-7", identifier="ghost", name="Anna Ghost", email="").contact
    Contact.objects.filter(pk=ghost.pk).update(merged_into=target)
    other = from_api(api_inbox, "m-8", identifier="anna2", name="Anna Bis", email="").contact

    # when
    found = html(browser_for(support_agent).get(f"/contacts/{target.pk}/merge/search?q=Anna"))
    empty = html(browser_for(support_agent).get(f"/contacts/{target.pk}/merge/search?q="))

    # then
    assert re.findall(r"merge\?other=(\d+)", found) == [str(other.pk)]
    assert empty.strip() == ""


def test_contacts_with_the_same_phone_or_email_are_offered_for_a_merge(
    pair: dict[str, Any], api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    source, target = pair["source"], pair["target"]
    twin = from_api(api_inbox, "m-7", identifier="twin", name="Anna", email="").contact
    Contact.objects.filter(pk=twin.pk).update(email="anna@example.it")
    Contact.objects.filter(pk=target.pk).update(phone=source.phone)

    # when
    page = html(browser_for(support_agent).get(f"/contacts/{target.pk}/"))

    # then
    assert re.findall(r"merge\?other=(\d+)", page) == [str(twin.pk), str(source.pk)]
    assert "Possible duplicates (same email or phone):" in page


@pytest.mark.parametrize(
    ("other", "message", "status"),
    [
        ("self", "A contact cannot be merged into itself.", 409),
        ("merged", "was already merged into another contact.", 409),
        ("", "Choose the contact to merge into this one.", 400),
        ("abc", "Choose the contact to merge into this one.", 400),
    ],
)
def test_impossible_merges_on_the_page_say_why_and_write_nothing(
    other: str,
    message: str,
    status: int,
    pair: dict[str, Any],
    api_inbox: NewAPIInbox,
    support_agent: User,
) -> None:
    # given
    source, target = pair["source"], pair["target"]
    ghost = from_api(api_inbox, "m-7", identifier="ghost", name="Ghost", email="").contact
    Contact.objects.filter(pk=ghost.pk).update(merged_into=source)
    other_id = {"self": str(target.pk), "merged": str(ghost.pk)}.get(other, other)
    before = snapshot(source, target, ghost)
    client = browser_for(support_agent)

    # when
    confirm = client.get(f"/contacts/{target.pk}/merge?other={other_id}")
    posted = client.post(f"/contacts/{target.pk}/merge", {"other": other_id}, follow=True)

    # then
    assert confirm.status_code == status
    assert message in html(confirm)
    assert message in html(posted)
    assert snapshot(source, target, ghost) == before
    assert ContactMerge.objects.count() == 0


def test_merging_into_a_merged_contact_is_refused(
    pair: dict[str, Any], api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    source, target = pair["source"], pair["target"]
    Contact.objects.filter(pk=target.pk).update(merged_into=source)

    # when
    response = browser_for(support_agent).post(
        f"/contacts/{target.pk}/merge", {"other": source.pk}, follow=True
    )

    # then
    assert "merge into that one instead." in html(response)
    assert ContactMerge.objects.count() == 0


def test_undo_of_another_contacts_merge_is_not_found_and_a_second_undo_says_why(
    pair: dict[str, Any], support_agent: User
) -> None:
    # given
    source, target = pair["source"], pair["target"]
    record = merge(source, target, support_agent)
    client = browser_for(support_agent)

    # when
    wrong = client.post(f"/contacts/{source.pk}/merges/{record.pk}/undo")
    first = client.post(f"/contacts/{target.pk}/merges/{record.pk}/undo")
    second = client.post(f"/contacts/{target.pk}/merges/{record.pk}/undo", follow=True)
    get = client.get(f"/contacts/{target.pk}/merges/{record.pk}/undo")

    # then
    assert wrong.status_code == 404
    assert first.status_code == 302
    assert "This merge was already undone." in html(second)
    assert ConversationEvent.objects.filter(payload__undone=True).count() == 2
    assert get.status_code == 405


@pytest.mark.parametrize(
    "who", ["anonymous", "sales_agent", "support_agent", "supervisor", "admin"]
)
def test_who_may_merge_and_undo(
    who: str, pair: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    # given
    user = None if who == "anonymous" else request.getfixturevalue(who)
    source, target = pair["source"], pair["target"]
    client = browser_for(user) if user is not None else Client()

    # when
    merged = client.post(f"/contacts/{target.pk}/merge", {"other": source.pk})
    record = ContactMerge.objects.first()
    if user is None:
        record = merge(source, target, None)
    undone = client.post(f"/contacts/{target.pk}/merges/{record.pk}/undo")

    # then
    record.refresh_from_db()
    if user is None:
        assert merged["Location"].startswith("/login/")
        assert undone["Location"].startswith("/login/")
        assert record.undone_at is None
        assert record.merged_by is None
    else:
        assert merged["Location"] == f"/contacts/{target.pk}/?merged={record.pk}"
        assert record.merged_by == user
        assert undone["Location"] == f"/contacts/{target.pk}/"
        assert record.undone_by == user


def test_the_rest_api_merge_is_recorded_and_undoable_on_the_page(
    pair: dict[str, Any], admin: User, admin_client: Any
) -> None:
    # given
    source, target = pair["source"], pair["target"]

    # when
    response = admin_client.post(
        f"/api/v1/contacts/{source.pk}/merge", {"into_contact_id": target.pk}
    )
    page = html(browser_for(admin).get(f"/contacts/{target.pk}/"))

    # then
    assert response.status_code == 200
    record = ContactMerge.objects.get()
    assert f"/contacts/{target.pk}/merges/{record.pk}/undo" in page
    assert "merged on" in page
