"""Decisions, answers and the complementary list across campaigns and between entry and validation (S43 review).

Each test is the regression test of one bug the review found: a formation is reused from one campaign to the next,
so its complementary list must be the campaign's; a confirmation given between a decision's entry and its
validation must not survive the validation (a withdrawal stands: S45); the rank a decision's mail gives is the rank
the candidate was told; the nightly withdrawal honours a date extended while it ran; a confirmation never carries a
withdrawal reason.
"""

import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from applications.enums import EventKind
from applications.models import Application, Opi
from applications.services import candidature as candidature_services
from applications.services import nightly, staff
from applications.tests.factories_candidature import DecisionTypeFactory, decide, decision_type, make_application
from applications.tests.helpers import mails
from applications.tests.opi.helpers import admit, make_candidate
from ecandidat.batches import Report
from ecandidat.exceptions import InvalidTransition
from offers.enums import Avis
from offers.models import Campaign, RefusalReason
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def confirmation_date() -> datetime.date:
    """A date de confirmation two months ahead: after the factory formation's return deadline (today + 37 days)."""
    return timezone.localdate() + datetime.timedelta(days=60)


def the_night_after(day: datetime.date) -> datetime.datetime:
    """23:00 on the day after ``day``: the nightly withdrawal's first night for a date de confirmation ``day``."""
    return datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(23, 0), tzinfo=PARIS)


def run(command):
    out = io.StringIO()
    call_command(command, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def formation(centre, commission):
    """A formation managing its complementary list automatically, reused from one campaign to the next."""
    return FormationFactory(
        centre=centre,
        commission=commission,
        auto_waiting_list=True,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


@pytest.fixture
def last_year(campaign):
    """Last year's campaign, archived (the ``campaign`` fixture is this year's, active)."""
    return CampaignFactory(
        is_active=False,
        starts_on=campaign.starts_on - datetime.timedelta(days=365),
        ends_on=campaign.ends_on - datetime.timedelta(days=365),
        archive_on=campaign.starts_on - datetime.timedelta(days=1),
    )


@pytest.fixture
def last_years_list(formation, last_year, central_manager):
    """Last year's complementary list of the formation, ranks 1 and 2: their validated decisions stay for ever."""
    rows = []
    for rank in (1, 2):
        application = make_application(formation, campaign=last_year, email=f"old{rank}@example.org")
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
        rows.append(application)
    return rows


def refusal_reason():
    return RefusalReason.objects.create(code="CAP", label="Capacité atteinte")


# --- 1. the complementary list is the campaign's ------------------------------------------------------------------


def test_a_withdrawal_promotes_this_years_list_and_leaves_last_years_alone(
    formation, campaign, central_manager, last_years_list
):
    admitted = make_application(formation, campaign=campaign)
    decide(admitted, Avis.FAVOURABLE, actor=central_manager)
    # Entered rank 3: behind last year's ranks 1 and 2 if the two lists were one.
    listed = make_application(formation, campaign=campaign, email="new@example.org")
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=3)

    candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")

    assert listed.decisions.newest_first().first().decision_type.avis == Avis.FAVOURABLE
    assert [mail.to for mail in mails("AVIS_FAVORABLE")][-1] == "new@example.org"
    for old, rank in zip(last_years_list, (1, 2), strict=True):
        old.refresh_from_db()
        assert old.decisions.count() == 1  # still last year's complementary-list decision, never promoted
        assert old.waiting_list_rank == rank  # an archived campaign's rows are never changed: no rank shift


def test_promotion_from_the_exact_list_ignores_last_years_list(formation, campaign, central_manager, last_years_list):
    # Stale ranks (a crash before they were written): the list computed from the decisions decides.
    listed = make_application(formation, campaign=campaign)
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=3)
    Application.objects.filter(formation=formation).update(waiting_list_rank=None)

    promoted = staff.promote_from_waiting_list(formation=formation, actor=None)

    assert promoted.pk == listed.pk
    assert staff.promote_from_waiting_list(formation=formation, actor=None) is None  # last year's list is not this one


def test_promotion_names_the_campaign_of_the_place_freed(formation, campaign, last_year, central_manager):
    this_year = make_application(formation, campaign=campaign)
    decide(this_year, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    old = make_application(formation, campaign=last_year)
    decide(old, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    # Still open to its candidates (a campaign closed to them promotes nobody: the place is left to staff).
    Campaign.objects.filter(pk=last_year.pk).update(ends_on=campaign.ends_on)

    assert staff.promote_from_waiting_list(formation=formation, campaign_id=last_year.pk, actor=None).pk == old.pk
    this_year.refresh_from_db()
    assert (this_year.waiting_list_rank, this_year.decisions.count()) == (1, 1)


def test_validating_a_list_decision_ranks_it_among_this_years_list_only(
    formation, campaign, central_manager, last_years_list
):
    listed = make_application(formation, campaign=campaign)

    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=5)

    listed.refresh_from_db()
    assert (listed.waiting_list_rank, listed.waiting_list_rank_mailed) == (1, 1)
    assert "au rang 1." in mails("AVIS_LISTE_COMP")[-1].body
    assert [old.waiting_list_rank for old in Application.objects.filter(campaign__is_active=False).order_by("pk")] == [
        1,
        2,
    ]


def test_the_nightly_withdrawal_promotes_from_the_withdrawn_applications_campaign(
    formation, campaign, central_manager, last_years_list
):
    formation.confirmation_date = confirmation_date()
    formation.save()
    admitted = make_application(formation, campaign=campaign)
    decide(admitted, Avis.FAVOURABLE, actor=central_manager)
    listed = make_application(formation, campaign=campaign)
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=3)

    with time_machine.travel(the_night_after(formation.confirmation_date), tick=False):
        output = run("withdraw_expired_confirmations")

    assert "candidates promoted from the waiting list: 1" in output
    assert listed.decisions.newest_first().first().decision_type.avis == Avis.FAVOURABLE
    assert all(old.decisions.count() == 1 for old in last_years_list)


# --- 2. an answer given between a decision's entry and its validation -----------------------------------------------


@pytest.fixture
def opi_on(settings):
    settings.OPI_BACKEND = "pegase"
    settings.OPI_PREFIX = "EC"
    settings.OPI_BATCH_MAX = 0
    settings.OPI_EXPORT_DIR = ""


@pytest.fixture
def admitted_with_opi(formation, campaign, centre_manager, opi_on):
    """An application with a validated favourable decision whose confirmation creates an OPI, not answered yet."""
    opi_type = DecisionTypeFactory(code="AVIS_FAV_OPI", avis=Avis.FAVOURABLE, opi_transfer=True)
    return admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)


def test_a_confirmation_given_before_a_refusal_is_validated_is_undone_with_its_opi(admitted_with_opi, centre_manager):
    application = admitted_with_opi
    refusal = staff.record_decision(
        application,
        decision_type=decision_type(Avis.UNFAVOURABLE),
        refusal_reason=refusal_reason(),
        actor=centre_manager,
    )
    # The candidate still sees the validated favourable decision, and confirms.
    candidature_services.confirm_application(application=application, actor=application.candidate.user)
    assert Opi.objects.get(application=application).withdrawn is False

    staff.validate_decision(refusal, actor=centre_manager)

    application.refresh_from_db()
    assert (application.accepted, application.answered_at, application.answered_by) == (None, None, None)
    assert Opi.objects.get(application=application).withdrawn is True
    assert application.events.filter(kind=EventKind.OPI_WITHDRAWN).exists()
    validated = application.events.filter(kind=EventKind.DECISION_VALIDATED).latest("pk")
    assert (validated.actor, validated.comment) == (
        centre_manager,
        "Unfavourable (la confirmation du candidat est annulée)",
    )


def test_a_withdrawal_given_before_a_new_decision_is_validated_stands_with_its_reason(
    formation, campaign, central_manager
):
    # S45 (R4): undoing it gave back a place the withdrawal may already have given to the complementary list.
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    entered = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=central_manager)
    candidature_services.withdraw_application(application=application, actor=application.candidate.user, reason="PER")

    staff.validate_decision(entered, actor=central_manager)

    application.refresh_from_db()
    assert (application.accepted, application.withdrawal_reason) == (False, "PER")


def test_validating_a_decision_the_candidate_has_not_answered_changes_no_answer(formation, campaign, central_manager):
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.FAVOURABLE, actor=central_manager)

    event = application.events.get(kind=EventKind.DECISION_VALIDATED)

    assert event.comment == "Favourable"


# --- 3. the rank a decision's mail gives is the rank the candidate was told ----------------------------------------


@pytest.fixture
def three_listed(formation, campaign, central_manager):
    """Ranks entered 1, 2, 3 (rangs réels 1, 2, 3, each told by its decision's mail)."""
    rows = []
    for rank in (1, 2, 3):
        application = make_application(formation, campaign=campaign, email=f"lc{rank}@example.org")
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
        rows.append(application)
    return rows


def test_a_list_decision_mailing_a_worse_rank_lets_the_next_progress_be_mailed(
    settings, three_listed, central_manager
):
    settings.WAITING_LIST_RANK_DISPLAY = "R"
    first, second, _third = three_listed

    decide(first, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=5)  # 1 → 3: the mail says 3

    first.refresh_from_db()
    assert (first.waiting_list_rank, first.waiting_list_rank_mailed) == (3, 3)
    assert "au rang 3." in mails("AVIS_LISTE_COMP")[-1].body
    decide(second, Avis.UNFAVOURABLE, actor=central_manager, refusal_reason=refusal_reason())  # 3 → 2
    run("mail_waiting_list_progress")
    progress = [mail for mail in mails("LISTE_COMP_PROGRESSION") if mail.to == "lc1@example.org"]
    assert len(progress) == 1
    assert "rang est maintenant 2 (il était 3)" in progress[0].body


def test_a_list_decision_mailing_a_better_rank_sends_no_progress_mail_more(settings, three_listed, central_manager):
    settings.WAITING_LIST_RANK_DISPLAY = "R"
    _first, _second, third = three_listed

    decide(third, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)  # 3 → 2 (after the first, entered earlier)

    third.refresh_from_db()
    assert (third.waiting_list_rank, third.waiting_list_rank_mailed) == (2, 2)
    assert "au rang 2." in mails("AVIS_LISTE_COMP")[-1].body
    run("mail_waiting_list_progress")
    assert [mail.to for mail in mails("LISTE_COMP_PROGRESSION")] == []


def test_a_list_decision_that_does_not_mail_the_rang_reel_leaves_the_told_rank(
    settings, three_listed, central_manager
):
    settings.WAITING_LIST_RANK_DISPLAY = "S"
    _first, _second, third = three_listed

    decide(third, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)

    third.refresh_from_db()
    assert (third.waiting_list_rank, third.waiting_list_rank_mailed) == (2, 3)


# --- 4. the nightly withdrawal re-reads the date de confirmation under the lock ------------------------------------


def test_the_nightly_withdrawal_honours_a_date_extended_while_it_ran(formation, campaign, central_manager, mocker):
    formation.confirmation_date = confirmation_date()
    formation.save()
    admitted = make_application(formation, campaign=campaign, email="fa@example.org")
    decide(admitted, Avis.FAVOURABLE, actor=central_manager)
    listed = make_application(formation, campaign=campaign)
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    read = nightly._with_dates

    def extended_after_the_read(queryset):
        for application, confirmation_date in read(queryset):
            # Staff give a new date between the batch's read and its lock of the row.
            staff.extend_deadlines(
                application,
                actor=central_manager,
                confirmation_date=formation.confirmation_date + datetime.timedelta(days=10),
            )
            yield application, confirmation_date

    mocker.patch.object(nightly, "_with_dates", side_effect=extended_after_the_read)
    report = Report()
    with time_machine.travel(the_night_after(formation.confirmation_date), tick=False):
        nightly.withdraw_expired_confirmations(report, dry_run=False, limit=None)

    admitted.refresh_from_db()
    assert admitted.accepted is None
    assert mails("CANDIDATURE_DESIST_AUTO") == []
    assert report.counts == {"confirmation date changed meanwhile": 1}
    assert listed.decisions.count() == 1


# --- 5. a confirmation never carries a withdrawal reason -----------------------------------------------------------


def test_a_new_decision_after_a_withdrawal_keeps_it_with_its_reason(formation, campaign, central_manager):
    # S45 (C6): a new decision reset the withdrawal, and the candidate could confirm the place again.
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    candidature_services.withdraw_application(application=application, actor=application.candidate.user, reason="ADM")

    decide(application, Avis.FAVOURABLE, actor=central_manager)

    application.refresh_from_db()
    assert (application.accepted, application.withdrawal_reason) == (False, "ADM")
    with pytest.raises(InvalidTransition):
        candidature_services.confirm_application(application=application, actor=application.candidate.user)


def test_confirming_clears_a_withdrawal_reason_left_from_before(formation, campaign, central_manager):
    # A row written before record_decision cleared the reason: the confirmation itself clears it.
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    Application.objects.filter(pk=application.pk).update(withdrawal_reason="ADM")

    candidature_services.confirm_application(application=application, actor=application.candidate.user)

    application.refresh_from_db()
    assert (application.accepted, application.withdrawal_reason) == (True, "")
