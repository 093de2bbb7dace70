"""Database router for the shared cache (settings.base, REDIS_URL absent, on PostgreSQL).

Django's ``DatabaseCache`` writes its rows through the connection the router names. On the ``default`` alias those
writes would join the request's transaction (ATOMIC_REQUESTS): a rate-limit row updated by one login would stay
locked until that request ends (password hashing included), and every other login counted on the same key (one IP
address behind a campus NAT) would wait for it. The ``cache`` alias is the same database in autocommit: each counter
update is committed at once, holds no lock afterwards, and is visible to every process immediately.
"""

CACHE_ALIAS = "cache"


class SharedCacheRouter:
    """Send DatabaseCache's queries (its model stand-in has the app label ``django_cache``) to the ``cache`` alias."""

    def db_for_read(self, model, **hints):
        return CACHE_ALIAS if model._meta.app_label == "django_cache" else None

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The cache table is created on default by accounts' migration 0003; the alias is only another connection.
        return False if db == CACHE_ALIAS else None
