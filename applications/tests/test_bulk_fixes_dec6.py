"""Found by review (December 6th): a background release accounts for each of its applications (one its requester
may no longer validate when it starts is refused by name, one deleted since is said), a bulk action on a selection
with mixed rights names the rows it may not change instead of a bare 403 page, and the internal notes leave in the
exports only when « Paramètres » says so (EXPORT_NOTES, eCandidat GEST_IS_EXPORT_BLOC_NOTE, off by default)."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import StaffMembership, StaffRole
from accounts.tests.factories import StaffMembershipFactory
from applications import export_columns
from applications.models import Application, ApplicationNote, Decision, ExportColumns, ReleaseJob
from applications.services.release import request_release, run_release
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import csv_rows, post_export
from ecandidat import parameters
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"
QUICK_EXPORT = "admin:applications_application_export"
OUT_OF_SCOPE = "This application is no longer in your scope: its decision was not validated."


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


def refusal(application, reason: str) -> str:
    return f"{application.candidate.user.username} – {application.formation.code}: {reason}"


def run(job, capture):
    with capture(execute=True):
        run_release(job.pk)
    job.refresh_from_db()


# --- 1. a background release accounts for each application ------------------------------------------------------


def test_a_release_whose_requester_became_read_only_before_it_started_refuses_each_application_by_name(
    centre_manager, favourable, django_capture_on_commit_callbacks
):
    """The reviewer's case: the membership set read-only while the job waited. It said « Terminé », 0 of 3 done and
    no refusal; each application is now refused with its reason."""
    job = request_release(actor=centre_manager, application_ids=[a.pk for a in favourable])
    StaffMembership.objects.filter(user=centre_manager).update(role=StaffRole.READ_ONLY)

    run(job, django_capture_on_commit_callbacks)

    assert (job.status, job.total, job.done) == (ReleaseJob.Status.DONE, 3, 0)
    assert job.refusals == [refusal(application, OUT_OF_SCOPE) for application in favourable]
    assert job.processed == job.total
    assert not Decision.objects.filter(validated_at__isnull=False).exists()
    assert not OutboundEmail.objects.filter(to__in=[a.candidate.user.email for a in favourable]).exists()


def test_a_release_says_an_application_deleted_since_it_was_asked_for(
    centre_manager, favourable, django_capture_on_commit_callbacks
):
    job = request_release(actor=centre_manager, application_ids=[a.pk for a in favourable])
    first, deleted, last = favourable
    deleted_pk = deleted.pk
    Application.objects.filter(pk=deleted_pk).delete()

    run(job, django_capture_on_commit_callbacks)

    assert (job.status, job.total, job.done) == (ReleaseJob.Status.DONE, 3, 2)
    assert job.refusals == [
        f"Application {deleted_pk}: deleted since this release was asked for, nothing was validated."
    ]
    assert job.processed == job.total
    assert all(application.decisions.get().validated_by == centre_manager for application in (first, last))


# --- 2. a bulk action on a selection with mixed rights -----------------------------------------------------------


@pytest.fixture
def member_also_reader(commission, other_centre):
    """A commission member who is also read-only staff of another centre: the list shows both."""
    member = StaffMembershipFactory(commission_member=True, commission=commission, user__username="membre").user
    StaffMembershipFactory(user=member, role=StaffRole.READ_ONLY, centre=other_centre)
    return member


@pytest.fixture
def elsewhere(other_centre):
    """A formation of the centre the member only reads."""
    return FormationFactory(centre=other_centre, commission=CommissionFactory(centre=other_centre), code="LDROIT")


@pytest.mark.parametrize("read_only_rows", [2, 23])
def test_a_bulk_decision_on_rows_only_read_names_them_and_changes_nothing(
    client, member_also_reader, formation, elsewhere, campaign, read_only_rows, django_assert_num_queries
):
    """« Saisir un avis… » on the whole list: a bare 403 page before; now back to the list with the dossier numbers
    of the rows outside the action (twenty named, the others counted), nothing entered."""
    mine = make_application(formation, campaign=campaign)
    read_only = [make_application(elsewhere, campaign=campaign) for _ in range(read_only_rows)]
    client.force_login(member_also_reader)
    selection = {
        "action": "action_enter_decision",
        "_selected_action": [application.pk for application in [mine, *read_only]],
        "decision_type": decision_type(Avis.FAVOURABLE).pk,
    }

    # Session, user, savepoint, scope, the list's filters' choices (twice), its count, the selection, the rows in
    # the action's scope, then those read but outside it (one query: the past campaign's and the others), however
    # many they are.
    with django_assert_num_queries(19):
        response = client.post(reverse(CHANGELIST), selection)
    assert response.status_code == 302
    page = client.get(response["Location"])

    numbers = [application.candidate.user.username for application in read_only]
    named = ", ".join(numbers[:20]) + (" and 3 others" if read_only_rows == 23 else "")
    [message] = [str(message) for message in page.context["messages"]]
    assert message == (
        f"{read_only_rows} applications selected are outside what you may change with this action: {named}. Nothing "
        "was changed; untick them, or filter the list on your commission, and run it again."
    )
    assert not Decision.objects.exists()


def test_one_row_only_read_is_said_in_the_singular_in_french(
    client, member_also_reader, formation, elsewhere, campaign, back_office_in_french
):
    mine = make_application(formation, campaign=campaign)
    read_only = make_application(elsewhere, campaign=campaign)
    client.force_login(member_also_reader)

    response = client.post(
        reverse(CHANGELIST),
        {"action": "action_enter_decision", "_selected_action": [mine.pk, read_only.pk]},
        follow=True,
    )

    assert response.status_code == 200
    [message] = [str(message) for message in response.context["messages"]]
    assert message == (
        "1 candidature sélectionnée n'est pas de celles que vous pouvez modifier par cette action : "
        f"{read_only.candidate.user.username}. Rien n'a été modifié ; décochez-la, ou filtrez la liste sur votre "
        "commission, puis relancez l'action."
    )
    assert not Decision.objects.exists()


# --- 3. the internal notes in the exports: only with EXPORT_NOTES ------------------------------------------------


@pytest.fixture
def noted(formation, campaign, centre_manager):
    application = make_application(formation, campaign=campaign)
    ApplicationNote.objects.create(application=application, author=centre_manager, text="Entretien le 12")
    return application


@pytest.fixture
def notes_exported():
    """« Paramètres » › « Bloc-notes dans les exports » set to yes."""
    parameters.remember({"EXPORT_NOTES": True}, seconds=float("inf"))


def quick_export(client, fmt: str) -> list[list]:
    response = client.get(reverse(QUICK_EXPORT, args=[fmt]))
    if fmt == "csv":
        return csv_rows(response)
    return [list(row) for row in load_workbook(io.BytesIO(response.getvalue())).active.iter_rows(values_only=True)]


def test_the_parameter_is_eCandidats_and_off_by_default():
    parameter = parameters.REGISTRY["EXPORT_NOTES"]

    assert (parameter.code, parameter.kind, parameter.default) == (
        "GEST_IS_EXPORT_BLOC_NOTE",
        parameters.Kind.BOOL,
        False,
    )
    assert parameters.get("EXPORT_NOTES") is False


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_quick_export_leaves_the_notes_out_by_default(
    client, centre_manager, noted, fmt, django_assert_num_queries
):
    client.force_login(centre_manager)

    with django_assert_num_queries(18):  # as before: the notes' prefetch stays, whether they are written or not
        header, row = quick_export(client, fmt)

    assert header[-1] == "Tags"
    assert "Internal notes" not in header
    assert len(row) == len(header)
    assert not any("Entretien le 12" in str(cell) for cell in row)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_quick_export_carries_the_notes_when_the_parameter_says_so(
    client, centre_manager, noted, notes_exported, fmt, django_assert_num_queries
):
    client.force_login(centre_manager)

    with django_assert_num_queries(18):
        header, row = quick_export(client, fmt)

    assert header[-2:] == ["Tags", "Internal notes"]
    assert len(row) == len(header)
    assert row[-1].endswith("gestionnaire : Entretien le 12")


def test_the_chosen_columns_leave_the_notes_out_by_default(client, centre_manager, noted, django_assert_num_queries):
    """Not offered, and a choice holding them (saved before, or posted anyway) is read without them."""
    client.force_login(centre_manager)

    assert "notes" not in export_columns.available_columns()
    assert (
        "Internal notes" not in client.get(reverse("admin:applications_application_export_columns")).content.decode()
    )
    with django_assert_num_queries(22):
        response = post_export(client, ["numero", "notes"])

    assert csv_rows(response) == [["Dossier number"], [noted.candidate.user.username]]
    assert ExportColumns.objects.get(user=centre_manager).columns == ["numero"]


def test_the_chosen_columns_offer_the_notes_when_the_parameter_says_so(
    client, centre_manager, noted, notes_exported, django_assert_num_queries
):
    client.force_login(centre_manager)

    assert "notes" in export_columns.available_columns()
    assert "Internal notes" in client.get(reverse("admin:applications_application_export_columns")).content.decode()
    with django_assert_num_queries(22):
        response = post_export(client, ["numero", "notes"])

    header, row = csv_rows(response)
    assert header == ["Dossier number", "Internal notes"]
    assert row[1].endswith("gestionnaire : Entretien le 12")
