"""Which deployment this is, for the services two deployments may share (one Redis, one bucket or media root).

Two deployments on one host ("recette" next to "production", or two universities on one platform) are told apart by
their database: the same database is the same deployment, whatever else they share. ``deployment_identity()`` is
``DEPLOYMENT_ID`` when IT sets it (a database moved to another server keeps its deployment), else a digest of the
database's engine, host, port and name: a recette restored from production's dump runs on another database, so it is
another deployment, which is what the shared services must know.

The identity is written where a deployment claims a shared service (a marker at the storage's root, a key in the
broker's Redis) and compared there: it names no secret (no password, no user) and is the same in every process of the
deployment (web, worker, cron)."""

import hashlib

from django.conf import settings


def deployment_identity() -> str:
    """This deployment's identity: ``DEPLOYMENT_ID``, else 16 hex digits from the default database's address."""
    explicit = getattr(settings, "DEPLOYMENT_ID", "")
    if explicit:
        return explicit
    database = settings.DATABASES["default"]
    address = "|".join(str(database.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
    return hashlib.sha256(address.encode()).hexdigest()[:16]


def deployment_label() -> str:
    """What to show IT next to the identity: the database it comes from (engine, host, port, name; no credentials),
    or "DEPLOYMENT_ID" when it was set."""
    if getattr(settings, "DEPLOYMENT_ID", ""):
        return "DEPLOYMENT_ID"
    database = settings.DATABASES["default"]
    engine = str(database.get("ENGINE", "")).rsplit(".", 1)[-1]
    host = database.get("HOST") or "local"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"{engine} {host}{port}/{database.get('NAME')}"
