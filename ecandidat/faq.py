"""The FAQ of the "Assistance" page (eCandidat "FAQ"), written by the central office in the back office.

Read on every Assistance page without a query, as the home page's message (``ecandidat.cached_value``): the default
cache keeps the entries in service, in order, as ``(question_fr, answer_fr, question_en, answer_en)`` tuples for
``CACHE_SECONDS``, and is given the new list when a save or a deletion commits. A cache that fails is skipped, and
the database answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

from ecandidat.cached_value import CachedValue
from ecandidat.models import FaqEntry

logger = logging.getLogger(__name__)

CACHE_KEY = "faq:v1"
CACHE_SECONDS = 300

Texts = tuple[tuple[str, str, str, str], ...]


def faq_entries(language: str) -> list[tuple[str, str, str]]:
    """The ``(question, answer, language of the pair)`` entries in service, in order, in ``language``: an entry
    without English is shown in French (and says so, for screen readers)."""
    return _pick(_TEXTS.get(), language)


@transaction.atomic
def save_faq_entry(*, entry: FaqEntry, actor) -> FaqEntry:
    """Save ``entry`` (new or changed; texts stripped); every process shows the new FAQ once the transaction has
    committed. The admin records the change in its history (LogEntry) with ``actor``."""
    for field in ("question_fr", "answer_fr", "question_en", "answer_en"):
        setattr(entry, field, getattr(entry, field).strip())
    entry.save()
    _remember_on_commit()
    logger.info("faq entry %s saved by %s", entry.pk, actor)
    return entry


@transaction.atomic
def delete_faq_entries(*, entries: Iterable[FaqEntry], actor) -> int:
    """Delete ``entries``; every process stops showing them once the transaction has committed. Returns how many
    were deleted."""
    ids = [entry.pk for entry in entries]
    deleted, _ = FaqEntry.objects.filter(pk__in=ids).delete()
    _remember_on_commit()
    logger.info("faq entries %s deleted by %s", ids, actor)
    return deleted


def _remember_on_commit() -> None:
    """The list, read once this transaction has committed, into the cache: a save committed meanwhile by someone
    else is in it too (reading inside the transaction would cache a list without it for CACHE_SECONDS)."""
    _TEXTS.refresh_on_commit()


def _read() -> Texts:
    rows = FaqEntry.objects.in_service().values_list("question_fr", "answer_fr", "question_en", "answer_en")
    return tuple(rows)


def _pick(texts: Texts, language: str) -> list[tuple[str, str, str]]:
    english = language.startswith("en")
    return [
        (question_en, answer_en, "en") if english and question_en else (question_fr, answer_fr, "fr")
        for question_fr, answer_fr, question_en, answer_en in texts
    ]


_TEXTS = CachedValue(key=CACHE_KEY, seconds=CACHE_SECONDS, read=_read, name="faq")
