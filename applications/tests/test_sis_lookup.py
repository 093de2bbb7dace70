"""An e-mail candidate's INE found in the student records system: "Certifiez-vous être …" (ecandidat-features
§1.3), asked only when the record has the birth date and a name the candidate typed; staff take a dossier again
from the SIS ("Reprendre de la scolarité")."""

import dataclasses
import logging

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import EventKind
from applications.models import Candidate, InternalCursus
from applications.services import dossier, sis_lookup, store_sis_records
from applications.sis import LocalTableBackend, StudentRecordsUnavailable
from applications.tests.factories import STUDENT, CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory
from applications.tests.helpers import ESTELLE_TYPED, estelle_typed_by_hand

pytestmark = pytest.mark.django_db

FRENCH = {"language": "fr"}
CERTIFY = reverse("applications:certify_identity")
PERSONAL = reverse("applications:personal_details")


@pytest.fixture(autouse=True)
def _in_the_sis():
    store_sis_records(students=[STUDENT], actor=None)


@pytest.fixture
def estelle(client, candidate_user):
    client.force_login(candidate_user)
    return candidate_user


def test_the_typed_ine_birth_date_and_name_lead_to_the_question_and_yes_imports(
    client, estelle, django_assert_num_queries
):
    saved = client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)

    # session, account, dossier, "has an application", the SIS table in the lookup's savepoint pair, the request's
    # savepoint pair
    with django_assert_num_queries(9):
        page = client.get(CERTIFY, **FRENCH)
    yes = client.post(CERTIFY, {"answer": "yes"}, **FRENCH)

    assert saved.url == CERTIFY
    assertContains(page, "Certifiez-vous être Estelle MARTIN, né(e) le 14/03/2001 ?")
    candidate = Candidate.objects.get(user=estelle)
    assert candidate.sis_locked
    assert candidate.sis_student_number == STUDENT.student_number
    assert candidate.baccalaureate.sis_locked
    assert list(InternalCursus.objects.filter(candidate=candidate).values_list("code", flat=True)) == ["SLA1"]
    assert yes.status_code == 302
    # The address and phones stay what the candidate types: certifying by INE brings none of the records' contact.
    assert candidate.mobile == ""
    assert not hasattr(candidate, "address")


def test_no_imports_nothing_and_is_not_asked_again_for_the_same_ine(client, estelle):
    client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)

    client.post(CERTIFY, {"answer": "no"}, **FRENCH)
    again = client.post(PERSONAL, {**ESTELLE_TYPED, "phone": "04 68 00 00 00"}, **FRENCH)

    candidate = Candidate.objects.get(user=estelle)
    assert not candidate.sis_locked
    assert not InternalCursus.objects.filter(candidate=candidate).exists()
    assert again.url != CERTIFY


@pytest.mark.parametrize(
    "changes",
    [{"birth_date": "2001-03-15"}, {"birth_name": "DURAND"}, {"first_name": "Mallory"}],
    ids=["another birth date", "another name", "another first name"],
)
def test_an_ine_that_does_not_match_what_was_typed_reveals_nothing(client, estelle, changes):
    """eCandidat would show the stranger's name and birth date; here the INE is treated as unknown."""
    saved = client.post(PERSONAL, {**ESTELLE_TYPED, **changes}, **FRENCH)
    page = client.get(CERTIFY, **FRENCH)

    assert saved.url != CERTIFY
    assert page.status_code == 302
    assert not Candidate.objects.get(user=estelle).sis_locked


def test_accents_and_hyphens_do_not_matter(client, estelle):
    saved = client.post(PERSONAL, {**ESTELLE_TYPED, "birth_name": "Mârtin"}, **FRENCH)

    assert saved.url == CERTIFY


@pytest.mark.parametrize("typed", ["D’Artagnan-Martin", "d‘artagnan–martin", "D'ARTAGNAN MARTIN"])
def test_any_apostrophe_or_hyphen_is_the_records_one(typed):
    """Typed on a phone (curly apostrophe, dash), the name is the records' "D'ARTAGNAN-MARTIN"."""
    assert dossier._name_key(typed) == dossier._name_key("D'ARTAGNAN-MARTIN") == "D ARTAGNAN MARTIN"


def test_switched_off_nothing_is_looked_up(client, estelle, settings):
    settings.SIS_LOOKUP_BY_INE = False

    saved = client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)

    assert saved.url != CERTIFY


def test_a_sis_that_does_not_answer_lets_the_candidate_go_on(client, estelle, monkeypatch, caplog):
    def down(self, ine):
        raise StudentRecordsUnavailable("timeout")

    monkeypatch.setattr(LocalTableBackend, "find_by_ine", down)

    with caplog.at_level(logging.WARNING, logger="applications.services.sis_lookup"):
        saved = client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)

    assert saved.status_code == 302
    assert saved.url != CERTIFY
    assert Candidate.objects.get(user=estelle).ine == STUDENT.ine  # saved all the same
    assert "INE lookup" in caplog.text


def test_once_an_application_exists_the_question_is_not_asked(client, estelle):
    client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)
    ApplicationFactory(candidate=Candidate.objects.get(user=estelle))

    page = client.get(CERTIFY)
    answer = client.post(CERTIFY, {"answer": "yes"})

    assert page.status_code == answer.status_code == 302
    assert not Candidate.objects.get(user=estelle).sis_locked


def test_anonymous_and_staff_do_not_reach_the_question(client, centre_manager):
    assert client.get(CERTIFY).status_code == 302
    client.force_login(centre_manager)
    assert client.get(CERTIFY).status_code == 404


# --- staff: "Reprendre de la scolarité" --------------------------------------------------------------------------


def _take_again(client, candidate):
    return client.post(
        reverse("admin:applications_candidate_changelist"),
        {"action": "take_again_from_sis", helpers.ACTION_CHECKBOX_NAME: [candidate.pk]},
        follow=True,
        **FRENCH,
    )


@pytest.fixture
def typed_by_hand(campaign):
    """Estelle's dossier typed by hand on an e-mail account, with an application: her INE, her name, her birth date
    (her INE alone would not do: ``test_staff_take_again_by_ine_only_for_the_same_person``)."""
    return estelle_typed_by_hand(campaign)


def test_the_central_office_takes_a_dossier_again_and_the_history_says_so(client, central_manager, typed_by_hand):
    client.force_login(central_manager)

    response = _take_again(client, typed_by_hand)

    typed_by_hand.refresh_from_db()
    assert typed_by_hand.sis_locked
    assertContains(response, "Repris du logiciel de scolarité")
    event = typed_by_hand.applications.get().events.get(kind=EventKind.DOSSIER_CHANGED_BY_STAFF)
    assert (event.actor, event.comment) == (central_manager, "Dossier repris de la scolarité")


def test_a_candidate_unknown_to_the_sis_is_said_so(client, central_manager, campaign):
    stranger = CandidateFactory(user__campaign=campaign, ine="1234567890V")
    client.force_login(central_manager)

    response = _take_again(client, stranger)

    assertContains(response, "Introuvable dans le logiciel de scolarité")
    stranger.refresh_from_db()
    assert not stranger.sis_locked


def test_a_sis_down_changes_nothing_and_says_so(client, central_manager, typed_by_hand, monkeypatch):
    def down(self, ine):
        raise StudentRecordsUnavailable("connexion refusée")

    monkeypatch.setattr(LocalTableBackend, "find_by_ine", down)
    client.force_login(central_manager)

    response = _take_again(client, typed_by_hand)

    assertContains(response, "Le logiciel de scolarité ne répond pas")
    typed_by_hand.refresh_from_db()
    assert not typed_by_hand.sis_locked


def test_take_again_when_sis_ine_is_held_by_another_dossier(client, central_manager, campaign):
    """The SIS gives the ENT student an INE her e-mail account's dossier holds (unique per campaign): that dossier is
    refused in words, the others selected are taken again all the same (no error page, nothing rolled back)."""
    before = dataclasses.replace(STUDENT, student_number="21900002", ine="1234567890V")
    after = dataclasses.replace(STUDENT, student_number="21900003", ine="")
    store_sis_records(students=[before, after], actor=None)
    first = CandidateFactory(user__campaign=campaign, user__student_number=before.student_number, sis_locked=False)
    CandidateFactory(user__campaign=campaign, ine=STUDENT.ine, sis_locked=False)  # her e-mail account
    ent = CandidateFactory(
        user__campaign=campaign, user__student_number=STUDENT.student_number, ine="", sis_locked=False
    )
    last = CandidateFactory(user__campaign=campaign, user__student_number=after.student_number, sis_locked=False)
    client.force_login(central_manager)
    client.raise_request_exception = False

    response = client.post(
        reverse("admin:applications_candidate_changelist"),
        {"action": "take_again_from_sis", helpers.ACTION_CHECKBOX_NAME: [first.pk, ent.pk, last.pk]},
        follow=True,
        **FRENCH,
    )

    assert response.status_code == 200
    assertContains(
        response,
        f"Non repris du logiciel de scolarité, {ent.user.username} DUPONT : L&#x27;INE de la scolarité est déjà "
        f"celui d&#x27;un autre dossier de la campagne : {STUDENT.ine}.",
    )
    assertContains(response, f"Repris du logiciel de scolarité : {first.user.username} ")
    assertContains(response, f", {last.user.username} ")
    ent.refresh_from_db()
    assert (ent.birth_name, ent.sis_locked) == ("DUPONT", False)
    assert Candidate.objects.filter(pk__in=[first.pk, last.pk], sis_locked=True).count() == 2


def test_staff_take_again_by_ine_only_for_the_same_person(client, central_manager, campaign):
    """A dossier whose typed INE is a stranger's in the SIS (another birth date) is not filled with the stranger's
    records: the back office says it was not found, as the candidate's own page would."""
    typed = CandidateFactory(user__campaign=campaign, birth_name="DURAND", first_name="Paul", ine=STUDENT.ine)
    client.force_login(central_manager)

    response = _take_again(client, typed)

    assertContains(response, "Introuvable dans le logiciel de scolarité")
    typed.refresh_from_db()
    assert (typed.birth_name, typed.sis_locked) == ("DURAND", False)


@pytest.mark.parametrize("persona", ["commission_member", "read_only_staff"])
def test_staff_who_do_not_correct_dossiers_are_not_offered_it(client, request, persona, typed_by_hand):
    client.force_login(request.getfixturevalue(persona))

    page = client.get(reverse("admin:applications_candidate_changelist"))

    assertNotContains(page, "take_again_from_sis", status_code=page.status_code)


def test_the_match_rule_itself(typed_by_hand):
    assert sis_lookup.sis_match_for_ine(typed_by_hand) is not None
    typed_by_hand.sis_locked = True
    assert sis_lookup.sis_match_for_ine(typed_by_hand) is None
