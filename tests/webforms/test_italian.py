"""The contact form speaks Italian to Italian visitors and admins, completely."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.conversations.models import Conversation, Message
from premura.webforms.models import ContactForm
from tests.webforms.conftest import submission


@pytest.mark.django_db
def test_form_page_follows_the_browsers_language(contact_form: ContactForm) -> None:
    # when
    response = Client().get("/forms/contact/", HTTP_ACCEPT_LANGUAGE="it-IT,it;q=0.9,en;q=0.5")

    # then
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "it"
    assert "Accept-Language" in response.headers["Vary"]
    assert '<html lang="it">' in response.text
    assert "<h1>Scrivici</h1>" in response.text
    assert "Rispondiamo entro un giorno lavorativo." in response.text
    assert '<label for="id_name">Nome <span class="required" aria-hidden="true">*</span>' in (
        response.text
    )
    assert '<label for="id_topic">Argomento <span class="optional">(facoltativo)</span>' in (
        response.text
    )
    assert '<option value="0">Ordini</option>' in response.text
    assert "Numero d&#x27;ordine" in response.text
    assert '<button type="submit">Invia</button>' in response.text
    assert "I campi segnati con * sono obbligatori." in response.text
    assert "Fino a 5 file di 10,0\xa0MB ciascuno." in response.text


@pytest.mark.django_db
def test_lang_parameter_wins_over_the_browser(contact_form: ContactForm) -> None:
    # when an Italian browser follows the "English" switch
    response = Client().get("/forms/contact/?lang=en", HTTP_ACCEPT_LANGUAGE="it")

    # then
    assert '<html lang="en">' in response.text
    assert "<h1>Write to us</h1>" in response.text
    assert '<option value="0">Orders</option>' in response.text
    assert '<input type="hidden" name="lang" value="en" id="id_lang">' in response.text
    assert '<a href="/forms/contact/?lang=it" lang="it" hreflang="it">Italiano</a>' in response.text


@pytest.mark.django_db
def test_errors_and_thanks_in_italian(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # when
    refused = post_form(contact_form, submission(contact_form, message="", lang="it"))
    sent = post_form(contact_form, submission(contact_form, order_number="A-7", lang="it"))

    # then
    assert refused.status_code == 400
    assert "Scrivi il tuo messaggio." in refused.text
    reference = Conversation.objects.get().reference
    assert (
        f'Il riferimento della tua pratica è <strong id="case-reference">{reference}</strong>.'
    ) in sent.text
    assert "Grazie, a presto!" in sent.text
    assert "Stiamo inviando una conferma a Mario.Rossi@Example.it" in sent.text
    assert Message.objects.get(kind="customer").text.endswith("\n\nNumero d'ordine: A-7")


@pytest.mark.django_db
def test_rate_limit_page_in_italian(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given
    ContactForm.objects.filter(pk=contact_form.pk).update(max_per_email_per_hour=1)
    post_form(contact_form, submission(contact_form, lang="it"))

    # when
    response = post_form(contact_form, submission(contact_form, lang="it"))

    # then
    assert response.status_code == 429
    assert "<h1>Troppi messaggi</h1>" in response.text
    assert "questa volta non è stato inviato nulla" in response.text


@pytest.mark.django_db
def test_settings_pages_in_italian(admin: User, contact_form: ContactForm) -> None:
    # given an admin who chose Italian
    admin.language = "it"
    admin.save(update_fields=["language"])
    client = Client()
    client.force_login(admin)

    # when
    listing = client.get("/settings/forms/")
    detail = client.get(f"/settings/forms/{contact_form.pk}/")

    # then
    assert '<a href="/settings/forms/" aria-current="page">Moduli di contatto</a>' in listing.text
    assert "Nuovo modulo di contatto" in listing.text
    assert "Mostralo sul tuo sito" in detail.text
    assert "Siti che possono incorporare il modulo" in detail.text
    assert "Tempo minimo di compilazione (secondi)" in detail.text
