"""A Redis cache that fails open: while Redis is unreachable, reads miss and writes are dropped, with one log line.

Redis holds only what can be lost (the maintenance switch's copy, allauth's rate-limit counters): when it is down,
pages keep working (degraded mode) instead of answering 500. After a connection error the backend does not try
Redis again for ``RETRY_AFTER_SECONDS``, so a Redis host that does not answer costs one connect timeout per few
seconds per process, not one per cache call.
"""

import logging
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Errors that mean "Redis is not there", as opposed to a programming error (which must still raise).
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
RETRY_AFTER_SECONDS = 5.0

# Per Redis location, the monotonic time before which this process does not try again. Shared by the
# per-thread cache instances Django creates.
_down_until: dict[str, float] = {}
_lock = threading.Lock()


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis client, except that the ``redis.Redis`` object of each connection pool is built once.

    Django builds a new ``redis.Redis`` for every cache operation, and building one fills its table of some 170
    response callbacks: about 0.5 ms of CPU per operation (issue 14: a page with one cache read, an upload with
    five). A ``redis.Redis`` is a thin wrapper around its connection pool and may be shared between threads (each
    command takes a connection from the pool), so one per pool is enough.
    """

    # Set or defined by RedisCacheClient (not in django-stubs).
    _client: Any
    _get_connection_pool: Callable[[bool], Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailOpenRedisCache(RedisCache):
    _servers: list[str]  # set by RedisCache.__init__ (untyped in django-stubs)

    """``RedisCache`` that answers like an empty cache while Redis is unreachable.

    ``get`` returns the default, ``get_many`` nothing, ``has_key`` False, ``set``/``touch``/``delete`` do nothing,
    ``add`` answers True (allauth's rate-limit lock is taken with ``add``: True lets the request through, which is
    the point of failing open) and ``incr`` returns ``delta``.
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def _available(self) -> bool:
        until = _down_until.get(self._server_key)
        return until is None or monotonic() >= until

    @property
    def _server_key(self) -> str:
        return ",".join(self._servers)

    def _failed(self, operation: str, error: Exception) -> None:
        with _lock:
            first = self._available()
            _down_until[self._server_key] = monotonic() + RETRY_AFTER_SECONDS
        if first:
            logger.warning(
                "cache unavailable (%s on %s: %s): failing open, Redis retried in %ss",
                type(error).__name__,
                operation,
                error,
                RETRY_AFTER_SECONDS,
            )

    def _recovered(self) -> None:
        if _down_until.pop(self._server_key, None) is not None:
            logger.warning("cache available again")

    def _call(self, operation: str, fallback: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._available():
            return fallback
        try:
            result = getattr(super(), operation)(*args, **kwargs)
        except UNAVAILABLE as error:
            self._failed(operation, error)
            return fallback
        if _down_until:
            self._recovered()
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", True, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", default, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", None, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", False, key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", delta, key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", [], data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, keys, version)

    def clear(self):
        return self._call("clear", False)
