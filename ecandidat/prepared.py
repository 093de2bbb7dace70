"""Read queries compiled once per process: the ORM writes their SQL the first time, later calls only bind new values.

Turning a queryset into SQL costs more CPU than running it for the small, indexed reads of the candidate's pages:
the recap's application with its formation, commission and candidate costs 0.86 ms to build and compile against
0.18 ms to execute on PostgreSQL (bench/, issue 14), and Django keeps no statement cache. A ``PreparedQuery`` is
declared once, at module level, from a function that builds the queryset from named parameters::

    OWN_APPLICATION = PreparedQuery(
        lambda user_id, public_id: Application.objects.filter(candidate__user_id=user_id, public_id=public_id)
        .select_related("formation__commission", "candidate")
    )
    application = OWN_APPLICATION.first(user_id=request.user.pk, public_id=public_id)

The function is called once, with ``Param`` markers; Django compiles that queryset as usual, once per database
alias, each marker becoming one ``%s`` whose position is remembered. Each call then converts its values as the
compared field would (``get_db_prep_value``: a UUID becomes hex on SQLite, a model instance is refused) and runs
Django's own iterables (model instances with their ``select_related`` objects, ``values_list`` tuples) on that SQL.

Rules (the first two are enforced, at the first call and at each call):
- a parameter may only be the right-hand side of a lookup in the WHERE clause (``field=value``, ``field__gt=...``),
  not in ``__in`` (the SQL would depend on the list's length) nor in an annotation;
- a value may not be None (the SQL says ``= %s``, which matches no NULL; the ORM would have written IS NULL);
- everything else in the queryset must be constant: no ``timezone.now()`` or setting read in the builder (it would
  be frozen at the first call), pass it as a parameter instead.

``select_for_update()`` is allowed, and refused outside a transaction as Django refuses it. Only for hot reads
whose shape never changes; everything else uses the ORM directly.

On PostgreSQL the statement is also prepared on the server (``PREPARE``, once per connection and query; then
``EXECUTE name(values)``), because planning these queries costs PostgreSQL more CPU than running them: the
candidatures list's query is planned in 1.2–1.5 ms and runs in 0.5 ms, the recap's seven statements 3.0 ms against
0.95 ms (``EXPLAIN ANALYZE`` on the bench's data, issue 14). What stays true:

- a prepared statement belongs to one server session: the names prepared are remembered on Django's connection
  wrapper *with the driver connection they were prepared on*, so a reconnection prepares them again; a ``PREPARE``
  is not undone by a rollback (PostgreSQL keeps it for the session), so a failed transaction loses nothing;
- the ``PREPARE`` runs on the driver's own cursor: it is not one of the request's queries (query counts are the
  same with and without it) and it runs inside a savepoint when a transaction is open, so that a statement
  PostgreSQL refuses to prepare (a parameter whose type it cannot infer) leaves the transaction usable; that query
  then runs as plain SQL for the rest of the process, and the log says so once;
- PostgreSQL plans the first five executions with the values (custom plans) and may then keep a generic plan: these
  are indexed lookups whose best plan does not depend on the value;
- a connection pooler in *transaction* mode (PgBouncer's ``pool_mode = transaction``) gives each transaction any
  server session, where the statement does not exist: set ``DATABASE_PREPARED_STATEMENTS=0`` behind one (session
  mode is fine). A table altered while a worker runs (a migration before the restart) may make PostgreSQL refuse a
  prepared ``SELECT`` whose columns changed ("cached plan must not change result type") until the worker restarts,
  as the deployment does (``deploy/``).
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Expression, Field, QuerySet
from django.db.models.lookups import Lookup
from django.db.models.sql.where import WhereNode
from django.db.transaction import TransactionManagementError

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"%(%|s)")


class Param(Expression):
    """A named parameter marker in a prepared query's WHERE clause (see the module docstring)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        # The marker stands in the parameters; PreparedQuery finds it there and binds the value in its place.
        return "%s", (self,)

    def _resolve_output_field(self) -> Field[Any, Any]:
        # Asked for only where the parameter is not the right-hand side of a lookup (a select, HAVING, ...).
        raise ImproperlyConfigured(_outside_lookup(self.name))

    def __repr__(self) -> str:
        return f"Param({self.name!r})"


def statement_name(sql: str) -> str:
    """The server-side name of a statement: from its SQL, so that one name means one SQL in every process. Numbered
    in the order each process first ran its queries (until 2026-12-05), the same name meant another query in another
    worker: behind a pooler in transaction mode left with ``DATABASE_PREPARED_STATEMENTS`` on, a worker's ``EXECUTE``
    on a server session another worker had prepared answered that worker's query, an account's row where a piece
    type was expected (found by review). Now such a session answers the same query, or refuses an unknown name."""
    return "ecandidat_" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:24]


def _outside_lookup(name: str) -> str:
    return (
        f"Parameter {name!r} is used outside a WHERE lookup; prepared queries bind only the right-hand side of "
        "lookups."
    )


class _Compiled:
    """The SQL of one prepared query on one database alias, with where each parameter goes."""

    def __init__(self, template: QuerySet[Any], sql: str, params: list[Any], compiler: Any) -> None:
        self.template = template
        self.sql = sql
        self.params = params
        self.compiler = compiler
        fields = _parameter_fields(template.query.where)
        self.slots: list[tuple[int, str, Field[Any, Any], str]] = []
        for position, value in enumerate(params):
            if isinstance(value, Param):
                if value.name not in fields:
                    raise ImproperlyConfigured(_outside_lookup(value.name))
                self.slots.append((position, value.name, *fields[value.name]))
        # Server-side statement (PostgreSQL): its name, and whether PostgreSQL accepted to prepare it.
        self.statement = statement_name(sql)
        self.preparable = True
        arguments = ", ".join(["%s"] * len(params))
        self.execute_sql = f"EXECUTE {self.statement}({arguments})" if params else f"EXECUTE {self.statement}"

    def sql_for(self, alias: str) -> str:
        """What to send: ``EXECUTE`` of the statement prepared on this connection, or the SQL itself."""
        connection: Any = connections[alias]  # carries ``ecandidat_prepared``, set below
        if not (self.preparable and connection.vendor == "postgresql" and settings.DATABASE_PREPARED_STATEMENTS):
            return self.sql
        connection.ensure_connection()
        driver = connection.connection
        prepared: tuple[Any, set[str]] | None = getattr(connection, "ecandidat_prepared", None)
        if prepared is None or prepared[0] is not driver:
            # A new server session (first use, or reconnected): nothing is prepared on it yet.
            prepared = (driver, set())
            connection.ecandidat_prepared = prepared
        if self.statement not in prepared[1]:
            if not self._prepare(connection, driver):
                return self.sql
            prepared[1].add(self.statement)
        return self.execute_sql

    def _prepare(self, connection: Any, driver: Any) -> bool:
        counter = itertools.count(1)
        numbered = _PLACEHOLDER.sub(lambda m: "%" if m.group(1) == "%" else f"${next(counter)}", self.sql)
        in_transaction = not connection.get_autocommit()
        with driver.cursor() as cursor:
            try:
                if in_transaction:
                    cursor.execute("SAVEPOINT ecandidat_prepare")
                # No parameters given: the driver sends the text as it is ("%" included).
                cursor.execute(f"PREPARE {self.statement} AS {numbered}")
                if in_transaction:
                    cursor.execute("RELEASE SAVEPOINT ecandidat_prepare")
            except connection.Database.Error as error:  # the driver's own (psycopg2.Error)
                if in_transaction:
                    try:
                        cursor.execute("ROLLBACK TO SAVEPOINT ecandidat_prepare")
                        cursor.execute("RELEASE SAVEPOINT ecandidat_prepare")
                    except connection.Database.Error:
                        pass  # the connection itself failed: the error below says so
                code = getattr(error, "pgcode", None) or ""
                if code == "42P05":
                    # duplicate_prepared_statement: this session has the name already, so this very SQL (the name
                    # is its hash): prepared by an earlier PreparedQuery of the same SQL on this session whose record
                    # was lost, or by another client of a pooler's session. Nothing to do but use it.
                    return True
                if not code.startswith("42"):
                    # Not about the statement (a lost connection, a timeout): the request fails as any query's
                    # would, as Django's error, and the statement is tried again on the next connection.
                    with connection.wrap_database_errors:
                        raise
                # Class 42 (syntax or access rule): PostgreSQL will never prepare this SQL; run it as it is.
                self.preparable = False
                logger.warning("PostgreSQL refused to prepare %s, run as plain SQL from now on: %s", self.sql, error)
                return False
        return True

    def converters(self, compiler: Any) -> Callable[[list[Any]], dict[int, Any]]:
        """Django's ``get_converters`` for this statement, remembered on the connection: which column needs which
        conversion (a UUID from text on SQLite, a decimal's quantize, a JSON decode...) depends only on the columns,
        which are this statement's own expressions at every call, and on the connection's backend. Django works it
        out again at each query, from each column's field: 0.07 of the 0.29 ms CPU of the recap's application query
        (four tables), 0.035 of the candidatures list's 0.21 ms (issue 14).
        """
        remembered = compiler.connection.__dict__.setdefault("ecandidat_converters", {})

        def get_converters(expressions: list[Any]) -> dict[int, Any]:
            key = (self.statement, *map(id, expressions))  # the template's expressions: alive, never reused
            found = remembered.get(key)
            if found is None:
                found = remembered[key] = type(compiler).get_converters(compiler, expressions)
            return found

        return get_converters

    def bind(self, alias: str, values: dict[str, Any]) -> list[Any]:
        """The statement's parameters with ``values`` in their slots; ``NoRow`` when an integer compared for
        equality lies outside its column's range (a forged id in a URL): no row can match, and PostgreSQL would
        refuse the value ("bigint out of range", a 500). The ORM answers such a lookup with no row too."""
        connection = connections[alias]
        params = list(self.params)
        for position, name, field, lookup in self.slots:
            if values[name] is None:
                # The ORM turns "= None" into IS NULL; this SQL says "= %s", which matches nothing.
                raise ValueError(f"{name!r} is None: write an isnull lookup in the builder instead.")
            value = field.get_db_prep_value(values[name], connection, prepared=False)
            if isinstance(value, int) and not _in_range(value, field, connection):
                if lookup != "exact":
                    raise ValueError(f"{name!r} is out of its column's range for the lookup {lookup!r}.")
                raise NoRow
            params[position] = value
        return params


class NoRow(Exception):
    """No row can match these values (see ``_Compiled.bind``)."""


def _in_range(value: int, field: Field[Any, Any], connection: Any) -> bool:
    target = getattr(field, "target_field", None) or field  # a foreign key compares its target's values
    try:
        low, high = connection.ops.integer_field_range(target.get_internal_type())
    except KeyError:  # not an integer column
        return True
    return (low is None or value >= low) and (high is None or value <= high)


def _parameter_fields(node: WhereNode) -> dict[str, tuple[Field[Any, Any], str]]:
    """Each parameter's field (the left-hand side of the lookup it is compared with) and lookup name."""
    found: dict[str, tuple[Field[Any, Any], str]] = {}
    for child in node.children:
        if isinstance(child, WhereNode):
            found.update(_parameter_fields(child))
        elif isinstance(child, Lookup) and isinstance(child.rhs, Param):
            found[child.rhs.name] = (child.lhs.output_field, child.lookup_name or "")
    return found


class _BoundQuery:
    """Stands in for the compiled ``Query`` during one evaluation: Django's iterables ask it for a compiler, and get
    a copy of the compiled one whose ``as_sql`` returns the remembered SQL with this call's values."""

    def __init__(self, compiled: _Compiled, alias: str, params: list[Any]) -> None:
        self._compiled = compiled
        self._alias = alias
        self._params = params

    def get_compiler(self, using: str | None = None, connection: Any = None, elide_empty: bool = True) -> Any:
        compiler = copy.copy(self._compiled.compiler)
        compiler.connection = connections[self._alias]  # this thread's connection, not the first caller's
        sql, params = self._compiled.sql_for(self._alias), self._params
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        compiler.get_converters = self._compiled.converters(compiler)
        return compiler

    def __getattr__(self, name: str) -> Any:  # what the iterables read besides the compiler (values_select, ...)
        return getattr(self._compiled.template.query, name)


class PreparedQuery[T]:
    """A read query whose SQL is compiled once per process and database alias (see the module docstring)."""

    def __init__(self, build: Callable[..., QuerySet[Any, T]]) -> None:
        self._build = build
        self._names = frozenset(inspect.signature(build).parameters)
        self._compiled: dict[str, _Compiled] = {}

    def all(self, **values: Any) -> list[T]:
        """Every row, as the queryset would give them (instances, or tuples for ``values_list``)."""
        if set(values) != self._names:
            raise TypeError(f"Expected the values {sorted(self._names)}, got {sorted(values)}.")
        template = self._template()
        alias = template.db
        compiled = self._compiled.get(alias)
        if compiled is None:
            compiled = self._compiled[alias] = self._compile(template, alias)
        if template.query.select_for_update and connections[alias].get_autocommit():
            # Django's compiler says so at each compilation; this SQL is compiled only once.
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        try:
            params = compiled.bind(alias, values)
        except NoRow:
            return []
        # A fresh queryset like the template (iterable class, fields, prefetches), without cloning its query.
        queryset = QuerySet.__new__(type(compiled.template))
        queryset.__dict__.update(
            compiled.template.__dict__,
            _query=_BoundQuery(compiled, alias, params),
            _db=alias,
            _result_cache=None,
            _prefetch_done=False,
        )
        return list(queryset)

    def first(self, **values: Any) -> T | None:
        """The first row or None (the builder orders and limits: ``[:1]`` for a lookup on a unique field)."""
        rows = self.all(**values)
        return rows[0] if rows else None

    def _template(self) -> QuerySet[Any, T]:
        template = getattr(self, "_template_queryset", None)
        if template is None:
            template = self._template_queryset = self._build(**{name: Param(name) for name in self._names})
        return template

    @staticmethod
    def _compile(template: QuerySet[Any], alias: str) -> _Compiled:
        compiler = template.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        return _Compiled(template, sql, list(params), compiler)
