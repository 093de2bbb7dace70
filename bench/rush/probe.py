"""WSGI wrapper used only for the per-request CPU table: adds ``X-Bench-Queries`` (SQL statements the request ran).

``BENCH_WSGI`` names the wrapped module (``ecandidat.wsgi`` or ``bench.bare.wsgi``). The counter is one
``execute_wrapper`` per connection: a few microseconds per query, nothing else changes. The rush itself runs
the plain WSGI application.
"""

import importlib
import os
from contextlib import ExitStack

_inner = importlib.import_module(os.environ["BENCH_WSGI"]).application

from django.db import connections  # noqa: E402  (after the wrapped module has configured Django)


def application(environ, start_response):
    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    def start_response_with_count(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Bench-Queries", str(count))], exc_info)

    with ExitStack() as stack:
        for connection in connections.all():
            stack.enter_context(connection.execute_wrapper(counter))
        return _inner(environ, start_response_with_count)
