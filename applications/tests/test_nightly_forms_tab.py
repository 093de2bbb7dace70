"""The "Formulaires complémentaires" tab: rows, statuses, links, answers, and the staff reminder."""

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from applications.forms_tab import form_rows
from applications.models import Application, ApplicationEvent, FormAnswer
from applications.services.complementary_forms import declare_form_not_concerned, remind_unanswered_forms
from applications.tests.factories import CandidateFactory
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.models import ComplementaryForm
from offers.tests.factories import CentreFactory, FormationFactory


def make_form(code, **fields):
    defaults = {
        # Unique per code and stable across runs (str hashes are salted per process and could collide).
        "survey_id": int.from_bytes(code.encode(), "big") % 10**9,
        "label": f"Label {code}",
        "candidate_label": f"Candidate {code}",
        "url": "https://enquetes.example/index.php/42?numDossier=${numDossier}&id=${idCandidature}&nom=${nom}"
        "&prenom=${prenom}",
    }
    return ComplementaryForm.objects.create(code=code, **{**defaults, **fields})


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


@pytest.fixture
def application(formation, campaign):
    candidate = CandidateFactory(
        user__campaign=campaign, user__username="AB000001", usual_name="D'Ÿ & Co", first_name="Zoé Anne"
    )
    return Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )


def test_rows_cover_attached_and_common_forms_with_substituted_urls(application, formation, centre):
    attached = make_form("A")
    formation.forms.add(attached)
    make_form("INST", is_common=True)
    make_form("CENTRE", is_common=True, centre=centre)
    make_form("OTHER", is_common=True, centre=CentreFactory())
    make_form("OFF", is_common=True, in_service=False)
    make_form("UNRELATED")

    rows = form_rows(application)

    assert [row.form.code for row in rows] == ["A", "CENTRE", "INST"]
    assert str(rows[0].label) == "Candidate A"
    assert rows[0].url == (
        "https://enquetes.example/index.php/42?numDossier=AB000001"
        f"&id={application.public_id}&nom=D%27%C5%B8%20%26%20Co&prenom=Zo%C3%A9%20Anne"
    )
    assert {row.status for row in rows} == {"AT"}


def test_statuses_and_the_applications_own_answer_wins(application, formation):
    per_candidate, per_application, conditional = make_form("C"), make_form("P"), make_form("N", is_conditional=True)
    formation.forms.add(per_candidate, per_application, conditional)
    now = timezone.now()
    FormAnswer.objects.create(
        form=per_candidate, candidate=application.candidate, answers={"Q1": "x"}, submitted_at=now
    )
    FormAnswer.objects.create(
        form=per_application, candidate=application.candidate, answers={"Q1": "old"}, submitted_at=now
    )
    FormAnswer.objects.create(
        form=per_application,
        candidate=application.candidate,
        application=application,
        answers={"Q1": "mine", "Q0": "a"},
        submitted_at=now,
    )
    assert [row.can_declare_not_concerned for row in form_rows(application)] == [False, True, False]

    declare_form_not_concerned(
        application=application, form=conditional, not_concerned=True, actor=application.candidate.user
    )

    rows = {row.form.code: row for row in form_rows(application)}
    assert (rows["C"].status, rows["C"].answer_items) == ("TR", [("Q1", "x")])
    assert rows["P"].answer_items == [("Q0", "a"), ("Q1", "mine")]
    assert (rows["N"].status, rows["N"].status_label) == ("NC", "Not concerned")


def test_only_conditional_forms_can_be_declared_not_concerned(application, formation):
    form = make_form("A")
    with pytest.raises(BusinessRuleError):
        declare_form_not_concerned(application=application, form=form, not_concerned=True, actor=None)


def test_a_non_http_url_is_never_shown(application, formation):
    formation.forms.add(make_form("JS", url="javascript:alert(1)//${numDossier}"))

    assert form_rows(application)[0].url == ""


@pytest.mark.parametrize("count", [1, 20])
def test_rows_take_two_queries_whatever_the_number_of_forms(application, formation, count, django_assert_num_queries):
    for index in range(count):
        form = make_form(f"F{index}")
        formation.forms.add(form)
        FormAnswer.objects.create(form=form, candidate=application.candidate, submitted_at=timezone.now())
    application = Application.objects.select_related("candidate__user", "formation").get(pk=application.pk)

    with django_assert_num_queries(2):
        rows = form_rows(application)
    assert len(rows) == count


def test_tab_renders_the_guide_columns_sentence_and_answers(application, formation):
    answered, waiting = make_form("A"), make_form("B")
    formation.forms.add(answered, waiting)
    FormAnswer.objects.create(
        form=answered, candidate=application.candidate, answers={"Q01": "<b>Oui</b>"}, submitted_at=timezone.now()
    )

    html = render_to_string(
        "applications/includes/forms_tab.html",
        {"application": application, "form_rows": form_rows(application), "can_change_forms": True},
    )

    for text in ["Form", "Url", "Status", "Answers", "See the answers", "Submitted", "Waiting"]:
        assert f">{text}<" in html
    assert (
        "To fill in a form, click on its Url and answer the questions. The status and the answers of the forms are "
        "refreshed every night." in html
    )
    assert "&lt;b&gt;Oui&lt;/b&gt;" in html
    assert "numDossier=AB000001" in html


def test_staff_reminder_lists_the_waiting_forms(
    application, formation, centre_manager, django_capture_on_commit_callbacks
):
    answered, waiting = make_form("A"), make_form("B")
    formation.forms.add(answered, waiting)
    FormAnswer.objects.create(form=answered, candidate=application.candidate, submitted_at=timezone.now())

    assert remind_unanswered_forms(application=application, actor=centre_manager) == 1

    mail = OutboundEmail.objects.get(code="CANDIDATURE_RELANCE_FORMULAIRE")
    assert mail.to == application.candidate.user.email
    assert "Candidate B" in mail.body
    assert "Candidate A" not in mail.body
    assert "numDossier=AB000001" in mail.body
    assert ApplicationEvent.objects.get(kind="forms_reminder").actor == centre_manager


def test_staff_reminder_refuses_when_everything_is_answered(application, formation, centre_manager):
    form = make_form("A")
    formation.forms.add(form)
    FormAnswer.objects.create(form=form, candidate=application.candidate, submitted_at=timezone.now())

    with pytest.raises(BusinessRuleError):
        remind_unanswered_forms(application=application, actor=centre_manager)
    assert not OutboundEmail.objects.exists()
