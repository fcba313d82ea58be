"""parse_email, split_reply and the HTML quote wrapping, on real client layouts and hostile input."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from premura.mail.loops import Bounce
from premura.mail.parsing import (
    MAX_PARTS,
    MAX_TEXT_CHARS,
    ParsedAttachment,
    UnparseableEmail,
    parse_email,
)
from premura.mail.quoting import clean_html, split_reply

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"
QUOTED = '<div data-quoted="">'
# Generous: the hostile inputs below parse in well under a second; before the limits, a deep
# HTML nesting took 20 s and a 200 kB Subject 0.6 s.
BOUNDED_SECONDS = 10.0


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def split_html(html: str) -> tuple[str, str]:
    """(before the quoted part, the quoted part) of parsed HTML with exactly one quoted part."""
    assert html.count(QUOTED) == 1
    before, quoted = html.split(QUOTED)
    return before, quoted


# --- real client layouts ---------------------------------------------------------------------


def test_gmail_reply_headers():
    # given
    raw = load("gmail-reply.eml")

    # when
    parsed = parse_email(raw, own_addresses=frozenset({"support@acme.example"}))

    # then
    assert parsed.message_id == "CAF8yZ=3kXv0qY9mJt2Lw7rQp1cV4nB6hD5sG8aK0eU3oT2iR7w@mail.gmail.com"
    assert parsed.in_reply_to == ("prm.0f1e2d3c4b5a69788796a5b4c3d2e1f0@acme.example",)
    assert parsed.references == ("prm.0f1e2d3c4b5a69788796a5b4c3d2e1f0@acme.example",)
    assert parsed.subject == "Re: Il suo ordine 1234 [PRM-000123]"
    assert (parsed.from_name, parsed.from_address) == ("Mario Rossi", "mario.rossi.1984@gmail.com")
    assert parsed.reply_to == ""
    assert parsed.to == ("support@acme.example",)
    assert parsed.cc == ()
    assert parsed.date == datetime(2025, 3, 4, 10, 12, 37, tzinfo=timezone(timedelta(hours=1)))
    assert parsed.attachments == ()
    assert (parsed.automated, parsed.bounce) == ("", None)


def test_gmail_reply_quote_is_wrapped_and_split():
    # given
    raw = load("gmail-reply.eml")

    # when
    parsed = parse_email(raw)
    reply, rest = split_reply(parsed.text)

    # then
    before, quoted = split_html(parsed.html)
    assert before == (
        "<div><div>Buongiorno,</div><div>il pacco non è ancora arrivato. Potete verificare?</div>"
        "<div><br></div><div>Grazie</div><div>Mario</div></div><br>"
    )
    assert quoted.startswith("<div><div>Il giorno mar 4 mar 2025 alle ore 09:30 Assistenza Acme")
    assert "il suo ordine 1234 è stato spedito ieri" in quoted
    assert quoted.endswith("</blockquote></div></div>")
    assert (
        reply
        == "Buongiorno,\nil pacco non è ancora arrivato. Potete verificare?\n\nGrazie\nMario\n"
    )
    assert rest.startswith("\nIl giorno mar 4 mar 2025 alle ore 09:30 Assistenza Acme")
    assert reply + rest == parsed.text


def test_outlook_web_reply_threads_and_quotes_from_appendonsend_to_the_end():
    # given
    raw = load("outlook-web-reply.eml")

    # when
    parsed = parse_email(raw)
    reply, rest = split_reply(parsed.text)

    # then
    assert parsed.message_id == (
        "AM9PR07MB72191C3E5D8A4B0F6E2A9C77B4C82@AM9PR07MB7219.eurprd07.prod.outlook.com"
    )
    assert parsed.in_reply_to == ("prm.1a2b3c4d5e6f708192a3b4c5d6e7f809@acme.example",)
    assert parsed.references == (
        "prm.7c1d5e2f9a8b4c3d2e1f0a9b8c7d6e5f@acme.example",
        "prm.1a2b3c4d5e6f708192a3b4c5d6e7f809@acme.example",
    )
    assert parsed.subject == "RE: Invoice 2025/117 [PRM-000124]"
    assert parsed.from_address == "anna.bianchi@contoso.example"
    assert parsed.date == datetime(2025, 3, 4, 8, 41, 17, tzinfo=UTC)
    before, quoted = split_html(parsed.html)
    assert "Could you send a corrected one?" in before
    assert "Kind regards," in before
    assert "From:" not in before
    assert quoted.startswith("<div></div>\n<hr>\n<div><b>From:</b> Acme Support")
    assert "please find the invoice attached." in quoted
    assert reply == (
        "Hello,\n\nthe invoice is still missing the VAT number. Could you send a corrected one?\n"
    )
    assert rest.startswith("\nKind regards,\nAnna Bianchi\nContoso S.p.A.\n\n______")
    assert reply + rest == parsed.text


def test_outlook_desktop_reply_quote_block_inside_the_body_divs_is_lifted_out():
    # given
    raw = load("outlook-desktop-reply.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.subject == "R: Ritiro reso [PRM-000125]"
    assert parsed.message_id == "001301db8cd6$4a5b6c70$df0e4550$@fabbrica.example"
    assert parsed.in_reply_to == ("prm.5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b@acme.example",)
    before, quoted = split_html(parsed.html)
    assert "confermo il ritiro per giovedì mattina." in before
    assert "Gentile Paolo" not in before
    # The quote starts inside two divs: they are closed before the wrapper and reopened in it.
    assert before.endswith("<div>\n</div></div>")
    assert quoted.startswith("<div><div><div>\n<p><b>Da:</b> Assistenza Acme")
    assert "quando possiamo passare a ritirare il reso?" in quoted
    assert split_reply(parsed.text)[0] == (
        "Buongiorno,\n\nconfermo il ritiro per giovedì mattina.\n\nSaluti\nPaolo Verdi\n"
    )


def test_thunderbird_reply_cite_prefix_blockquote_and_signature_fold_together():
    # given
    raw = load("thunderbird-reply.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.html == (
        "<p>Ciao,</p>\n    <p>ho allegato lo scontrino.<br>\n    </p>\n    "
        '<div data-quoted=""><div>Il 03/03/25 18:11, Assistenza Acme ha\n      scritto:<br>\n'
        '    </div>\n    <blockquote cite="mid:prm.9a8b7c6d5e4f30211203f4e5d6c7b8a9@acme.example">\n'
        "      <p>Può inviarci lo scontrino d'acquisto?</p>\n      <p>Grazie</p>\n    </blockquote>\n"
        "    <div>-- <br>\n      Elena Neri</div></div>"
    )
    assert split_reply(parsed.text)[0] == "Ciao,\n\nho allegato lo scontrino.\n"


def test_outlook_out_of_office_is_automated():
    # given
    raw = load("outlook-out-of-office.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.automated == "auto-submitted"
    assert parsed.subject == "Risposta automatica: Invoice 2025/117 [PRM-000124]"
    assert parsed.in_reply_to == ("prm.aa11bb22cc33dd44ee55ff6600778899@acme.example",)
    assert parsed.text.startswith("Sono fuori ufficio fino al 10 marzo, con accesso limitato")


def test_mailing_list_message_is_automated():
    # given
    raw = load("google-groups-list.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.automated == "list"
    assert parsed.from_address == "marco.gialli@partner.example"
    assert parsed.reply_to == "acme-partners@googlegroups.com"
    assert parsed.date == datetime(2025, 3, 4, 1, 59, 58, tzinfo=timezone(timedelta(hours=-8)))


def test_windows_1252_body_declared_utf8_decodes_without_mojibake():
    # given
    raw = load("windows-1252-declared-utf8.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.subject == "Rimborso ordine n° 5521"
    assert parsed.text == (
        "Gentile cliente,\n\nil rimborso di 49,90 € per l'ordine n° 5521 è stato disposto oggi. "
        "Riceverà l'accredito entro 5 giorni lavorativi.\n\n"
        "“Grazie per aver scelto Bottega Verdi” – lo staff\n"
    )


def test_html_only_keeps_cid_and_remote_images_and_derives_the_text():
    # given
    raw = load("html-only-cid-remote-image.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.subject == "Prodotto danneggiato – foto"
    assert parsed.html == (
        "<p>Buongiorno, vi invio la foto del prodotto danneggiato:</p>\n"
        '<p><img src="cid:foto-danno-01@iphone.example" alt="foto" width="320"></p>\n'
        "<p>Il modello è quello del vostro catalogo:</p>\n"
        '<p><img src="https://cdn.catalogo.example/prodotti/lampada-42.jpg" alt="catalogo"></p>\n'
        '<p><a href="https://tracking.example/open?id=abc" rel="noopener noreferrer nofollow">'
        "traccia</a></p>\n\n<p>Sara</p>"
    )
    assert parsed.text == (
        "Buongiorno, vi invio la foto del prodotto danneggiato:\n\n"
        "Il modello è quello del vostro catalogo:\n\ntraccia\n\nSara"
    )
    assert len(parsed.attachments) == 1
    image = parsed.attachments[0]
    assert (image.filename, image.content_type, image.content_id, image.inline) == (
        "IMG_0042.png",
        "image/png",
        "foto-danno-01@iphone.example",
        True,
    )
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(image.content) == 70


def test_winmail_dat_is_kept_as_an_attachment():
    # given
    raw = load("mimekit__ukr.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert [(a.filename, a.content_type, len(a.content)) for a in parsed.attachments] == [
        ("winmail.dat", "application/ms-tnef", 9566)
    ]
    assert parsed.attachments[0].content.startswith(b"\x78\x9f\x3e\x22")  # the TNEF signature
    assert parsed.text.startswith("шостий\n")


def test_smime_signature_is_kept_as_an_attachment():
    # given
    raw = load("ruby-mail__raw_email2.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert [(a.filename, a.content_type, len(a.content)) for a in parsed.attachments] == [
        ("smime.p7s", "application/pkcs7-signature", 2361)
    ]
    assert parsed.text.startswith("We should not include these files or vcards as attachments.")


def test_dsn_bounce_names_the_message_that_failed():
    # given
    raw = load("flanker__mailbox-full.eml")

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.automated == "bounce"
    assert parsed.bounce == Bounce(
        original_message_id="4E326A95.3010907@example.com",
        recipient="user@aol.com",
        status="5.2.2",
        diagnostic="552 5.2.2 E4.12 user MAILBOX FULL",
        permanent=True,
    )
    assert parsed.from_address == "mailer-daemon@aol.com"
    assert parsed.text.startswith("*** ATTENTION ***\n\nYour e-mail is being returned to you")


# --- headers and bodies ------------------------------------------------------------------------


def test_missing_from_and_unparsable_date():
    # given
    raw = b"Subject: hello\r\nDate: the day after tomorrow\r\n\r\nbody\r\n"

    # when
    parsed = parse_email(raw)

    # then
    assert (parsed.from_name, parsed.from_address, parsed.date) == ("", "", None)
    assert (parsed.message_id, parsed.in_reply_to, parsed.references) == ("", (), ())
    assert parsed.text == "body\n"


def test_encoded_words_in_headers_and_attachment_names():
    # given
    raw = (
        b"From: =?iso-8859-1?Q?Jos=E9_Mu=F1oz?= <Jose.Munoz@Example.ES>\r\n"
        b"To: a@example.com, =?utf-8?B?w4lsb2RpZQ==?= <elodie@example.fr>, undisclosed-recipients:;\r\n"
        b"Cc: <C@Example.com>\r\n"
        b"Reply-To: Support <Help@Example.ES>\r\n"
        b"Subject: =?utf-8?Q?Caf=C3=A9?= =?utf-8?Q?_cr=C3=A8me?= ok\r\n"
        b"Date: Tue, 4 Mar 2025 10:00:00 -0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''fattura%20n%C2%B01.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
        b"--b\r\nContent-Type: application/octet-stream; name==?utf-8?B?cmVww7lydC56aXA=?=\r\n"
        b"Content-Disposition: attachment; filename==?utf-8?B?cmVww7lydC56aXA=?=\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n"
        b"--b--\r\n"
    )

    # when
    parsed = parse_email(raw)

    # then
    assert (parsed.from_name, parsed.from_address) == ("José Muñoz", "jose.munoz@example.es")
    assert parsed.to == ("a@example.com", "elodie@example.fr")
    assert parsed.cc == ("c@example.com",)
    assert parsed.reply_to == "help@example.es"
    assert parsed.subject == "Café crème ok"
    # "-0000": UTC with an unknown zone.
    assert parsed.date == datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    assert parsed.text == "Grüße"
    assert parsed.attachments == (
        ParsedAttachment("fattura n°1.pdf", "application/pdf", b"%PDF-1.4\n"),
        ParsedAttachment("repùrt.zip", "application/octet-stream", b"PK\x03\x04"),
    )


def test_raw_8bit_headers_are_decoded():
    # given: RFC 6532 UTF-8 in the Subject, windows-1252 in the From name
    raw = (
        "Subject: Perché non è arrivato?\r\n".encode()
        + "From: Andrè <andre@example.it>\r\n".encode("cp1252")
        + b"Content-Type: text/plain; charset=windows-1252\r\n\r\n"
        + "Città".encode("cp1252")
    )

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.subject == "Perché non è arrivato?"
    assert parsed.from_name == "Andrè"
    assert parsed.text == "Città"


def test_raw_8bit_file_names_are_decoded():
    # given: a UTF-8 name and a windows-1252 one, both unencoded in the header
    raw = (
        b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="fattura \xc3\xa8.pdf"\r\n\r\nx\r\n'
        b'--b\r\nContent-Type: application/pdf; name="citt\xe0.pdf"\r\n\r\ny\r\n'
        b"--b--\r\n"
    )

    # when
    parsed = parse_email(raw)

    # then
    assert [a.filename for a in parsed.attachments] == ["fattura è.pdf", "città.pdf"]


@pytest.mark.parametrize(
    ("declared", "body", "expected"),
    [
        ("iso-8859-1", "Prezzo: 10 € – è ok".encode("cp1252"), "Prezzo: 10 € – è ok"),
        ("us-ascii", "Grüße aus München".encode("cp1252"), "Grüße aus München"),
        ("us-ascii", "Grüße aus München".encode(), "Grüße aus München"),
        ("x-unknown-charset", "Ça va très bien".encode("cp1252"), "Ça va très bien"),
        ("koi8-r", "Привет, как дела?".encode("koi8-r"), "Привет, как дела?"),
        ("", "日本語のメール".encode(), "日本語のメール"),
    ],
)
def test_body_charsets_declared_wrong_or_unknown(declared, body, expected):
    # given
    charset = f"; charset={declared}" if declared else ""
    raw = f"From: a@example.com\r\nContent-Type: text/plain{charset}\r\n\r\n".encode() + body

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.text == expected


def test_nul_bytes_never_reach_the_text():
    # given
    raw = b"From: a@example.com\r\nSubject: a\x00b\r\n\r\nhello\x00world"

    # when
    parsed = parse_email(raw)

    # then
    assert (parsed.subject, parsed.text) == ("ab", "helloworld")


def test_dangerous_attachments_and_forwarded_messages_are_kept_as_files():
    # given
    raw = (
        b"From: a@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b'--b\r\nContent-Type: application/x-msdownload; name="..\\\\invoice.exe"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nTVqQAA==\r\n"
        b'--b\r\nContent-Type: text/html; name="page.html"\r\n\r\n<script>x()</script>\r\n'
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: c@example.com\r\nSubject: Original order\r\n\r\ninner text\r\n"
        b"--b--\r\n"
    )

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.text == "see attached"
    assert parsed.html == ""
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("invoice.exe", "application/x-msdownload"),
        ("page.html", "text/html"),
        ("Original order.eml", "message/rfc822"),
    ]
    assert parsed.attachments[0].content == b"MZ\x90\x00"
    assert parsed.attachments[2].content == (
        b"From: c@example.com\r\nSubject: Original order\r\n\r\ninner text"
    )


def test_alternative_inside_related_inside_mixed():
    # given: the layout Apple Mail and Outlook write for HTML with an inline image and a file
    raw = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b'--m\r\nContent-Type: multipart/related; boundary="r"\r\n\r\n'
        b'--r\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
        b"--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello [image: logo]\r\n"
        b'--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <img src="CID:logo@x"></p>\r\n'
        b"--a--\r\n"
        b"--r\r\nContent-Type: image/gif\r\nContent-ID: <logo@x>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n"
        b"--r--\r\n"
        b'--m\r\nContent-Type: image/png; name="photo.png"\r\nContent-ID: <photo@x>\r\n'
        b"Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n"
        b"--m--\r\n"
    )

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.text == "Hello [image: logo]"
    assert parsed.html == '<p>Hello <img src="CID:logo@x"></p>'
    assert [(a.filename, a.content_id, a.inline) for a in parsed.attachments] == [
        ("attachment-1.gif", "logo@x", True),
        # Outlook gives every file a Content-ID: only one the HTML shows is inline.
        ("photo.png", "photo@x", False),
    ]


def test_own_address_is_automated():
    # given
    raw = b"From: Acme <Support@Acme.example>\r\nSubject: loop\r\n\r\nhi"

    # when
    parsed = parse_email(raw, own_addresses=frozenset({"support@acme.example"}))

    # then
    assert parsed.automated == "own-address"


def test_message_ids_without_angle_brackets_and_long_references():
    # given
    references = " ".join(f"<id{i}@example.com>" for i in range(150))
    raw = (
        f"Message-ID: plain-id@example.com\r\nIn-Reply-To: Your message of Monday <p@x>\r\n"
        f"References: {references}\r\n\r\nx"
    ).encode()

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.message_id == "plain-id@example.com"
    assert parsed.in_reply_to == ("p@x",)
    # The thread's first message and the 99 most recent.
    assert parsed.references == ("id0@example.com", *(f"id{i}@example.com" for i in range(51, 150)))


def test_empty_input_is_unparseable():
    # given
    raw = b" \r\n"

    # when / then
    with pytest.raises(UnparseableEmail):
        parse_email(raw)


def test_no_headers_at_all_is_plain_text():
    # given
    raw = b"just some words\r\nover two lines\r\n"

    # when
    parsed = parse_email(raw)

    # then
    assert (parsed.subject, parsed.from_address, parsed.text) == (
        "",
        "",
        "just some words\nover two lines\n",
    )


# --- hostile input -----------------------------------------------------------------------------


def timed_parse(raw: bytes):
    started = time.monotonic()
    parsed = parse_email(raw)
    elapsed = time.monotonic() - started
    assert elapsed < BOUNDED_SECONDS
    return parsed


def test_ten_thousand_parts_are_capped():
    # given
    parts = b"".join(
        b"--b\r\nContent-Type: application/octet-stream; name=f%d.bin\r\n\r\nx\r\n" % i
        for i in range(10_000)
    )
    raw = b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts

    # when
    parsed = timed_parse(raw)

    # then: the root and MAX_PARTS - 1 leaves were looked at
    assert len(parsed.attachments) == MAX_PARTS - 1
    assert parsed.attachments[-1].filename == f"f{MAX_PARTS - 2}.bin"


def test_thirty_megabyte_body_is_cut():
    # given
    raw = b"From: a@example.com\r\nContent-Type: text/plain\r\n\r\n" + b"0123456789\r\n" * 2_600_000

    # when
    parsed = timed_parse(raw)

    # then
    assert len(parsed.text) == MAX_TEXT_CHARS
    assert parsed.text.startswith("0123456789\n0123456789\n")


def test_deep_multipart_nesting_falls_back_to_the_raw_body():
    # given: deeper than the stdlib parser's recursion allows
    body = b"".join(
        b"--B%d\r\nContent-Type: multipart/mixed; boundary=B%d\r\n\r\n" % (i, i + 1)
        for i in range(2000)
    )
    raw = (
        b"From: a@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=B0\r\n\r\n"
        + body
        + b"--B2000\r\nContent-Type: text/plain\r\n\r\nthe words\r\n"
    )

    # when
    parsed = timed_parse(raw)

    # then: the headers are read, the body kept as text up to the part limit
    assert (parsed.subject, parsed.from_address) == ("deep", "a@example.com")
    assert parsed.text.startswith("--B0\nContent-Type: multipart/mixed; boundary=B1\n")
    assert parsed.text.endswith("--B999\nContent-Type: multipart/mixed; boundary=B1000\n\n")


def test_deep_html_nesting_is_flattened():
    # given
    html = b"<div>" * 100_000 + b"deep words" + b"</div>" * 100_000
    raw = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n" + html

    # when
    parsed = timed_parse(raw)

    # then
    assert parsed.html == "<div>" * 200 + "deep words" + "</div>" * 200
    assert parsed.text.strip() == "deep words"


def test_huge_headers_are_cut_before_parsing():
    # given
    raw = (
        b"Subject: " + b"=?utf-8?q?caf=C3=A9?= " * 20_000 + b"\r\n"
        b"To: " + b"x@example.com, " * 20_000 + b"\r\n"
        b"From: a@example.com\r\n\r\nbody"
    )

    # when
    parsed = timed_parse(raw)

    # then
    assert parsed.subject.startswith("cafécafé")
    assert len(parsed.subject) <= 2_000
    assert parsed.to == ("x@example.com",)
    assert parsed.text == "body"


# --- split_reply and clean_html ---------------------------------------------------------------


def test_split_reply_keeps_a_sentence_that_starts_like_a_signature():
    # given
    text = (
        "Hi there,\n\nThanks, that fixed it.\n\nBest regards,\nAnna\n\n"
        "________________________________\nFrom: Support <support@example.com>\n"
        "Sent: Tuesday, March 4, 2025 9:30 AM\nTo: Anna <anna@example.com>\n"
        "Subject: Re: Login problem\n\nPlease try again.\n"
    )

    # when
    reply, rest = split_reply(text)

    # then
    assert reply == "Hi there,\n\nThanks, that fixed it.\n"
    assert rest == text[len(reply) :]


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("Just one line.", "Just one line."),
        ("", ""),
        ("Thanks!\n--\nAnna Bianchi\nContoso\n", "Thanks!\n"),
        (
            "Sure.\r\n\r\nOn Mon, 3 Mar 2025 at 10:00, Support <s@example.com> wrote:\r\n> hi\r\n",
            "Sure.\r\n",
        ),
        ("Ok\n\nAm 03.03.2025 um 10:00 schrieb Support <s@example.com>:\n> hi\n", "Ok\n"),
        ("D'accord\n\nLe lun. 3 mars 2025 à 10:00, Support a écrit :\n> hi\n", "D'accord\n"),
    ],
)
def test_split_reply_languages_and_edges(text, reply):
    # when
    got_reply, rest = split_reply(text)

    # then
    assert got_reply == reply
    assert got_reply + rest == text


def test_clean_html_drops_a_senders_own_quote_marks_and_unsafe_content():
    # given
    html = (
        '<div data-quoted="">hidden?</div><p onclick="x()">hi <a href="javascript:x()">l</a>'
        '<img src="data:image/png;base64,AAAA"><img src="cid:a@b"></p><style>p{}</style>'
    )

    # when
    cleaned = clean_html(html)

    # then
    assert (
        cleaned
        == '<div>hidden?</div><p>hi <a rel="noopener noreferrer nofollow">l</a><img><img src="cid:a@b"></p>'
    )


def test_clean_html_wraps_interleaved_apple_quotes_separately():
    # given
    html = (
        "<div>Answers inline:</div>"
        '<blockquote type="cite"><div>Question one?</div></blockquote>'
        "<div>Yes.</div>"
        '<blockquote type="cite"><div>Question two?</div>'
        '<blockquote type="cite">older</blockquote></blockquote>'
        "<div>No.</div>"
    )

    # when
    cleaned = clean_html(html)

    # then
    assert cleaned == (
        "<div>Answers inline:</div>"
        '<div data-quoted=""><blockquote><div>Question one?</div></blockquote></div>'
        "<div>Yes.</div>"
        '<div data-quoted=""><blockquote><div>Question two?</div>'
        "<blockquote>older</blockquote></blockquote></div>"
        "<div>No.</div>"
    )


def test_clean_html_without_quote_matches_the_shared_sanitiser():
    # given
    from premura.conversations.sanitize import sanitize_html

    html = '<table><tr><td style="color:red">cell</td></tr></table><p class="x">text</p>'

    # when
    cleaned = clean_html(html)

    # then
    assert cleaned == sanitize_html(html)
