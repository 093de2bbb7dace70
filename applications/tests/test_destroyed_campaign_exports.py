"""The background exports of a destroyed campaign's dossiers (review): the destruction deleted the dossiers and the
commission packs holding them, but not the ``ExportJob`` rows nor their files, and the download refused only a job
whose applications had left the requester's scope (a deleted one has not): the destroyed candidates' names and
addresses stayed downloadable until ``EXPORT_RETENTION``. The destruction now deletes the exports holding one of
its dossiers (row, then file once the chunk commits), and a job holding an application deleted since is no longer
handed out (404)."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from applications.export_jobs import exports_holding
from applications.models import Application, ExportJob
from applications.services import nightly
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import post_export
from ecandidat.batches import Report
from offers.models import Campaign, Formation
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

TODAY = datetime.date(2027, 9, 1)
DOWNLOAD = "admin:applications_application_export_job_download"
COLUMNS = ["numero", "birth_name", "email"]


@pytest.fixture
def formation(centre, commission) -> Formation:
    formation: Formation = FormationFactory(centre=centre, commission=commission, code="M1ENER")
    return formation


def download_url(job: ExportJob) -> str:
    return reverse(DOWNLOAD, args=[job.public_id])


def _archived(formation: Formation, settings, *, accounts: int) -> tuple[Campaign, list[Application]]:
    """A campaign archived 400 days before TODAY (retention 365 days), with ``accounts`` candidates."""
    settings.ARCHIVE_RETENTION_DAYS = 365
    old: Campaign = CampaignFactory(archive_on=TODAY - datetime.timedelta(days=400))
    return old, [make_application(formation, campaign=old) for _ in range(accounts)]


def _export(requester: User, applications: list[Application]) -> ExportJob:
    """A background export of ``applications`` asked for by ``requester``, built: its file stored, its applications
    recorded, as ``export_jobs.build_export`` leaves it."""
    job = ExportJob.objects.create(requested_by=requester, fmt=ExportJob.Format.CSV, columns=COLUMNS)
    name = default_storage.save(f"exports/{job.public_id}.csv", ContentFile(b"numero;nom\r\n"))
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        file=name,
        application_ids=[a.pk for a in applications],
        total=len(applications),
        done=len(applications),
    )
    job.refresh_from_db()
    return job


def destroy(django_capture_on_commit_callbacks) -> Report:
    report = Report()
    with django_capture_on_commit_callbacks(execute=True):
        nightly.destroy_archived_campaigns(report, dry_run=False, limit=None, today=TODAY)
    return report


# --- the destruction of an archived campaign -------------------------------------------------------------------------


def test_the_destruction_deletes_a_built_export_of_its_dossiers_row_and_file(
    client, formation, settings, centre_manager, django_capture_on_commit_callbacks
):
    """The reviewer's case: the campaign's list exported in the background (names and addresses), then the campaign
    destroyed: the export and its file stayed, and its requester still downloaded the destroyed candidates."""
    settings.EXPORT_IN_REQUEST_MAX_ROWS = 2
    old, applications = _archived(formation, settings, accounts=3)
    client.force_login(centre_manager)
    with django_capture_on_commit_callbacks(execute=True):
        post_export(client, COLUMNS, fmt="csv", filters=f"campaign__id__exact={old.pk}")
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.DONE
    assert sorted(job.application_ids) == sorted(a.pk for a in applications)
    response = client.get(download_url(job))
    assert response.status_code == 200  # before: the requester's, in scope
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert applications[0].candidate.user.email in text

    report = destroy(django_capture_on_commit_callbacks)

    assert not ExportJob.objects.exists()
    assert not default_storage.exists(job.file.name)
    assert client.get(download_url(job)).status_code == 404
    assert report.counts == {"accounts deleted": 3, "campaigns destroyed": 1, "exports deleted": 1}


def test_the_destruction_leaves_the_exports_of_other_campaigns(
    client, formation, settings, campaign, centre_manager, django_capture_on_commit_callbacks
):
    """One destroyed dossier is enough for an export to go; an export of the active campaign only, and one not
    built yet (its applications not recorded: its build reads the rows that remain), stay."""
    _old, (first, second) = _archived(formation, settings, accounts=2)
    current = make_application(formation, campaign=campaign)
    mixed = _export(centre_manager, [current, second])
    destroyed = _export(centre_manager, [first])
    kept = _export(centre_manager, [current])
    waiting = ExportJob.objects.create(requested_by=centre_manager, fmt=ExportJob.Format.CSV, columns=COLUMNS)
    client.force_login(centre_manager)
    assert client.get(download_url(mixed)).status_code == 200

    report = destroy(django_capture_on_commit_callbacks)

    assert set(ExportJob.objects.all()) == {kept, waiting}
    assert not default_storage.exists(mixed.file.name)
    assert not default_storage.exists(destroyed.file.name)
    assert default_storage.exists(kept.file.name)
    assert client.get(download_url(mixed)).status_code == 404
    assert client.get(download_url(kept)).status_code == 200
    assert report.counts == {"accounts deleted": 2, "campaigns destroyed": 1, "exports deleted": 2}


def test_a_dry_run_deletes_no_export(formation, settings, centre_manager, django_capture_on_commit_callbacks):
    _old, applications = _archived(formation, settings, accounts=1)
    job = _export(centre_manager, applications)

    with django_capture_on_commit_callbacks(execute=True):
        nightly.destroy_archived_campaigns(Report(), dry_run=True, limit=None, today=TODAY)

    assert list(ExportJob.objects.all()) == [job]
    assert default_storage.exists(job.file.name)


def test_the_destruction_finds_the_exports_in_as_many_queries_whatever_their_number(
    formation, settings, centre_manager, django_capture_on_commit_callbacks
):
    """As many queries for a chunk whose dossiers five exports hold as for one that one export holds (after a first
    run, which fills the caches: content types…): the database selects them, no query per job."""
    queries = []
    for exports in (1, 1, 5):
        old, applications = _archived(formation, settings, accounts=2)
        for index in range(exports):
            _export(centre_manager, applications[: 1 + index % 2])
        with CaptureQueriesContext(connection) as captured:
            report = destroy(django_capture_on_commit_callbacks)
        assert report.counts["exports deleted"] == exports
        queries.append(len(captured))
        old.archive_on = None  # out of the next run's sight, so that each run sees one campaign
        old.save(update_fields=["archive_on"])

    assert queries[1] == queries[2]
    assert not ExportJob.objects.exists()


def test_exports_holding_matches_any_shared_application(formation, campaign, centre_manager):
    """The database's match of the JSON lists (PostgreSQL's ``jsonb``, SQLite's JSON text): a job holding one of the
    applications, whatever its place in either list; not a job holding others, nor one that recorded none."""
    applications = [make_application(formation, campaign=campaign) for _ in range(4)]
    a, b, c, d = (application.pk for application in applications)
    first = _export(centre_manager, applications[:2])
    last = _export(centre_manager, applications[2:])
    ExportJob.objects.create(requested_by=centre_manager, fmt=ExportJob.Format.CSV, columns=COLUMNS)

    assert set(exports_holding([b])) == {first}
    assert set(exports_holding([d, 10_000_000])) == {last}
    assert set(exports_holding({c, a})) == {first, last}
    assert not exports_holding([10_000_000, 10_000_001]).exists()
    assert list(exports_holding([])) == []


# --- the download ----------------------------------------------------------------------------------------------------


def test_an_export_holding_an_application_deleted_since_is_no_longer_handed_out(
    client, formation, campaign, centre_manager, django_assert_num_queries
):
    """Defence in depth: an application deleted by a path that left its export (the destruction deletes it) withdraws
    the file, as for a pack; the count stays one query (those existing and those outside the scope together)."""
    applications = [make_application(formation, campaign=campaign) for _ in range(2)]
    job = _export(centre_manager, applications)
    client.force_login(centre_manager)
    with django_assert_num_queries(7):  # session, user, savepoints, the job, its applications counted
        assert client.get(download_url(job)).status_code == 200

    Application.objects.filter(pk=applications[0].pk).delete()  # a deletion that left the export

    with django_assert_num_queries(8):  # the same, the savepoint rolled back for the 404
        assert client.get(download_url(job)).status_code == 404
    page = reverse("admin:applications_application_export_job", args=[job.public_id])
    assert client.get(page).status_code == 404
