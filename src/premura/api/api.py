"""The REST API: /api/v1/…, OpenAPI at /api/openapi.json, browsable docs at /api/docs."""

from __future__ import annotations

from ninja import NinjaAPI

from premura.accounts.api import router as accounts_router
from premura.api import errors
from premura.channels.api import admin_router as inboxes_router
from premura.channels.api import router as api_channel_router
from premura.contacts.api import router as contacts_router
from premura.conversations.api import router as conversations_router
from premura.mail.api import router as email_inboxes_router
from premura.routing.api import router as teams_router

api = NinjaAPI(
    title="Premura API",
    version="1",
    description=(
        "Customer care over one case history per customer. Agents authenticate with a personal "
        "token (`Authorization: Bearer prm_pat_…`); the API channel's inbound endpoints use the "
        "inbox token (`prm_in_…`). See docs/api.md."
    ),
    urls_namespace="api-1",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
errors.install(api)
api.add_router("/v1/", api_channel_router)
api.add_router("/v1/", conversations_router)
api.add_router("/v1/", contacts_router)
api.add_router("/v1/", inboxes_router)
api.add_router("/v1/", email_inboxes_router)
api.add_router("/v1/", teams_router)
api.add_router("/v1/", accounts_router)
