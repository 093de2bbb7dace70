"""The end of a commission pack (review): a pack holds candidates' whole dossiers, so it must not outlive them. The
destruction of an archived campaign deletes the packs holding one of its dossiers (row and file) and the files of
its decision letters; the nightly ``prune_opi_files`` deletes the packs past ``PACK_RETENTION`` (the last pack of a
season was kept for ever: only a new request pruned); a pack holding a dossier deleted since is no longer handed
out."""

import datetime
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.models import Application, CommissionPack, DecisionLetter, PieceSubmission
from applications.packs import PACK_RETENTION
from applications.services import nightly
from applications.services.packs import request_pack
from applications.tests.factories_candidature import DecisionFactory, make_application, stored_piece
from ecandidat.batches import Report
from ecandidat.models import BatchRun
from offers.enums import Avis, LetterKind
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

TODAY = datetime.date(2027, 9, 1)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


def download_url(pack):
    return reverse("admin:applications_application_pack_download", args=[pack.public_id])


def page_url(pack):
    return reverse("admin:applications_application_pack", args=[pack.public_id])


def _letter(application) -> DecisionLetter:
    """A validated favourable decision of ``application`` and its letter, stored as the build stores it."""
    decision = DecisionFactory(application=application, validated=True, decision_type__avis=Avis.FAVOURABLE)
    name = default_storage.save(f"letters/test/{application.pk}.pdf", ContentFile(b"%PDF-1.4 letter"))
    return DecisionLetter.objects.create(
        decision=decision, application=application, kind=LetterKind.ADMISSION, file=name, generated_at=timezone.now()
    )


def _pack(requester, applications, *, built: bool = True) -> CommissionPack:
    """A pack of ``applications`` asked for by ``requester``: built (its file stored) or still waiting."""
    if not built:
        return CommissionPack.objects.create(
            requested_by=requester, application_ids=[a.pk for a in applications], total=len(applications)
        )
    name = default_storage.save("packs/pack.zip", ContentFile(b"PK dossiers"))
    return CommissionPack.objects.create(
        requested_by=requester,
        application_ids=[a.pk for a in applications],
        total=len(applications),
        done=len(applications),
        status=CommissionPack.Status.DONE,
        file=name,
    )


def _archived(formation, settings, *, accounts: int):
    """A campaign archived 400 days before TODAY (retention 365 days), with ``accounts`` candidates, each with a
    decision letter stored."""
    settings.ARCHIVE_RETENTION_DAYS = 365
    old = CampaignFactory(archive_on=TODAY - datetime.timedelta(days=400))
    applications = [make_application(formation, campaign=old) for _ in range(accounts)]
    letters = [_letter(application) for application in applications]
    return old, applications, letters


def destroy(django_capture_on_commit_callbacks) -> Report:
    report = Report()
    with django_capture_on_commit_callbacks(execute=True):
        nightly.destroy_archived_campaigns(report, dry_run=False, limit=None, today=TODAY)
    return report


# --- the destruction of an archived campaign -------------------------------------------------------------------------


def test_destruction_deletes_the_packs_holding_its_dossiers_and_its_letters_files(
    client, formation, settings, campaign, centre_manager, django_capture_on_commit_callbacks
):
    """Regression: the packs (a JSON list of applications, no foreign key) stayed, row and file, and their requester
    still downloaded the destroyed dossiers; the letters' files stayed until ``remove_orphan_files``."""
    old, (first, second), letters = _archived(formation, settings, accounts=2)
    current = make_application(formation, campaign=campaign)
    mixed = _pack(centre_manager, [first, current])  # one destroyed dossier is enough
    waiting = _pack(centre_manager, [second], built=False)
    kept = _pack(centre_manager, [current])
    client.force_login(centre_manager)
    assert client.get(download_url(mixed)).status_code == 200  # before: the requester's, in scope

    report = destroy(django_capture_on_commit_callbacks)

    assert report.counts == {"accounts deleted": 2, "campaigns destroyed": 1, "commission packs deleted": 2}
    assert list(CommissionPack.objects.all()) == [kept]
    assert not default_storage.exists(mixed.file.name)
    assert default_storage.exists(kept.file.name)
    assert not CommissionPack.objects.filter(pk=waiting.pk).exists()
    assert not DecisionLetter.objects.exists()
    assert not any(default_storage.exists(letter.file.name) for letter in letters)
    assert client.get(download_url(mixed)).status_code == 404
    assert client.get(download_url(kept)).status_code == 200


def test_a_destruction_without_packs_reports_none(formation, settings, django_capture_on_commit_callbacks):
    _archived(formation, settings, accounts=1)

    report = destroy(django_capture_on_commit_callbacks)

    assert report.counts == {"accounts deleted": 1, "campaigns destroyed": 1}


def test_the_destruction_reads_the_packs_and_letters_once_per_chunk(
    formation, settings, centre_manager, django_capture_on_commit_callbacks
):
    """As many queries for a chunk of three accounts, each with its letter and pack, as for a chunk of one (after a
    first run, which fills the caches: content types…)."""
    queries = []
    for accounts in (1, 1, 3):
        old, applications, _letters = _archived(formation, settings, accounts=accounts)
        for application in applications:
            _pack(centre_manager, [application])
        with CaptureQueriesContext(connection) as captured:
            report = destroy(django_capture_on_commit_callbacks)
        assert report.counts["commission packs deleted"] == accounts
        queries.append(len(captured))
        old.archive_on = None  # out of the next run's sight, so that both runs see one campaign
        old.save(update_fields=["archive_on"])

    assert queries[1] == queries[2]
    assert not CommissionPack.objects.exists()


# --- the nightly prune -----------------------------------------------------------------------------------------------


def test_the_nightly_prune_deletes_the_packs_past_their_retention_and_keeps_the_fresh_ones(
    formation, campaign, centre_manager, django_capture_on_commit_callbacks
):
    """Regression: only a new request pruned the packs, so the last pack of a season stayed for ever."""
    application = make_application(formation, campaign=campaign)
    old = _pack(centre_manager, [application])
    CommissionPack.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - PACK_RETENTION - datetime.timedelta(minutes=1)
    )
    fresh = _pack(centre_manager, [application])

    with django_capture_on_commit_callbacks(execute=True):
        call_command("prune_opi_files", dry_run=True, stdout=io.StringIO())
    assert CommissionPack.objects.count() == 2
    assert default_storage.exists(old.file.name)
    assert BatchRun.objects.latest("pk").counts["commission packs to delete"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        call_command("prune_opi_files", stdout=io.StringIO())

    assert list(CommissionPack.objects.all()) == [fresh]
    assert not default_storage.exists(old.file.name)
    assert default_storage.exists(fresh.file.name)
    assert BatchRun.objects.latest("pk").counts["commission packs deleted"] == 1

    call_command("prune_opi_files", stdout=io.StringIO())  # nothing left to prune: no count
    assert "commission packs deleted" not in BatchRun.objects.latest("pk").counts


# --- the download ----------------------------------------------------------------------------------------------------


def test_a_pack_whose_dossier_was_deleted_is_no_longer_handed_out(
    client, commission_member, formation, campaign, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Regression: only the dossiers still existing were checked against the scope, so a pack holding a destroyed
    dossier (any deletion that left the pack) was still handed to its requester."""
    dossiers = [make_application(formation, campaign=campaign) for _ in range(2)]
    for application in dossiers:
        stored_piece(application, "Relevé de notes")
    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=commission_member, application_ids=[a.pk for a in dossiers])
    pack.refresh_from_db()
    assert pack.status == CommissionPack.Status.DONE
    client.force_login(commission_member)
    with django_assert_num_queries(7):  # session, user, staff checks, savepoints, the pack, its dossiers counted
        assert client.get(download_url(pack)).status_code == 200

    PieceSubmission.objects.filter(application=dossiers[0]).delete()
    Application.objects.filter(pk=dossiers[0].pk).delete()  # a deletion that left the pack

    with django_assert_num_queries(8):  # the same, the savepoint rolled back for the 404
        assert client.get(download_url(pack)).status_code == 404
    assert client.get(page_url(pack)).status_code == 404
