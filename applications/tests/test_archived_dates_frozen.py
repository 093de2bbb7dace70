"""The campaign's archiving (nightly ``archive_campaigns``, eCandidat BATCH_ARCHIVAGE) freezes the dates of its
applications: the formations are shared across years, so next year's dates must not move an archived application's
return deadline nor its date de confirmation, whether fixed or counted in days after the favourable decision."""

import datetime
import importlib

import pytest
from django.apps import apps

from applications.dates import confirmation_date, effective_return_deadline
from applications.models import Application, Decision
from applications.services import nightly
from applications.tests.factories_candidature import decide, make_application
from ecandidat.batches import Report
from offers.enums import Avis
from offers.models import ORDERED_DATE_FIELDS, Campaign, RefusalReason
from offers.tests.factories import CampaignFactory, FormationFactory

TODAY = datetime.date(2027, 9, 1)
YEAR = datetime.timedelta(days=365)
# 22:30 UTC on 1 July is 00:30 on 2 July in Paris (settings.TIME_ZONE): the délai counts from 2 July.
VALIDATED_AT = datetime.datetime(2027, 7, 1, 22, 30, tzinfo=datetime.UTC)
DELAY = 10
COUNTED = datetime.date(2027, 7, 2) + datetime.timedelta(days=DELAY)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


@pytest.fixture
def next_campaign(campaign):
    return CampaignFactory(starts_on=campaign.starts_on + YEAR, ends_on=campaign.ends_on + YEAR)


def archive(campaign) -> Report:
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=TODAY)
    report = Report()
    nightly.archive_campaigns(report, dry_run=False, limit=None, today=TODAY)
    assert report.counts["campaigns archived"] == 1
    return report


def read(application) -> Application:
    """The application as the recap, the back office and the dossier PDF read it."""
    return Application.objects.with_current_decision().select_related("formation").get(pk=application.pk)


def refuse(application, actor) -> None:
    reason = RefusalReason.objects.get_or_create(code="NIV", defaults={"label": "Niveau insuffisant"})[0]
    decide(application, Avis.UNFAVOURABLE, actor=actor, refusal_reason=reason)


def next_year(formation, **fields) -> None:
    """Staff set the formation's dates for the next campaign (every date a year later), then ``fields``."""
    for name in ORDERED_DATE_FIELDS:
        if (value := getattr(formation, name)) is not None:
            setattr(formation, name, value + YEAR)
    for name, value in fields.items():
        setattr(formation, name, value)
    formation.save()


def favourable(application, actor, *, at=VALIDATED_AT) -> None:
    decision = decide(application, Avis.FAVOURABLE, actor=actor)
    Decision.objects.filter(pk=decision.pk).update(validated_at=at)


def test_an_archived_application_keeps_its_return_deadline_when_next_year_s_is_set(campaign, next_campaign, formation):
    plain = make_application(formation, campaign=campaign)
    deadline = formation.return_deadline

    archive(campaign)
    next_year(formation)

    assert effective_return_deadline(read(plain)) == deadline
    assert read(plain).dates_frozen_on == TODAY


def test_a_deadline_extended_for_one_candidate_before_the_archiving_stays_the_later_one(
    campaign, next_campaign, formation
):
    later = formation.return_deadline + datetime.timedelta(days=5)
    earlier = formation.return_deadline - datetime.timedelta(days=5)
    extended = make_application(formation, campaign=campaign, return_deadline_override=later)
    shortened = make_application(formation, campaign=campaign, return_deadline_override=earlier)
    deadline = formation.return_deadline

    archive(campaign)
    next_year(formation)

    assert effective_return_deadline(read(extended)) == later
    assert effective_return_deadline(read(shortened)) == deadline  # what it read the night it was archived


def test_a_confirmation_date_counted_in_days_is_frozen_at_the_archiving(
    campaign, next_campaign, formation, central_manager
):
    # Open to its candidates past the délai (a date counted in days stops at the closing date for candidates).
    Campaign.objects.filter(pk=campaign.pk).update(ends_on=datetime.date(2027, 8, 31))
    formation.confirmation_delay_days, formation.confirmation_date = DELAY, None  # a délai, not a date
    formation.save()
    application = make_application(formation, campaign=campaign)
    favourable(application, central_manager)
    assert confirmation_date(read(application)) == COUNTED  # counted from the validation day in Paris

    archive(campaign)
    next_year(formation, confirmation_delay_days=DELAY + 20)  # next year's délai

    assert read(application).confirmation_date_override == COUNTED
    assert confirmation_date(read(application)) == COUNTED
    formation.confirmation_delay_days = None  # or a fixed date instead
    formation.save()
    assert confirmation_date(read(application)) == COUNTED


def test_an_archived_application_without_a_favourable_decision_keeps_having_no_confirmation_date(
    campaign, next_campaign, formation, central_manager
):
    formation.confirmation_delay_days, formation.confirmation_date = DELAY, None  # a délai, not a date
    formation.save()
    refused = make_application(formation, campaign=campaign)
    refuse(refused, central_manager)
    undecided = make_application(formation, campaign=campaign)
    overturned = make_application(formation, campaign=campaign)  # favourable, then a validated refusal
    favourable(overturned, central_manager, at=VALIDATED_AT - datetime.timedelta(days=3))
    refuse(overturned, central_manager)

    archive(campaign)
    next_year(formation, confirmation_delay_days=None)

    for application in (refused, undecided, overturned):
        assert read(application).confirmation_date_override is None
        assert confirmation_date(read(application)) is None


def test_a_fixed_or_own_confirmation_date_is_kept_as_it_was(campaign, next_campaign, formation, central_manager):
    fixed = formation.confirmation_date
    own = fixed + datetime.timedelta(days=4)
    plain = make_application(formation, campaign=campaign)
    favourable(plain, central_manager)
    promoted = make_application(formation, campaign=campaign, confirmation_date_override=own)
    favourable(promoted, central_manager)

    archive(campaign)
    next_year(formation)

    assert confirmation_date(read(plain)) == fixed
    assert confirmation_date(read(promoted)) == own


def test_the_active_campaign_s_applications_still_follow_their_formation(campaign, next_campaign, formation):
    application = make_application(formation, campaign=campaign)

    formation.return_deadline += datetime.timedelta(days=3)
    formation.save()

    assert effective_return_deadline(read(application)) == formation.return_deadline
    assert read(application).dates_frozen_on is None


def test_the_migration_marks_the_campaigns_archived_before_it_frozen(campaign, formation, central_manager):
    """Archived by the former batch: the return deadline frozen already, a délai not; the migration freezes the
    délai as it reads now and marks them frozen on their campaign's archiving date."""
    formation.confirmation_delay_days, formation.confirmation_date = DELAY, None  # a délai, not a date
    formation.save()
    application = make_application(formation, campaign=campaign)
    favourable(application, central_manager)
    old_deadline = formation.return_deadline
    Application.objects.filter(pk=application.pk).update(return_deadline_override=old_deadline)
    archived_on = datetime.date(2025, 9, 1)
    Campaign.objects.filter(pk=campaign.pk).update(is_active=False, archive_on=archived_on)
    next_year(formation)

    migration = importlib.import_module("applications.migrations.0041_application_dates_frozen_on")
    migration.freeze_archived_campaigns(apps, None)
    formation.confirmation_delay_days = DELAY + 20
    formation.save()

    assert read(application).dates_frozen_on == archived_on
    assert effective_return_deadline(read(application)) == old_deadline
    assert confirmation_date(read(application)) == COUNTED
