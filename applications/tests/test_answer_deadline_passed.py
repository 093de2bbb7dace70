"""A favourable decision whose date de confirmation has passed without an answer: the recap says why "Confirmer" /
"Désister" are gone and what follows, and the confirm and withdraw pages (a mail's link followed too late) send back
to the recap with that precise reason rather than the generic "action not available"."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    complete_candidate,
)
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

NO_CONFIRMATION = (
    "Sans confirmation, votre candidature est désistée ; si vous pensez qu'il s'agit d'une erreur, écrivez à la "
    "commission."
)
GENERIC = "Cette action n&#x27;est pas disponible pour cette candidature."


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


@pytest.fixture
def favourable(applicant, commission):
    formation = FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - ENERGIE")
    application = ApplicationFactory(candidate=applicant, formation=formation, complete=True)
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)
    return application


def _url(name, application):
    return reverse(f"applications:{name}", args=[application.public_id])


def _answer_by(application, days: int) -> datetime.date:
    """Gives the application a date de confirmation ``days`` from today (negative: passed) and returns it."""
    application.confirmation_date_override = timezone.localdate() + datetime.timedelta(days=days)
    application.save()
    return application.confirmation_date_override


def _passed(day: datetime.date) -> str:
    return f"La date de confirmation ({day:%d/%m/%Y}) est dépassée."


def test_after_the_deadline_the_recap_says_why_there_is_nothing_to_answer(
    owner, favourable, django_assert_num_queries
):
    deadline = _answer_by(favourable, -1)

    with translation.override("fr"), django_assert_num_queries(8):  # as before the deadline: nothing read more
        response = owner.get(_url("detail", favourable), language="fr")

    email = favourable.formation.commission.email
    assertContains(
        response,
        f'<p class="notice">{_passed(deadline)} {NO_CONFIRMATION} Mail : <a href="mailto:{email}">{email}</a></p>',
        html=True,
    )
    assertNotContains(response, _url("confirm", favourable))
    assertNotContains(response, _url("withdraw", favourable))


def test_after_the_deadline_without_a_commission_mail_the_sentence_stands_alone(owner, favourable):
    commission = favourable.formation.commission
    commission.email = ""
    commission.save()
    deadline = _answer_by(favourable, -1)

    with translation.override("fr"):
        response = owner.get(_url("detail", favourable), language="fr")

    assertContains(response, f'<p class="notice">{_passed(deadline)} {NO_CONFIRMATION}</p>', html=True)


def test_before_the_deadline_the_buttons_and_no_reason(owner, favourable, django_assert_num_queries):
    _answer_by(favourable, 0)  # that day included

    with translation.override("fr"), django_assert_num_queries(8):
        response = owner.get(_url("detail", favourable), language="fr")

    assertContains(response, _url("confirm", favourable))
    assertContains(response, _url("withdraw", favourable))
    assertNotContains(response, "est dépassée")
    assertNotContains(response, "Sans confirmation")


@pytest.mark.parametrize(
    ("accepted", "said"),
    [(True, "Vous avez confirmé cette candidature."), (False, "Vous vous êtes désisté(e) de cette formation.")],
)
def test_once_answered_the_recap_is_unchanged_after_the_deadline(
    owner, favourable, accepted, said, django_assert_num_queries
):
    _answer_by(favourable, -1)
    favourable.accepted = accepted
    favourable.answered_at = timezone.now()
    favourable.save()

    with translation.override("fr"), django_assert_num_queries(8):
        response = owner.get(_url("detail", favourable), language="fr")

    assertContains(response, said)
    assertNotContains(response, "est dépassée")
    assertNotContains(response, "Sans confirmation")
    assertNotContains(response, _url("confirm", favourable))
    # After a confirmation "Désister" stays available (§1.12), whatever the date.
    assert (_url("withdraw", favourable) in response.content.decode()) is accepted


@pytest.mark.parametrize("name", ["confirm", "withdraw"])
def test_the_pages_followed_after_the_deadline_give_the_precise_reason(
    owner, favourable, name, django_assert_num_queries
):
    deadline = _answer_by(favourable, -1)

    with (
        translation.override("fr"),
        django_assert_num_queries(5),
    ):  # session, user, the application in its savepoint (3)
        response = owner.get(_url(name, favourable), language="fr")

    assertRedirects(response, _url("detail", favourable), fetch_redirect_response=False)
    with translation.override("fr"):
        recap = owner.get(_url("detail", favourable), language="fr")
    assertContains(recap, _passed(deadline), count=2)  # the message, and the recap's own sentence
    assertNotContains(recap, GENERIC)
    favourable.refresh_from_db()
    assert favourable.accepted is None


def test_the_confirm_page_of_an_answered_application_gives_its_reason(owner, favourable):
    """Answered already (withdrawn): the reason the POST would give, not the generic sentence."""
    favourable.accepted = False
    favourable.answered_at = timezone.now()
    favourable.save()

    with translation.override("fr"):
        response = owner.get(_url("confirm", favourable), language="fr", follow=True)

    assertContains(response, "Vous avez déjà répondu : ce choix ne peut plus être modifié.")
    assertNotContains(response, GENERIC)
