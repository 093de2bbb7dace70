"""Uploads under saturation (issue 14): a bounded number of uploads in flight, a clear answer beyond it.

Validating and storing a piece is the costliest thing a candidate does (tens of milliseconds of CPU, a file
written and flushed). The night before a deadline, letting every upload in at once makes all of them slow until
the proxy's timeout turns some into an obscure error page. Instead, ``UPLOAD_CONCURRENCY`` slots are shared by
every process through the cache (Redis in production): an upload takes a free slot for the time of its request, and
when none is free the view answers at once, in the site's layout, with a French message and ``Retry-After``
(HTTP 503), before anything is stored.

Each slot is one cache key written with ``add`` (Redis ``SET NX``, atomic) and an expiry of
``UPLOAD_SLOT_SECONDS``, deleted when the request ends: a worker killed in the middle of an upload frees its slot
when the key expires, so a crash never leaves the uploads blocked. With the cache down, uploads are let through (the
cache fails open, README "When Redis is down"). ``UPLOAD_CONCURRENCY=0`` turns the bound off.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

SLOT_KEY = "documents:upload-slot:{}"
# Longer than gunicorn's timeout (60 s): a slot outlives any request that holds it.
UPLOAD_SLOT_SECONDS = 120
# What Retry-After says: a slot frees within the time of one upload; the browser's retry is not immediate.
RETRY_AFTER_SECONDS = 10


@contextlib.contextmanager
def upload_slot() -> Iterator[bool]:
    """Hold one upload slot for the block; yields False when every slot is taken (then nothing is held)."""
    limit = settings.UPLOAD_CONCURRENCY
    if limit <= 0:
        yield True
        return
    token = secrets.token_hex(8)
    held = None
    start = random.randrange(limit)  # spread the keys tried first
    try:
        for offset in range(limit):
            key = SLOT_KEY.format((start + offset) % limit)
            if cache.add(key, token, timeout=UPLOAD_SLOT_SECONDS):
                held = key
                break
    except Exception as exc:  # whatever the cache raises, an upload is not refused for it (fails open)
        logger.warning("upload slots: cache unavailable (%s), upload let through", type(exc).__name__)
        yield True
        return
    if held is None:
        logger.warning("upload slots: all %d taken, upload answered 503", limit)
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(Exception):
            if cache.get(held) == token:  # not a slot that expired and was taken by another request
                cache.delete(held)
