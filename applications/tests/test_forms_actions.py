"""Complementary forms: the candidate's "Non concerné" / "Concerné" on conditional forms, the staff reminder action
("Relancer les formulaires non répondus") and ``FORMS_BLOCK_TRANSMISSION`` on the transmission."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from applications.admin import operations
from applications.enums import DossierStatus
from applications.models import Application, ApplicationEvent, FormAnswer
from applications.services.candidature import transmit_application
from applications.services.complementary_forms import declare_form_not_concerned, remind_unanswered_forms
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.models import MailTemplate, OutboundEmail
from offers.models import ComplementaryForm
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"
REMINDER = "CANDIDATURE_RELANCE_FORMULAIRE"


def make_form(code, **fields):
    defaults = {
        "survey_id": 1000 + ComplementaryForm.objects.count(),
        "label": f"Label {code}",
        "candidate_label": f"Questionnaire {code}",
        "url": "https://enquetes.example/index.php/42?numDossier=${numDossier}",
    }
    return ComplementaryForm.objects.create(code=code, **{**defaults, **fields})


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - ENERGIE")


@pytest.fixture
def application(applicant, formation):
    return ApplicationFactory(candidate=applicant, formation=formation)


@pytest.fixture
def conditional(formation):
    form = make_form("COND", is_conditional=True)
    formation.forms.add(form)
    return form


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


def declare_url(application, form, *, not_concerned=True):
    name = "form_not_concerned" if not_concerned else "form_concerned"
    return reverse(f"applications:{name}", args=[application.public_id, form.pk])


def detail_url(application):
    return reverse("applications:detail", args=[application.public_id])


def own_answer(application, form):
    return FormAnswer.objects.filter(form=form, application=application).first()


def form_events(application):
    return list(
        ApplicationEvent.objects.filter(application=application, kind__startswith="form").values_list(
            "kind", "actor_id", "comment"
        )
    )


# --- Candidate: "Non concerné" / "Concerné" ---------------------------------------------------------------------


def test_owner_declares_not_concerned_then_concerned_again(owner, applicant, application, conditional):
    response = owner.post(declare_url(application, conditional), follow=True)

    assertRedirects(response, detail_url(application) + "#forms")
    assertContains(response, "Questionnaire COND: not concerned.")
    assertContains(response, '<span class="forms__status">Not concerned</span>', html=True)
    assertContains(response, declare_url(application, conditional, not_concerned=False))
    assert own_answer(application, conditional).not_concerned is True

    response = owner.post(declare_url(application, conditional, not_concerned=False), follow=True)

    assertRedirects(response, detail_url(application) + "#forms")
    assertContains(response, "Questionnaire COND: expected again.")
    assertContains(response, '<span class="forms__status">Waiting</span>', html=True)
    assert own_answer(application, conditional).not_concerned is False
    assert form_events(application) == [
        ("form_not_concerned", applicant.user.pk, "COND"),
        ("form_concerned", applicant.user.pk, "COND"),
    ]


def test_the_tab_offers_the_button_only_on_waiting_conditional_forms(owner, application, formation, conditional):
    plain = make_form("PLAIN")
    answered = make_form("ANSWERED", is_conditional=True)
    formation.forms.add(plain, answered)
    FormAnswer.objects.create(form=answered, candidate=application.candidate, submitted_at=timezone.now())

    response = owner.get(detail_url(application))

    assertContains(response, "Not concerned by this form", count=1)
    assertContains(response, declare_url(application, conditional))
    assertNotContains(response, declare_url(application, plain))
    assertNotContains(response, declare_url(application, answered))


@pytest.mark.parametrize("not_concerned", [True, False])
def test_declarations_are_post_only(owner, application, conditional, not_concerned):
    assert owner.get(declare_url(application, conditional, not_concerned=not_concerned)).status_code == 405
    assert own_answer(application, conditional) is None


def test_declaration_needs_the_csrf_token(applicant, application, conditional):
    client = Client(enforce_csrf_checks=True)
    client.force_login(applicant.user)

    assert client.post(declare_url(application, conditional)).status_code == 403
    assert own_answer(application, conditional) is None


@pytest.mark.parametrize("persona", ["other_candidate", "centre_manager", "other_centre_manager", "commission_member"])
@pytest.mark.parametrize("not_concerned", [True, False])
def test_outsiders_get_404_and_nothing_changes(client, application, conditional, persona, not_concerned, request):
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    response = client.post(declare_url(application, conditional, not_concerned=not_concerned))

    assert response.status_code == 404
    assert own_answer(application, conditional) is None
    assert form_events(application) == []


def test_anonymous_is_sent_to_login(client, application, conditional):
    response = client.post(declare_url(application, conditional))

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert own_answer(application, conditional) is None


def test_a_non_conditional_form_is_a_404(owner, application, formation):
    plain = make_form("PLAIN")
    formation.forms.add(plain)

    assert owner.post(declare_url(application, plain)).status_code == 404
    assert own_answer(application, plain) is None


def test_a_conditional_form_of_another_formation_is_a_404(owner, application):
    elsewhere = make_form("ELSEWHERE", is_conditional=True)
    FormationFactory().forms.add(elsewhere)

    assert owner.post(declare_url(application, elsewhere)).status_code == 404
    assert FormAnswer.objects.count() == 0


def test_double_submit_one_effect_and_a_message(owner, application, conditional):
    owner.post(declare_url(application, conditional))

    response = owner.post(declare_url(application, conditional), follow=True)

    assertContains(response, "Questionnaire COND: You have already declared that this form does not concern you.")
    assert len(form_events(application)) == 1
    response = owner.post(declare_url(application, conditional, not_concerned=False), follow=True)
    response = owner.post(declare_url(application, conditional, not_concerned=False), follow=True)
    assertContains(response, "Questionnaire COND: This form is already expected.")
    assert len(form_events(application)) == 2


def test_an_answered_form_cannot_be_declared_not_concerned(application, conditional):
    FormAnswer.objects.create(form=conditional, candidate=application.candidate, submitted_at=timezone.now())

    with pytest.raises(InvalidTransition, match="This form has been answered"):
        declare_form_not_concerned(
            application=application, form=conditional, not_concerned=True, actor=application.candidate.user
        )
    assert form_events(application) == []


def test_a_transmitted_application_is_refused_with_the_reason(owner, applicant, formation, conditional):
    application = ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)

    response = owner.post(declare_url(application, conditional), follow=True)

    assertContains(
        response,
        "Questionnaire COND: The complementary forms of this application can no longer be changed. Your application "
        "has been transmitted: its supporting documents can no longer be changed.",
    )
    assertNotContains(response, "Not concerned by this form")
    assert own_answer(application, conditional) is None


def test_an_incomplete_dossier_may_declare_again(owner, applicant, formation, conditional):
    application = ApplicationFactory(candidate=applicant, formation=formation, incomplete=True)

    owner.post(declare_url(application, conditional))

    assert own_answer(application, conditional).not_concerned is True


def test_after_the_return_deadline_is_refused(client, application, conditional, time_machine):
    time_machine.move_to(application.formation.return_deadline + datetime.timedelta(days=1))
    client.force_login(application.candidate.user)
    owner = client

    response = owner.post(declare_url(application, conditional), follow=True)

    assertContains(response, "The complementary forms of this application can no longer be changed.")
    assertContains(response, "has passed: supporting documents can no longer be changed.")
    assert own_answer(application, conditional) is None


def test_going_back_after_transmission_is_refused(owner, applicant, application, conditional):
    declare_form_not_concerned(application=application, form=conditional, not_concerned=True, actor=applicant.user)
    transmit_application(application=application, actor=applicant.user)

    owner.post(declare_url(application, conditional, not_concerned=False))

    assert own_answer(application, conditional).not_concerned is True
    assert [kind for kind, _actor, _comment in form_events(application)] == ["form_not_concerned"]


def test_declaration_queries(owner, application, conditional, django_assert_num_queries):
    # session, user, savepoint, application, form (404 check), savepoint, lock, forms, answers, get_or_create
    # (select, savepoint, insert, release), update, event, release x2, session save (savepoint, update, release)
    with django_assert_num_queries(17):
        response = owner.post(declare_url(application, conditional))

    assert response.status_code == 302
    assert own_answer(application, conditional).not_concerned is True


def test_refused_declaration_queries(owner, applicant, formation, conditional, django_assert_num_queries):
    application = ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)

    # Refused under the lock, before reading the forms' answers.
    with django_assert_num_queries(10):
        response = owner.post(declare_url(application, conditional))

    assert response.status_code == 302


@pytest.mark.parametrize("count", [1, 10])
def test_recap_queries_do_not_grow_with_forms(owner, application, formation, count, django_assert_num_queries):
    for index in range(count):
        form = make_form(f"F{index}", is_conditional=bool(index % 2))
        formation.forms.add(form)
        if index % 3 == 0:
            FormAnswer.objects.create(form=form, candidate=application.candidate, submitted_at=timezone.now())

    with django_assert_num_queries(8):  # the letter is read only once a decision is validated
        response = owner.get(detail_url(application))

    assertContains(response, '<span class="forms__status">', count=count)


# --- FORMS_BLOCK_TRANSMISSION -----------------------------------------------------------------------------------

TRANSMIT_INACTIVE = '<button type="button" class="button" disabled>Transmit my application</button>'


def transmit_active(application):
    url = reverse("applications:transmit", args=[application.public_id])
    return f'<a class="button button--success" href="{url}">Transmit my application</a>'


def test_setting_off_waiting_forms_do_not_block(owner, settings, application, conditional):
    settings.FORMS_BLOCK_TRANSMISSION = False

    assertContains(owner.get(detail_url(application)), transmit_active(application), html=True)
    owner.post(reverse("applications:transmit", args=[application.public_id]))

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


def test_setting_on_the_button_stays_inactive_and_the_recap_lists_the_forms(
    owner, settings, application, formation, conditional
):
    settings.FORMS_BLOCK_TRANSMISSION = True
    answered = make_form("ANSWERED")
    formation.forms.add(answered)
    FormAnswer.objects.create(form=answered, candidate=application.candidate, submitted_at=timezone.now())

    response = owner.get(detail_url(application))

    assertContains(response, TRANSMIT_INACTIVE, html=True)
    assertContains(response, "Complementary forms not answered")
    assertContains(response, '<li><a href="#forms">Questionnaire COND</a> (Waiting)</li>', html=True)
    assertNotContains(response, '<a href="#forms">Questionnaire ANSWERED</a>')
    assertNotContains(response, "If the button is not green, a supporting document is missing.")


def test_setting_on_the_transmit_service_refuses_until_declared(owner, settings, applicant, application, conditional):
    settings.FORMS_BLOCK_TRANSMISSION = True
    url = reverse("applications:transmit", args=[application.public_id])

    response = owner.post(url, follow=True)

    assertContains(
        response,
        "A complementary form has not been answered: Questionnaire COND. Answer it, or declare that it does not "
        "concern you when it is conditional.",
    )
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING
    with pytest.raises(InvalidTransition, match="Questionnaire COND"):
        transmit_application(application=application, actor=applicant.user)

    owner.post(declare_url(application, conditional))
    assertContains(owner.get(detail_url(application)), transmit_active(application), html=True)
    owner.post(url)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


def test_setting_on_an_answer_for_the_candidate_unblocks(settings, applicant, application, formation):
    settings.FORMS_BLOCK_TRANSMISSION = True
    form = make_form("SHARED")
    formation.forms.add(form)
    FormAnswer.objects.create(form=form, candidate=applicant, answers={"Q1": "x"}, submitted_at=timezone.now())

    transmit_application(application=application, actor=applicant.user)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


def test_setting_on_missing_pieces_and_forms_are_both_listed(owner, settings, application, conditional):
    settings.FORMS_BLOCK_TRANSMISSION = True
    piece = PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation")

    response = owner.get(detail_url(application))

    assertContains(
        response,
        f'<li><a href="#piece-{piece.pk}"><span lang="fr">Lettre de motivation</span></a> (Waiting)</li>',
        html=True,
    )
    assertContains(response, '<li><a href="#forms">Questionnaire COND</a> (Waiting)</li>', html=True)


@pytest.mark.parametrize("block", [False, True])
def test_recap_queries_are_the_same_with_the_setting(owner, settings, application, conditional, block, request):
    settings.FORMS_BLOCK_TRANSMISSION = block
    django_assert_num_queries = request.getfixturevalue("django_assert_num_queries")

    # The recap reads the forms once; with the setting on, the transmit rule reuses its rows.
    with django_assert_num_queries(8):  # the letter is read only once a decision is validated
        owner.get(detail_url(application))


# --- Staff: "Relancer les formulaires non répondus" -------------------------------------------------------------


@pytest.fixture
def staff_application(formation, campaign):
    """A transmitted application of the centre: the forms can still be answered in LimeSurvey, so staff remind."""
    candidate = complete_candidate(user__campaign=campaign)
    return ApplicationFactory(candidate=candidate, formation=formation, transmitted=True)


@pytest.fixture
def forms_of_formation(formation):
    waiting, answered = make_form("WAIT"), make_form("DONE")
    formation.forms.add(waiting, answered)
    return waiting, answered


def answer(form, application):
    FormAnswer.objects.create(form=form, candidate=application.candidate, submitted_at=timezone.now())


def bulk(client, applications, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": "action_remind_forms", "_selected_action": [a.pk for a in applications], **extra},
        follow=True,
    )


def operation_url(application):
    return reverse("admin:applications_application_operation", args=[application.pk, "remind_forms"])


def test_bulk_reminder_confirms_then_enqueues_one_mail_each(
    client, centre_manager, formation, campaign, forms_of_formation, django_capture_on_commit_callbacks, mailoutbox
):
    waiting, answered = forms_of_formation
    first, second = (
        ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
        for _ in range(2)
    )
    for application in (first, second):
        answer(answered, application)
    client.force_login(centre_manager)

    page = bulk(client, [first, second], index="0")

    assertContains(page, "Remind the unanswered forms")
    assertContains(page, "This applies to 2 applications")
    assert not OutboundEmail.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(client, [first, second], apply="1")

    assertContains(response, "Remind the unanswered forms: 2 mails enqueued.")
    mails = OutboundEmail.objects.filter(code=REMINDER).order_by("to")
    assert [m.to for m in mails] == sorted([first.candidate.user.email, second.candidate.user.email])
    assert all("Questionnaire WAIT" in m.body and "Questionnaire DONE" not in m.body for m in mails)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(m.to for m in mails)
    assert {m.subject for m in mailoutbox} == {"Relance : formulaires complémentaires à remplir"}  # in French
    events = ApplicationEvent.objects.filter(kind="forms_reminder")
    assert sorted(events.values_list("application_id", "actor_id", "comment")) == sorted(
        [(first.pk, centre_manager.pk, "Questionnaire WAIT"), (second.pk, centre_manager.pk, "Questionnaire WAIT")]
    )


def test_bulk_reminder_reports_each_refusal(client, centre_manager, formation, campaign, forms_of_formation):
    waiting, answered = forms_of_formation
    to_remind = ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
    all_answered = ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
    answer(waiting, all_answered)
    answer(answered, all_answered)
    client.force_login(centre_manager)

    response = bulk(client, [to_remind, all_answered], apply="1")

    assertContains(response, "Remind the unanswered forms: 1 mail enqueued.")
    assertContains(
        response,
        f"{all_answered.candidate.staff_name} ({all_answered.candidate.user.username}) – {formation.code}: Every form "
        "has been answered; no reminder was sent.",
    )
    assert list(OutboundEmail.objects.filter(code=REMINDER).values_list("to", flat=True)) == [
        to_remind.candidate.user.email
    ]
    assert not ApplicationEvent.objects.filter(application=all_answered, kind="forms_reminder").exists()


def test_bulk_reminder_double_submit_sends_one_mail(client, centre_manager, staff_application, forms_of_formation):
    client.force_login(centre_manager)
    bulk(client, [staff_application], apply="1")

    response = bulk(client, [staff_application], apply="1")

    assertContains(response, "A reminder was sent to this candidate less than 10 minutes ago")
    assertNotContains(response, "mails enqueued")
    assert OutboundEmail.objects.filter(code=REMINDER).count() == 1
    assert ApplicationEvent.objects.filter(kind="forms_reminder").count() == 1


def test_a_later_reminder_is_sent_again(client, centre_manager, staff_application, forms_of_formation, time_machine):
    client.force_login(centre_manager)
    bulk(client, [staff_application], apply="1")
    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=11))

    response = bulk(client, [staff_application], apply="1")

    assertContains(response, "Remind the unanswered forms: 1 mail enqueued.")
    assert OutboundEmail.objects.filter(code=REMINDER).count() == 2


def test_an_application_without_forms_is_not_reminded(client, centre_manager, staff_application):
    client.force_login(centre_manager)

    response = bulk(client, [staff_application], apply="1")

    assertContains(response, "This application has no complementary form; no reminder was sent.")
    assert not OutboundEmail.objects.exists()


def test_a_cancelled_application_is_not_reminded(client, centre_manager, application, forms_of_formation):
    application.cancelled_at = timezone.now()
    application.save()
    client.force_login(centre_manager)

    response = bulk(client, [application], apply="1")

    assertContains(response, "This application has been cancelled.")
    assert not OutboundEmail.objects.exists()


def test_a_mail_out_of_service_is_reported_not_counted(client, centre_manager, staff_application, forms_of_formation):
    for language in MailTemplate.Language.values:  # whatever the candidate's language
        MailTemplate.objects.create(
            code="CANDIDATURE_RELANCE_FORMULAIRE", language=language, subject="s", body="${forms}", in_service=False
        )
    client.force_login(centre_manager)

    response = bulk(client, [staff_application], apply="1")

    assertContains(response, "The forms reminder mail is out of service: no reminder was sent.")
    assertNotContains(response, "enqueued")
    assert not ApplicationEvent.objects.filter(kind="forms_reminder").exists()


def test_bulk_reminder_is_capped(client, centre_manager, formation, campaign, forms_of_formation, monkeypatch):
    monkeypatch.setattr(operations, "BULK_LIMIT", 1)
    applications = [
        ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
        for _ in range(2)
    ]
    client.force_login(centre_manager)

    response = bulk(client, applications, apply="1")

    assertContains(response, "A mass action handles at most 1 applications at once and more are selected")
    assert not OutboundEmail.objects.exists()


def test_other_centre_manager_cannot_remind_a_guessed_application(
    client, other_centre_manager, staff_application, forms_of_formation
):
    client.force_login(other_centre_manager)

    bulk(client, [staff_application], apply="1")
    assert client.post(operation_url(staff_application)).status_code == 404

    assert not OutboundEmail.objects.exists()
    assert not ApplicationEvent.objects.filter(kind="forms_reminder").exists()


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("centre_manager", 200),
        ("central_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 403),
        ("read_only_staff", 403),
    ],
)
def test_single_reminder_page_per_persona(client, staff_application, forms_of_formation, persona, expected, request):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(operation_url(staff_application)).status_code == expected
    assert client.post(operation_url(staff_application)).status_code in (expected, 302)
    sent = OutboundEmail.objects.filter(code=REMINDER).count()
    assert sent == (1 if expected == 200 else 0)


def test_change_page_offers_the_reminder_to_managers_only(
    client, centre_manager, commission_member, staff_application, forms_of_formation
):
    client.force_login(centre_manager)
    change = reverse("admin:applications_application_change", args=[staff_application.pk])
    assertContains(client.get(change), operation_url(staff_application))

    client.force_login(commission_member)
    assertNotContains(client.get(change), operation_url(staff_application))


def test_single_reminder_redirects_to_the_change_page_with_the_count(
    client, centre_manager, staff_application, forms_of_formation
):
    client.force_login(centre_manager)

    response = client.post(operation_url(staff_application), follow=True)

    assertRedirects(response, reverse("admin:applications_application_change", args=[staff_application.pk]))
    assertContains(response, "Remind the unanswered forms: 1 mail enqueued.")


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    """The admin reads the Application content type once per process: warm it so counts do not depend on order."""
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


def test_reminder_confirmation_page_queries(
    client, centre_manager, staff_application, forms_of_formation, django_assert_num_queries
):
    client.force_login(centre_manager)

    with django_assert_num_queries(9):
        response = client.get(operation_url(staff_application))

    assertContains(response, "This applies to 1 application")


@pytest.mark.parametrize("count", [1, 10])
def test_bulk_confirmation_page_queries_do_not_grow(
    client, centre_manager, formation, campaign, forms_of_formation, count, django_assert_num_queries
):
    applications = [
        ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
        for _ in range(count)
    ]
    client.force_login(centre_manager)

    # (21: the list's tag filter reads its choices, once per ChangeList the action builds)
    with django_assert_num_queries(18):
        response = bulk(client, applications, index="0")

    assertContains(response, f"This applies to {count} application")


def test_service_refuses_when_every_form_is_declared_or_answered(applicant, application, formation, conditional):
    plain = make_form("PLAIN")
    formation.forms.add(plain)
    answer(plain, application)
    declare_form_not_concerned(application=application, form=conditional, not_concerned=True, actor=applicant.user)

    with pytest.raises(BusinessRuleError, match="Every form has been answered"):
        remind_unanswered_forms(application=application, actor=applicant.user)
    assert not OutboundEmail.objects.exists()


def test_french_labels_of_the_tab_and_the_missing_forms(owner, settings, application, conditional):
    settings.FORMS_BLOCK_TRANSMISSION = True
    owner.language = "fr"

    with translation.override("fr"):
        response = owner.get(detail_url(application))

    assertContains(response, "Non concerné par ce formulaire")
    assertContains(response, "Formulaires complémentaires sans réponse")
    owner.post(declare_url(application, conditional))
    with translation.override("fr"):
        response = owner.get(detail_url(application))
    assertContains(response, "Concerné par ce formulaire")
    assertContains(response, '<span class="forms__status">Non concerné</span>', html=True)


def test_a_form_made_required_after_not_concerned_is_waiting_again_and_blocks(
    settings, applicant, application, conditional
):
    """The central office makes a conditional form required once the candidate declared it "Non concerné": the
    declaration no longer stands, the form waits for its answer (it let the application through before)."""
    settings.FORMS_BLOCK_TRANSMISSION = True
    declare_form_not_concerned(application=application, form=conditional, not_concerned=True, actor=applicant.user)
    ComplementaryForm.objects.filter(pk=conditional.pk).update(is_conditional=False)

    with pytest.raises(InvalidTransition, match="Questionnaire COND"):
        transmit_application(application=application, actor=applicant.user)

    FormAnswer.objects.filter(form=conditional).update(submitted_at=timezone.now())  # answered in the survey tool
    transmit_application(application=application, actor=applicant.user)
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED
