"""Labels: create, rename, recolour, delete; names unique whatever their case."""

from __future__ import annotations

import pytest
from django.test import Client

from premura.channels.services import NewAPIInbox
from premura.conversations.models import Conversation, ConversationEvent, Label
from premura.conversations.services import change_labels
from tests.administration.conftest import settings_snapshot
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db


def test_create_label(admin_web: Client) -> None:
    # when
    response = admin_web.post(
        "/settings/labels/new/", {"name": "  Rimborso  urgente ", "color": "#FF0000"}, follow=True
    )

    # then
    label = Label.objects.get()
    assert response.redirect_chain == [("/settings/labels/", 302)]
    assert (label.name, label.color) == ("Rimborso urgente", "#ff0000")
    html = response.content.decode()
    assert "Label “Rimborso urgente” created." in html
    assert f'<a href="/settings/labels/{label.pk}/" data-row-link>Rimborso urgente</a>' in html
    assert 'data-swatch="#ff0000"' in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "color": "#ff0000"}, "This field is required."),
        ({"name": "VIP", "color": "#ff0000"}, "A label with this name already exists."),
        (
            {"name": "x" * 61, "color": "#ff0000"},
            "Ensure this value has at most 60 characters (it has 61).",
        ),
        ({"name": "new", "color": "red"}, "Choose a colour as #rrggbb, e.g. #2563eb."),
        ({"name": "new", "color": "#ff00zz"}, "Choose a colour as #rrggbb, e.g. #2563eb."),
        ({"name": "new", "color": ""}, "Choose a colour."),
    ],
)
def test_create_refuses_bad_input(admin_web: Client, data: dict[str, str], message: str) -> None:
    # given
    Label.objects.create(name="vip")
    before = settings_snapshot()

    # when
    response = admin_web.post("/settings/labels/new/", data)

    # then
    assert response.status_code == 400
    assert message in response.content.decode()
    assert settings_snapshot() == before


def test_rename_and_recolour_keeps_it_on_conversations(
    admin_web: Client, api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given a labelled conversation
    inbox_client.post(f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", message_body())
    conversation = Conversation.objects.get()
    change_labels(conversation, None, add=["refund"])
    label = Label.objects.get(name="refund")

    # when
    response = admin_web.post(
        f"/settings/labels/{label.pk}/", {"name": "Refunds", "color": "#00aa00"}
    )

    # then
    label.refresh_from_db()
    assert response.status_code == 302
    assert (label.name, label.color) == ("Refunds", "#00aa00")
    assert list(conversation.labels.values_list("name", flat=True)) == ["Refunds"]


def test_rename_to_another_labels_name_is_refused(admin_web: Client) -> None:
    # given
    Label.objects.create(name="vip")
    refund = Label.objects.create(name="refund")

    # when
    response = admin_web.post(f"/settings/labels/{refund.pk}/", {"name": "VIP", "color": "#000000"})

    # then
    refund.refresh_from_db()
    assert response.status_code == 400
    assert "A label with this name already exists." in response.content.decode()
    assert refund.name == "refund"


def test_changing_only_the_case_of_its_own_name_is_fine(admin_web: Client) -> None:
    # given
    label = Label.objects.create(name="vip")

    # when
    response = admin_web.post(f"/settings/labels/{label.pk}/", {"name": "VIP", "color": "#000000"})

    # then
    label.refresh_from_db()
    assert response.status_code == 302
    assert label.name == "VIP"


def test_delete_takes_it_off_conversations_and_keeps_their_history(
    admin_web: Client, api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given
    inbox_client.post(f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", message_body())
    conversation = Conversation.objects.get()
    change_labels(conversation, None, add=["refund", "vip"])
    label = Label.objects.get(name="refund")

    # when
    response = admin_web.post(f"/settings/labels/{label.pk}/delete/", follow=True)

    # then
    assert "Label “refund” deleted; it was on 1 conversation." in response.content.decode()
    assert list(conversation.labels.values_list("name", flat=True)) == ["vip"]
    event = ConversationEvent.objects.get(kind=ConversationEvent.Kind.LABELS_CHANGED)
    assert event.payload["added"] == ["refund", "vip"]


def test_label_names_are_escaped(admin_web: Client) -> None:
    # given
    label = Label.objects.create(name="<svg onload=alert(1)>", color="#123456")

    # when
    pages = [
        admin_web.get("/settings/labels/").content.decode(),
        admin_web.get(f"/settings/labels/{label.pk}/").content.decode(),
    ]

    # then
    for html in pages:
        assert "<svg onload" not in html
        assert "&lt;svg onload=alert(1)&gt;" in html


def test_a_stored_colour_that_is_not_hex_is_not_painted(admin_web: Client) -> None:
    # given a colour written by some other path (the field is a free text column)
    Label.objects.create(name="odd", color='r" x="')

    # when
    html = admin_web.get("/settings/labels/").content.decode()

    # then the attribute stays closed (the script paints only #rrggbb)
    assert 'data-swatch="r&quot; x=&quot;"' in html
