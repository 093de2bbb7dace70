"""gunicorn settings for ecandidat (example): `gunicorn -c deploy/gunicorn.conf.py ecandidat.wsgi`.

Environment (SECRET_KEY, DATABASE_URL, REDIS_URL, EMAIL_URL, ALLOWED_HOSTS, SITE_URL, ...) comes from the systemd unit.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers, one per core plus two for the requests waiting on PostgreSQL or on an upload's fsync; scale out by
# adding hosts behind the load balancer. Not gunicorn's usual 2 x cores + 1: the pages are CPU-bound, and on two cores
# the deadline-rush benchmark (issue 14, README "Performance") measured five workers spending 15 % more CPU on the
# same load than three or four (processes displacing each other on the cores), and queueing into seconds at 1.0x
# where four held; two threads per worker (gthread) did no better.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 2))
threads = 1
timeout = 60  # uploads are capped at a few MB; nothing legitimate takes longer
graceful_timeout = 30
# Recycling is a safety net against a slow leak, not routine: memory stays flat without it (a collection after each
# dossier PDF, issue 14; RSS 135-145 MiB after 30 PDFs per worker). At 2000 requests a worker serving a deadline rush
# (about 33 requests/s each) restarted every minute, and the benchmark's 1.0x step failed on the restarts: each costs
# ~0.6 s of CPU and a cold worker. preload_app imports Django once in the master, so a restart is only a fork.
max_requests = 20000
# Staggered (issue 14): each worker draws its limit in [max_requests, max_requests + jitter], so workers sharing a rush
# evenly reach their limits thousands of requests apart instead of within seconds of each other.
max_requests_jitter = max_requests // 2
preload_app = True


def pre_fork(server, worker):
    """Freeze what the master preloaded (Django, the apps, their modules: some 170,000 objects) just before each fork.

    Python's cyclic collector then leaves those objects out of every pass in the workers, which only walk what each
    worker made itself: a full collection (one follows each dossier PDF, applications/dossier_pdf.py, and each dossier
    of a commission pack) went from ~150 ms to ~5 ms (issue 14, README "Performance"), and the collector no longer
    writes into the shared pages, which stay shared between the workers (the ``gc.freeze`` documentation's advice for
    a server that forks without exec).
    """
    gc.freeze()


forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")  # nginx sets X-Forwarded-Proto
# No gunicornc control socket (gunicorn >= 25.1): it would be created under $HOME, which the systemd unit keeps
# read-only (ProtectSystem=strict; the service user's home is the root-owned code), logging an error at each start;
# reloads go through SIGHUP (ExecReload).
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = "info"
