"""Run a benchmark against a throw-away test database (SQLite by default, PostgreSQL with DATABASE_URL)."""

import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecandidat.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402


@contextmanager
def test_database():
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def measure(label: str, action: Callable[[], object], *, repeat: int = 20) -> dict:
    """Time ``action`` ``repeat`` times (after one warm-up) and count its queries and peak Python memory."""
    action()
    # Count with an execute wrapper: the request_started signal resets connection.queries between requests.
    queries = []

    def count(execute, sql, *args):
        queries.append(sql)
        return execute(sql, *args)

    with connection.execute_wrapper(count):
        action()
    durations = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        durations.append((time.perf_counter() - start) * 1000)
    tracemalloc.start()
    action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        "label": label,
        "queries": len(queries),
        "median_ms": round(statistics.median(durations), 1),
        "p95_ms": round(sorted(durations)[int(len(durations) * 0.95) - 1], 1),
        "peak_python_mib": round(peak / 2**20, 1),
        "database": connection.vendor,
    }
    print(" | ".join(f"{key}={value}" for key, value in result.items()))
    return result
