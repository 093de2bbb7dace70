import dataclasses
import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import translation

from accounts.tests.factories import CandidateUserFactory
from applications import services
from applications.models import Address, Candidate, InternalCursus, SisRecord
from applications.tests.factories import STUDENT, CandidateFactory
from ecandidat.models import BatchRun

pytestmark = pytest.mark.django_db


def test_sync_sis_refreshes_the_dossiers_of_students(campaign):
    services.store_sis_records(students=[STUDENT], actor=None)
    user = CandidateUserFactory(campaign=campaign, student_number=STUDENT.student_number)
    services.open_dossier(user=user, actor=user)
    renamed = dataclasses.replace(STUDENT, birth_name="MARTIN-DUPONT")
    services.store_sis_records(students=[renamed], actor=None)

    call_command("sync_sis", stdout=io.StringIO())

    assert Candidate.objects.get(user=user).birth_name == "MARTIN-DUPONT"
    assert BatchRun.objects.get(name="sync_sis").counts == {"dossiers refreshed": 1}


def test_sync_sis_dry_run_changes_nothing(campaign):
    services.store_sis_records(students=[STUDENT], actor=None)
    user = CandidateUserFactory(campaign=campaign, student_number=STUDENT.student_number)
    services.open_dossier(user=user, actor=user)
    services.store_sis_records(students=[dataclasses.replace(STUDENT, birth_name="AUTRE")], actor=None)

    call_command("sync_sis", "--dry-run", stdout=io.StringIO())

    assert Candidate.objects.get(user=user).birth_name == "MARTIN"


def test_nightly_sync_does_not_import_a_strangers_record_by_a_typed_ine(campaign):
    """An ENT student (whose number the SIS copy lacks) typed someone else's INE: the stranger's état civil, cursus
    and contact must not become theirs, locked."""
    services.store_sis_records(students=[STUDENT], actor=None)  # Estelle MARTIN, born 14/03/2001
    paul = CandidateFactory(
        user__campaign=campaign,
        user__student_number="30000007",
        birth_name="DURAND",
        first_name="Paul",
        birth_date=datetime.date(2003, 7, 1),
        ine=STUDENT.ine,
        sis_locked=False,
    )

    call_command("sync_sis", stdout=io.StringIO())

    paul = Candidate.objects.get(pk=paul.pk)
    assert (paul.birth_name, paul.first_name, paul.sis_locked) == ("DURAND", "Paul", False)
    assert not InternalCursus.objects.filter(candidate=paul).exists()
    assert not Address.objects.filter(candidate=paul).exists()
    assert BatchRun.objects.get(name="sync_sis").counts == {"students not found": 1}


def test_nightly_sync_imports_the_same_person_found_by_her_ine(campaign):
    """Her student number is not in the SIS copy, but the INE she typed is hers: same birth date, first name and
    name (accents and case aside)."""
    services.store_sis_records(students=[STUDENT], actor=None)
    estelle = CandidateFactory(
        user__campaign=campaign,
        user__student_number="30000007",
        birth_name="Mârtin",
        first_name="estelle",
        birth_date=STUDENT.birth_date,
        ine=STUDENT.ine,
        sis_locked=False,
    )

    call_command("sync_sis", stdout=io.StringIO())

    estelle = Candidate.objects.get(pk=estelle.pk)
    assert (estelle.birth_name, estelle.first_name, estelle.sis_locked) == ("MARTIN", "Estelle", True)
    assert estelle.sis_student_number == STUDENT.student_number


def test_nightly_sync_keeps_refreshing_a_dossier_imported_under_that_ine(campaign):
    """Imported from the SIS, then renumbered there: found by the INE the import itself wrote, even after the SIS
    corrected her birth date (the same-person rule would no longer hold)."""
    services.store_sis_records(students=[STUDENT], actor=None)
    user = CandidateUserFactory(campaign=campaign, student_number=STUDENT.student_number)
    services.open_dossier(user=user, actor=user)
    SisRecord.objects.all().delete()
    renumbered = dataclasses.replace(
        STUDENT, student_number="21900099", birth_date=datetime.date(2001, 3, 15), first_name="Estelle-Marie"
    )
    services.store_sis_records(students=[renumbered], actor=None)

    call_command("sync_sis", stdout=io.StringIO())

    candidate = Candidate.objects.get(user=user)
    assert (candidate.birth_date, candidate.first_name) == (datetime.date(2001, 3, 15), "Estelle-Marie")
    assert candidate.sis_student_number == "21900099"


def test_nightly_sync_reports_a_sis_ine_held_by_another_dossier(campaign):
    """The SIS gives the ENT student an INE her e-mail account's dossier already holds: that dossier is reported
    and left as it is, the others are refreshed."""
    services.store_sis_records(students=[STUDENT], actor=None)
    CandidateFactory(user__campaign=campaign, ine=STUDENT.ine, sis_locked=False)  # her e-mail account
    ent = CandidateFactory(
        user__campaign=campaign, user__student_number=STUDENT.student_number, ine="", sis_locked=False
    )

    with translation.override("en"):
        call_command("sync_sis", stdout=io.StringIO(), stderr=io.StringIO())

    run = BatchRun.objects.get(name="sync_sis")
    assert f"candidate {ent.pk}: " in run.errors
    assert f"already held by another dossier of the campaign: {STUDENT.ine}" in run.errors
    assert "IntegrityError" not in run.errors
    ent.refresh_from_db()
    assert (ent.birth_name, ent.sis_locked) == ("DUPONT", False)
