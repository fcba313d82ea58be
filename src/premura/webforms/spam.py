"""Spam defence of the contact form, with no third-party service.

Signals that mark a submission as suspected spam (it is stored as a case with status "spam",
never dropped): the honeypot field filled, the form sent faster than a person can fill it, more
links than the form allows, spam words. Rate limits per address and per email are different: a
submission over them is refused with 429 and nothing is written.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

from django.core.cache import cache

from premura.webforms.models import ContactForm

# Words that, in contact-form spam seen in Italian and English, almost never come from customers.
# Two different ones, or one together with a link, make a submission suspected spam.
SPAM_WORDS = (
    "viagra",
    "cialis",
    "casino",
    "casinò",
    "bitcoin",
    "crypto",
    "criptovalute",
    "forex",
    "backlink",
    "backlinks",
    "seo services",
    "servizi seo",
    "guest post",
    "link building",
    "posizionamento su google",
    "first page of google",
    "prima pagina di google",
    "loan offer",
    "prestito veloce",
    "make money",
    "guadagna soldi",
    "scommesse",
    "betting",
    "adult dating",
    "escort",
    "lottery winner",
    "hai vinto",
    "you have won",
    "investment opportunity",
    "opportunità di investimento",
)
_SPAM_WORD = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(word) for word in SPAM_WORDS) + r")(?!\w)", re.IGNORECASE
)
_LINK = re.compile(r"(https?://|www\.)\S+|\[url[=\]]", re.IGNORECASE)

RATE_WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class Verdict:
    """Why a submission looks like spam; no reason means it does not."""

    reasons: tuple[str, ...]

    @property
    def spam(self) -> bool:
        return bool(self.reasons)


def count_links(text: str) -> int:
    """Links in a text: http(s) URLs, bare www. addresses and BBCode [url] tags."""
    return len(_LINK.findall(text))


def spam_words(text: str) -> set[str]:
    """The different spam words in a text (lower-case)."""
    return {match.lower() for match in _SPAM_WORD.findall(text)}


def judge(
    form: ContactForm,
    *,
    honeypot: str,
    fill_seconds: float,
    texts: list[str],
) -> Verdict:
    """Score one submission: honeypot, fill time, links and spam words over everything typed."""
    reasons = []
    if honeypot.strip():
        reasons.append("honeypot")
    if fill_seconds < form.min_fill_seconds:
        reasons.append("too_fast")
    everything = "\n".join(texts)
    links = count_links(everything)
    if links > form.max_links:
        reasons.append("links")
    words = spam_words(everything)
    if len(words) >= 2 or (words and links):
        reasons.append("keywords")
    return Verdict(tuple(reasons))


def _hit(key: str) -> int:
    """Count one more hit on a key that lives for the rate window; returns the count."""
    cache.add(key, 0, RATE_WINDOW_SECONDS)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, RATE_WINDOW_SECONDS)
        return 1


def over_rate_limit(form: ContactForm, *, submission_key: str, ip: str, email: str) -> bool:
    """Count this submission against the form's hourly limits; True when one is exceeded.

    A repeat of a submission already counted (the same form token and sender: a double click, the
    back button) is not counted again: it changes nothing, ingest returns the case it made. A
    refused submission is forgotten, so sending the same one again counts again.
    """
    seen_key = f"webforms:seen:{submission_key}"
    if not cache.add(seen_key, 1, RATE_WINDOW_SECONDS):
        return False
    window = int(time.time() // RATE_WINDOW_SECONDS)
    limits = []
    if ip and form.max_per_ip_per_hour:
        limits.append((f"webforms:{form.pk}:ip:{ip}:{window}", form.max_per_ip_per_hour))
    if email and form.max_per_email_per_hour:
        # Hashed: an address may hold characters some cache backends refuse in keys.
        digest = hashlib.sha256(email.lower().encode()).hexdigest()[:32]
        limits.append((f"webforms:{form.pk}:email:{digest}:{window}", form.max_per_email_per_hour))
    over = False
    for key, limit in limits:
        if _hit(key) > limit:
            over = True
    if over:
        cache.delete(seen_key)
    return over
