"""Data migrations of email inboxes keep what admins had configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("mail", "0002_no_deleted_email_table")]
AFTER = [("mail", "0003_provider_api_url")]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        yield executor
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_provider_options_move_from_the_inbox_settings_to_the_mailbox(
    executor: MigrationExecutor,
) -> None:
    # given a Postal inbox whose API address was kept in the inbox's settings (before 0003)
    apps = executor.loader.project_state(BEFORE).apps
    inbox = apps.get_model("premura_channels", "Inbox").objects.create(
        name="Postal",
        kind="email",
        settings={"anymail": {"api_url": "https://postal.shop.example", "sender_domain": "mg.x"}},
    )
    apps.get_model("mail", "Mailbox").objects.create(
        inbox_id=inbox.pk, address="help@shop.example", outbound="anymail", esp_name="postal"
    )
    # when the migration runs
    executor.loader.build_graph()
    executor.migrate(AFTER)
    # then the mailbox holds them as its own settings
    after = MigrationExecutor(connection).loader.project_state(AFTER).apps
    mailbox = after.get_model("mail", "Mailbox").objects.get(inbox_id=inbox.pk)
    assert (mailbox.esp_api_url, mailbox.esp_sender_domain) == (
        "https://postal.shop.example",
        "mg.x",
    )
