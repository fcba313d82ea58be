"""Full-text search over conversations and contacts, on SQLite (FTS5) and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection

from premura.channels.services import NewAPIInbox
from premura.contacts.models import Contact, Identity
from premura.conversations.models import Conversation, Message, format_reference
from premura.conversations.services import add_note
from premura.demo.generator import generate
from premura.routing.models import Team
from premura.search import backends, query
from premura.search.api import contacts_matching, conversations_matching, rebuild
from tests.search.conftest import Say, found

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["collect", "walk"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs under both plans: words taken as rare (collect) and as common (walk)."""
    threshold = 10**9 if request.param == "collect" else -1
    monkeypatch.setattr("premura.search.api.common", lambda total: threshold)
    return str(request.param)


def search(text: str) -> list[int]:
    return found(conversations_matching(Conversation.objects.all(), text))


def contacts(text: str) -> list[int]:
    return found(contacts_matching(Contact.objects.all(), text))


# --- Words, stemming, accents ------------------------------------------------------------------


def test_italian_stemming_finds_other_forms_of_a_word(say: Say) -> None:
    # given
    refund = say("Vorrei il rimborso dell'ordine 4471", thread="a", customer="c1")
    say("La fattura è sbagliata", thread="b", customer="c2")

    # when / then
    assert search("rimborsi") == [refund.conversation_id]
    assert search("rimborsare") == [refund.conversation_id]
    assert search("RIMBORSO") == [refund.conversation_id]


def test_english_stemming_finds_other_forms_of_a_word(say: Say) -> None:
    # given
    refund = say("I was refunded twice for the shipping", thread="a", customer="c1")
    say("Where is my parcel?", thread="b", customer="c2")

    # when / then
    assert search("refunds") == [refund.conversation_id]
    assert search("shipped") == [refund.conversation_id]


def test_each_word_may_match_in_either_language(say: Say) -> None:
    # given an Italian message with an English word in it
    mixed = say("Il rimborso della subscription non è arrivato", thread="a", customer="c1")
    say("Rimborsi e altro", thread="b", customer="c2")

    # when / then: an Italian stem and an English plural together
    assert search("rimborsi subscriptions") == [mixed.conversation_id]


def test_accents_do_not_matter(say: Say) -> None:
    # given
    accented = say("Perché la città non è servita?", thread="a", customer="c1")
    plain = say("Perche il caffe e freddo", thread="b", customer="c2")

    # when / then
    assert search("perche citta") == [accented.conversation_id]
    assert search("caffè") == [plain.conversation_id]
    assert search("perché") == sorted([accented.conversation_id, plain.conversation_id])


def test_subject_matches(say: Say) -> None:
    # given
    mail = say("Vedi sotto.", thread="a", customer="c1", subject="Fattura elettronica errata")
    say("Vedi sotto.", thread="b", customer="c2", subject="Password dimenticata")

    # when / then
    assert search("fatture") == [mail.conversation_id]


def test_private_notes_and_agent_replies_are_searched_too(say: Say, admin: object) -> None:
    # given
    message = say("Buongiorno", thread="a", customer="c1")
    conversation = message.conversation
    add_note(conversation, admin, "Cliente VIP: escalation al reparto spedizioni")  # type: ignore[arg-type]
    say("Buongiorno", thread="b", customer="c2")

    # when / then
    assert search("escalation") == [conversation.pk]


def test_a_word_found_in_many_messages_lists_the_conversation_once(say: Say) -> None:
    # given
    first = say("ordine in ritardo", thread="a")
    say("l'ordine è ancora in ritardo", thread="a")
    say("ordine ordine ordine", thread="a")

    # when
    result = list(conversations_matching(Conversation.objects.all(), "ordine"))

    # then
    assert [row.pk for row in result] == [first.conversation_id]


# --- Web search syntax -------------------------------------------------------------------------


def test_quoted_phrase_matches_words_in_that_order(say: Say) -> None:
    # given
    in_order = say("Il mio ordine non è mai arrivato", thread="a", customer="c1")
    say("Non è arrivato niente, e il mio ordine?", thread="b", customer="c2")

    # when / then
    assert search('"ordine non è mai arrivato"') == [in_order.conversation_id]
    assert len(search("ordine arrivato")) == 2


def test_minus_excludes_a_word(say: Say) -> None:
    # given
    say("Ordine e rimborso", thread="a", customer="c1")
    only_order = say("Ordine in ritardo", thread="b", customer="c2")

    # when / then
    assert search("ordine -rimborso") == [only_order.conversation_id]
    assert search('ordine -"e rimborso"') == [only_order.conversation_id]


def test_or_matches_either_word(say: Say) -> None:
    # given
    invoice = say("Fattura sbagliata", thread="a", customer="c1")
    refund = say("Rimborso mancante", thread="b", customer="c2")
    say("Password dimenticata", thread="c", customer="c3")

    # when / then
    assert search("fattura or rimborso") == sorted(
        [invoice.conversation_id, refund.conversation_id]
    )
    assert search("mancante fattura OR rimborso") == [refund.conversation_id]


def test_only_excluded_words_find_nothing(say: Say) -> None:
    # given
    say("Ordine in ritardo")

    # when / then
    assert search("-rimborso") == []
    assert search("") == []
    assert search("   ") == []


# --- Contacts ----------------------------------------------------------------------------------


def test_contact_words_match_by_prefix(say: Say) -> None:
    # given
    say("Ciao", thread="a", customer="c1", name="Giulia Rossi")
    say("Ciao", thread="b", customer="c2", name="Giuseppe Bianchi")
    say("Ciao", thread="c", customer="c3", name="Anna Rossetti")
    giulia, giuseppe, anna = (
        Contact.objects.get(name=n) for n in ("Giulia Rossi", "Giuseppe Bianchi", "Anna Rossetti")
    )

    # when / then
    assert contacts("giu") == sorted([giulia.pk, giuseppe.pk])
    assert contacts("giu ros") == [giulia.pk]
    assert contacts("ross") == sorted([giulia.pk, anna.pk])
    assert contacts("Nobody") == []


def test_contact_name_accents_do_not_matter(say: Say) -> None:
    # given
    say("Ciao", thread="a", customer="c1", name="Nicolò Müller")
    nicolo = Contact.objects.get(name="Nicolò Müller")

    # when / then
    assert contacts("nicolo") == [nicolo.pk]
    assert contacts("NICOLÒ mull") == [nicolo.pk]


def test_contact_email_whole_or_in_part(say: Say) -> None:
    # given
    say("Ciao", thread="a", customer="c1", name="Giulia", email="Giulia.Rossi@Example.com")
    say("Ciao", thread="b", customer="c2", name="Marta", email="marta@posta.example.net")
    giulia = Contact.objects.get(name="Giulia")

    # when / then
    assert contacts("giulia.rossi@example.com") == [giulia.pk]
    assert contacts("GIULIA.ROSSI@EXAMPLE.COM") == [giulia.pk]
    assert contacts("rossi@example") == [giulia.pk]
    assert search("giulia.rossi@example.com") == [giulia.conversations.get().pk]


@pytest.mark.parametrize(
    "typed",
    ["+39 347 123 4567", "347 1234567", "347-123-4567", "0039 347 1234567", "+393471234567"],
)
def test_phone_in_any_format(say: Say, typed: str) -> None:
    # given
    say("Ciao", thread="a", customer="c1", name="Paolo", phone="+393471234567")
    say("Ciao", thread="b", customer="c2", name="Piero", phone="+393337654321")
    paolo = Contact.objects.get(name="Paolo")

    # when / then
    assert contacts(typed) == [paolo.pk]
    assert search(typed) == [paolo.conversations.get().pk]


def test_identity_external_id_finds_the_contact(say: Say, api_inbox: NewAPIInbox) -> None:
    # given
    say("Ciao", thread="a", customer="crm-000042", name="Paolo")
    say("Ciao", thread="b", customer="crm-000043", name="Piero")
    Identity.objects.create(
        contact=Contact.objects.get(name="Piero"),
        kind=Identity.Kind.WHATSAPP,
        external_id="393337654321",
    )

    # when / then
    assert contacts("crm-000042") == [Contact.objects.get(name="Paolo").pk]
    assert contacts("+39 333 765 4321") == [Contact.objects.get(name="Piero").pk]


def test_conversations_of_a_contact_found_by_name(say: Say) -> None:
    # given
    first = say("Ciao", thread="a", customer="c1", name="Giulia Rossi")
    second = say("Salve", thread="b", customer="c1", name="Giulia Rossi")
    say("Ciao", thread="c", customer="c2", name="Anna Bianchi")

    # when / then
    assert search("Giulia Rossi") == sorted([first.conversation_id, second.conversation_id])


# --- References --------------------------------------------------------------------------------


def test_a_reference_finds_its_conversation(say: Say) -> None:
    # given
    say("Ciao", thread="a", customer="c1")
    wanted = say("Salve", thread="b", customer="c2").conversation
    reference = format_reference(wanted.pk)

    # when / then
    assert search(reference) == [wanted.pk]
    assert search(reference.lower()) == [wanted.pk]
    assert search(f"#{wanted.pk}") == [wanted.pk]
    assert search(str(wanted.pk)) == [wanted.pk]
    assert search("PRM-999999999") == []
    assert search("9" * 40) == []


def test_a_reference_quoted_in_a_message_finds_that_message_too(say: Say) -> None:
    # given a customer quoting another case's reference
    old = say("Ciao", thread="a", customer="c1").conversation
    quoting = say(f"Riguarda la pratica {format_reference(old.pk)}", thread="b", customer="c1")

    # when / then
    assert search(format_reference(old.pk)) == sorted([old.pk, quoting.conversation_id])


# --- The caller's queryset ---------------------------------------------------------------------


def test_results_stay_within_the_queryset_given(say: Say, legal_team: Team) -> None:
    # given two matching conversations, one moved to another team
    visible = say("Ordine in ritardo", thread="a", customer="c1")
    hidden = say("Ordine perso", thread="b", customer="c2")
    Conversation.objects.filter(pk=hidden.conversation_id).update(team=legal_team)
    queryset = Conversation.objects.exclude(team=legal_team)

    # when
    result = conversations_matching(queryset, "ordine")

    # then
    assert found(result) == [visible.conversation_id]


def test_caller_filters_ordering_and_slicing_apply_on_top(say: Say) -> None:
    # given
    ids = [
        say(f"Ordine numero {n}", thread=f"t{n}", customer=f"c{n}").conversation_id
        for n in range(5)
    ]
    Conversation.objects.filter(pk=ids[2]).update(status=Conversation.Status.RESOLVED)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for offset, pk in enumerate(ids):
        Conversation.objects.filter(pk=pk).update(
            last_activity_at=now + dt.timedelta(minutes=offset)
        )

    # when
    page = (
        conversations_matching(Conversation.objects.all(), "ordine")
        .filter(status=Conversation.Status.OPEN)
        .order_by("-last_activity_at", "-id")[:2]
    )

    # then
    assert [row.pk for row in page] == [ids[4], ids[3]]


def test_contacts_stay_within_the_queryset_given(say: Say) -> None:
    # given
    say("Ciao", thread="a", customer="c1", name="Giulia Rossi")
    say("Ciao", thread="b", customer="c2", name="Giulia Bianchi")
    bianchi = Contact.objects.get(name="Giulia Bianchi")

    # when
    result = contacts_matching(Contact.objects.filter(pk=bianchi.pk), "giulia")

    # then
    assert found(result) == [bianchi.pk]


# --- Keeping the index in step -----------------------------------------------------------------


def test_an_edited_message_is_found_by_its_new_words_only(say: Say) -> None:
    # given
    message = say("Il pacco è arrivato rotto")
    assert search("rotto") == [message.conversation_id]

    # when
    Message.objects.filter(pk=message.pk).update(text="Il pacco è arrivato bagnato")

    # then
    assert search("rotto") == []
    assert search("bagnato") == [message.conversation_id]


def test_a_deleted_message_is_no_longer_found(say: Say) -> None:
    # given
    keep = say("Buongiorno", thread="a")
    gone = say("Ho un reclamo", thread="a")

    # when
    Message.objects.filter(pk=gone.pk).delete()

    # then
    assert search("reclamo") == []
    assert search("buongiorno") == [keep.conversation_id]


def test_a_deleted_conversation_and_changed_subject_leave_no_trace(say: Say) -> None:
    # given
    first = say("Ciao", thread="a", customer="c1", subject="Reso prodotto").conversation
    second = say("Ciao", thread="b", customer="c2", subject="Reso prodotto").conversation

    # when
    Conversation.objects.filter(pk=first.pk).update(subject="Cambio indirizzo")
    Conversation.objects.filter(pk=second.pk).delete()

    # then
    assert search("reso") == []
    assert search("indirizzo") == [first.pk]


def test_a_renamed_or_deleted_contact_is_found_by_its_new_name_only(say: Say) -> None:
    # given
    say("Ciao", thread="a", customer="c1", name="Giulia Rossi")
    contact = Contact.objects.get(name="Giulia Rossi")

    # when
    contact.name = "Giulia Verdi"
    contact.save()

    # then
    assert contacts("rossi") == []
    assert contacts("verdi") == [contact.pk]


def test_rebuild_keeps_every_index_answering(say: Say) -> None:
    # given
    message = say("Rimborso richiesto", name="Giulia Rossi")

    # when
    rebuild()

    # then
    assert search("rimborsi") == [message.conversation_id]
    assert contacts("giu") == [message.conversation.contact_id]


@pytest.mark.django_db(transaction=True)
def test_the_demo_generator_bulk_load_is_searchable() -> None:
    # given the bulk writer (COPY / executemany, no ORM)
    generate(20, seed=3, progress=False)
    message = Message.objects.exclude(text="").order_by("id").first()
    assert message is not None
    word = max(query.tokens(message.text), key=len)

    # when
    result = search(word)

    # then
    assert message.conversation_id in result
    contact = Contact.objects.exclude(name="").order_by("id").first()
    assert contact is not None
    assert contact.pk in contacts(contact.name.split()[0][:3])


# --- Hostile input -----------------------------------------------------------------------------

HOSTILE = [
    '"',
    '""',
    "*",
    "ordine*",
    "NEAR(",
    "NEAR(ordine rimborso, 2)",
    "-",
    "--",
    "- -",
    ":",
    "text:ordine",
    '"unbalanced ordine',
    'ordine "',
    "(",
    ")",
    "AND",
    "OR",
    "ordine OR",
    "or ordine",
    "NOT ordine",
    "^ordine",
    "!!ordine",
    "ordine & | ! <-> <2>",
    "ordine:*",
    "'",
    "'; DROP TABLE conversations_message; --",
    "\\",
    "%",
    "_",
    "\x00",
    "ordi\x00ne",
    "\x00ordine",
    "ordine\x1b[31m",
    "🙂 ordine",
    "ordine " * 2000,
    "x" * 10_000,
    "a" * 10_000 + " ordine",
    "-" * 5000,
    '"' * 5000,
    "PRM-",
    "PRM-99999999999999999999999",
    "#",
    "0",
    "+",
    "@",
    "@@@",
    "+39",
    "ⅷ",
    "ﬁ",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_never_raises(say: Say, text: str) -> None:
    # given
    say("Il mio ordine", name="Giulia Rossi", email="giulia@example.com")

    # when
    conversations = list(conversations_matching(Conversation.objects.all(), text))
    people = list(contacts_matching(Contact.objects.all(), text))

    # then: a sensible answer or nothing, never an error
    assert len(conversations) <= 1
    assert len(people) <= 1


def test_hostile_input_still_finds_the_words_in_it(say: Say) -> None:
    # given
    message = say("Il mio ordine")

    # when / then
    for text in ("ordine*", '"ordine', "(ordine)", "ordine:", "-- ordine", "ordine -"):
        assert search(text) == [message.conversation_id], text
    assert search("\x00ordine") == [message.conversation_id]


# --- Cost --------------------------------------------------------------------------------------


def test_a_search_is_one_query_whatever_it_finds(
    say: Say, django_assert_num_queries: object
) -> None:
    # given
    for n in range(30):
        say(f"Ordine {n} in ritardo", thread=f"t{n}", customer=f"c{n}", name="Giulia Rossi")
    queryset = Conversation.objects.select_related("contact").order_by("-last_activity_at", "-id")

    # when / then: building asks how common the words are, the first page is one statement
    with django_assert_num_queries(1):  # type: ignore[operator]
        page = conversations_matching(queryset, "ordine giulia or ritardo")
    with django_assert_num_queries(0):  # type: ignore[operator]
        people = contacts_matching(Contact.objects.all(), "giu ros")
    with django_assert_num_queries(1):  # type: ignore[operator]
        rows = list(page[:26])
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert len(list(people)) == 30
    assert len(rows) == 26
    # and the same search again (the next page, say) reuses the plan: no planning statement
    with django_assert_num_queries(0):  # type: ignore[operator]
        again = conversations_matching(queryset, "ordine giulia or ritardo")
    assert [c.pk for c in list(again[:26])] == [c.pk for c in rows]


def test_the_migration_and_the_queries_fold_accents_the_same_way() -> None:
    # given
    migration = importlib.import_module("premura.search.migrations.0001_initial")

    # then: the index expressions and the query side must agree, or indexes go unused
    assert f"'{query.FOLD_FROM}', '{query.FOLD_TO}'" == migration.FOLD
    assert backends.CONTACT_VECTOR == migration.CONTACT_VECTOR
    assert len(query.FOLD_FROM) == len(query.FOLD_TO)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL index usage")
def test_postgresql_searches_use_the_indexes(say: Say, plan: str) -> None:
    # given
    say("Ordine in ritardo", name="Giulia Rossi")
    sql, params = conversations_matching(
        Conversation.objects.all(), "ordine giulia"
    ).query.sql_with_params()
    contact_sql, contact_params = contacts_matching(
        Contact.objects.all(), "giu"
    ).query.sql_with_params()

    # when
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        explained = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN " + contact_sql, contact_params)
        contact_plan = "\n".join(row[0] for row in cursor.fetchall())

    # then: rare words are collected from the GIN indexes, common ones probed per conversation
    if plan == "collect":
        assert "search_message_vector_idx" in explained
        assert "search_conversation_vector_idx" in explained
    else:
        assert "message_sequence_unique" in explained
    assert "search_contact_vector_idx" in contact_plan


def test_the_search_still_works_inside_another_query(say: Say) -> None:
    # given the search used as a subquery, where Django renames the conversations table
    wanted = say("Ordine in ritardo", thread="a", customer="c1")
    say("Altro", thread="b", customer="c2")
    inner = conversations_matching(Conversation.objects.all(), "ordine").values("pk")

    # when
    result = Conversation.objects.filter(pk__in=inner)

    # then
    assert found(result) == [wanted.conversation_id]


def test_common_is_the_point_where_walking_beats_collecting() -> None:
    # then: a floor for small tables, the square root of page size times the table beyond it
    assert backends.common(0) == 2000
    assert backends.common(1_000_000) == 10198
    assert backends.common(5_000_000) == 22802
