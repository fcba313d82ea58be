"""What the user typed in a search box, read the way web search engines read it.

`parse()` turns free text into a `Query`: words and "quoted phrases" that must all match, `or`
between two of them for either, and `-word` to exclude. It never fails: characters that mean
something to a database's query language are dropped here, long input is cut, and what is left
is handed to the backends only as bound parameters or as quoted tokens.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from premura.conversations.models import parse_reference

# A search is a few words; anything longer is pasted by mistake or hostile. Cutting it keeps the
# query plan and the work per row small.
MAX_CHARS = 200
MAX_UNITS = 12
# Shorter words are matched whole, never as a prefix: "a*" would read most of an index.
MIN_PREFIX = 3
MIN_STEM = 4

# The accents folded on both sides of PostgreSQL's full-text search: the index expression in
# migrations/0001_initial.py applies this same translate() to the text, so the two must agree.
FOLD_FROM = "ÀÁÂÄÈÉÊËÌÍÎÏÒÓÔÖÙÚÛÜàáâäèéêëìíîïòóôöùúûüÇçÑñ"
FOLD_TO = "AAAAEEEEIIIIOOOOUUUUaaaaeeeeiiiioooouuuuCcNn"
FOLD = str.maketrans(FOLD_FROM, FOLD_TO)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN = re.compile(r"[^\W_]+")
_PIECE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Unit:
    """A word (as typed, punctuation included) or a phrase, and its tokens."""

    text: str
    tokens: tuple[str, ...]
    phrase: bool = False


@dataclass
class Query:
    """Every group must match (AND); a group matches when one of its units does (OR)."""

    groups: list[list[Unit]] = field(default_factory=list)
    excluded: list[Unit] = field(default_factory=list)
    text: str = ""

    @property
    def words(self) -> list[str]:
        """Every token of the units that must match, in order, without repeats."""
        seen: dict[str, None] = {}
        for group in self.groups:
            for unit in group:
                seen.update(dict.fromkeys(unit.tokens))
        return list(seen)

    @property
    def reference(self) -> int | None:
        """The conversation id when the whole text is a reference: PRM-000123, #123 or 123."""
        text = self.text.strip().lstrip("#")
        number = parse_reference(text)
        if number is None and text.isascii() and text.isdigit():
            number = int(text)
        return number if number is not None and 0 < number <= _MAX_ID else None


def clean(text: str) -> str:
    """The text without control characters (NUL included), normalised, cut to MAX_CHARS."""
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text[: MAX_CHARS * 4]))
    return text[:MAX_CHARS].strip()


def tokens(text: str) -> tuple[str, ...]:
    """The words of `text` as the FTS5 tokenizer and PostgreSQL's parser split them, lower-case."""
    return tuple(_TOKEN.findall(text.lower()))


def parse(text: str) -> Query:
    """Read `text` as a web search: words, "phrases", `or`, `-excluded`."""
    text = clean(text)
    query = Query(text=text)
    pending_or = False
    for match in _PIECE.finditer(text):
        minus, phrase, word = match.group(1, 2, 3)
        negated = bool(minus)
        if word is not None:
            if word.lower() == "or" and query.groups:
                pending_or = True
                continue
            if word.startswith("-"):
                negated, word = True, word.lstrip("-")
        raw = phrase if phrase is not None else word or ""
        unit_tokens = tokens(raw)
        if not unit_tokens:
            continue
        if len(query.groups) + len(query.excluded) >= MAX_UNITS:
            break
        unit = Unit(text=raw.replace('"', " "), tokens=unit_tokens, phrase=phrase is not None)
        if negated:
            query.excluded.append(unit)
        elif pending_or:
            query.groups[-1].append(unit)
        else:
            query.groups.append([unit])
        pending_or = False
    return query


# --- Stems for SQLite --------------------------------------------------------------------------
# FTS5 has no Italian stemmer, so the SQLite backend matches a word by the prefix that its
# inflected forms share: "rimborsi" → rimbors* finds rimborso, rimborsare; "refunds" → refund*.
# PostgreSQL uses the real Snowball stemmers instead.

_IT_SUFFIXES = (
    "amenti", "amento", "imenti", "imento", "azioni", "azione", "mente", "zioni", "zione",
    "ando", "endo", "are", "ere", "ire", "ato", "ata", "ati", "ate", "uto", "uta", "uti", "ute",
    "ito", "ita", "iti", "ite", "a", "e", "i", "o",
)  # fmt: skip
_EN_SUFFIXES = (
    "ations", "ation", "ments", "ment", "ness", "ings", "ing", "ies", "ied", "edly", "ed",
    "es", "ly", "s",
)  # fmt: skip


def _strip(word: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            return word[: -len(suffix)]
    return word


def _undouble(word: str) -> str:
    if len(word) > MIN_STEM and word[-1] == word[-2] and word[-1] not in "aeiou":
        return word[:-1]
    return word


def stems(token: str) -> list[str]:
    """The prefixes under which `token` is searched: its Italian and English stems."""
    word = unicodedata.normalize("NFKD", token)
    word = "".join(ch for ch in word if not unicodedata.combining(ch))
    if len(word) < MIN_STEM or not word.isalpha():
        return []
    found = {_strip(word, _IT_SUFFIXES), _undouble(_strip(word, _EN_SUFFIXES))}
    return sorted(found)
