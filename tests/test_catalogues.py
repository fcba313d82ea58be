"""Every Italian catalogue of the project is complete and keeps its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import premura

SOURCE = Path(premura.__file__).parent
CATALOGUES = sorted(SOURCE.glob("**/locale/it/LC_MESSAGES/django.po"))
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
# The catalogues that hold whole areas of the interface: a sudden drop means strings were lost.
AT_LEAST = {"administration": 100, "webforms": 100, "mail": 150}


def test_every_app_with_strings_has_a_catalogue() -> None:
    assert {path.relative_to(SOURCE).parts[0] for path in CATALOGUES} >= {
        "locale",
        *AT_LEAST,
    }


@pytest.mark.parametrize(
    "path", CATALOGUES, ids=[str(p.relative_to(SOURCE).parts[0]) for p in CATALOGUES]
)
def test_catalogue_is_complete_and_keeps_placeholders(path: Path) -> None:
    # given
    with path.open("rb") as po:
        catalogue = read_po(po, locale="it")

    # then every message is translated, with the same placeholders
    messages = [m for m in catalogue if m.id]
    assert len(messages) > AT_LEAST.get(path.relative_to(SOURCE).parts[0], 0)
    for message in messages:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {ids[0]!r}"
        assert not message.fuzzy, f"fuzzy: {ids[0]!r}"
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for index, text in enumerate(strings):
            found = set(PLACEHOLDER.findall(text))
            if len(strings) > 1 and index == 0:
                # a plural's singular may say "one" instead of the number ("e un'altra")
                assert found <= expected, ids[0]
            else:
                assert found == expected, ids[0]
