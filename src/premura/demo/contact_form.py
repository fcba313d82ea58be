"""The demo's contact form, on the demo's contact-form inbox: a new user sees one working at once."""

from __future__ import annotations

from premura.channels.models import Inbox
from premura.routing.models import Team
from premura.webforms.models import ContactForm
from premura.webforms.services import create_contact_form

SLUG = "contatti"
# Italian label, English label, team name
TOPICS = (
    ("Ordini e spedizioni", "Orders and shipping", "Assistenza clienti"),
    ("Fatture e pagamenti", "Invoices and payments", "Fatturazione"),
    ("Informazioni su un prodotto", "Product information", "Vendite"),
)


def ensure_demo_contact_form() -> ContactForm | None:
    """The form at /forms/contatti/ on the demo's contact-form inbox (None without that inbox)."""
    inbox = (
        Inbox.objects.filter(kind=Inbox.Kind.WEBFORM, contact_form__isnull=True)
        .order_by("id")
        .first()
    )
    if inbox is None or ContactForm.objects.filter(slug=SLUG).exists():
        return None
    teams = {team.name: team.pk for team in Team.objects.all()}
    return create_contact_form(
        team=inbox.team,
        inbox=inbox,
        name=inbox.name,
        slug=SLUG,
        topics=[
            {"label_it": label_it, "label_en": label_en, "team_id": teams.get(team)}
            for label_it, label_en, team in TOPICS
        ],
        title_it="Scrivici",
        title_en="Write to us",
        intro_it="Ti rispondiamo entro un giorno lavorativo.",
        intro_en="We answer within one working day.",
        thank_you_it="Grazie! Abbiamo ricevuto il tuo messaggio.",
        thank_you_en="Thank you! We have received your message.",
    )
