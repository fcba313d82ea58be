from __future__ import annotations

from django.urls import path

from premura.administration.views import agents, inboxes, labels, mailboxes, overview, teams

app_name = "administration"

urlpatterns = [
    path("", overview.index, name="index"),
    path("inboxes/", inboxes.inbox_list, name="inboxes"),
    path("inboxes/new/", inboxes.inbox_create, name="inbox_create"),
    path("inboxes/<int:inbox_id>/", inboxes.inbox_detail, name="inbox"),
    path(
        "inboxes/<int:inbox_id>/rotate-token/",
        inboxes.inbox_rotate_token,
        name="inbox_rotate_token",
    ),
    path(
        "inboxes/<int:inbox_id>/rotate-secret/",
        inboxes.inbox_rotate_secret,
        name="inbox_rotate_secret",
    ),
    path("inboxes/new/email/", mailboxes.mailbox_create, name="mailbox_create"),
    path(
        "inboxes/oauth/callback/", mailboxes.mailbox_oauth_callback, name="mailbox_oauth_callback"
    ),
    path("inboxes/<int:inbox_id>/email/", mailboxes.mailbox_detail, name="mailbox"),
    path("inboxes/<int:inbox_id>/email/test/", mailboxes.mailbox_test, name="mailbox_test"),
    path(
        "inboxes/<int:inbox_id>/email/oauth/", mailboxes.mailbox_oauth_start, name="mailbox_oauth"
    ),
    path(
        "inboxes/<int:inbox_id>/email/webhook-secret/",
        mailboxes.mailbox_rotate_webhook_secret,
        name="mailbox_rotate_webhook_secret",
    ),
    path(
        "inboxes/<int:inbox_id>/email/quarantine/<int:item_id>/raw/",
        mailboxes.mailbox_quarantine_raw,
        name="mailbox_quarantine_raw",
    ),
    path(
        "inboxes/<int:inbox_id>/email/quarantine/<int:item_id>/retry/",
        mailboxes.mailbox_quarantine_retry,
        name="mailbox_quarantine_retry",
    ),
    path("teams/", teams.team_list, name="teams"),
    path("teams/new/", teams.team_create, name="team_create"),
    path("teams/<int:team_id>/", teams.team_detail, name="team"),
    path("teams/<int:team_id>/members/", teams.team_add_members, name="team_add_members"),
    path(
        "teams/<int:team_id>/members/<int:user_id>/remove/",
        teams.team_remove_member,
        name="team_remove_member",
    ),
    path("teams/<int:team_id>/delete/", teams.team_delete, name="team_delete"),
    path("agents/", agents.agent_list, name="agents"),
    path("agents/new/", agents.agent_create, name="agent_create"),
    path("agents/<int:agent_id>/", agents.agent_detail, name="agent"),
    path("agents/<int:agent_id>/deactivate/", agents.agent_deactivate, name="agent_deactivate"),
    path("agents/<int:agent_id>/reactivate/", agents.agent_reactivate, name="agent_reactivate"),
    path("agents/<int:agent_id>/invite/", agents.agent_invite, name="agent_invite"),
    path("labels/", labels.label_list, name="labels"),
    path("labels/new/", labels.label_create, name="label_create"),
    path("labels/<int:label_id>/", labels.label_detail, name="label"),
    path("labels/<int:label_id>/delete/", labels.label_delete, name="label_delete"),
]
