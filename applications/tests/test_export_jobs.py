"""Large « Exporter avec les colonnes choisies » exports built in the background (``applications.export_jobs``):
above ``EXPORT_IN_REQUEST_MAX_ROWS`` applications the page queues a job and opens its page (progress, then the link),
instead of building the file in the request, where the worker timeout (60 s) cut it. The job rebuilds the rows
within the requester's scope at build time, its page and file are for its requester only, it is deleted after
``EXPORT_RETENTION`` by the nightly batch."""

import csv
import datetime
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import StaffMembership
from accounts.tests.factories import StaffMembershipFactory
from applications import export_jobs
from applications.models import ApplicationNote, ExportJob
from applications.tasks import build_export_job
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import post_export
from ecandidat.exports import XLSX_CELL_MAX_CHARS
from ecandidat.models import BatchRun
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

JOB = "admin:applications_application_export_job"
DOWNLOAD = "admin:applications_application_export_job_download"
COLUMNS = ["numero", "birth_name"]


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def applications(formation, campaign):
    return [make_application(formation, campaign=campaign) for _ in range(3)]


@pytest.fixture
def small_requests(settings):
    """Two applications at most in the request: three go to the background."""
    settings.EXPORT_IN_REQUEST_MAX_ROWS = 2


def _ask(client, django_capture_on_commit_callbacks, fmt="xlsx", columns=COLUMNS, *, build=True):
    with django_capture_on_commit_callbacks(execute=build):
        return post_export(client, columns, fmt=fmt)


def _download(client, job) -> bytes:
    response = client.get(reverse(DOWNLOAD, args=[job.public_id]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _sheet_rows(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))


def test_a_large_xlsx_export_is_built_in_the_background(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks
):
    client.force_login(centre_manager)

    response = _ask(client, django_capture_on_commit_callbacks)

    job = ExportJob.objects.get()
    assert response.status_code == 302  # not the file, built in the request
    assert response["Location"] == reverse(JOB, args=[job.public_id])
    assert (job.status, job.total, job.done, job.requested_by, job.columns) == (
        ExportJob.Status.DONE,
        3,
        3,
        centre_manager,
        COLUMNS,
    )
    assert job.file.name == f"exports/{job.public_id}.xlsx"
    rows = _sheet_rows(_download(client, job))
    assert rows[0] == ("Dossier number", "Birth name")
    assert sorted(row[0] for row in rows[1:]) == sorted(a.candidate.user.username for a in applications)


def test_a_large_csv_export_too(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks
):
    client.force_login(centre_manager)

    _ask(client, django_capture_on_commit_callbacks, fmt="csv")

    job = ExportJob.objects.get()
    response = client.get(reverse(DOWNLOAD, args=[job.public_id]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="candidatures-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert header == ["Dossier number", "Birth name"]
    assert sorted(row[0] for row in rows) == sorted(a.candidate.user.username for a in applications)


def test_the_threshold_decides(client, centre_manager, applications, settings, django_capture_on_commit_callbacks):
    """Up to EXPORT_IN_REQUEST_MAX_ROWS (2,000 unless set: what a slow machine writes well within a request), the
    file is the answer, at once; above, a job."""
    assert export_jobs.in_request_max_rows() == 2_000  # the default (ecandidat/settings/base.py)
    client.force_login(centre_manager)
    settings.EXPORT_IN_REQUEST_MAX_ROWS = 3

    response = post_export(client, COLUMNS, fmt="csv")

    assert response.status_code == 200
    assert response.streaming
    assert not ExportJob.objects.exists()

    settings.EXPORT_IN_REQUEST_MAX_ROWS = 2
    response = _ask(client, django_capture_on_commit_callbacks, fmt="csv")

    assert response.status_code == 302
    assert ExportJob.objects.get().status == ExportJob.Status.DONE


def test_the_job_page_shows_the_progress_then_the_link(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks, django_assert_num_queries
):
    client.force_login(centre_manager)
    # The export's own queries (session, user, scope, saved columns, the list's filters and count), the old jobs
    # pruned, the job created: its build is queued, not run.
    with django_assert_num_queries(24):
        _ask(client, django_capture_on_commit_callbacks, build=False)
    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, done=1200, total=15000)

    # The session, the user, the savepoint and its release, the scope, the job, the menu's two permission reads.
    with django_assert_num_queries(8):
        response = client.get(reverse(JOB, args=[job.public_id]))

    html = response.content.decode()
    assert "1,200 / 15,000 applications" in html
    assert 'data-job-state="running"' in html
    assert f'href="{reverse(JOB, args=[job.public_id])}">Reload</a>' in html  # without script: a link to reload
    assert reverse(DOWNLOAD, args=[job.public_id]) not in html

    build_export_job(job.pk)  # its task's delivery, late: RUNNING with a fresh stamp is left alone
    assert ExportJob.objects.get().status == ExportJob.Status.RUNNING
    ExportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - export_jobs.EXPORT_STALE_AFTER * 2)
    build_export_job(job.pk)  # taken back: its worker died
    response = client.get(reverse(JOB, args=[job.public_id]))
    html = response.content.decode()
    assert "3 / 3 applications" in html
    assert 'data-job-state="running"' not in html
    assert reverse(DOWNLOAD, args=[job.public_id]) in html


def test_the_job_page_in_french_groups_the_thousands(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks
):
    client.force_login(centre_manager)
    _ask(client, django_capture_on_commit_callbacks, build=False)
    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(done=1200, total=15000)

    client.language = "fr"
    response = client.get(reverse(JOB, args=[job.public_id]))

    assert "1\xa0200 / 15\xa0000" in response.content.decode()


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("other_centre_manager", 404),
        ("commission_member", 404),
        ("central_manager", 404),
        ("read_only_staff", 404),
        ("superuser", 404),
        ("candidate", 302),  # to the login page
    ],
)
def test_only_the_requester_sees_the_job_and_its_file(
    client,
    centre_manager,
    applications,
    small_requests,
    django_capture_on_commit_callbacks,
    persona,
    expected,
    request,
    django_assert_max_num_queries,
):
    client.force_login(centre_manager)
    _ask(client, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    with django_assert_max_num_queries(8):
        assert client.get(reverse(JOB, args=[job.public_id])).status_code == expected
    with django_assert_max_num_queries(8):
        assert client.get(reverse(DOWNLOAD, args=[job.public_id])).status_code == expected


def test_anonymous_goes_to_login(client, centre_manager, applications, small_requests):
    job = ExportJob.objects.create(requested_by=centre_manager, columns=COLUMNS, total=3)

    response = client.get(reverse(JOB, args=[job.public_id]))

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_download_before_ready_is_not_found(client, centre_manager, applications, django_assert_num_queries):
    job = ExportJob.objects.create(requested_by=centre_manager, columns=COLUMNS, total=3)
    client.force_login(centre_manager)

    # The session, the user, the savepoint, its rollback and release, the scope, the job.
    with django_assert_num_queries(7):
        response = client.get(reverse(DOWNLOAD, args=[job.public_id]))

    assert response.status_code == 404


def test_a_requester_who_lost_every_right_gets_nothing(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks
):
    client.force_login(centre_manager)
    _ask(client, django_capture_on_commit_callbacks, build=False)
    job = ExportJob.objects.get()
    StaffMembership.objects.filter(user=centre_manager).delete()  # left the staff before the build

    build_export_job(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert not job.file.name
    assert not default_storage.exists(f"exports/{job.public_id}.xlsx")


def test_the_rows_are_read_in_the_scope_at_build_time(
    client, centre_manager, campaign, applications, other_centre, small_requests, django_capture_on_commit_callbacks
):
    """A manager of two centres asks for the export of both; their second centre is withdrawn before the build: the
    file holds the first centre's applications only."""
    StaffMembershipFactory(user=centre_manager, centre=other_centre)
    elsewhere = make_application(FormationFactory(centre=other_centre, code="MOTHER"), campaign=campaign)
    client.force_login(centre_manager)
    _ask(client, django_capture_on_commit_callbacks, build=False)
    job = ExportJob.objects.get()
    assert job.total == 4
    StaffMembership.objects.filter(user=centre_manager, centre=other_centre).delete()

    build_export_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.total, job.done) == (ExportJob.Status.DONE, 3, 3)
    numbers = {row[0] for row in _sheet_rows(_download(client, job))[1:]}
    assert numbers == {a.candidate.user.username for a in applications}
    assert elsewhere.candidate.user.username not in numbers


def test_a_right_withdrawn_after_the_build_withdraws_the_file(
    client,
    centre_manager,
    campaign,
    applications,
    other_centre,
    small_requests,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    """Found by review: a manager of two centres exported both; their second centre was withdrawn after the build,
    and its candidates' names stayed downloadable for the file's whole retention while their dossiers' pages were
    already a 404. The file records its applications: handed out only while every one is in the scope."""
    StaffMembershipFactory(user=centre_manager, centre=other_centre)
    elsewhere = make_application(FormationFactory(centre=other_centre, code="MOTHER"), campaign=campaign)
    client.force_login(centre_manager)
    _ask(client, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.DONE
    assert sorted(job.application_ids) == sorted(a.pk for a in [*applications, elsewhere])
    # The session, the user, the savepoint and its release, the scope, the job, the applications outside.
    with django_assert_num_queries(7):
        assert len(_sheet_rows(_download(client, job))) == 5
    StaffMembership.objects.filter(user=centre_manager, centre=other_centre).delete()

    with django_assert_num_queries(8):  # the same, the savepoint rolled back (404)
        assert client.get(reverse(DOWNLOAD, args=[job.public_id])).status_code == 404
    assert client.get(reverse(JOB, args=[job.public_id])).status_code == 404
    elsewhere.delete()  # the file still holds its row: an application deleted since withdraws the file too
    assert client.get(reverse(DOWNLOAD, args=[job.public_id])).status_code == 404


def test_a_file_built_before_its_applications_were_recorded_is_not_handed_out(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks
):
    client.force_login(centre_manager)
    _ask(client, django_capture_on_commit_callbacks)
    ExportJob.objects.update(application_ids=[])  # as the files built before migration applications 0043

    assert client.get(reverse(DOWNLOAD, args=[ExportJob.objects.get().public_id])).status_code == 404


def test_progress_is_recorded_every_few_rows(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 1)
    seen = []
    progress = export_jobs._progress

    def recording(job, **values):
        progress(job, **values)
        seen.append(ExportJob.objects.values_list("done", "total").get(pk=job.pk))

    monkeypatch.setattr(export_jobs, "_progress", recording)
    client.force_login(centre_manager)

    _ask(client, django_capture_on_commit_callbacks)

    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_a_build_taken_over_keeps_nothing(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 1)
    progress = export_jobs._progress

    def taken_over(job, **values):
        if values.get("done") == 2:  # another delivery claimed it meanwhile
            ExportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() + datetime.timedelta(seconds=1))
        progress(job, **values)

    monkeypatch.setattr(export_jobs, "_progress", taken_over)
    client.force_login(centre_manager)

    _ask(client, django_capture_on_commit_callbacks)

    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.RUNNING
    assert not job.file.name


def test_a_job_deleted_while_its_build_runs_leaves_no_file(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks, monkeypatch
):
    """A « Suppression CNIL » deletes every kept export, a running one too: its build stops at its next write and
    stores nothing (no orphan file, no error)."""
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 1)
    progress = export_jobs._progress

    def erased(job, **values):
        if values.get("done") == 2:
            ExportJob.objects.filter(pk=job.pk).delete()
        progress(job, **values)

    monkeypatch.setattr(export_jobs, "_progress", erased)
    client.force_login(centre_manager)

    def stored() -> set[str]:
        return set(default_storage.listdir("exports")[1]) if default_storage.exists("exports") else set()

    before = stored()
    _ask(client, django_capture_on_commit_callbacks)

    assert not ExportJob.objects.exists()
    assert stored() == before


def test_a_job_deleted_before_its_build_starts_is_skipped(centre_manager, monkeypatch):
    """Deleted between the claim and the build's read: nothing to build, no error."""
    job = ExportJob.objects.create(requested_by=centre_manager, columns=["numero_dossier"])
    claim = export_jobs._claim

    def claimed_then_erased(job_id):
        claimed = claim(job_id)
        ExportJob.objects.filter(pk=job_id).delete()
        return claimed

    monkeypatch.setattr(export_jobs, "_claim", claimed_then_erased)
    build_export_job(job.pk)
    assert not ExportJob.objects.exists()


def test_long_notes_are_cut_with_a_marker_in_the_requesters_language(
    client, settings, centre_manager, applications, small_requests, django_capture_on_commit_callbacks
):
    settings.EXPORT_NOTES = True  # the notes are offered (off by default: test_bulk_fixes_dec6.py)
    ApplicationNote.objects.create(application=applications[0], author=centre_manager, text="x" * 40_000)
    client.force_login(centre_manager)

    _ask(client, django_capture_on_commit_callbacks, columns=["numero", "notes"])

    job = ExportJob.objects.get()
    assert job.language == "en"
    rows = {row[0]: row[1] for row in _sheet_rows(_download(client, job))[1:]}
    note = rows[applications[0].candidate.user.username]
    assert len(note) == XLSX_CELL_MAX_CHARS
    assert note.endswith("… (truncated: see the application)")


def test_old_jobs_and_their_files_go_with_the_nightly_batch(centre_manager, django_capture_on_commit_callbacks):
    stored = default_storage.save("exports/old.xlsx", ContentFile(b"x"))
    old = ExportJob.objects.create(
        requested_by=centre_manager, columns=COLUMNS, status=ExportJob.Status.DONE, file=stored, total=1, done=1
    )
    ExportJob.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - export_jobs.EXPORT_RETENTION - datetime.timedelta(minutes=1)
    )
    recent = ExportJob.objects.create(requested_by=centre_manager, columns=COLUMNS)

    call_command("prune_opi_files", dry_run=True, stdout=io.StringIO())
    assert ExportJob.objects.filter(pk=old.pk).exists()
    assert BatchRun.objects.latest("pk").counts["exports to delete"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        call_command("prune_opi_files", stdout=io.StringIO())

    assert list(ExportJob.objects.all()) == [recent]
    assert not default_storage.exists(stored)
    assert BatchRun.objects.latest("pk").counts["exports deleted"] == 1  # in the batch history, in words


def test_a_new_request_prunes_old_jobs(
    client, centre_manager, applications, small_requests, django_capture_on_commit_callbacks
):
    old = ExportJob.objects.create(requested_by=centre_manager, columns=COLUMNS)
    ExportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=30))
    client.force_login(centre_manager)

    _ask(client, django_capture_on_commit_callbacks)

    assert not ExportJob.objects.filter(pk=old.pk).exists()


def test_a_lost_task_is_queued_again_by_the_page(
    client, centre_manager, applications, django_capture_on_commit_callbacks
):
    """Its task never reached the broker: the page, watched by its requester, queues the build again."""
    job = ExportJob.objects.create(requested_by=centre_manager, columns=COLUMNS, total=3, language="en")
    ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    client.force_login(centre_manager)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(reverse(JOB, args=[job.public_id])).status_code == 200

    job.refresh_from_db()
    assert (job.status, job.done) == (ExportJob.Status.DONE, 3)


def test_a_job_never_started_shows_failed(client, centre_manager, applications):
    job = ExportJob.objects.create(requested_by=centre_manager, columns=COLUMNS, total=3)
    ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - datetime.timedelta(hours=1))
    client.force_login(centre_manager)

    html = client.get(reverse(JOB, args=[job.public_id])).content.decode()

    assert "The export did not start. The export could not be built" in html
    assert 'data-job-state="running"' not in html


@pytest.mark.parametrize("requester", ["commission_member", "read_only_staff", "central_manager"])
def test_readers_of_the_list_get_their_own_job(
    client, applications, small_requests, django_capture_on_commit_callbacks, requester, request
):
    user = request.getfixturevalue(requester)
    client.force_login(user)

    response = _ask(client, django_capture_on_commit_callbacks)

    job = ExportJob.objects.get()
    assert response["Location"] == reverse(JOB, args=[job.public_id])
    assert client.get(response["Location"]).status_code == 200
    assert len(_sheet_rows(_download(client, job))) == 4  # the header and the three applications in their scope
