"""The scolarité's parameters (ecandidat/parameters.py): the accessor (override, environment fallback, memory and
its expiry, database down), the service (validation of each kind, history, default removes the override, atomic).
The back office's page is tested in test_parameters_page.py; a live change of each kind in the applications' tests
(test_candidature_services, test_regime_fees, test_waiting_list_rank)."""

import pytest
from django.db import DatabaseError, OperationalError, connection
from django.db.models.query import QuerySet

from ecandidat import parameters
from ecandidat.models import ParameterChange, ParameterOverride
from ecandidat.parameters import ParameterErrors, set_parameters
from ecandidat.tests.parameters import hide_the_overrides_table

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """The accessor's clock (time.monotonic), moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(parameters, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def cold():
    """This process has not read the overrides yet."""
    parameters.forget()


def override(name, value, user):
    return ParameterOverride.objects.create(name=name, value=value, changed_by=user)


# --- the registry -------------------------------------------------------------------------------------------------


def test_every_parameter_is_a_setting_whose_value_the_registry_accepts(settings):
    for parameter in parameters.PARAMETERS:
        assert parameter.clean(getattr(settings, parameter.name)) == getattr(settings, parameter.name)
        assert parameter.label
        assert parameter.help_text


def test_infrastructure_settings_are_not_parameters():
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "SITE_URL", "PEGASE_TIMEOUT", "UPLOAD_MAX_BYTES"} & set(
        parameters.REGISTRY
    )


# --- the accessor -------------------------------------------------------------------------------------------------


def test_without_override_the_setting_applies(cold, settings, django_assert_num_queries):
    settings.MAX_WISHES = 7

    with django_assert_num_queries(3):  # the overrides, in a savepoint of the test's transaction
        assert parameters.get("MAX_WISHES") == 7
    settings.MAX_WISHES = 8
    with django_assert_num_queries(0):
        assert parameters.get("MAX_WISHES") == 8  # read from settings on every call: a test's change is seen


def test_an_override_wins_over_the_setting(cold, admin_user, settings):
    override("MAX_WISHES", 3, admin_user)
    override("WAITING_LIST_RANK_DISPLAY", "S", admin_user)
    settings.MAX_WISHES = 30

    assert parameters.get("MAX_WISHES") == 3
    assert parameters.get("WAITING_LIST_RANK_DISPLAY") == "S"
    assert parameters.get("DECISION_APPEALS") is settings.DECISION_APPEALS


def test_the_overrides_are_kept_in_memory_ten_seconds(cold, clock, admin_user, django_assert_num_queries):
    assert parameters.get("MAX_WISHES") == 20
    override("MAX_WISHES", 4, admin_user)  # another process's change

    clock[0] += 9.9
    with django_assert_num_queries(0):
        assert parameters.get("MAX_WISHES") == 20
    clock[0] += 0.2
    with django_assert_num_queries(3):
        assert parameters.get("MAX_WISHES") == 4


def test_a_change_is_seen_at_once_in_this_process_once_committed(
    cold, clock, admin_user, django_capture_on_commit_callbacks
):
    assert parameters.get("MAX_WISHES") == 20

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        set_parameters(actor=admin_user, values={"MAX_WISHES": 5})
    before_commit = parameters.get("MAX_WISHES")
    for callback in callbacks:
        callback()

    assert before_commit == 20  # not committed yet: the memory was not dropped (a rollback would leave it right)
    assert parameters.get("MAX_WISHES") == 5


def test_a_stored_value_the_parameter_does_not_take_is_ignored(cold, admin_user, settings, caplog):
    override("MAX_WISHES", 0, admin_user)
    override("TRANSMISSION_REMINDER_DAYS", "3", admin_user)
    override("NO_LONGER_A_PARAMETER", True, admin_user)

    assert parameters.get("MAX_WISHES") == settings.MAX_WISHES
    assert parameters.get("TRANSMISSION_REMINDER_DAYS") == settings.TRANSMISSION_REMINDER_DAYS
    assert "override of MAX_WISHES ignored" in caplog.text


def test_an_unknown_name_is_a_programming_error():
    with pytest.raises(KeyError):
        parameters.get("SECRET_KEY")


def test_a_missing_table_falls_back_to_the_settings_and_keeps_the_transaction(
    cold, monkeypatch, settings, caplog, django_user_model
):
    # As between a deployment and its migration: the query fails for real (on PostgreSQL it would abort the
    # transaction of the request without the savepoint).
    hide_the_overrides_table()
    settings.MAX_WISHES = 9

    assert parameters.get("MAX_WISHES") == 9
    assert django_user_model.objects.count() == 0  # the transaction still works
    assert "overrides unreadable" in caplog.text


def test_an_unreachable_database_falls_back_to_the_settings(cold, mocker, settings, caplog):
    mocker.patch.object(QuerySet, "__iter__", side_effect=OperationalError("server closed the connection"))
    settings.SVA_ALERT_DATE = "REC"

    assert parameters.get("SVA_ALERT_DATE") == "REC"
    assert "OperationalError" in caplog.text


def test_outside_a_transaction_the_read_takes_no_savepoint(cold, django_assert_num_queries):
    assert connection.in_atomic_block  # pytest-django's test transaction: the other tests take the savepoint path
    connection.in_atomic_block = False
    try:
        with django_assert_num_queries(1):
            parameters.get("MAX_WISHES")
    finally:
        connection.in_atomic_block = True


# --- the service --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DECISION_APPEALS", "oui", "Choisissez oui ou non."),
        ("DECISION_APPEALS", 1, "Choisissez oui ou non."),
        ("MAX_WISHES", 0, "Saisissez un nombre de 1 à 100."),
        ("MAX_WISHES", 101, "Saisissez un nombre de 1 à 100."),
        ("MAX_WISHES", "5", "Saisissez un nombre entier."),
        ("MAX_WISHES", True, "Saisissez un nombre entier."),
        ("FAVOURABLE_REMINDER_DAYS", -1, "Saisissez un nombre de 0 à 60."),
        ("WAITING_LIST_RANK_DISPLAY", "X", "Choisissez l'une des valeurs proposées."),
        ("SVA_ALERT_DATE", "rec", "Choisissez l'une des valeurs proposées."),
        ("SECRET_KEY", "x", "Ce paramètre n'existe pas."),
    ],
)
def test_a_value_the_parameter_does_not_take_is_refused_with_a_message(admin_user, name, value, message):
    with pytest.raises(ParameterErrors) as refused:
        set_parameters(actor=admin_user, values={name: value})

    assert refused.value.errors == {name: message}
    assert not ParameterOverride.objects.exists()
    assert not ParameterChange.objects.exists()


def test_one_refused_value_writes_nothing(admin_user):
    with pytest.raises(ParameterErrors) as refused:
        set_parameters(actor=admin_user, values={"DECISION_APPEALS": False, "MAX_WISHES": 0})

    assert set(refused.value.errors) == {"MAX_WISHES"}
    assert not ParameterOverride.objects.exists()
    assert not ParameterChange.objects.exists()


def test_a_failure_after_the_writes_leaves_nothing(admin_user, mocker):
    mocker.patch.object(ParameterChange.objects, "bulk_create", side_effect=DatabaseError("disk full"))

    with pytest.raises(DatabaseError):
        set_parameters(actor=admin_user, values={"DECISION_APPEALS": False, "MAX_WISHES": 5})

    assert not ParameterOverride.objects.exists()


def test_a_change_writes_the_override_and_its_history(admin_user, settings):
    settings.MAX_WISHES, settings.WAITING_LIST_RANK_DISPLAY = 20, "R"

    changes = set_parameters(actor=admin_user, values={"MAX_WISHES": 10, "WAITING_LIST_RANK_DISPLAY": "S"})

    assert dict(ParameterOverride.objects.values_list("name", "value")) == {
        "MAX_WISHES": 10,
        "WAITING_LIST_RANK_DISPLAY": "S",
    }
    assert {(c.name, c.old_value, c.new_value, c.restored_default, c.changed_by) for c in changes} == {
        ("MAX_WISHES", 20, 10, False, admin_user),
        ("WAITING_LIST_RANK_DISPLAY", "R", "S", False, admin_user),
    }
    assert ParameterChange.objects.count() == 2


def test_a_second_change_updates_the_row_and_names_its_author(admin_user, django_user_model):
    other = django_user_model.objects.create_user("scol2", is_staff=True)
    set_parameters(actor=admin_user, values={"MAX_WISHES": 10})

    set_parameters(actor=other, values={"MAX_WISHES": 12})

    row = ParameterOverride.objects.get()
    assert (row.value, row.changed_by) == (12, other)
    assert ParameterChange.objects.first().old_value == 10  # the newest first


def test_the_default_value_removes_the_override(admin_user, settings):
    settings.DECISION_APPEALS = True
    set_parameters(actor=admin_user, values={"DECISION_APPEALS": False})

    (change,) = set_parameters(actor=admin_user, values={"DECISION_APPEALS": True})

    assert not ParameterOverride.objects.exists()
    assert (change.old_value, change.new_value, change.restored_default) == (False, True, True)


def test_the_value_in_force_changes_nothing(admin_user, settings):
    settings.MAX_WISHES = 20
    set_parameters(actor=admin_user, values={"FAVOURABLE_REMINDER_DAYS": 5})

    assert set_parameters(actor=admin_user, values={"MAX_WISHES": 20, "FAVOURABLE_REMINDER_DAYS": 5}) == []
    assert ParameterChange.objects.count() == 1


def test_the_environment_value_is_accepted_beyond_the_bounds(admin_user, settings):
    settings.MAX_WISHES = 500  # IT configured more than the screen offers

    set_parameters(actor=admin_user, values={"MAX_WISHES": 300})
    set_parameters(actor=admin_user, values={"MAX_WISHES": 500})

    assert not ParameterOverride.objects.exists()
    with pytest.raises(ParameterErrors, match="de 1 à 500"):
        set_parameters(actor=admin_user, values={"MAX_WISHES": 501})


def test_history_in_words(admin_user, settings):
    settings.WAITING_LIST_RANK_DISPLAY, settings.SIS_REGIME_ENTRY = "R", False

    changes = set_parameters(actor=admin_user, values={"WAITING_LIST_RANK_DISPLAY": "N", "SIS_REGIME_ENTRY": True})

    assert [parameters.describe_change(change) for change in changes] == [
        {
            "label": "Rang montré aux candidats d'une liste complémentaire",
            "old": "Rang réel (et un mail quand il progresse)",
            "new": "Aucun",
        },
        {"label": "Saisie du régime d'inscription et des droits", "old": "Non", "new": "Oui"},
    ]


def test_two_first_changes_at_once_the_second_is_refused(admin_user, django_user_model, mocker):
    other = django_user_model.objects.create_user("scol2", is_staff=True)
    override("MAX_WISHES", 4, other)  # committed by the other person after this one's lock found no row
    mocker.patch.object(ParameterOverride.objects, "select_for_update", return_value=ParameterOverride.objects.none())

    with pytest.raises(ParameterErrors) as refused:
        set_parameters(actor=admin_user, values={"MAX_WISHES": 7})

    assert refused.value.errors == {
        "MAX_WISHES": "Ce paramètre vient d'être modifié par quelqu'un d'autre : rechargez la page."
    }
    assert ParameterOverride.objects.get().value == 4  # the transaction is still usable: a savepoint was rolled back


def test_restoring_an_override_the_environment_caught_up_with_removes_it(admin_user, settings):
    settings.MAX_WISHES = 30
    set_parameters(actor=admin_user, values={"MAX_WISHES": 20})
    settings.MAX_WISHES = 20  # IT changed the variable since

    (change,) = set_parameters(actor=admin_user, values={"MAX_WISHES": 20})

    assert not ParameterOverride.objects.exists()  # the parameter follows the environment again
    assert (change.old_value, change.new_value, change.restored_default) == (20, 20, True)
