"""Nightly batches over campaigns and formations: archive, destroy, waiting-list ranks, the nightly chain."""

import datetime
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from applications.enums import OpiState
from applications.models import Application, Candidate, Opi, PieceSubmission
from applications.opi.services import opi_counts
from applications.services import nightly
from applications.tests.factories_candidature import decide, make_application
from documents.models import Document
from ecandidat.batches import Report
from ecandidat.models import BatchRun, DestroyedCampaignCount
from offers.enums import Avis
from offers.models import Campaign
from offers.tests.factories import CampaignFactory, FormationFactory, PieceTypeFactory

TODAY = datetime.date(2027, 9, 1)


def run(work, **kwargs):
    report = Report()
    work(report, dry_run=kwargs.pop("dry_run", False), limit=kwargs.pop("limit", None), **kwargs)
    return report


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


# --- archive ------------------------------------------------------------------------------------------------------


@pytest.fixture
def next_campaign(campaign):
    return CampaignFactory(
        starts_on=campaign.starts_on + datetime.timedelta(days=365),
        ends_on=campaign.ends_on + datetime.timedelta(days=365),
    )


def test_archive_waits_for_the_date(campaign, next_campaign):
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=TODAY + datetime.timedelta(days=1))

    assert run(nightly.archive_campaigns, today=TODAY).counts == {}
    assert Campaign.objects.get(is_active=True) == campaign


def test_archive_activates_the_next_campaign_freezes_dates_and_closes_accounts(campaign, next_campaign, formation):
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=TODAY)
    later = formation.return_deadline + datetime.timedelta(days=3)
    extended = make_application(formation, campaign=campaign, return_deadline_override=later)
    plain = make_application(formation, campaign=campaign)

    report = run(nightly.archive_campaigns, today=TODAY)

    assert report.counts == {"campaigns archived": 1, "applications frozen": 2, "accounts closed": 2}
    assert Campaign.objects.get(is_active=True) == next_campaign
    formation.return_deadline += datetime.timedelta(days=100)  # the new year's dates do not move old applications
    formation.confirmation_date += datetime.timedelta(days=100)
    formation.save()
    extended.refresh_from_db()
    plain.refresh_from_db()
    assert extended.return_deadline_override == later
    assert plain.return_deadline_override == formation.return_deadline - datetime.timedelta(days=100)
    assert plain.confirmation_date_override == formation.confirmation_date - datetime.timedelta(days=100)
    assert not User.objects.filter(campaign=campaign, is_active=True).exists()
    assert run(nightly.archive_campaigns, today=TODAY).counts == {}  # idempotent


def test_archive_records_the_night_it_archived_so_a_wrong_past_date_destroys_nothing_that_night(
    campaign, next_campaign, formation, settings
):
    settings.ARCHIVE_RETENTION_DAYS = 365
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=TODAY.replace(year=TODAY.year - 2))  # a wrong year
    make_application(formation, campaign=campaign)

    archived = run(nightly.archive_campaigns, today=TODAY)
    destroyed = run(nightly.destroy_archived_campaigns, today=TODAY)

    assert archived.counts["campaigns archived"] == 1
    assert destroyed.counts == {}
    campaign.refresh_from_db()
    assert (campaign.is_active, campaign.archive_on) == (False, TODAY)
    assert Application.objects.filter(campaign=campaign).exists()


def test_archive_without_a_next_campaign_changes_nothing_and_says_why(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=TODAY)

    report = run(nightly.archive_campaigns, today=TODAY)

    assert "no next campaign" in report.errors[0]
    assert Campaign.objects.get(is_active=True) == campaign


def test_archive_dry_run(campaign, next_campaign, formation):
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=TODAY)
    make_application(formation, campaign=campaign)

    report = run(nightly.archive_campaigns, today=TODAY, dry_run=True)

    assert report.counts == {"campaigns to archive": 1, "applications to freeze": 1, "accounts to close": 1}
    assert Campaign.objects.get(is_active=True) == campaign


def test_archive_names_the_opis_it_leaves_pending_the_transfer_will_not_take(campaign, next_campaign, formation):
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=TODAY)
    refused, other, passed = (make_application(formation, campaign=campaign) for _ in range(3))
    Opi.objects.create(application=refused, code="X1", state=OpiState.PENDING)
    Opi.objects.create(application=other, code="X2", state=OpiState.PENDING, withdrawn=True)
    Opi.objects.create(application=passed, code="X3", state=OpiState.PASSED, passed_at="2027-08-30T10:00:00Z")

    rehearsal = run(nightly.archive_campaigns, today=TODAY, dry_run=True)
    report = run(nightly.archive_campaigns, today=TODAY)

    assert rehearsal.counts["OPIs left pending"] == 2
    assert report.counts["OPIs left pending"] == 2
    numbers = sorted(a.candidate.user.username for a in (refused, other))
    assert report.errors == [
        (
            f"campaign {campaign.code} archived with 2 OPIs still pending: the transfer only takes the active "
            "campaign's, so they will never be written in a file. Enter them by hand in the student records system, "
            f"then cancel them on the OPI screen (filter « archived campaigns »). Dossiers: {', '.join(numbers)}"
        )
    ]
    assert opi_counts(next_campaign)["pending_archived"] == 2
    assert opi_counts(next_campaign)["pending"] == 0


# --- destroy ------------------------------------------------------------------------------------------------------


@pytest.fixture
def archived(formation, settings, campaign):
    """An old campaign archived 400 days ago, with two candidates, one with a piece, and the active campaign."""
    settings.ARCHIVE_RETENTION_DAYS = 365
    old = CampaignFactory(archive_on=TODAY - datetime.timedelta(days=400))
    first = make_application(formation, campaign=old)
    make_application(formation, campaign=old)
    name = default_storage.save(f"{old.code}/piece.pdf", ContentFile(b"%PDF-1.4"))
    document = Document.objects.create(
        campaign_code=old.code,
        file=name,
        original_name="piece.pdf",
        size=8,
        content_type="application/pdf",
        sha256="0" * 64,
        uploaded_by=first.candidate.user,
    )
    PieceSubmission.objects.create(
        candidate=first.candidate, application=first, piece_type=PieceTypeFactory(), document=document, status="TR"
    )
    return old, name


def test_destroy_keeps_an_anonymous_count_and_nothing_else(
    archived, formation, campaign, django_capture_on_commit_callbacks
):
    old, name = archived
    current = make_application(formation, campaign=campaign)

    with django_capture_on_commit_callbacks(execute=True):
        report = run(nightly.destroy_archived_campaigns, today=TODAY)

    assert report.counts == {"accounts deleted": 2, "campaigns destroyed": 1}
    count = DestroyedCampaignCount.objects.get()
    assert (count.campaign_code, count.accounts, count.applications, count.documents) == (old.code, 2, 2, 1)
    assert not User.objects.filter(campaign=old).exists()
    assert not Application.objects.filter(campaign=old).exists()
    assert not Document.objects.exists()
    assert not default_storage.exists(name)
    assert Application.objects.get() == current
    assert Campaign.objects.filter(pk=old.pk).exists()
    assert run(nightly.destroy_archived_campaigns, today=TODAY).counts == {}


def test_destroy_respects_retention(archived, settings):
    settings.ARCHIVE_RETENTION_DAYS = 500

    assert run(nightly.destroy_archived_campaigns, today=TODAY).counts == {}
    assert Candidate.objects.count() == 2


def test_destroy_interrupted_by_limit_resumes_without_counting_again(archived, monkeypatch):
    monkeypatch.setattr(nightly, "CHUNK", 1)

    report = run(nightly.destroy_archived_campaigns, today=TODAY, limit=1)
    assert report.counts == {"accounts deleted": 1, "chunks left for the next run": 1}
    run(nightly.destroy_archived_campaigns, today=TODAY)

    assert DestroyedCampaignCount.objects.get().accounts == 2
    assert not User.objects.filter(campaign=archived[0]).exists()


def test_a_limit_reached_on_the_last_chunk_finishes_the_campaign(archived, monkeypatch):
    """The limit was checked before looking for what is left: the run that deleted the last accounts said a chunk
    was left, never counted the campaign destroyed, and the next run skipped the emptied campaign."""
    report = run(nightly.destroy_archived_campaigns, today=TODAY, limit=1)  # one chunk holds both accounts

    assert report.counts == {"accounts deleted": 2, "campaigns destroyed": 1}
    assert not User.objects.filter(campaign=archived[0]).exists()


# --- ranks and the nightly chain ----------------------------------------------------------------------------------


def test_ranks_are_recomputed_for_formations_with_a_list(formation, campaign, central_manager):
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    for rank, application in zip((5, 2, 9), applications, strict=True):
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
    Application.objects.update(waiting_list_rank=None)

    report = run(nightly.recompute_all_waiting_list_ranks)

    assert report.counts == {"formations ranked": 1, "ranked applications": 3}
    ranks = [Application.objects.get(pk=a.pk).waiting_list_rank for a in applications]
    assert ranks == [2, 1, 3]


def test_nightly_dry_run_lists_every_batch_and_changes_nothing(formation, campaign, central_manager):
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    out = io.StringIO()

    call_command("nightly", "--dry-run", stdout=out, stderr=io.StringIO())

    for name in [
        "purge_unvalidated_accounts",
        "sync_sis",
        "remind_transmission",
        "remind_favourable_decisions",
        "withdraw_expired_confirmations",
        "recompute_waiting_list_ranks: formations to rank: 1",
        "archive_campaigns",
        "destroy_archived_campaigns",
        "prune_outbox",
    ]:
        assert name in out.getvalue()
    assert set(BatchRun.objects.values_list("dry_run", flat=True)) == {True}


def test_two_runs_at_once_one_refuses(campaign):
    BatchRun.objects.create(name="withdraw_expired_confirmations")

    with pytest.raises(CommandError, match="already running"):
        call_command("withdraw_expired_confirmations", stdout=io.StringIO())
    assert BatchRun.objects.filter(name="withdraw_expired_confirmations").count() == 1
