"""The home page's message (eCandidat MSG_ACCUEIL), written by the central office in the back office.

Read on every home page without a query: the default cache keeps ``(text_fr, text_en)`` for ``CACHE_SECONDS`` and
is given the new texts when a save commits. A cache that fails is skipped, and the database answers.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import transaction

from ecandidat.models import HomeMessage

logger = logging.getLogger(__name__)

CACHE_KEY = "home-message:v1"
CACHE_SECONDS = 300


def home_message(language: str) -> str:
    """The message in ``language`` (English falls back to French), or ""."""
    try:
        texts = cache.get(CACHE_KEY)
    except Exception as exc:  # whatever the cache backend raises, the home page must still answer
        logger.warning("home message: cache unavailable (%s), read from the database", type(exc).__name__)
        return _pick(_read(), language)
    if texts is None:
        texts = _read()
        try:
            cache.set(CACHE_KEY, texts, CACHE_SECONDS)
        except Exception as exc:  # noqa: BLE001 - the page still has its message
            logger.warning("home message: cache unavailable (%s)", type(exc).__name__)
    return _pick(texts, language)


@transaction.atomic
def set_home_message(*, text_fr: str, text_en: str, actor) -> HomeMessage:
    """Save the message; every process shows it once the transaction has committed."""
    message = HomeMessage.objects.select_for_update().filter(pk=1).first() or HomeMessage(pk=1)
    message.text_fr, message.text_en = text_fr.strip(), text_en.strip()
    message.save()
    texts = (message.text_fr, message.text_en)
    transaction.on_commit(lambda: _remember(texts))
    logger.info("home message changed by %s", actor)
    return message


def _remember(texts: tuple[str, str]) -> None:
    """The new texts into the cache once they are committed (a reader that read the old row just before may still
    write it back: it lasts CACHE_SECONDS at most)."""
    try:
        cache.set(CACHE_KEY, texts, CACHE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the old text stays at most CACHE_SECONDS
        logger.warning("home message: cache unavailable (%s), the old text stays until it expires", type(exc).__name__)


def _read() -> tuple[str, str]:
    row = HomeMessage.objects.filter(pk=1).values_list("text_fr", "text_en").first()
    return (row[0], row[1]) if row else ("", "")


def _pick(texts: tuple[str, str], language: str) -> str:
    text_fr, text_en = texts
    return (text_en or text_fr) if language.startswith("en") else text_fr
