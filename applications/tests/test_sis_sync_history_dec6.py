"""The nightly ``sync_sis`` and staff's « Reprendre de la scolarité » rewrite the dossier from the student records
system: what they change is written to the history of the transmitted applications (the commission judges them on
that dossier), and the records' address and phones are copied only into an ENT account's dossier, whoever imports.
"""

import dataclasses
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.tests.factories import CandidateUserFactory
from applications import services
from applications.admin.review import history_line
from applications.enums import EventKind
from applications.models import Address, ApplicationEvent, Candidate
from applications.services import sis_lookup
from applications.sis import SisBaccalaureate, SisCursusLine
from applications.tests.factories import STUDENT
from applications.tests.factories_candidature import ApplicationFactory

pytestmark = pytest.mark.django_db

RENAMED_WITH_HONOURS = dataclasses.replace(
    STUDENT, birth_name="MARTIN-DURAND", baccalaureate=SisBaccalaureate(series="S", year=2019, mention="TB")
)
WHAT_CHANGED = "Candidat : nom patronymique : MARTIN → MARTIN-DURAND; Baccalauréat : mention : Assez bien → Très bien"


@pytest.fixture
def ent_student(campaign):
    """Estelle, an ENT student whose dossier was opened from the SIS copy at her login, with one transmitted
    application and one not transmitted."""
    services.store_sis_records(students=[STUDENT], actor=None)
    user = CandidateUserFactory(campaign=campaign, student_number=STUDENT.student_number)
    candidate = services.open_dossier(user=user, actor=user)
    transmitted = ApplicationFactory(candidate=candidate, transmitted=True)
    not_transmitted = ApplicationFactory(candidate=candidate)
    return candidate, transmitted, not_transmitted


def _dossier_events():
    return ApplicationEvent.objects.filter(kind=EventKind.DOSSIER_CHANGED_BY_STAFF).order_by("pk")


def _sync():
    call_command("sync_sis", stdout=io.StringIO())


# --- the history of what the SIS changed ---------------------------------------------------------------------------


def test_nightly_sync_writes_what_changed_on_the_transmitted_application(ent_student):
    candidate, transmitted, not_transmitted = ent_student
    services.store_sis_records(students=[RENAMED_WITH_HONOURS], actor=None)

    _sync()

    assert Candidate.objects.get(pk=candidate.pk).birth_name == "MARTIN-DURAND"
    [event] = _dossier_events()
    assert (event.application_id, event.actor, event.batch) == (transmitted.pk, None, "sync_sis")
    assert event.comment == WHAT_CHANGED
    assert not not_transmitted.events.exists()


def test_the_review_page_names_the_nightly_batch_as_the_source(ent_student):
    services.store_sis_records(students=[RENAMED_WITH_HONOURS], actor=None)
    _sync()
    [event] = _dossier_events()

    with translation.override("fr"):
        line = history_line(event, {})

    assert str(line.text) == (
        "Dossier du candidat modifié (traitement « Synchronisation des dossiers étudiants ») : " + WHAT_CHANGED
    )


def test_nightly_sync_writes_nothing_when_nothing_changed(ent_student):
    _sync()
    _sync()

    assert not _dossier_events().exists()


def test_a_cursus_result_given_by_the_sis_is_written(ent_student):
    with_result = dataclasses.replace(
        STUDENT,
        cursus=(
            SisCursusLine(academic_year=2020, code="SLA1", label="Licence 1", result="ADM"),
            SisCursusLine(academic_year=2021, code="SLA2", label="Licence 2"),
        ),
    )
    services.store_sis_records(students=[with_result], actor=None)

    _sync()

    [event] = _dossier_events()
    assert event.comment == "Cursus interne : résultat : — → ADM; Cursus interne : ajout (2021 Licence 2)"


def test_the_queries_of_a_dossier_do_not_grow_with_its_changes(ent_student, campaign):
    """A batch: one change or many, the same queries per dossier (a bounded number)."""
    candidate, _transmitted, _not_transmitted = ent_student
    services.store_sis_records(students=[dataclasses.replace(STUDENT, birth_name="MARTIN-DURAND")], actor=None)
    with CaptureQueriesContext(connection) as one_change:
        services.import_from_sis(candidate=candidate, actor=None, batch="sync_sis")
    many_changes = dataclasses.replace(
        RENAMED_WITH_HONOURS,
        birth_name="DURAND",
        first_name="Estelle-Marie",
        birth_city="Canet",
        cursus=tuple(SisCursusLine(academic_year=year, code=f"L{year}", label="L") for year in range(2015, 2022)),
    )
    services.store_sis_records(students=[many_changes], actor=None)

    with CaptureQueriesContext(connection) as more_changes:
        services.import_from_sis(candidate=candidate, actor=None, batch="sync_sis")

    assert _dossier_events().count() == 2
    # The savepoint pair; the SIS copy; the INE's uniqueness; the dossier locked and saved; the address; the bac read,
    # deleted and inserted; the cursus read, deleted and inserted; the transmitted applications; the history rows.
    # +1: transmitted applications read after the dossier lock.
    assert len(more_changes) == len(one_change) == 16


def test_staff_taking_a_dossier_again_write_what_changed_with_their_name(ent_student, central_manager):
    candidate, transmitted, not_transmitted = ent_student
    services.store_sis_records(students=[RENAMED_WITH_HONOURS], actor=None)

    assert sis_lookup.staff_sync(candidate=candidate, actor=central_manager)

    on_transmitted = transmitted.events.get(kind=EventKind.DOSSIER_CHANGED_BY_STAFF)
    on_other = not_transmitted.events.get(kind=EventKind.DOSSIER_CHANGED_BY_STAFF)
    assert (on_transmitted.actor, on_transmitted.batch) == (central_manager, "")
    assert on_transmitted.comment == "Dossier repris de la scolarité; " + WHAT_CHANGED
    assert (on_other.actor, on_other.comment) == (central_manager, "Dossier repris de la scolarité")


# --- the records' contact: only an ENT account's ---------------------------------------------------------------------


def _certified_by_ine(campaign):
    """Estelle on an e-mail account: she typed her details without a mobile, then answered yes to « Certifiez-vous
    être … » (``sis_lookup.certify_sis_identity``)."""
    services.store_sis_records(students=[STUDENT], actor=None)
    user = CandidateUserFactory(campaign=campaign)
    typed = {
        "civility": "Mme",
        "birth_name": "Martin",
        "first_name": "Estelle",
        "birth_date": STUDENT.birth_date,
        "birth_country": "FR",
        "birth_department": "66",
        "birth_city": "Perpignan",
        "nationality": "FR",
        "ine": STUDENT.ine,
    }
    candidate = services.save_personal_details(user=user, candidate=None, data=typed, actor=user)
    assert sis_lookup.certify_sis_identity(candidate=candidate, actor=user)
    return Candidate.objects.get(pk=candidate.pk)


def test_nightly_sync_does_not_copy_the_records_contact_into_a_dossier_certified_by_ine(campaign):
    certified = _certified_by_ine(campaign)
    assert (certified.sis_locked, certified.mobile) == (True, "")

    _sync()

    certified = Candidate.objects.get(pk=certified.pk)
    assert (certified.phone, certified.mobile) == ("", "")
    assert not Address.objects.filter(candidate=certified).exists()


def test_staff_taking_again_a_dossier_linked_by_ine_do_not_copy_the_records_contact(campaign, central_manager):
    certified = _certified_by_ine(campaign)

    assert sis_lookup.staff_sync(candidate=certified, actor=central_manager)

    certified = Candidate.objects.get(pk=certified.pk)
    assert certified.mobile == ""
    assert not Address.objects.filter(candidate=certified).exists()


def test_an_ent_students_empty_contact_is_still_filled_from_the_records(ent_student):
    candidate, _transmitted, _not_transmitted = ent_student
    Candidate.objects.filter(pk=candidate.pk).update(mobile="")
    Address.objects.filter(candidate=candidate).delete()

    _sync()

    candidate = Candidate.objects.get(pk=candidate.pk)
    assert candidate.mobile == "+33612345601"
    assert (candidate.address.line1, candidate.address.city) == ("12 rue des Lilas", "PERPIGNAN")
