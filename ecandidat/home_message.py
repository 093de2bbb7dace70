"""The home page's message (eCandidat MSG_ACCUEIL), written by the central office in the back office.

Read on every home page without a query (``ecandidat.cached_value``): the default cache keeps ``(text_fr, text_en)``
for ``CACHE_SECONDS`` and is given the new texts when a save commits. A cache that fails is skipped, and the
database answers.
"""

from __future__ import annotations

import logging

from django.db import transaction

from ecandidat.cached_value import CachedValue
from ecandidat.models import HomeMessage

logger = logging.getLogger(__name__)

CACHE_KEY = "home-message:v1"
CACHE_SECONDS = 300


def home_message(language: str) -> str:
    """The message in ``language`` (English falls back to French), or ""."""
    return _pick(_TEXTS.get(), language)


@transaction.atomic
def set_home_message(*, text_fr: str, text_en: str, actor) -> HomeMessage:
    """Save the message; every process shows it once the transaction has committed."""
    message = HomeMessage.objects.select_for_update().filter(pk=1).first() or HomeMessage(pk=1)
    message.text_fr, message.text_en = text_fr.strip(), text_en.strip()
    message.save()
    _TEXTS.replace_on_commit((message.text_fr, message.text_en))
    logger.info("home message changed by %s", actor)
    return message


def _read() -> tuple[str, str]:
    row = HomeMessage.objects.filter(pk=1).values_list("text_fr", "text_en").first()
    return (row[0], row[1]) if row else ("", "")


_TEXTS = CachedValue(key=CACHE_KEY, seconds=CACHE_SECONDS, read=_read, name="home message")


def _pick(texts: tuple[str, str], language: str) -> str:
    text_fr, text_en = texts
    return (text_en or text_fr) if language.startswith("en") else text_fr
