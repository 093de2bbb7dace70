"""What a formation asks of its applications (its piece types, its questions), kept per formation in the "pages"
cache for the candidate's pages, the two pages a deadline rush reads most (issue 14).

Each list is replaced when the change that makes it commits: a change to one of its rows, or to a formation's
list, removes every formation's copy; a formation saved (its centre may have changed) removes its own. The receivers
are connected in ``ApplicationsConfig.ready``; ``seconds`` bounds what a change made without signals (a
``QuerySet.update``) could leave. Only pages read these copies: the services (transmitting, checking, uploading)
read the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.db import transaction

from offers.models import Formation


class PerFormation[T]:
    def __init__(self, prefix: str, *, seconds: int = 60) -> None:
        self.prefix, self.seconds = prefix, seconds

    def key(self, formation_id: int) -> str:
        return f"{self.prefix}:{formation_id}"

    def get(self, formation_id: int, load: Callable[[], list[T]]) -> list[T]:
        """The formation's list from the cache, or ``load()``-ed and cached."""
        cache = caches["pages"]
        key = self.key(formation_id)
        rows = cache.get(key)
        if rows is None:
            rows = load()
            cache.set(key, rows, self.seconds)
        return rows

    def forget(self, formation_ids: list[int] | None = None) -> None:
        """Remove the copies of these formations (of every formation when None)."""
        if formation_ids is None:
            formation_ids = list(Formation.objects.values_list("pk", flat=True))
        caches["pages"].delete_many([self.key(pk) for pk in formation_ids])

    def forget_all_on_commit(self, sender: type, **kwargs: Any) -> None:
        """Receiver (a row saved or deleted, a formation's list changed): every formation's copy, on commit."""
        if kwargs.get("action", "post_").startswith("post_"):  # m2m_changed also sends the "pre_" actions
            transaction.on_commit(self.forget, robust=True)

    def forget_formation_on_commit(self, sender: type, instance: Formation, **kwargs: Any) -> None:
        """Receiver (a formation saved: its centre may have changed): that formation's copy, on commit."""
        transaction.on_commit(lambda: self.forget([instance.pk]), robust=True)
