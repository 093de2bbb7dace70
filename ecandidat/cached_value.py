"""A small value that a page reads on every request without a query (the home page's message, the Assistance
page's FAQ): kept in the default cache for ``seconds``, and given its new content when the change that makes it
commits (``replace_on_commit``).

The cache fails open: a read that fails is skipped and the database answers; a write that fails leaves the old
content for ``seconds`` at most. A reader that read the old rows just before a change commits may still write them
back: they too last ``seconds`` at most.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)


class CachedValue[T]:
    def __init__(self, *, key: str, seconds: int, read: Callable[[], T], name: str) -> None:
        self.key, self.seconds, self.read, self.name = key, seconds, read, name

    def get(self) -> T:
        """The value from the cache, or read from the database (and cached) when the cache has none or fails."""
        try:
            value = cache.get(self.key)
        except Exception as exc:  # whatever the cache backend raises, the page must still answer
            logger.warning("%s: cache unavailable (%s), read from the database", self.name, type(exc).__name__)
            return self.read()
        if value is None:
            value = self.read()
            self._remember(value)
        return value

    def replace_on_commit(self, value: T) -> None:
        """Put ``value`` into the cache once the current transaction has committed (never before)."""
        transaction.on_commit(lambda: self._remember(value))

    def refresh_on_commit(self) -> None:
        """Once the current transaction has committed, read the value again and cache it: what the database holds
        then, with what other transactions committed meanwhile (two saves of a list at the same moment)."""
        transaction.on_commit(lambda: self._remember(self.read()))

    def _remember(self, value: T) -> None:
        try:
            cache.set(self.key, value, self.seconds)
        except Exception as exc:  # noqa: BLE001 - the page has its value; the old one lasts `seconds` at most
            logger.warning("%s: cache unavailable (%s)", self.name, type(exc).__name__)
