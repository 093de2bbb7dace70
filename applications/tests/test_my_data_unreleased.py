""" "Mes données" tells no decision before its release (§1.12: the candidate only ever sees validated decisions).

Regression (review of the personal data export): the archive's history held every row of each application, among
them a decision's entry, whose comment is the decision type's label, a draft decision's deletion and, with the
two-person rule, the row of a default favourable decision waiting for someone else's validation: the candidate read
the commission's avis before the central office released it, or one later deleted.
"""

import io
import json
import zipfile

import pytest
from django.urls import reverse

from applications.enums import DossierStatus, EventKind
from applications.services import candidature, staff
from applications.tests.factories_candidature import ApplicationFactory, DecisionTypeFactory, complete_candidate
from offers.enums import Avis, TreatmentType
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

URL = "applications:my_data_download"
UNFAVOURABLE = "Type de décision défavorable"
FAVOURABLE = "Avis favorable MINFO"


@pytest.fixture
def candidate(campaign):
    """The owning candidate, their dossier complete enough to apply (staff propose them an admission)."""
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="MINFO",
        favourable_decision_type=DecisionTypeFactory(
            code="FAV_MINFO", avis=Avis.FAVOURABLE, label=FAVOURABLE, candidate_label=""
        ),
    )


@pytest.fixture
def unfavourable():
    return DecisionTypeFactory(code="DEF", avis=Avis.UNFAVOURABLE, label=UNFAVOURABLE, candidate_label="")


@pytest.fixture
def reason():
    return RefusalReason.objects.create(code="CAP", label="Capacité d'accueil atteinte")


def _enter(application, decision_type, reason, actor):
    return staff.record_decision(application, decision_type=decision_type, refusal_reason=reason, actor=actor)


def _download(client) -> tuple[str, list[dict]]:
    """The archive's ``donnees.json`` as text, and its applications."""
    response = client.get(reverse(URL))
    assert response.status_code == 200
    text = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).read("donnees.json").decode()
    return text, json.loads(text)["applications"]


def _kinds(exported: dict) -> list[str]:
    return [row["event"] for row in exported["history"]]


def test_an_entered_decision_is_told_once_validated_by_its_validation_only(
    owner_client, candidate, formation, unfavourable, reason, centre_manager, central_manager
):
    application = ApplicationFactory(candidate=candidate, formation=formation, complete=True)
    decision = _enter(application, unfavourable, reason, centre_manager)

    text, [exported] = _download(owner_client)

    assert EventKind.DECISION_ENTERED not in _kinds(exported)
    assert UNFAVOURABLE not in text
    assert exported["decisions"] == []

    staff.validate_decision(decision, actor=central_manager)

    text, [exported] = _download(owner_client)

    [validation] = [row for row in exported["history"] if row["event"] == EventKind.DECISION_VALIDATED]
    assert validation["comment"] == UNFAVOURABLE
    assert EventKind.DECISION_ENTERED not in _kinds(exported)
    assert [decision["decision"] for decision in exported["decisions"]] == [UNFAVOURABLE]


def test_a_draft_decision_deleted_leaves_no_trace(
    owner_client, candidate, formation, unfavourable, reason, centre_manager
):
    application = ApplicationFactory(candidate=candidate, formation=formation, complete=True)
    _enter(application, unfavourable, reason, centre_manager)
    staff.delete_last_decision(application, actor=centre_manager)

    text, [exported] = _download(owner_client)

    assert not {EventKind.DECISION_ENTERED, EventKind.DECISION_DELETED} & set(_kinds(exported))
    assert UNFAVOURABLE not in text


def _direct_access(candidate, formation, actor):
    application = ApplicationFactory(
        candidate=candidate, formation=formation, transmitted=True, treatment_type=TreatmentType.DIRECT
    )
    staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=actor)
    return application


def _proposal(candidate, formation, actor):
    return candidature.propose_admission(candidate=candidate, formation=formation, actor=actor)


@pytest.mark.parametrize(
    ("grant", "kind"), [(_direct_access, EventKind.DIRECT_ACCESS), (_proposal, EventKind.ADMISSION_PROPOSED)]
)
def test_a_default_favourable_decision_waiting_for_the_two_person_rule_is_not_told(
    owner_client, settings, candidate, centre, commission, formation, centre_manager, central_manager, grant, kind
):
    """Given validated at once (the rule off), its row tells the release and stays; held for someone else's
    validation, its row is an entry with a note for staff: left out, before and after the validation, which has its
    own row."""
    other = FormationFactory(centre=centre, commission=commission, code="MDROIT")
    other.favourable_decision_type = DecisionTypeFactory(code="FAV_MDROIT", label="Avis favorable MDROIT")
    other.save()
    released = grant(candidate, other, centre_manager)
    settings.DECISION_TWO_PERSON_RULE = True
    held = grant(candidate, formation, centre_manager)

    text, exported = _download(owner_client)

    history = {application["id"]: _kinds(application) for application in exported}
    assert kind in history[str(released.public_id)]
    assert kind not in history[str(held.public_id)]
    assert FAVOURABLE not in text  # neither the row nor its note for staff (« à valider par une autre personne »)

    staff.validate_decision(held.decisions.get(), actor=central_manager)

    _text, exported = _download(owner_client)

    [held_history] = [application["history"] for application in exported if application["id"] == str(held.public_id)]
    assert [(row["event"], row["comment"]) for row in held_history if row["comment"].startswith(FAVOURABLE)] == [
        (EventKind.DECISION_VALIDATED, FAVOURABLE)
    ]


@pytest.mark.parametrize("decisions", [1, 4])
def test_queries_do_not_grow_with_the_history(
    owner_client,
    candidate,
    formation,
    unfavourable,
    reason,
    centre_manager,
    central_manager,
    decisions,
    django_assert_num_queries,
):
    """Entries, deletions, validations and a direct access: the filter is in the history's prefetch."""
    application = _direct_access(candidate, formation, centre_manager)
    for _ in range(decisions):
        _enter(application, unfavourable, reason, centre_manager)
        staff.delete_last_decision(application, actor=centre_manager)
        staff.validate_decision(_enter(application, unfavourable, reason, centre_manager), actor=central_manager)
    _enter(application, unfavourable, reason, centre_manager)

    # As test_personal_data's (a validated decision: its letter, one query): the rule is a filter of the history's
    # prefetch.
    with django_assert_num_queries(21):
        text, [exported] = _download(owner_client)

    kinds = _kinds(exported)
    assert kinds.count(EventKind.DECISION_VALIDATED) == decisions
    assert kinds.count(EventKind.DIRECT_ACCESS) == 1
    assert not {EventKind.DECISION_ENTERED, EventKind.DECISION_DELETED} & set(kinds)
