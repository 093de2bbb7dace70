"""Who acted, in the application's history on the review page (review): a candidate's login is their dossier number,
so their own actions read « Réponses aux questions complémentaires par GU53H2WM »; they now read « … par le
candidat ». Staff keep their login (« par gestionnaire »), the batches' lines are unchanged."""

import re

import pytest
from django.utils import translation

from applications.admin.review import history_line
from applications.enums import EventKind
from applications.models import ApplicationEvent
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")
    return make_application(formation, campaign=campaign)


@pytest.fixture
def named_manager(centre_manager):
    centre_manager.first_name, centre_manager.last_name = "Marie", "Durand"
    centre_manager.save(update_fields=["first_name", "last_name"])
    return centre_manager


def _event(application, kind, *, actor=None, batch=""):
    return ApplicationEvent.objects.create(application=application, kind=kind, actor=actor, batch=batch)


def _history(page: str) -> str:
    """The page's « Historique » section as text (tags dropped, spaces squeezed)."""
    section = page[page.index(">Historique</h2>") :]
    section = section[: section.index("</section>")] if "</section>" in section else section
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))


def test_the_candidates_own_actions_read_by_the_candidate(
    client, django_assert_num_queries, named_manager, application
):
    candidate_user = application.candidate.user
    _event(application, EventKind.QUESTIONS_ANSWERED, actor=candidate_user)
    _event(application, EventKind.TRANSMITTED, actor=candidate_user)
    client.force_login(named_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page = client.get(change_url(application)).content.decode()

    history = _history(page)
    assert "Réponses aux questions complémentaires par le candidat" in history
    assert "Dossier transmis par le candidat" in history
    assert candidate_user.get_username() not in history
    assert '{"' not in page


def test_staff_are_named_by_their_login(
    client, django_assert_num_queries, named_manager, commission_member, application
):
    _event(application, EventKind.FORMS_REMINDER, actor=named_manager)
    _event(application, EventKind.FORMS_REMINDER, actor=commission_member)
    client.force_login(named_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        history = _history(client.get(change_url(application)).content.decode())

    assert "Relance des formulaires envoyée par gestionnaire" in history
    assert "par membre" in history
    assert "par le candidat" not in history


def test_a_batchs_line_is_unchanged(client, named_manager, application):
    _event(application, EventKind.WITHDRAWN, batch="withdraw_expired_confirmations")
    client.force_login(named_manager)

    history = _history(client.get(change_url(application)).content.decode())

    assert "Désistement (traitement « Désistement automatique des candidatures »)" in history


@pytest.mark.parametrize("events", [1, 5])
def test_the_history_costs_the_same_whatever_its_length(
    client, django_assert_num_queries, named_manager, commission_member, application, events
):
    for _number in range(events):
        _event(application, EventKind.QUESTIONS_ANSWERED, actor=application.candidate.user)
        _event(application, EventKind.FORMS_REMINDER, actor=named_manager)
        _event(application, EventKind.FORMS_REMINDER, actor=commission_member)
        _event(application, EventKind.WITHDRAWN, batch="withdraw_expired_confirmations")
    client.force_login(named_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        history = _history(client.get(change_url(application)).content.decode())

    assert history.count("par le candidat") == events
    assert history.count("par gestionnaire") == events


def test_a_line_built_alone_names_the_candidate_and_staff_in_french(named_manager, application):
    candidate_user = application.candidate.user
    answered = ApplicationEvent(kind=EventKind.QUESTIONS_ANSWERED, actor=candidate_user)
    entered = ApplicationEvent(kind=EventKind.QUESTIONS_ENTERED_BY_STAFF, actor=named_manager)

    with translation.override("fr"):
        own = history_line(answered, {}, candidate_user_id=candidate_user.pk).text
        for_them = history_line(entered, {}, candidate_user_id=candidate_user.pk).text
    with translation.override("en"):
        own_in_english = history_line(answered, {}, candidate_user_id=candidate_user.pk).text

    assert own == "Réponses aux questions complémentaires par le candidat"
    assert for_them == "Réponses aux questions saisies par gestionnaire pour le candidat"
    assert own_in_english == "Complementary questions answered by the candidate"
