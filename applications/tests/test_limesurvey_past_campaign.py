"""The LimeSurvey import changes the active campaign's dossiers only: a response naming an archived application (by
``idCandidature``) or a past campaign's account (by ``numDossier``) was stored on it, and the archived dossier
changed (a late answer, a survey kept from one year to the next)."""

import pytest

from applications.limesurvey_sync import store_responses
from applications.models import Application, FormAnswer
from applications.tests.factories import CandidateFactory
from ecandidat.batches import Report
from offers.models import ComplementaryForm
from offers.tests.factories import CampaignFactory, FormationFactory

PAST = "responses of a past campaign (ignored)"


def response(rid, submitdate, **answers):
    return {"id": str(rid), "submitdate": submitdate, "lastpage": "2", "startlanguage": "fr", **answers}


@pytest.fixture
def form(db):
    return ComplementaryForm.objects.create(
        code="TEST", survey_id=42, label="Questionnaire", candidate_label="Questionnaire", url="https://x"
    )


def _application(campaign, username, centre, commission):
    candidate = CandidateFactory(user__campaign=campaign, user__username=username)
    formation = FormationFactory(centre=centre, commission=commission)
    return Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )


def test_responses_naming_a_past_campaign_are_counted_and_ignored(form, campaign, centre, commission):
    archived = _application(CampaignFactory(), "PA000001", centre, commission)
    current = _application(campaign, "AB000001", centre, commission)
    rows = [
        response(1, "2027-03-02 10:15:00", numDossier="PA000001", Q01="Oui"),
        response(2, "2027-03-02 10:16:00", numDossier="PA000001", idCandidature=str(archived.public_id), Q01="A"),
        response(3, "2027-03-02 10:17:00", numDossier="AB000001", Q01="Non"),
        response(4, "2027-03-02 10:18:00", numDossier="AB000001", idCandidature=str(current.public_id), Q01="B"),
    ]

    report = Report()
    store_responses(form, rows, report)

    assert report.counts == {PAST: 2, "answers stored": 2, "answers updated": 0}
    assert set(FormAnswer.objects.values_list("candidate_id", "application_id")) == {
        (current.candidate_id, None),
        (current.candidate_id, current.pk),
    }


def test_an_answer_stored_before_the_archiving_does_not_change_after(form, campaign, centre, commission):
    archived = _application(CampaignFactory(), "PA000001", centre, commission)
    rows = [response(1, "2027-03-02 10:15:00", numDossier="PA000001", idCandidature=str(archived.public_id), Q01="A")]
    FormAnswer.objects.create(
        form=form, candidate=archived.candidate, application=archived, answers={"Q01": "Avant"}, submitted_at=None
    )

    report = Report()
    store_responses(form, rows, report)

    assert report.counts[PAST] == 1
    assert FormAnswer.objects.get().answers == {"Q01": "Avant"}
