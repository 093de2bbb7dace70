"""The list's plain « Exporter » (XLSX or CSV) above ``EXPORT_IN_REQUEST_MAX_ROWS`` applications: built in the
background as « Exporter avec les colonnes choisies » is (an ``ExportJob`` with the list's query string and this
export's columns, its progress page, its file for its requester only), rather than in the request, where an XLSX of
some 15,000 rows outlasted the worker timeout (a 502, no message). The job's file holds the same rows as the export
made in the request for the same list; below the threshold the file is the answer, as before."""

import csv
import datetime
import io

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from applications.admin import exports as list_exports
from applications.enums import DossierStatus
from applications.export_columns import COLUMNS
from applications.models import ApplicationNote, ApplicationTag, Decision, ExportJob, Tag
from applications.tasks import build_export_job
from applications.tests.factories_candidature import decision_type, make_application
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

JOB = "admin:applications_application_export_job"
DOWNLOAD = "admin:applications_application_export_job_download"
PLAIN_KEYS = [
    "numero",
    "birth_name",
    "usual_name",
    "first_name",
    "email",
    "ine",
    "centre",
    "formation_code",
    "formation",
    "dossier_status",
    "transmitted_at",
    "decision",
    "decision_validated_flag",
    "waiting_list_rank",
    "answer",
    "cancelled_at",
    "created_at",
    "tags",
]


def export_url(fmt: str, query: str = "") -> str:
    return reverse("admin:applications_application_export", args=[fmt]) + query


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def applications(formation, campaign, centre_manager):
    """Three applications: a validated decision with tags and an answer, a decision not validated with its actual
    rank on the complementary list, no decision and cancelled."""
    now = timezone.now()
    validated = make_application(
        formation, campaign=campaign, status=DossierStatus.COMPLETE, transmitted_at=now - datetime.timedelta(days=3)
    )
    Decision.objects.create(
        application=validated,
        decision_type=decision_type(Avis.FAVOURABLE),
        created_by=centre_manager,
        validated_at=now - datetime.timedelta(days=1),
        validated_by=centre_manager,
    )
    validated.accepted, validated.answered_at = True, now
    validated.save(update_fields=["accepted", "answered_at"])
    for label in ("Prioritaire", "Entretien"):
        ApplicationTag.objects.create(
            application=validated, tag=Tag.objects.create(label=label), added_by=centre_manager
        )
    ApplicationNote.objects.create(application=validated, author=centre_manager, text="Bon dossier")
    ranked = make_application(
        formation,
        campaign=campaign,
        status=DossierStatus.RECEIVED,
        transmitted_at=now - datetime.timedelta(days=2),
        waiting_list_rank=4,
    )
    Decision.objects.create(
        application=ranked, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), created_by=centre_manager
    )
    cancelled = make_application(formation, campaign=campaign, status=DossierStatus.WAITING, cancelled_at=now)
    return [validated, ranked, cancelled]


@pytest.fixture
def small_requests(settings):
    """Two applications at most in the request: three go to the background."""
    settings.EXPORT_IN_REQUEST_MAX_ROWS = 2


def file_rows(content: bytes, fmt: str) -> list[list]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    return [list(row) for row in load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True)]


def in_request_rows(client, fmt: str, query: str = "") -> list[list]:
    response = client.get(export_url(fmt, query))
    assert response.status_code == 200
    return file_rows(b"".join(response.streaming_content), fmt)


def job_rows(client, job) -> list[list]:
    response = client.get(reverse(DOWNLOAD, args=[job.public_id]))
    assert response.status_code == 200
    return file_rows(b"".join(response.streaming_content), job.fmt)


def test_the_plain_keys_are_the_exports_columns():
    assert list_exports.plain_columns(notes=False) == PLAIN_KEYS
    assert list_exports.plain_columns(notes=True) == [*PLAIN_KEYS, "notes"]
    assert [str(COLUMNS[key].label) for key in PLAIN_KEYS] == [str(header) for header in list_exports.EXPORT_HEADERS]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_large_plain_export_is_a_job_not_a_file(
    client, centre_manager, applications, small_requests, fmt, django_assert_num_queries
):
    client.force_login(centre_manager)

    # The session, the user, the savepoint and its release, the scope, the list's filters and count (the changelist's,
    # then the export's: as in the request), the old jobs pruned, the job created. Not a row read.
    with django_assert_num_queries(17):
        response = client.get(export_url(fmt))

    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(JOB, args=[job.public_id])
    assert not response.streaming
    assert (job.status, job.requested_by, job.fmt, job.total, job.filters, job.columns) == (
        ExportJob.Status.PENDING,  # queued after commit: not built in the request
        centre_manager,
        fmt,
        3,
        "",
        PLAIN_KEYS,
    )
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "The export of 3 applications is being prepared; its link appears on this page."
    ]
    # Its page does not call it « Exporter avec les colonnes choisies »: it is the list's plain export.
    page = client.get(response["Location"])
    assert "<title>Export of the applications list |" in page.content.decode()


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_job_holds_the_rows_of_the_export_in_the_request(
    client, centre_manager, applications, settings, fmt, django_assert_num_queries
):
    client.force_login(centre_manager)
    expected = in_request_rows(client, fmt)
    settings.EXPORT_IN_REQUEST_MAX_ROWS = 2
    client.get(export_url(fmt))
    job = ExportJob.objects.get()

    build_export_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done) == (ExportJob.Status.DONE, 3)
    with django_assert_num_queries(7):  # as for the chosen-columns export's file (test_export_jobs.py)
        built = job_rows(client, job)
    assert built == expected  # the same rows, in the list's order as the request's file
    header, *rows = built
    values = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    validated, ranked, cancelled = (values[a.candidate.user.username] for a in applications)
    assert (validated["Decision"], validated["Decision validated"], validated["Answer"]) == (
        "Favourable",
        "Yes",
        "Confirmed",
    )
    assert validated["Tags"] == "Entretien, Prioritaire"  # by label, as the list shows them
    assert (ranked["Decision validated"], str(ranked["Actual rank on the complementary list"])) == ("No", "4")
    assert not cancelled["Decision"]
    assert not cancelled["Decision validated"]  # no decision: empty, not « No »
    assert cancelled["Cancelled at"]
    assert "Internal notes" not in header  # EXPORT_NOTES is off


def test_the_notes_column_follows_the_parameter(client, centre_manager, applications, settings):
    settings.EXPORT_NOTES = True
    client.force_login(centre_manager)
    expected = in_request_rows(client, "csv")
    settings.EXPORT_IN_REQUEST_MAX_ROWS = 2
    client.get(export_url("csv"))
    job = ExportJob.objects.get()

    build_export_job(job.pk)

    assert job.columns == [*PLAIN_KEYS, "notes"]
    built = job_rows(client, job)
    assert built == expected  # the same rows, in the list's order
    assert built[0][-1] == "Internal notes"
    assert any(row[-1].endswith(f"{centre_manager.get_username()} : Bon dossier") for row in built[1:])


def test_the_lists_filters_are_kept(
    client, centre_manager, applications, centre, commission, campaign, small_requests, django_assert_num_queries
):
    elsewhere = make_application(
        FormationFactory(centre=centre, commission=commission, code="LDROIT"), campaign=campaign
    )
    query = f"?formation={applications[0].formation_id}&o=2"
    client.force_login(centre_manager)

    with django_assert_num_queries(17):
        response = client.get(export_url("xlsx", query))

    job = ExportJob.objects.get()
    assert response["Location"] == reverse(JOB, args=[job.public_id])
    assert job.filters == query[1:]
    build_export_job(job.pk)
    built = job_rows(client, job)
    numbers = sorted(row[0] for row in built[1:])
    assert numbers == sorted(a.candidate.user.username for a in applications)
    assert elsewhere.candidate.user.username not in numbers
    # The job's page goes back to the list as it was filtered.
    page = client.get(reverse(JOB, args=[job.public_id]))
    assert page.context["list_url"] == reverse("admin:applications_application_changelist") + query


def test_the_job_is_its_requesters_only(client, centre_manager, other_centre_manager, applications, small_requests):
    client.force_login(centre_manager)
    client.get(export_url("csv"))
    job = ExportJob.objects.get()
    build_export_job(job.pk)
    assert client.get(reverse(JOB, args=[job.public_id])).status_code == 200

    client.force_login(other_centre_manager)

    assert client.get(reverse(JOB, args=[job.public_id])).status_code == 404
    assert client.get(reverse(DOWNLOAD, args=[job.public_id])).status_code == 404


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_up_to_the_threshold_the_file_is_the_answer(
    client, centre_manager, applications, settings, fmt, django_assert_num_queries
):
    settings.EXPORT_IN_REQUEST_MAX_ROWS = 3
    client.force_login(centre_manager)

    # As before: the list's filters and count; the XLSX's rows with their notes and tags too, written before the answer
    # (the CSV reads them as it streams, after).
    with django_assert_num_queries(18 if fmt == "xlsx" else 15):
        response = client.get(export_url(fmt))

    assert response.status_code == 200
    assert response.streaming
    assert not ExportJob.objects.exists()
    assert len(file_rows(b"".join(response.streaming_content), fmt)) == 4
