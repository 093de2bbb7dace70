import dataclasses
import io

import pytest
from django.core.management import call_command

from accounts.tests.factories import CandidateUserFactory
from applications import services
from applications.models import Candidate
from applications.tests.factories import STUDENT
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
