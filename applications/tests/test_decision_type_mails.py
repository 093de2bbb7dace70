"""One mail text per decision type ("Mails types de décision", ecandidat-features §2.8): what validating,
releasing and promoting from the waiting list send, and in which text."""

import pytest
from django.urls import reverse

from applications.models import Application, ReleaseJob
from applications.services import staff
from applications.services.release import preview_release
from applications.tests.factories_candidature import DecisionTypeFactory, decision_type, make_application
from applications.tests.helpers import mails
from ecandidat.models import MailTemplate, OutboundEmail
from offers.enums import Avis
from offers.models import DecisionType
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:applications_application_changelist"

FR_SUBJECT = "Admis sous réserve en ${formation_code}"
FR_BODY = (
    "Bonjour ${first_name},\n${decision_label} : confirmez avant le ${confirmation_date}."
    "{if($letter_url)} Lettre : ${letter_url}{endif($letter_url)}"
)
EN_SUBJECT = "Conditionally admitted to ${formation_code}"
EN_BODY = "Hello ${first_name},\n${decision_label}: confirm before ${confirmation_date}."


def custom_type(code="ADM_RES", label="Admis sous réserve", **texts) -> DecisionType:
    """A custom favourable decision type (sends AVIS_FAVORABLE) with its own mail in French (and ``texts``)."""
    fields = {"mail_subject_fr": FR_SUBJECT, "mail_body_fr": FR_BODY, **texts}
    created = DecisionTypeFactory.create(code=code, label=label, candidate_label=label, avis=Avis.FAVOURABLE, **fields)
    created.full_clean()  # as the admin checks it
    return created


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


def applicant(formation, campaign, language="fr", email=None) -> Application:
    application = make_application(formation, campaign=campaign, email=email)
    application.candidate.preferred_language = language
    application.candidate.save(update_fields=["preferred_language"])
    return application


def validated(application, decision_type, actor):
    decision = staff.record_decision(application, decision_type=decision_type, actor=actor)
    return staff.validate_decision(decision, actor=actor)


# --- which text -------------------------------------------------------------------------------------------------


def test_validation_sends_the_types_own_text(formation, campaign, centre_manager):
    MailTemplate.objects.create(code="AVIS_FAVORABLE", language="fr", subject="Texte du bureau", body="Non")
    application = applicant(formation, campaign)

    validated(application, custom_type(), centre_manager)

    [mail] = mails("AVIS_FAVORABLE")
    date = application.formation.confirmation_date.strftime("%d/%m/%Y")
    first_name = application.candidate.first_name
    assert mail.subject == "Admis sous réserve en MINFO"
    assert mail.body == f"Bonjour {first_name},\nAdmis sous réserve : confirmez avant le {date}."
    assert mail.html_body == f"<p>Bonjour {first_name},<br>Admis sous réserve : confirmez avant le {date}.</p>"


@pytest.mark.parametrize(
    ("kind_override", "expected_subject"),
    [(True, "Avis du bureau central"), (False, "Favourable decision on your application")],
    ids=["kind override", "default file"],
)
def test_a_language_without_the_types_text_falls_back_to_the_kinds_mail(
    formation, campaign, centre_manager, kind_override, expected_subject
):
    """French only on the type: an English reader gets the kind's English override, else its English files."""
    if kind_override:
        MailTemplate.objects.create(
            code="AVIS_FAVORABLE", language="en", subject="Avis du bureau central", body="${decision_label}"
        )
    application = applicant(formation, campaign, language="en")

    validated(application, custom_type(), centre_manager)

    [mail] = mails("AVIS_FAVORABLE")
    assert mail.subject == expected_subject
    assert "Admis sous réserve" in mail.body


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "confirm or withdraw your application by {date:%-d %b %Y} at the latest."),
        ("fr", "vous désister de votre candidature au plus tard le {date:%d/%m/%Y}, ce jour compris."),
    ],
)
def test_the_default_mail_says_the_confirmation_date_is_the_last_day(
    formation, campaign, centre_manager, language, sentence
):
    """The last day counts: English says "by … at the latest" (never "before … included", read as the day before)."""
    application = applicant(formation, campaign, language=language)

    validated(application, decision_type(Avis.FAVOURABLE), centre_manager)

    [mail] = mails("AVIS_FAVORABLE")
    body = " ".join(mail.body.split())
    assert sentence.format(date=application.formation.confirmation_date) in body
    assert "included" not in body


def test_the_types_english_text_goes_to_english_readers(formation, campaign, centre_manager):
    application = applicant(formation, campaign, language="en")

    validated(application, custom_type(mail_subject_en=EN_SUBJECT, mail_body_en=EN_BODY), centre_manager)

    [mail] = mails("AVIS_FAVORABLE")
    assert mail.subject == "Conditionally admitted to MINFO"
    assert mail.body.startswith(f"Hello {application.candidate.first_name},\nAdmis sous réserve: confirm before")


def test_a_type_without_its_own_text_sends_the_kinds_override(formation, campaign, centre_manager):
    MailTemplate.objects.create(
        code="AVIS_FAVORABLE", language="fr", subject="Avis favorable", body="Décision : ${decision_label}"
    )
    application = applicant(formation, campaign)

    validated(application, decision_type(Avis.FAVOURABLE), centre_manager)

    assert mails("AVIS_FAVORABLE")[0].body == "Décision : Favourable"


def test_the_kinds_mail_out_of_service_is_not_sent_even_with_the_types_text(formation, campaign, centre_manager):
    MailTemplate.objects.create(code="AVIS_FAVORABLE", language="fr", subject="x", body="x", in_service=False)

    validated(applicant(formation, campaign), custom_type(), centre_manager)

    assert not OutboundEmail.objects.exists()


def test_the_centres_copy_is_the_types_french_text(formation, campaign, centre_manager):
    formation.centre.candidate_mail_copy, formation.centre.email = "M", "scol-see@univ.example"
    formation.centre.save()
    application = applicant(formation, campaign, language="en")

    validated(application, custom_type(mail_subject_en=EN_SUBJECT, mail_body_en=EN_BODY), centre_manager)

    assert [(mail.to, mail.subject) for mail in mails("AVIS_FAVORABLE")] == [
        (application.candidate.user.email, "Conditionally admitted to MINFO"),
        ("scol-see@univ.example", "[Copie] Admis sous réserve en MINFO"),
    ]


def test_promotion_from_the_waiting_list_sends_the_types_text(formation, campaign, centre_manager):
    formation.auto_waiting_list = True
    formation.waiting_list_decision_type = custom_type()
    formation.waiting_list_confirmation_delay_days = 5
    formation.save()
    listed = applicant(formation, campaign, email="first@example.org")
    decision = staff.record_decision(
        listed, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), actor=centre_manager, rank=1
    )
    staff.validate_decision(decision, actor=centre_manager)

    promoted = staff.promote_from_waiting_list(formation=formation, actor=None, batch="desist_auto")

    assert promoted.pk == listed.pk
    [mail] = mails("AVIS_FAVORABLE")
    assert (mail.to, mail.subject) == ("first@example.org", "Admis sous réserve en MINFO")
    promoted.refresh_from_db()
    assert f"confirmez avant le {promoted.confirmation_date_override:%d/%m/%Y}." in mail.body


def test_the_release_preview_shows_the_types_text(formation, campaign, centre_manager):
    application = applicant(formation, campaign)
    staff.record_decision(application, decision_type=custom_type(), actor=centre_manager)

    [preview] = preview_release([application], actor=centre_manager)

    assert preview.mails[0].subject == "Admis sous réserve en MINFO"
    assert not OutboundEmail.objects.exists()


# --- queries ----------------------------------------------------------------------------------------------------

# Savepoint pair, the application's lock, the decision with its type and refusal reason, the latest decision, its
# update, the history row, the letter text's lookup (the application and formation are the locked row's), the kind's
# override (read for its "out of service" switch), the older decision's mails still waiting (none: one SELECT), the
# outbox row: the same with or without the type's text, which comes with the type, already loaded.
VALIDATION_QUERIES = 11


@pytest.mark.parametrize("own_text", [True, False], ids=["type text", "kind's mail"])
def test_the_types_text_costs_no_query(formation, campaign, centre_manager, own_text, django_assert_num_queries):
    chosen = custom_type() if own_text else decision_type(Avis.FAVOURABLE)
    application = applicant(formation, campaign)
    decision = staff.record_decision(application, decision_type=chosen, actor=centre_manager)
    application = Application.objects.select_related("candidate__user", "formation__centre").get(pk=application.pk)
    decision.application = application

    with django_assert_num_queries(VALIDATION_QUERIES):
        staff.validate_decision(decision, actor=centre_manager)

    assert len(mails("AVIS_FAVORABLE")) == 1


# --- a bulk release ---------------------------------------------------------------------------------------------


def test_a_bulk_release_of_50_custom_decisions_sends_50_mails_with_their_types_text(
    client, formation, campaign, commission_member, centre_manager, django_capture_on_commit_callbacks
):
    reserve = custom_type()
    excellence = custom_type(
        code="ADM_EXC", label="Admis avec mention", mail_subject_fr="Félicitations, ${first_name}"
    )
    applications = []
    for index in range(50):
        application = applicant(formation, campaign, email=f"candidat{index}@example.org")
        chosen = excellence if index % 2 else reserve
        staff.record_decision(application, decision_type=chosen, actor=commission_member)
        applications.append(application)
    client.force_login(centre_manager)
    selection = {"action": "action_validate_decisions", "_selected_action": [a.pk for a in applications], "apply": "1"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse(CHANGELIST), selection)

    job = ReleaseJob.objects.get()
    assert response.status_code == 302
    assert (job.status, job.total, job.done, job.refusals) == ("DONE", 50, 50, [])
    sent = {mail.to: mail for mail in mails("AVIS_FAVORABLE")}
    assert len(sent) == 50
    for index, application in enumerate(applications):
        mail = sent[f"candidat{index}@example.org"]
        first_name = application.candidate.first_name
        if index % 2:
            assert mail.subject == f"Félicitations, {first_name}"
            assert mail.body.startswith(f"Bonjour {first_name},\nAdmis avec mention : confirmez avant le ")
        else:
            assert mail.subject == "Admis sous réserve en MINFO"
            assert mail.body.startswith(f"Bonjour {first_name},\nAdmis sous réserve : confirmez avant le ")


@pytest.mark.parametrize("own_text", [True, False], ids=["type text", "kind's mail"])
def test_the_types_text_costs_no_query_on_promotion(
    formation, campaign, centre_manager, own_text, django_assert_num_queries
):
    formation.auto_waiting_list = True
    formation.waiting_list_decision_type = custom_type() if own_text else decision_type(Avis.FAVOURABLE)
    formation.save()
    listed = applicant(formation, campaign)
    decision = staff.record_decision(
        listed, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), actor=centre_manager, rank=1
    )
    staff.validate_decision(decision, actor=centre_manager)
    formation = type(formation).objects.select_related("waiting_list_decision_type").get(pk=formation.pk)

    # Savepoint pair, the formation's lock, the first of the list, its latest validated decision, the new decision,
    # the application's update, the history row, the letter text, the complementary list's mail still waiting (never
    # sent here: a SELECT, and the UPDATE that cancels it), then for the candidate's mail and the commission's alert
    # each an override lookup and an outbox row, the ranks' update: the same with or without the type's text (the
    # type comes with the formation).
    with django_assert_num_queries(16):
        assert staff.promote_from_waiting_list(formation=formation, actor=centre_manager) is not None

    assert len(mails("AVIS_FAVORABLE")) == 1
