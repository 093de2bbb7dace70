"""The « Candidatures » list says, after a favourable decision, the candidate's answer (« Confirmée », « Désistée »)
or, while they can still answer, until when (« Réponse attendue au plus tard le … », the recap's date and rule):
three « Avis favorable » in a row no longer look alike. Same three queries as before, whatever the rows."""

import datetime
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    complete_candidate,
)
from applications.tests.helpers import english_date
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

LIST = "applications:application_list"


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


def _favourable(applicant, title, *, accepted=None, answer_by=None, **formation):
    application = ApplicationFactory(
        candidate=applicant,
        formation=FormationFactory(title=title, **formation),
        complete=True,
        accepted=accepted,
        answered_at=None if accepted is None else timezone.now(),
        confirmation_date_override=answer_by,
    )
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)
    return application


def _decision_cells(response) -> dict[str, str]:
    """Each row's formation title and its Décision cell, as text (tags dropped, spaces collapsed)."""
    page = response.content.decode()
    cells = {}
    for row in re.findall(r'<tr role="row">(.*?)</tr>', page, re.S)[1:]:
        title = re.sub(r"<[^>]+>", "", re.search(r'<th scope="row"[^>]*>(.*?)</th>', row, re.S).group(1)).strip()
        decision = re.findall(r'<td role="cell"[^>]*>(.*?)</td>', row, re.S)[2]
        cells[title] = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", decision)).split())
    return cells


def test_each_favourable_decision_says_its_answer_or_until_when(owner, applicant, django_assert_num_queries):
    answer_by = timezone.localdate() + datetime.timedelta(days=5)
    _favourable(applicant, "LICENCE DROIT", accepted=False)
    _favourable(applicant, "LICENCE ECONOMIE", accepted=True)
    _favourable(applicant, "MASTER ENERGIE", answer_by=answer_by)  # promoted from the waiting list

    with django_assert_num_queries(3):  # session, user, the applications with their current decision
        response = owner.get(reverse(LIST), language="fr")

    assert _decision_cells(response) == {
        "LICENCE DROIT": "Avis FA Désistée",
        "LICENCE ECONOMIE": "Avis FA Confirmée",
        "MASTER ENERGIE": f"Avis FA Réponse attendue au plus tard le {answer_by:%d/%m/%Y}",
    }


def test_in_english(owner, applicant):
    answer_by = timezone.localdate() + datetime.timedelta(days=5)
    _favourable(applicant, "MASTER ENERGIE", answer_by=answer_by)

    cells = _decision_cells(owner.get(reverse(LIST), language="en"))

    assert cells == {"MASTER ENERGIE": f"Avis FA Answer expected by {english_date(answer_by)} at the latest"}


def test_the_date_counted_in_days_comes_with_the_list_and_is_capped_at_the_campaign_end(
    owner, applicant, campaign, django_assert_num_queries
):
    """A formation that counts the date de confirmation in days after the decision: the same date as the recap's,
    capped at the campaign's closing date for candidates, without a query per row for the campaign."""
    campaign.ends_on = timezone.localdate() + datetime.timedelta(days=3)
    campaign.save()
    for title in ("LICENCE DROIT", "LICENCE ECONOMIE"):
        _favourable(applicant, title, confirmation_delay_days=10)
    recap = owner.get(reverse("applications:detail", args=[applicant.applications.first().public_id]), language="fr")
    assert f"{campaign.ends_on:%d/%m/%Y}" in recap.content.decode()

    with django_assert_num_queries(3):
        response = owner.get(reverse(LIST), language="fr")

    expected = f"Avis FA Réponse attendue au plus tard le {campaign.ends_on:%d/%m/%Y}"
    assert _decision_cells(response) == {"LICENCE DROIT": expected, "LICENCE ECONOMIE": expected}


def test_no_date_when_the_formation_has_none(owner, applicant):
    _favourable(applicant, "MASTER ENERGIE", confirmation_date=None)

    assert _decision_cells(owner.get(reverse(LIST), language="fr")) == {"MASTER ENERGIE": "Avis FA Réponse attendue"}


def test_nothing_more_once_the_date_has_passed_or_without_a_favourable_decision(owner, applicant):
    """Past its date de confirmation the recap offers no answer (the nightly batch withdraws it): no date to meet
    here either; an unfavourable decision asks for no answer."""
    _favourable(applicant, "LICENCE DROIT", answer_by=timezone.localdate() - datetime.timedelta(days=1))
    unfavourable = ApplicationFactory(candidate=applicant, formation=FormationFactory(title="LICENCE ECONOMIE"))
    DecisionFactory(
        application=unfavourable, decision_type=DecisionTypeFactory(avis=Avis.UNFAVOURABLE), validated=True
    )

    cells = _decision_cells(owner.get(reverse(LIST), language="fr"))

    assert cells == {"LICENCE DROIT": "Avis FA", "LICENCE ECONOMIE": "Avis DE"}
