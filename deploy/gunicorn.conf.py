"""gunicorn settings for ecandidat (example): `gunicorn -c deploy/gunicorn.conf.py ecandidat.wsgi`.

Environment (SECRET_KEY, DATABASE_URL, REDIS_URL, EMAIL_URL, ALLOWED_HOSTS, ...) comes from the systemd unit.
"""

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
max_requests = 2000  # recycle workers to bound memory growth
# Staggered recycling (issue 14): each worker draws its limit in [max_requests, max_requests + jitter]. With a jitter
# of half the limit, four workers sharing a rush evenly reach their limits about 250 requests apart on average
# (1000 / 4) instead of within seconds of each other, so they do not restart (0.6 s of CPU each) together.
max_requests_jitter = max_requests // 2
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")  # nginx sets X-Forwarded-Proto
accesslog = "-"
errorlog = "-"
loglevel = "info"
