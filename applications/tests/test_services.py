import datetime
import io
import json
import zipfile

import pytest
from django.db import IntegrityError
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.tests.factories import CandidateUserFactory
from applications import demo, services
from applications.models import Baccalaureate, Candidate, InternalCursus, SisRecord
from applications.permissions import can_edit_personal_details
from applications.tests.factories import (
    STUDENT,
    AddressFactory,
    BaccalaureateFactory,
    CandidateFactory,
    InternshipFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sis_student():
    services.store_sis_records(students=[STUDENT], actor=None)
    return STUDENT


@pytest.fixture
def ent_user(campaign, sis_student):
    """An ENT student: the ENT gave the account its student number."""
    return CandidateUserFactory(campaign=campaign, student_number="21900001")


def test_ent_student_dossier_is_imported_at_login(client, ent_user):
    client.force_login(ent_user)  # django.contrib.auth.login: user_logged_in

    response = client.get(reverse("applications:personal_details"))

    assertContains(response, "If you find errors, contact your student office")
    candidate = Candidate.objects.get(user=ent_user)
    assert candidate.sis_locked
    assert candidate.birth_name == "MARTIN"
    assert candidate.ine == "0905012345W"
    assert candidate.mobile == "+33612345601"
    assert candidate.address.city == "PERPIGNAN"
    assert candidate.baccalaureate.sis_locked
    assert candidate.baccalaureate.series == "S"
    assert list(InternalCursus.objects.filter(candidate=candidate).values_list("code", flat=True)) == ["SLA1"]
    assert response.context["dossier_complete"]


def test_reading_a_dossier_page_writes_nothing(client, ent_user):
    """Issue 10: the SIS import ran on GET from every dossier page; it now runs at login (or on an explicit
    refresh), so a session opened before the student reached the SIS copy reads an empty dossier."""
    client.force_login(ent_user)
    Candidate.objects.filter(user=ent_user).delete()

    for name in ("applications:start", "applications:personal_details", "applications:address"):
        client.get(reverse(name))

    assert not Candidate.objects.filter(user=ent_user).exists()


def test_forged_post_cannot_change_sis_fields_but_phone_changes(client, ent_user):
    client.force_login(ent_user)
    client.get(reverse("applications:personal_details"))

    client.post(
        reverse("applications:personal_details"),
        {
            "civility": "M.",
            "birth_name": "FORGED",
            "first_name": "Forged",
            "birth_date": "1990-01-01",
            "birth_country": "ES",
            "nationality": "ES",
            "ine": "1234567890V",
            "phone": "0468000000",
            "preferred_language": "en",
        },
    )

    candidate = Candidate.objects.get(user=ent_user)
    assert (candidate.birth_name, candidate.first_name, candidate.ine) == ("MARTIN", "Estelle", "0905012345W")
    assert candidate.birth_date == datetime.date(2001, 3, 14)
    assert candidate.phone == "+33468000000"
    assert candidate.preferred_language == "en"


def test_forged_post_cannot_change_sis_baccalaureate(client, ent_user):
    client.force_login(ent_user)
    client.get(reverse("applications:baccalaureate"))

    client.post(reverse("applications:baccalaureate"), {"mode": "edit", "series": "GEN", "year": "2020"})
    client.post(reverse("applications:baccalaureate_none"))

    bac = Baccalaureate.objects.get(candidate__user=ent_user)
    assert (bac.series, bac.year, bac.has_bac) == ("S", 2019, True)


def test_service_refuses_a_change_of_sis_field(ent_user):
    candidate = services.open_dossier(user=ent_user, actor=ent_user)

    with pytest.raises(services.BusinessRuleError):
        services.save_personal_details(user=ent_user, candidate=candidate, data={"first_name": "X"}, actor=ent_user)


def test_import_from_sis_is_rerunnable_and_keeps_the_candidates_address(ent_user):
    candidate = services.open_dossier(user=ent_user, actor=ent_user)
    services.save_address(candidate=candidate, data={"line1": "Nouvelle adresse"}, actor=ent_user)

    assert services.import_from_sis(candidate=candidate, actor=None) is True
    assert services.import_from_sis(candidate=candidate, actor=None) is True

    candidate.refresh_from_db()
    assert candidate.address.line1 == "Nouvelle adresse"
    assert InternalCursus.objects.filter(candidate=candidate).count() == 1


def test_import_from_sis_by_ine_for_an_email_candidate(candidate, sis_student):
    candidate.ine = ""
    candidate.save()
    assert services.import_from_sis(candidate=candidate, actor=None) is False

    # Her own INE, with her name and birth date: a typed INE alone is no proof (test_sync_sis.py).
    Candidate.objects.filter(pk=candidate.pk).update(
        ine=sis_student.ine,
        birth_name=sis_student.birth_name,
        first_name=sis_student.first_name,
        birth_date=sis_student.birth_date,
    )
    candidate.refresh_from_db()

    assert services.import_from_sis(candidate=candidate, actor=None) is True
    candidate.refresh_from_db()
    assert candidate.sis_locked
    assert candidate.sis_student_number == "21900001"


def test_email_candidate_without_sis_record_has_no_dossier_yet(candidate_user):
    assert services.open_dossier(user=candidate_user, actor=candidate_user) is None


def test_no_bac_with_a_series_is_refused_by_the_database(candidate):
    with pytest.raises(IntegrityError):
        Baccalaureate.objects.create(candidate=candidate, has_bac=False, series="S")


def test_duplicate_ine_is_refused_by_the_database(candidate, other_candidate):
    Candidate.objects.filter(pk=candidate.pk).update(ine="1234567890V")

    with pytest.raises(IntegrityError):
        Candidate.objects.filter(pk=other_candidate.pk).update(ine="1234567890V")


def _archived_data(response) -> dict:
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        return json.loads(archive.read("donnees.json"))


def test_my_data_download_is_a_zip_of_everything(owner_client, candidate, other_candidate):
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(candidate=candidate)
    InternshipFactory(candidate=candidate, organisation="Mairie de Perpignan")
    InternshipFactory(candidate=other_candidate, organisation="Not mine")

    response = owner_client.get(reverse("applications:my_data_download"))

    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="mes-donnees-{candidate.user.username}.zip"'
    data = _archived_data(response)
    assert data["account"]["username"] == candidate.user.username
    assert "password" not in data["account"]
    assert data["dossier"]["personal_details"]["birth_name"] == "DUPONT"
    assert data["dossier"]["address"]["city"] == "PERPIGNAN"
    assert data["dossier"]["baccalaureate"]["series"] == "GEN"
    assert [row["organisation"] for row in data["dossier"]["internships"]] == ["Mairie de Perpignan"]


def test_my_data_without_dossier(client, candidate_user):
    client.force_login(candidate_user)

    data = _archived_data(client.get(reverse("applications:my_data_download")))

    assert data["dossier"] is None
    assert data["account"]["email"] == candidate_user.email


def test_demo_seed_is_idempotent(campaign):
    user = CandidateUserFactory(campaign=campaign, email=demo.DEMO_CANDIDATE_EMAIL)

    demo.seed()
    lines = demo.seed()

    assert SisRecord.objects.filter(student_number__in=["21900001", "21900002", "21900003"]).count() == 3
    candidate = Candidate.objects.get(user=user)
    assert candidate.address
    assert candidate.baccalaureate.has_bac
    assert candidate.internships.count() == 1
    assert candidate.work_experiences.count() == 1
    assert lines == ["Student records system: 3 demo students (demo-students.csv)"]


def test_demo_seed_without_demo_candidate_only_loads_the_sis():
    lines = demo.seed()

    assert len(lines) == 1
    assert SisRecord.objects.count() == 3
    assert not Candidate.objects.exists()


def test_rows_services_refuse_other_models(candidate):
    with pytest.raises(ValueError, match="not a row"):
        services.add_row(model=Candidate, candidate=candidate, data={}, actor=None)


def test_can_edit_personal_details_only_own(candidate, other_candidate):
    assert can_edit_personal_details(candidate.user, candidate)
    assert not can_edit_personal_details(other_candidate.user, candidate)


def test_other_factory_candidate_is_distinct():
    assert CandidateFactory().user_id != CandidateFactory().user_id
