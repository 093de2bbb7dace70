"""A letter text that letters not built yet still need cannot be deleted from the back office (offers.letters'
deletion checks, applications.letters.letters_waiting_for): deleted, those letters could never be had. The delete
page lists them as protected objects, for the button and the bulk action alike; once built, the text may go.
Deleting a text is a superuser's (Django's delete permission): a manager changes the text instead."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from applications.letters import build_letter, letters_waiting_for
from applications.models import DecisionLetter
from applications.services import candidature as withdrawal
from applications.services import staff
from applications.tests.factories_candidature import decision_type
from applications.tests.helpers import released
from offers.enums import Avis
from offers.models import DecisionLetterTemplate, RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

WAITING = "letter of a released decision is not built yet from this text"
ONE_WAITING = (
    f"Admission letter “Admission”: 1 {WAITING} (the worker, or the candidate's confirmation, will build it); "
    "change the text instead of deleting it."
)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def centre_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION,
        centre=centre,
        title="Admission",
        body="Admis en ${formation_title}",
    )


@pytest.fixture
def waiting(formation, campaign, centre_manager, centre_text):
    """A favourable decision released whose letter the worker has not built yet (the commit callbacks not run)."""
    return released(formation, campaign, centre_manager)


def test_a_letter_not_built_yet_keeps_its_text(centre_text, waiting, django_assert_num_queries):
    with django_assert_num_queries(2):
        lines = letters_waiting_for([centre_text])

    assert lines == [ONE_WAITING]


def test_once_built_the_text_may_go(centre_text, waiting, django_assert_num_queries):
    build_letter(DecisionLetter.objects.get().pk)

    with django_assert_num_queries(1):
        assert letters_waiting_for([centre_text]) == []


def test_the_letter_counts_on_the_formations_own_text_not_the_centres(formation, centre, centre_text, waiting):
    own = DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION, centre=centre, formation=formation, title="Propre", body="b"
    )

    assert letters_waiting_for([centre_text]) == []
    assert len(letters_waiting_for([own, centre_text])) == 1
    assert "“Propre”" in letters_waiting_for([own, centre_text])[0]


def test_letters_nobody_can_download_any_more_do_not_keep_it(
    formation, campaign, centre_manager, centre_text, waiting
):
    withdrawn = released(formation, campaign, centre_manager, email="desiste@example.org")
    withdrawal.withdraw_application(application=withdrawn, actor=withdrawn.candidate.user, reason="PER")
    superseded = released(formation, campaign, centre_manager, email="revue@example.org")
    later = staff.record_decision(
        superseded,
        decision_type=decision_type(Avis.UNFAVOURABLE),
        actor=centre_manager,
        refusal_reason=RefusalReason.objects.create(code="X", label="X"),
    )
    staff.validate_decision(later, actor=centre_manager)
    assert DecisionLetter.objects.filter(file="").count() == 3

    assert letters_waiting_for([centre_text]) == [ONE_WAITING]


def _delete_url(text):
    return reverse("admin:offers_decisionlettertemplate_delete", args=[text.pk])


def test_the_delete_page_refuses_while_a_letter_waits(
    client, superuser, centre_text, waiting, django_assert_num_queries
):
    client.force_login(superuser)

    # Session, user, the text, the delete collector's related rows, the letters waiting and the centre's texts.
    with django_assert_num_queries(8):
        page = client.get(_delete_url(centre_text))
    posted = client.post(_delete_url(centre_text), {"post": "yes"})

    assertContains(page, WAITING)
    assert page.context["protected"]
    assertContains(posted, WAITING)
    assert DecisionLetterTemplate.objects.filter(pk=centre_text.pk).exists()


def test_the_bulk_deletion_refuses_too(client, superuser, centre_text, waiting):
    client.force_login(superuser)

    page = client.post(
        reverse("admin:offers_decisionlettertemplate_changelist"),
        {"action": "delete_selected", "_selected_action": [centre_text.pk], "post": "yes"},
    )

    assertContains(page, WAITING)
    assert DecisionLetterTemplate.objects.filter(pk=centre_text.pk).exists()


def test_a_text_no_letter_waits_for_is_deleted(client, superuser, centre_text, waiting):
    build_letter(DecisionLetter.objects.get().pk)
    client.force_login(superuser)

    response = client.post(_delete_url(centre_text), {"post": "yes"})

    assert response.status_code == 302
    assert not DecisionLetterTemplate.objects.filter(pk=centre_text.pk).exists()
