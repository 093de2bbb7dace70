"""A formation's confirmation is a date or a délai in days, never both, and a délai is at least 1 day
(ecandidat-features §2.8: « date OU délai en jours »). Before, both could be set and the délai silently won: a
manager's 30/06 was replaced by a délai left at 0, the day of the decision itself, withdrawn that night. The form,
the database, a centre's defaults, the mass edit and the migration that puts existing rows right all keep to it."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, migrations, transaction

from offers.models import Formation
from offers.services import set_formation_dates
from offers.tests.factories import CentreFactory, FormationFactory

pytestmark = pytest.mark.django_db

CONFIRM_BY = datetime.date(2027, 6, 30)
PAIRS = [
    ("confirmation_date", "confirmation_delay_days"),
    ("waiting_list_confirmation_date", "waiting_list_confirmation_delay_days"),
]


@pytest.mark.parametrize(("date_field", "delay_field"), PAIRS)
def test_a_date_and_a_delay_together_are_refused_next_to_the_delay(date_field, delay_field):
    formation = FormationFactory.build(**{date_field: CONFIRM_BY, delay_field: 5})
    with pytest.raises(ValidationError) as refused:
        formation.clean()
    [message] = refused.value.message_dict[delay_field]
    assert "pas les deux" in message


@pytest.mark.parametrize(("date_field", "delay_field"), PAIRS)
def test_the_database_refuses_a_date_and_a_delay_together(date_field, delay_field):
    formation = FormationFactory(**{date_field: None, delay_field: 5})
    setattr(formation, date_field, CONFIRM_BY)
    with pytest.raises(IntegrityError), transaction.atomic():
        formation.save()


@pytest.mark.parametrize("delay_field", ["confirmation_delay_days", "waiting_list_confirmation_delay_days"])
def test_a_delay_of_no_day_is_refused_by_the_form_and_the_database(delay_field):
    formation = FormationFactory(confirmation_date=None)
    setattr(formation, delay_field, 0)
    with pytest.raises(ValidationError) as refused:
        formation.full_clean()
    assert delay_field in refused.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        formation.save()


def test_a_centre_whose_defaults_give_both_is_refused_next_to_its_default_delay():
    centre = CentreFactory.build(default_confirmation_date=CONFIRM_BY, default_confirmation_delay_days=5)
    with pytest.raises(ValidationError) as refused:
        centre.clean()
    assert "default_confirmation_delay_days" in refused.value.message_dict


def test_the_mass_edit_refuses_a_date_to_the_formations_counting_in_days_and_names_them():
    in_days = FormationFactory(code="M1DAYS", confirmation_delay_days=10)
    dated = FormationFactory(code="M1DATE")
    with pytest.raises(ValidationError) as refused:
        set_formation_dates([in_days.pk, dated.pk], {"confirmation_date": CONFIRM_BY})
    [message] = refused.value.messages
    assert message.startswith("M1DAYS : ")
    assert "en jours" in message
    assert "M1DATE" not in message
    in_days.refresh_from_db()
    dated.refresh_from_db()
    assert in_days.confirmation_date is None  # nothing saved
    assert dated.confirmation_date != CONFIRM_BY


def test_the_mass_edit_still_gives_the_date_to_formations_without_a_delay():
    dated = FormationFactory(code="M1DATE")
    set_formation_dates([dated.pk], {"confirmation_date": CONFIRM_BY})
    dated.refresh_from_db()
    assert dated.confirmation_date == CONFIRM_BY


def test_the_migration_keeps_the_delay_the_candidates_were_told_and_makes_no_day_one():
    """The rows saved before the constraints (both set: the délai won; a délai of 0), written past the checks as
    they were: SQLite ignores its CHECK constraints for the connection when asked, PostgreSQL drops the migration's
    inside the test's transaction (rolled back with it)."""
    migration = importlib.import_module("offers.migrations.0028_formation_confirmation_date_or_delay")
    both = FormationFactory(confirmation_delay_days=7)
    no_day = FormationFactory(waiting_list_confirmation_delay_days=1)
    dated = FormationFactory()
    kept = dated.confirmation_date
    centre = CentreFactory()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA ignore_check_constraints = ON")
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the factories' deferred checks, before ALTER TABLE
            for operation in migration.Migration.operations:
                if isinstance(operation, migrations.AddConstraint):
                    table = apps.get_model("offers", operation.model_name)._meta.db_table
                    cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{operation.constraint.name}"')
        try:
            Formation.objects.filter(pk=both.pk).update(confirmation_date=CONFIRM_BY)
            Formation.objects.filter(pk=no_day.pk).update(waiting_list_confirmation_delay_days=0)
            type(centre).objects.filter(pk=centre.pk).update(
                default_confirmation_date=CONFIRM_BY, default_confirmation_delay_days=0
            )
        finally:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA ignore_check_constraints = OFF")

    migration.keep_the_delay(apps, None)

    for row in (both, no_day, dated, centre):
        row.refresh_from_db()
    assert (both.confirmation_date, both.confirmation_delay_days) == (None, 7)  # what the candidates were told
    assert no_day.waiting_list_confirmation_delay_days == 1
    assert dated.confirmation_date == kept
    assert (centre.default_confirmation_date, centre.default_confirmation_delay_days) == (None, 1)
