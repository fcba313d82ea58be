"""The outbox sender of contact-form inboxes: confirmations and agents' replies leave as email."""

from __future__ import annotations

from typing import TYPE_CHECKING

from premura.conversations.outbox import DeliveryError, SendResult

if TYPE_CHECKING:
    from premura.conversations.models import Message


def send_webform_message(message: Message) -> SendResult:
    """Email one outbound message of a contact-form case to the customer, from the form's mailbox.

    The customer of a form case is reached at the address they typed (the contact's email); a
    form without a mailbox, or a customer who left only a phone number, cannot be emailed: that
    is a permanent failure the agent sees on the message, never a silent drop.
    """
    from premura.webforms.models import ContactForm

    form = (
        ContactForm.objects.select_related("mailbox__inbox")
        .filter(inbox_id=message.inbox_id)
        .first()
    )
    if form is None:
        raise DeliveryError("this inbox has no contact form", permanent=True)
    if form.mailbox is None:
        raise DeliveryError(
            "the contact form has no mailbox to send email from (settings → contact forms)",
            permanent=True,
        )
    address = message.conversation.contact.email
    if not address:
        raise DeliveryError("the customer left no email address", permanent=True)
    try:
        # Imported here: the email sending module may be absent from a partial installation,
        # and the app registry is ready by the time a delivery runs.
        from premura.mail.outbound import send_email_for
    except ImportError as exc:
        raise DeliveryError(f"email sending is not available: {exc}") from exc
    return send_email_for(message, form.mailbox, to=address)
