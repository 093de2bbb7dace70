"""``ecandidat.prepared``: queries compiled once, run with new values, giving what the ORM gives."""

import datetime
import uuid
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import DataError, connection, connections, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecandidat.models import OutboundEmail
from ecandidat.prepared import PreparedQuery, statement_name

pytestmark = pytest.mark.django_db


def _mail(to: str, **fields) -> OutboundEmail:
    return OutboundEmail.objects.create(code="CPT_MIN_CREATE", language="fr", to=to, subject="s", body="b", **fields)


@pytest.fixture
def mails():
    staff = get_user_model().objects.create_user(username="agent", email="agent@example.org", password="x")
    now = timezone.now()
    return {
        "resent": _mail("ana@example.org", resent_by=staff, resent_at=now),
        "plain": _mail("ana@example.org"),
        "other": _mail("bob@example.org", sent_at=now - datetime.timedelta(days=2)),
        "staff": staff,
    }


BY_PUBLIC_ID = PreparedQuery(
    lambda public_id: OutboundEmail.objects.filter(public_id=public_id).select_related("resent_by")[:1]
)
BY_RECIPIENT = PreparedQuery(
    lambda to, since: OutboundEmail.objects.filter(Q(to=to) | Q(sent_at__gte=since)).order_by("pk")
)
CODES_OF = PreparedQuery(
    lambda to: OutboundEmail.objects.filter(to=to).order_by("pk").values_list("pk", "resent_by__username")
)


def test_gives_the_instances_the_orm_gives_with_their_related_objects(mails, django_assert_num_queries):
    resent = mails["resent"]
    with django_assert_num_queries(1):
        found = BY_PUBLIC_ID.first(public_id=resent.public_id)
        assert found.resent_by.username == "agent"  # selected with it: no second query
    expected = OutboundEmail.objects.select_related("resent_by").get(pk=resent.pk)
    assert [getattr(found, f.attname) for f in OutboundEmail._meta.concrete_fields] == [
        getattr(expected, f.attname) for f in OutboundEmail._meta.concrete_fields
    ]
    assert found.resent_by == expected.resent_by
    assert found._state.db == "default"
    assert found._state.adding is False


def test_each_call_binds_its_own_values(mails):
    assert BY_PUBLIC_ID.first(public_id=mails["plain"].public_id).pk == mails["plain"].pk
    assert BY_PUBLIC_ID.first(public_id=mails["other"].public_id).pk == mails["other"].pk
    assert BY_PUBLIC_ID.first(public_id=uuid.uuid4()) is None
    # A string is converted as the field converts it (UUID text, hex on SQLite).
    assert BY_PUBLIC_ID.first(public_id=str(mails["plain"].public_id)).pk == mails["plain"].pk


def test_or_conditions_and_datetimes(mails):
    week_ago = timezone.now() - datetime.timedelta(days=7)
    assert [m.pk for m in BY_RECIPIENT.all(to="bob@example.org", since=timezone.now())] == [mails["other"].pk]
    found = BY_RECIPIENT.all(to="nobody@example.org", since=week_ago)
    assert [m.pk for m in found] == [mails["other"].pk]
    both = BY_RECIPIENT.all(to="ana@example.org", since=week_ago)
    assert [m.pk for m in both] == sorted([mails["resent"].pk, mails["plain"].pk, mails["other"].pk])


def test_values_list_rows(mails):
    assert CODES_OF.all(to="ana@example.org") == [(mails["resent"].pk, "agent"), (mails["plain"].pk, None)]
    assert CODES_OF.all(to="nobody@example.org") == []


def test_the_sql_is_compiled_once_per_database(mails):
    query = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql) as as_sql:
        assert len(query.all(to="ana@example.org")) == 2
        assert len(query.all(to="bob@example.org")) == 1
        assert len(query.all(to="nobody@example.org")) == 0
    assert as_sql.call_count == 1


def test_the_columns_conversions_are_worked_out_once_per_connection(mails):
    resent, plain = mails["resent"], mails["plain"]
    connections["default"].__dict__.pop("ecandidat_converters", None)  # as a new connection: nothing remembered
    with mock.patch.object(
        SQLCompiler, "get_converters", autospec=True, side_effect=SQLCompiler.get_converters
    ) as spy:
        first = BY_PUBLIC_ID.first(public_id=resent.public_id)
        second = BY_PUBLIC_ID.first(public_id=plain.public_id)
        assert CODES_OF.all(to="ana@example.org") == CODES_OF.all(to="ana@example.org")

    assert spy.call_count == 2  # once per statement
    # Converted as the ORM converts them (a UUID from SQLite's text, an aware datetime).
    assert (first.public_id, second.public_id) == (resent.public_id, plain.public_id)
    assert isinstance(first.public_id, uuid.UUID)
    assert first.resent_at == OutboundEmail.objects.get(pk=resent.pk).resent_at


def test_values_are_named_exactly(mails):
    with pytest.raises(TypeError, match="Expected the values"):
        BY_PUBLIC_ID.all(pk=1)
    with pytest.raises(TypeError, match="Expected the values"):
        BY_PUBLIC_ID.all(public_id=uuid.uuid4(), to="x")


def test_none_is_refused_where_the_orm_would_write_is_null(mails):
    with pytest.raises(ValueError, match="isnull"):
        BY_RECIPIENT.all(to=None, since=timezone.now())


def test_a_value_of_the_wrong_kind_is_refused_before_the_database(mails):
    with pytest.raises(ValidationError):
        BY_PUBLIC_ID.all(public_id="not a uuid")


BY_PK = PreparedQuery(lambda pk: OutboundEmail.objects.filter(pk=pk))
BY_RESENDER = PreparedQuery(lambda staff_id: OutboundEmail.objects.filter(resent_by_id=staff_id))
NEWER_THAN = PreparedQuery(lambda pk: OutboundEmail.objects.filter(pk__gt=pk))


@pytest.mark.parametrize("forged", [2**63, -(2**63) - 1, 10**30])
def test_an_integer_out_of_its_columns_range_matches_no_row_as_in_the_orm(mails, django_assert_num_queries, forged):
    # A forged id in a URL (<int:...> takes any number of digits): PostgreSQL refused it ("bigint out of range", a
    # 500 on the pieces pages); the ORM answers no row, and so does a prepared query, without asking the database.
    assert not OutboundEmail.objects.filter(pk=forged).exists()
    with django_assert_num_queries(0):
        assert BY_PK.all(pk=forged) == []
        assert BY_RESENDER.all(staff_id=forged) == []  # a foreign key: its target's range
    assert BY_PK.first(pk=mails["plain"].pk).pk == mails["plain"].pk  # in range: as before
    with pytest.raises(ValueError, match="out of its column's range"):
        NEWER_THAN.all(pk=forged)  # "greater than" a huge number is not "no row" for every lookup: refused


def test_a_parameter_outside_a_where_lookup_is_refused():
    query = PreparedQuery(lambda minimum: OutboundEmail.objects.annotate(n=Count("pk")).filter(n__gte=minimum))
    # In HAVING, not in the WHERE tree: the field to convert the value with is unknown.
    with pytest.raises(ImproperlyConfigured, match="outside a WHERE lookup"):
        query.all(minimum=1)


def test_a_parameter_in_a_where_expression_but_not_a_lookup_is_refused():
    query = PreparedQuery(lambda flag: OutboundEmail.objects.filter(ExpressionWrapper(flag, BooleanField())))
    with pytest.raises(ImproperlyConfigured, match="outside a WHERE lookup"):
        query.all(flag=True)


def test_the_results_are_plain_lists_not_querysets(mails):
    assert isinstance(BY_RECIPIENT.all(to="ana@example.org", since=timezone.now()), list)


LOCKED = PreparedQuery(lambda pk: OutboundEmail.objects.select_for_update().filter(pk=pk))


def test_select_for_update_needs_a_transaction_as_in_django(mails):
    with transaction.atomic():
        assert LOCKED.first(pk=mails["plain"].pk).pk == mails["plain"].pk
    autocommit = mock.patch("django.db.backends.base.base.BaseDatabaseWrapper.get_autocommit", return_value=True)
    with autocommit, pytest.raises(TransactionManagementError, match="outside of a transaction"):
        LOCKED.all(pk=mails["plain"].pk)


# --- Statements prepared on the PostgreSQL server --------------------------------------------------------------


def _sent(context: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in context.captured_queries]


def _server_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def test_postgresql_prepares_each_query_once_per_connection_then_executes_it(mails):
    query = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    with CaptureQueriesContext(connection) as first:
        assert [m.pk for m in query.all(to="ana@example.org")] == [mails["resent"].pk, mails["plain"].pk]
    with CaptureQueriesContext(connection) as second:
        assert [m.pk for m in query.all(to="bob@example.org")] == [mails["other"].pk]
    # One query each time, the PREPARE included (it runs on the driver's cursor, not counted as a query).
    assert len(first.captured_queries) == len(second.captured_queries) == 1
    if connection.vendor == "postgresql":
        statement = query._compiled["default"].statement
        assert _sent(first)[0].startswith(f"EXECUTE {statement}(")
        assert _sent(second)[0].startswith("EXECUTE")
        assert statement in _server_statements()
    else:  # SQLite keeps no statement across calls: the SQL itself is sent
        assert _sent(first)[0].startswith("SELECT")
        assert _sent(second)[0].startswith("SELECT")


def test_a_statements_name_is_its_sqls_whatever_the_order_the_queries_ran_in(mails):
    """Found by review: numbered in the order each process first ran its queries, the same name meant another SQL in
    another worker, and behind a pooler in transaction mode (the setting left on) a worker's EXECUTE on a session
    another had prepared answered the other query's rows. A name now means one SQL in every process."""
    by_recipient = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    by_code = PreparedQuery(lambda code: OutboundEmail.objects.filter(code=code).order_by("pk"))
    same_as_first = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    # Run in the other order than they were declared, as another worker whose first page differed.
    by_code.all(code="CPT_MIN_CREATE")
    by_recipient.all(to="ana@example.org")
    assert [m.pk for m in same_as_first.all(to="bob@example.org")] == [mails["other"].pk]

    names = {query: query._compiled["default"].statement for query in (by_recipient, by_code, same_as_first)}
    for query, name in names.items():
        assert name == statement_name(query._compiled["default"].sql)
        assert len(name) <= 63  # PostgreSQL's identifiers
    assert names[by_recipient] == names[same_as_first] != names[by_code]


def test_a_name_the_session_already_holds_is_used_as_it_is(mails):
    """The name is the SQL's: a session that holds it already (prepared by another client of a pooler's session, or
    a record of this connection lost) holds this very SQL; PostgreSQL's duplicate_prepared_statement (42P05) means
    "use it", inside a transaction too, not a statement to run unprepared from now on."""
    first = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    again = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    first.all(to="nobody@example.org")
    connection.ecandidat_prepared = None  # the record is lost, the session keeps the statement
    with transaction.atomic():
        with CaptureQueriesContext(connection) as context:
            assert [m.pk for m in again.all(to="bob@example.org")] == [mails["other"].pk]
        assert OutboundEmail.objects.filter(to="bob@example.org").count() == 1  # the transaction goes on
    assert again._compiled["default"].preparable is True
    if connection.vendor == "postgresql":
        assert _sent(context)[0].startswith(f"EXECUTE {again._compiled['default'].statement}(")


@pytest.mark.django_db(transaction=True)  # the rows must outlive the connection closed below
def test_a_new_connection_prepares_the_statements_again(mails):
    query = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    assert len(query.all(to="ana@example.org")) == 2
    if connection.vendor != "postgresql":
        return
    statement = query._compiled["default"].statement
    # As after a network failure or CONN_MAX_AGE: the server session, and what was prepared on it, is gone.
    connection.close()
    assert statement not in _server_statements()  # a new server session
    assert len(query.all(to="ana@example.org")) == 2
    assert statement in _server_statements()


def test_a_statement_postgresql_refuses_to_prepare_runs_as_plain_sql_and_the_transaction_goes_on(mails, caplog):
    query = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    query.all(to="nobody@example.org")  # compiled (and prepared on PostgreSQL)
    compiled = query._compiled["default"]
    # Fault injection: a name PostgreSQL rejects, so the PREPARE of the next connection fails.
    compiled.statement = "not a valid name"
    compiled.execute_sql = "EXECUTE not a valid name"
    connection.ecandidat_prepared = None
    with transaction.atomic():
        with CaptureQueriesContext(connection) as context:
            assert [m.pk for m in query.all(to="bob@example.org")] == [mails["other"].pk]
        # The surrounding transaction was not broken by the refused PREPARE.
        assert OutboundEmail.objects.filter(to="bob@example.org").count() == 1
    assert _sent(context)[0].startswith("SELECT")
    if connection.vendor == "postgresql":
        assert compiled.preparable is False
        assert "refused to prepare" in caplog.text
        with CaptureQueriesContext(connection) as later:
            query.all(to="ana@example.org")
        assert _sent(later)[0].startswith("SELECT")  # not tried again


def test_prepared_statements_can_be_turned_off(mails, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    query = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    with CaptureQueriesContext(connection) as context:
        assert len(query.all(to="ana@example.org")) == 2
    assert _sent(context)[0].startswith("SELECT")


def test_a_percent_sign_in_the_sql_survives_the_preparation(mails):
    # LIKE patterns are parameters, but "contains" writes a literal "%" around them on PostgreSQL ("%%" in the SQL).
    query = PreparedQuery(lambda part: OutboundEmail.objects.filter(to__contains=part).order_by("pk"))
    assert [m.pk for m in query.all(part="bob@")] == [mails["other"].pk]
    assert [m.pk for m in query.all(part="%")] == []  # the value's own "%" is escaped, as the ORM escapes it


def test_an_error_not_about_the_statement_fails_the_request_as_djangos_and_keeps_preparing(mails):
    query = PreparedQuery(lambda to: OutboundEmail.objects.filter(to=to).order_by("pk"))
    query.all(to="nobody@example.org")
    if connection.vendor != "postgresql":
        return
    compiled = query._compiled["default"]
    plain_sql = compiled.sql
    # Fault injection: a PREPARE that fails on a value (SQLSTATE 22P02, not class 42), as a lost connection or a
    # timeout fails for reasons that are not the statement's.
    compiled.sql = "SELECT 'not a number'::integer"
    connection.ecandidat_prepared = None
    with pytest.raises(DataError):  # Django's error, not the driver's
        query.all(to="bob@example.org")
    assert compiled.preparable is True  # tried again next time
    compiled.sql = plain_sql
    assert [m.pk for m in query.all(to="bob@example.org")] == [mails["other"].pk]
