"""Contacts and organizations pages, the customer panel beside every conversation, merge and undo.

Every active agent reads every customer and their whole history ("one history for everyone");
conversations of restricted teams show as entries without content to outsiders
(premura.conversations.visibility). Every agent may edit a contact, merge two contacts and undo
a merge (premura.contacts.merging explains why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from premura.contacts import selectors
from premura.contacts.forms import ContactForm, initial
from premura.contacts.merging import MergeError, check_undoable, merge, preview_merge, undo_merge
from premura.contacts.models import Contact, ContactMerge, Organization
from premura.contacts.services import update_contact
from premura.conversations.models import Conversation
from premura.conversations.visibility import Access, access

if TYPE_CHECKING:
    from premura.accounts.models import User


def _agent(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _bad_request(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(
        request, "contacts/error.html", {"message": message, "nav": "contacts"}, status=status
    )


def _contact_or_404(contact_id: int) -> Contact:
    return get_object_or_404(Contact.objects.select_related("organization"), pk=contact_id)


def _conversation_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("conversation", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


# --- contact page ----------------------------------------------------------------------------


def _render_contact(
    request: HttpRequest, contact: Contact, form: ContactForm, status: int = 200
) -> HttpResponse:
    user = _agent(request)
    merged_now = None
    raw_merged = request.GET.get("merged", "")
    merges = selectors.merges_into(contact)
    if raw_merged.isdigit():
        merged_now = next(
            (m for m in merges if m.pk == int(raw_merged) and m.undone_at is None), None
        )
    context = {
        "nav": "contacts",
        "contact": contact,
        "identities": selectors.identities(contact),
        "attributes": selectors.attributes(contact),
        "timeline": selectors.contact_timeline(user, contact),
        "conversation_count": selectors.conversation_count(contact),
        "merges": merges,
        "merged_now": merged_now,
        "duplicates": selectors.possible_duplicates(contact),
        "form": form,
        "edit_open": form.is_bound,
        "in_panel": False,
        "more_url": reverse("contacts:timeline", args=[contact.pk]),
    }
    return render(request, "contacts/contact_detail.html", context, status=status)


@login_required
@require_GET
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The customer: who they are, how they reach us, every conversation they had."""
    contact = _contact_or_404(contact_id)
    if contact.merged_into_id is not None:
        live = selectors.live_contact(contact)
        messages.info(
            request,
            _("%(source)s was merged into %(target)s.") % {"source": contact, "target": live},
        )
        return redirect("contacts:detail", live.pk)
    return _render_contact(request, contact, ContactForm(initial=initial(contact), contact=contact))


@login_required
@require_POST
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Save the contact's fields (every agent may: one history for everyone)."""
    contact = _contact_or_404(contact_id)
    if contact.merged_into_id is not None:
        messages.error(
            request,
            _("%(contact)s was merged into another contact: edit that one.") % {"contact": contact},
        )
        return redirect("contacts:detail", selectors.live_contact(contact).pk)
    form = ContactForm(request.POST, contact=contact)
    if not form.is_valid():
        return _render_contact(request, contact, form, status=400)
    try:
        update_contact(contact, form.changes())
    except ValueError:
        form.add_error(None, _("The contact could not be saved: check the fields."))
        contact.refresh_from_db()
        return _render_contact(request, contact, form, status=400)
    messages.success(request, _("Contact saved."))
    return redirect("contacts:detail", contact.pk)


@login_required
@require_GET
def attribute_row(request: HttpRequest) -> HttpResponse:
    """An empty custom-attribute row for the contact form ("Add an attribute")."""
    return render(request, "contacts/contact_detail.html#attribute-row", {"key": "", "value": ""})


@login_required
@require_GET
def contact_timeline(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The next (older) page of a customer's conversations, for the page or the panel."""
    contact = selectors.live_contact(_contact_or_404(contact_id))
    try:
        current = _conversation_param(request)
        page = selectors.contact_timeline(_agent(request), contact, request.GET.get("cursor"))
    except ValueError:
        return _bad_request(request, _("This link is not valid any more: reload the page."))
    context = {
        "contact": contact,
        "timeline": page,
        "current": current,
        "in_panel": request.GET.get("panel") == "1",
        "more_url": reverse("contacts:timeline", args=[contact.pk]),
    }
    return render(request, "contacts/timeline.html", context)


@login_required
@require_GET
def panel(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The customer panel beside a conversation (an htmx fragment; a page of its own otherwise)."""
    contact = selectors.live_contact(_contact_or_404(contact_id))
    try:
        current = _conversation_param(request)
    except ValueError:
        return _bad_request(request, _("This is not a conversation number."))
    user = _agent(request)
    context = {
        "nav": "contacts",
        "contact": contact,
        "identities": selectors.identities(contact),
        "attributes": selectors.attributes(contact),
        "timeline": selectors.contact_timeline(user, contact),
        "conversation_count": selectors.conversation_count(contact),
        "current": current,
        "in_panel": True,
        "more_url": reverse("contacts:timeline", args=[contact.pk]),
    }
    template = "contacts/panel.html" if request.htmx else "contacts/panel_page.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_GET
def conversation_preview(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The last messages of a conversation, opened in place in a timeline."""
    conversation = get_object_or_404(
        Conversation.objects.select_related("team", "inbox"), pk=conversation_id
    )
    level = access(_agent(request), conversation)
    if level == Access.NONE:
        raise Http404
    if level < Access.READ:
        raise PermissionDenied("this conversation belongs to a restricted team")
    context = {"conversation": conversation, "messages_": selectors.last_messages(conversation)}
    return render(request, "contacts/conversation_preview.html", context)


# --- merge and undo --------------------------------------------------------------------------


@login_required
@require_GET
def merge_search(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Contacts that could be merged into this one (the merge section's search box)."""
    contact = _contact_or_404(contact_id)
    query = request.GET.get("q", "").strip()[:200]
    rows = selectors.contacts_page(query, limit=10, exclude=contact).items if query else []
    return render(
        request,
        "contacts/merge_search.html",
        {"contact": contact, "rows": rows, "query": query},
    )


def _merge_pair(request: HttpRequest, contact_id: int) -> tuple[Contact, Contact]:
    target = _contact_or_404(contact_id)
    raw = (request.POST if request.method == "POST" else request.GET).get("other", "")
    if not raw.isdigit():
        raise ValueError(raw)
    source = _contact_or_404(int(raw))
    return source, target


def _filled_rows(filled: dict[str, Any], source: Contact) -> list[tuple[str, str]]:
    """The target's fields a merge fills, as (label, value) for the confirmation page."""
    labels = {
        "name": _("Name"),
        "email": _("Email"),
        "phone": _("Phone"),
        "language": _("Language"),
        "notes": _("Notes"),
        "organization_id": _("Organization"),
    }
    return [
        (labels[name], str(source.organization) if name == "organization_id" else str(value))
        for name, value in filled.items()
    ]


@login_required
@require_http_methods(["GET", "POST"])
def merge_contact(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Confirm (GET) and do (POST) the merge of another contact into this one."""
    try:
        source, target = _merge_pair(request, contact_id)
    except ValueError:
        return _bad_request(request, _("Choose the contact to merge into this one."))
    if request.method == "POST":
        try:
            record = merge(source, target, _agent(request))
        except MergeError as exc:
            messages.error(request, str(exc))
            return redirect("contacts:detail", target.pk)
        return redirect(f"{reverse('contacts:detail', args=[target.pk])}?merged={record.pk}")
    try:
        preview = preview_merge(source, target)
    except MergeError as exc:
        return _bad_request(request, str(exc), status=409)
    context = {
        "nav": "contacts",
        "preview": preview,
        "source": source,
        "target": target,
        "filled": _filled_rows(preview.filled, source),
        "timeline": selectors.contact_timeline(_agent(request), source),
        "in_panel": False,
        "more_url": reverse("contacts:timeline", args=[source.pk]),
    }
    return render(request, "contacts/merge_confirm.html", context)


@login_required
@require_POST
def merge_undo(request: HttpRequest, contact_id: int, merge_id: int) -> HttpResponse:
    """Undo a merge into this contact: what moved goes back, the other contact returns."""
    record = get_object_or_404(
        ContactMerge.objects.select_related("source", "target"), pk=merge_id, target_id=contact_id
    )
    try:
        check_undoable(record)
        undo_merge(record, _agent(request))
    except MergeError as exc:
        messages.error(request, str(exc))
        return redirect("contacts:detail", contact_id)
    messages.success(
        request,
        _("Merge undone: %(contact)s is a separate contact again.") % {"contact": record.source},
    )
    return redirect("contacts:detail", contact_id)


# --- lists -----------------------------------------------------------------------------------


def _searchable_list(
    request: HttpRequest, page_of: Callable[[str, str | None], Any], template: str
) -> HttpResponse:
    """A list with a search box and cursor pages (contacts, organizations)."""
    query = request.GET.get("q", "").strip()[:200]
    try:
        page = page_of(query, request.GET.get("cursor"))
    except ValueError:
        return _bad_request(request, _("This link is not valid any more: reload the page."))
    return render(
        request,
        template,
        {"nav": "contacts", "page": page, "query": query, "paged": bool(request.GET.get("cursor"))},
    )


@login_required
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    """Every customer, newest first, with search."""
    return _searchable_list(request, selectors.contacts_page, "contacts/contact_list.html")


@login_required
@require_GET
def organization_list(request: HttpRequest) -> HttpResponse:
    """Every organization, by name, with search."""
    return _searchable_list(
        request, selectors.organizations_page, "contacts/organization_list.html"
    )


@login_required
@require_GET
def organization_detail(request: HttpRequest, organization_id: int) -> HttpResponse:
    """An organization: its contacts and all their conversations."""
    organization = get_object_or_404(Organization, pk=organization_id)
    user = _agent(request)
    try:
        contacts = selectors.contacts_page(
            cursor=request.GET.get("contacts_cursor"), organization=organization
        )
        timeline = selectors.organization_timeline(user, organization, request.GET.get("cursor"))
    except ValueError:
        return _bad_request(request, _("This link is not valid any more: reload the page."))
    context = {
        "nav": "contacts",
        "organization": organization,
        "contacts": contacts,
        "timeline": timeline,
        "more_url": reverse("contacts:organization_conversations", args=[organization.pk]),
        "contacts_more_url": reverse("contacts:organization_contacts", args=[organization.pk]),
    }
    return render(request, "contacts/organization_detail.html", context)


@login_required
@require_GET
def organization_conversations(request: HttpRequest, organization_id: int) -> HttpResponse:
    """The next page of an organization's conversations (htmx)."""
    organization = get_object_or_404(Organization, pk=organization_id)
    try:
        page = selectors.organization_timeline(
            _agent(request), organization, request.GET.get("cursor")
        )
    except ValueError:
        return _bad_request(request, _("This link is not valid any more: reload the page."))
    context = {
        "timeline": page,
        "current": None,
        "in_panel": False,
        "show_contact": True,
        "more_url": reverse("contacts:organization_conversations", args=[organization.pk]),
    }
    return render(request, "contacts/timeline.html", context)


@login_required
@require_GET
def organization_contacts(request: HttpRequest, organization_id: int) -> HttpResponse:
    """The next page of an organization's contacts (htmx)."""
    organization = get_object_or_404(Organization, pk=organization_id)
    try:
        page = selectors.contacts_page(cursor=request.GET.get("cursor"), organization=organization)
    except ValueError:
        return _bad_request(request, _("This link is not valid any more: reload the page."))
    context = {
        "contacts": page,
        "contacts_more_url": reverse("contacts:organization_contacts", args=[organization.pk]),
    }
    return render(request, "contacts/organization_detail.html#contact-rows", context)


@login_required
@require_GET
def organization_options(request: HttpRequest) -> HttpResponse:
    """<option> suggestions for the contact form's organization field."""
    prefix = request.GET.get("organization", "").strip()[:200]
    organizations = selectors.organization_suggestions(prefix)
    return render(request, "contacts/organization_options.html", {"organizations": organizations})
