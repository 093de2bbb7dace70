"""« Décision après appel » (DECISION_APPEALS) only where there is an appeal to examine: a decision already released
to the candidate. A first decision marked after an appeal told the candidate, in its mail and on their recap, of an
appeal they never made; « Saisir un avis » in bulk (BULK_DECISION_LOCK: no application of the selection has a
released decision) offered the box for that case only. « Mes données » says which decisions were given after an
appeal, as the mail did."""

import json
import zipfile
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import translation

from applications.enums import EventKind
from applications.models import ApplicationEvent, Decision
from applications.services import staff
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    decide,
    decision_type,
    make_application,
)
from applications.tests.helpers import mails, operation_url
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"
NOTHING_RELEASED = "No decision has been released to the candidate: there is no appeal to examine."
FRENCH_NOTHING_RELEASED = "Aucune décision n'a été rendue au candidat : il n'y a pas de recours à examiner."
FRENCH_SENTENCE = "Cette décision a été rendue après examen de votre recours."
IN_BULK = "No application of this selection has a decision released to its candidate"


@pytest.fixture(autouse=True)
def appeals(settings):
    settings.DECISION_APPEALS = True
    settings.BULK_DECISION_LOCK = True


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


@pytest.fixture
def application(formation, campaign):
    application = make_application(formation, campaign=campaign)
    application.candidate.preferred_language = "fr"
    application.candidate.save(update_fields=["preferred_language"])
    return application


def _reason():
    return RefusalReason.objects.get_or_create(code="NIV", defaults={"label": "Niveau insuffisant"})[0]


def _on_appeal(application, actor, avis=Avis.FAVOURABLE):
    kwargs = {"refusal_reason": _reason()} if avis == Avis.UNFAVOURABLE else {}
    return staff.record_decision(
        application, decision_type=decision_type(avis), actor=actor, after_appeal=True, **kwargs
    )


# --- the service ----------------------------------------------------------------------------------------------------


def test_a_first_decision_after_an_appeal_is_refused_nothing_written_nothing_mailed(application, centre_manager):
    with translation.override("fr"), pytest.raises(BusinessRuleError, match=FRENCH_NOTHING_RELEASED):
        _on_appeal(application, centre_manager, Avis.UNFAVOURABLE)

    assert not Decision.objects.exists()
    assert not ApplicationEvent.objects.filter(kind=EventKind.DECISION_ENTERED).exists()
    assert not OutboundEmail.objects.exists()


def test_a_decision_entered_but_not_released_leaves_no_appeal_to_examine(application, centre_manager):
    entered = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)

    with pytest.raises(BusinessRuleError, match=NOTHING_RELEASED):
        _on_appeal(application, centre_manager)

    assert list(application.decisions.all()) == [entered]
    assert not OutboundEmail.objects.exists()


def test_after_a_released_unfavourable_decision_the_appeal_is_recorded_and_mailed(application, centre_manager):
    decide(application, Avis.UNFAVOURABLE, actor=centre_manager, refusal_reason=_reason())

    appeal = _on_appeal(application, centre_manager, Avis.UNFAVOURABLE)
    staff.validate_decision(appeal, actor=centre_manager)

    appeal.refresh_from_db()
    assert appeal.after_appeal
    assert appeal.validated_at is not None
    first, second = mails("AVIS_DEFAVORABLE")
    assert FRENCH_SENTENCE not in first.body
    assert FRENCH_SENTENCE in second.body


# --- the pages ------------------------------------------------------------------------------------------------------


def test_one_applications_page_offers_the_box_and_says_the_refusal_above_the_form(client, application, centre_manager):
    client.force_login(centre_manager)
    url = operation_url(application, "enter_decision")

    assert "after_appeal" in client.get(url).context["form"].fields
    response = client.post(url, {"decision_type": decision_type(Avis.FAVOURABLE).pk, "after_appeal": "on"})

    assert response.status_code == 200
    form = response.context["form"]
    assert NOTHING_RELEASED in form.non_field_errors()
    assert form["after_appeal"].value() is True  # kept as posted: unticked, a second « Confirm » records it
    assert not Decision.objects.exists()


def test_the_bulk_form_has_no_box(client, formation, campaign, centre_manager):
    selection = [make_application(formation, campaign=campaign).pk for _ in range(2)]
    client.force_login(centre_manager)

    response = client.post(reverse(CHANGELIST), {"action": "action_enter_decision", "_selected_action": selection})

    assert response.status_code == 200
    assert "after_appeal" not in response.context["form"].fields
    assert 'name="after_appeal"' not in response.content.decode()


def test_one_application_selected_in_bulk_has_no_box(client, application, centre_manager):
    """The bulk page for one application selected is still a selection's: no box, as for several."""
    client.force_login(centre_manager)

    response = client.post(
        reverse(CHANGELIST), {"action": "action_enter_decision", "_selected_action": [application.pk]}
    )

    assert response.status_code == 200
    assert "after_appeal" not in response.context["form"].fields


def test_a_bulk_entry_sent_with_the_box_ticked_is_refused_next_to_it(client, application, centre_manager):
    """A bulk page posted with the box ticked (a page of before, or a crafted post) is refused next to the box
    rather than recorded or silently dropped."""
    client.force_login(centre_manager)

    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "action_enter_decision",
            "_selected_action": [application.pk],
            "apply": "1",
            "decision_type": decision_type(Avis.FAVOURABLE).pk,
            "after_appeal": "on",
        },
    )

    assert response.status_code == 200
    [error] = response.context["form"].errors["after_appeal"]
    assert error.startswith(IN_BULK)
    assert not Decision.objects.exists()


def test_without_the_bulk_lock_the_bulk_form_keeps_the_box(settings, client, formation, campaign, centre_manager):
    """Without BULK_DECISION_LOCK a selection may hold released decisions: the box is offered, and the service
    refuses it, one application at a time, where nothing was released."""
    settings.BULK_DECISION_LOCK = False
    selection = [make_application(formation, campaign=campaign).pk for _ in range(2)]
    client.force_login(centre_manager)

    response = client.post(reverse(CHANGELIST), {"action": "action_enter_decision", "_selected_action": selection})

    assert "after_appeal" in response.context["form"].fields


# --- « Mes données » ------------------------------------------------------------------------------------------------


def test_my_data_says_which_decisions_were_given_after_an_appeal(owner_client, candidate):
    application = ApplicationFactory(candidate=candidate, formation=FormationFactory())
    DecisionFactory(application=application, validated=True)
    DecisionFactory(application=application, validated=True, after_appeal=True)

    response = owner_client.get(reverse("applications:my_data_download"))

    assert response.status_code == 200
    archive = zipfile.ZipFile(BytesIO(b"".join(response.streaming_content)))
    [exported] = json.loads(archive.read("donnees.json"))["applications"]
    assert [decision["after_appeal"] for decision in exported["decisions"]] == [False, True]
