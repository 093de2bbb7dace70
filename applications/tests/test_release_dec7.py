"""The release's preview past its limit (7 Dec): the refusals the database answers alone are counted for the
applications it does not detail, the page never says they « will be validated », and a selection refused whole
queues no job."""

import pytest
from django.urls import reverse

from applications.models import ReleaseJob
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:applications_application_changelist"
LIMIT = 2
# The preview page of 2 previewed applications, and one query for the refusals of all those past them.
QUERIES = 19 + 17 * LIMIT + 1  # as test_release.test_preview_queries_per_application_are_constant, + 1


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture(autouse=True)
def _small_limit(monkeypatch):
    """A preview of 2 and a background release from 2: a selection past the limit stays small."""
    monkeypatch.setattr("applications.services.release.PREVIEW_LIMIT", LIMIT)
    monkeypatch.setattr("applications.admin.release.PREVIEW_LIMIT", LIMIT)
    monkeypatch.setattr("applications.admin.release.BACKGROUND_RELEASE_FROM", LIMIT)


def entered(formation, campaign, actor, *, validated_by=None):
    application = make_application(formation, campaign=campaign)
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=actor)
    if validated_by is not None:
        staff.validate_decision(application.decisions.current(), actor=validated_by)
    return application


def preview(client, applications, language="en"):
    return client.post(
        reverse(CHANGELIST),
        {"action": "action_validate_decisions", "_selected_action": [a.pk for a in applications]},
        language=language,
    )


def test_refusals_past_the_limit_are_counted_and_not_promised(
    client, formation, campaign, commission_member, centre_manager
):
    to_validate = [entered(formation, campaign, commission_member) for _ in range(LIMIT)]
    validated = [entered(formation, campaign, commission_member, validated_by=centre_manager) for _ in range(3)]
    client.force_login(centre_manager)

    response = preview(client, [*to_validate, *validated])

    assert response.status_code == 200
    assert (response.context["release_refused"], response.context["release_none"]) == (3, False)
    page = response.content.decode()
    assert "3 applications will be refused (see below)." in page
    assert (
        "Only the first 2 are shown; 3 more applications are not detailed: each is checked again when you confirm, "
        "and the refusals are named on the progress page."
    ) in page
    assert "validated the same way" not in page


def test_a_selection_refused_whole_says_so_in_french(client, formation, campaign, commission_member, centre_manager):
    applications = [entered(formation, campaign, commission_member, validated_by=centre_manager) for _ in range(5)]
    client.force_login(centre_manager)

    response = preview(client, applications, language="fr")

    assert (response.context["release_refused"], response.context["release_none"]) == (5, True)
    page = response.content.decode()
    assert "Les 5 candidatures seront refusées : aucun avis ne sera validé." in page
    assert "3 autres candidatures ne sont pas détaillées" in page
    assert "seront validées de la même façon" not in page


def test_a_selection_refused_whole_queues_no_job(
    client, formation, campaign, commission_member, centre_manager, django_capture_on_commit_callbacks
):
    applications = [entered(formation, campaign, commission_member, validated_by=centre_manager) for _ in range(4)]
    mails = OutboundEmail.objects.count()
    client.force_login(centre_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse(CHANGELIST),
            {"action": "action_validate_decisions", "_selected_action": [a.pk for a in applications], "apply": "1"},
            language="en",
            follow=True,
        )

    assert not ReleaseJob.objects.exists()
    assert OutboundEmail.objects.count() == mails
    messages = [str(message) for message in response.context["messages"]]
    assert "None of these applications has a decision to validate: nothing was released." in messages
    assert not any("has started" in message for message in messages)


@pytest.mark.parametrize("past", [4, 9])
def test_the_preview_queries_do_not_grow_with_the_selection_past_the_limit(
    client, formation, campaign, commission_member, centre_manager, past, django_assert_num_queries
):
    """The applications past the limit are counted in one query (the last but few), whatever their number."""
    first = [entered(formation, campaign, commission_member) for _ in range(LIMIT)]
    rest = [entered(formation, campaign, commission_member, validated_by=centre_manager) for _ in range(past)]
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES):
        response = preview(client, [*first, *rest])

    assert response.status_code == 200
    assert response.context["release_refused"] == past
