"""Review of the mails (5 December): a withdrawn candidate's decision mail, the centre's copies, the preview's dates.

1. A withdrawn application (the désistement is irreversible and stands through any later decision) was still mailed
   its decision: a complementary-list one told the candidate « Si une place se libère, vous recevrez un avis
   favorable », a favourable one asked them to confirm by a date; neither can happen (never promoted, « Confirmer »
   refused). No decision mail is written for an application withdrawn or cancelled when the mail is written
   (``notifications.notify_decision``), nor its centre's copy; the release preview says why there is none.
2. The centre's copy of a candidate's mail was the candidate's mail word for word: subject and text spoke to the
   candidate, and nothing said it was a copy nor to whom it went. It is now « [Copie] <subject> » and starts with
   « Copie du message envoyé à <the candidate's address> », in its text and HTML bodies, in the copy's language.
3. The central office's preview of the English mails wrote the sample dates the French way (30/06/2026): they are
   written as the real mail writes them, in the language previewed (30 Jun 2026).
"""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from pytest_django.asserts import assertContains

from applications.enums import DossierStatus
from applications.notifications import NOTIFICATIONS, notify_candidate
from applications.services import candidature as candidature_services
from applications.services import staff
from applications.services.release import preview_release, validate_current_decision
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails
from ecandidat.emails import as_copy, render_email
from ecandidat.models import MailTemplate, OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

FRENCH_DATE = re.compile(r"\b\d\d/\d\d/\d{4}\b")

# The one-application release page of the back office: its setup, then the validation run inside a savepoint rolled
# back (no mail written for this one, nor any query for it; one SELECT for the older decision's mails still waiting).
QUERIES_RELEASE_PREVIEW = 27


@pytest.fixture
def formation(centre, commission):
    """No automatic list (a withdrawal promotes nobody); the centre copies its candidates' mails to its address."""
    centre.candidate_mail_copy, centre.email = "M", "scolarite.see@univ.example"
    centre.save()
    return FormationFactory(
        centre=centre, commission=commission, code="MINFO", title="Master Informatique", auto_waiting_list=False
    )


def _withdrawn(formation, campaign, actor):
    """Admitted, then withdrew (before confirming)."""
    application = make_application(formation, campaign=campaign, email="desiste@example.org")
    decide(application, Avis.FAVOURABLE, actor=actor)
    candidature_services.withdraw_application(application=application, actor=application.candidate.user, reason="PER")
    application.refresh_from_db()
    assert application.accepted is False
    return application


# --- 1. No decision mail to a withdrawn candidate -------------------------------------------------------------------


@pytest.mark.parametrize("display", ["R", "S", "N"])
def test_a_withdrawn_candidate_put_on_the_complementary_list_is_not_promised_a_place(
    settings, formation, campaign, central_manager, display
):
    settings.WAITING_LIST_RANK_DISPLAY = display
    application = _withdrawn(formation, campaign, central_manager)

    decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)

    application.refresh_from_db()
    assert application.decisions.current().validated_at is not None  # the decision stands, validated
    assert application.accepted is False
    assert mails("AVIS_LISTE_COMP") == []  # neither the candidate's mail nor the centre's copy


def test_a_candidate_who_withdraws_while_a_list_decision_waits_gets_no_mail_at_its_release(
    formation, campaign, central_manager, centre_manager
):
    """Withdrawn between the preview (which showed the mail) and the release: the mail is not written."""
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    staff.record_decision(
        application, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), actor=central_manager, rank=1
    )
    [preview] = preview_release([application], actor=centre_manager)
    assert [mail.to for mail in preview.mails] == [application.candidate.user.email, "scolarite.see@univ.example"]

    candidature_services.withdraw_application(application=application, actor=application.candidate.user, reason="PER")
    validate_current_decision(application, actor=centre_manager)

    assert application.decisions.current().validated_by == centre_manager
    assert mails("AVIS_LISTE_COMP") == []


def test_a_withdrawn_candidate_is_not_asked_to_confirm_a_new_favourable_decision(formation, campaign, central_manager):
    application = _withdrawn(formation, campaign, central_manager)
    before = [mail.pk for mail in mails("AVIS_FAVORABLE")]

    decide(application, Avis.FAVOURABLE, actor=central_manager)

    assert [mail.pk for mail in mails("AVIS_FAVORABLE")] == before  # the first admission's mail and copy only


def test_a_candidate_who_did_not_withdraw_still_gets_the_list_mail_and_its_rank(
    settings, formation, campaign, central_manager
):
    settings.WAITING_LIST_RANK_DISPLAY = "R"
    application = make_application(formation, campaign=campaign)

    decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=4)

    to_candidate, copy = mails("AVIS_LISTE_COMP")
    assert (to_candidate.to, copy.to) == (application.candidate.user.email, "scolarite.see@univ.example")
    assert "est sur liste complémentaire, au rang 1." in to_candidate.body


def test_the_release_preview_says_why_a_withdrawn_candidate_gets_no_mail(
    client, formation, campaign, central_manager, centre_manager, django_assert_num_queries
):
    application = _withdrawn(formation, campaign, central_manager)
    staff.record_decision(
        application, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), actor=central_manager, rank=1
    )
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_operation", args=[application.pk, "validate_decisions"])

    with django_assert_num_queries(QUERIES_RELEASE_PREVIEW):
        response = client.get(url, language="fr")

    assertContains(response, "Aucun mail : le candidat s'est désisté de cette candidature")
    assert "hors service" not in response.content.decode()
    assert not OutboundEmail.objects.filter(code="AVIS_LISTE_COMP").exists()


# --- 2. The centre's copy says it is one ----------------------------------------------------------------------------


def _complete(application, actor):
    staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=actor)


def test_the_centres_copy_is_marked_as_a_copy_of_the_candidates_mail(formation, campaign, centre_manager):
    application = make_application(formation, campaign=campaign, email="estelle.martin@example.org")
    application.candidate.preferred_language = "en"
    application.candidate.save(update_fields=["preferred_language"])

    _complete(application, centre_manager)

    to_candidate, copy = mails("STATUT_CO")
    assert to_candidate.subject == "Application - complete dossier"  # the candidate's own: unchanged
    assert not to_candidate.body.startswith("Cop")
    assert copy.subject == "[Copie] Candidature - dossier complet"
    assert copy.body.startswith("Copie du message envoyé à estelle.martin@example.org\n\nBonjour ")


def test_the_copy_in_english_when_the_institution_writes_english(settings, formation, campaign, centre_manager):
    settings.LANGUAGE_CODE = "en"
    application = make_application(formation, campaign=campaign, email="estelle.martin@example.org")

    _complete(application, centre_manager)

    copy = mails("STATUT_CO")[1]
    assert (copy.language, copy.subject) == ("en", "[Copy] Application - complete dossier")
    assert copy.body.startswith("Copy of the message sent to estelle.martin@example.org\n\nHello ")


def test_the_copy_of_a_central_office_text_marks_its_html_part_too(settings, formation, campaign, centre_manager):
    settings.EMAIL_SUBJECT_PREFIX = "[RECETTE]"
    MailTemplate.objects.create(
        code="STATUT_CO", language="fr", subject="Dossier complet", body="Bonjour ${first_name}"
    )
    application = make_application(formation, campaign=campaign, email="estelle.martin@example.org")

    _complete(application, centre_manager)

    to_candidate, copy = mails("STATUT_CO")
    assert to_candidate.subject == "[RECETTE] Dossier complet"
    assert copy.subject == "[RECETTE] [Copie] Dossier complet"  # the environment's prefix first, as on every mail
    assert copy.html_body.startswith("<p>Copie du message envoyé à estelle.martin@example.org</p>\n<p>Bonjour ")
    assert not to_candidate.html_body.startswith("<p>Copie")


def test_the_copy_line_goes_inside_the_html_body_and_is_escaped():
    subject, body, html = as_copy(
        "Avis",
        "Texte",
        '<html><body class="x"><p>Texte</p></body></html>',
        copy_of="a&b@example.org",
        language="fr",
    )

    assert (subject, body) == ("[Copie] Avis", "Copie du message envoyé à a&b@example.org\n\nTexte")
    assert html == (
        '<html><body class="x"><p>Copie du message envoyé à a&amp;b@example.org</p>\n<p>Texte</p></body></html>'
    )


def test_a_candidate_mail_without_a_centre_copy_is_unchanged(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)

    email = notify_candidate(application=application, code="STATUT_CO", comment="", direct_access=False)

    assert [mail.pk for mail in mails("STATUT_CO")] == [email.pk]
    assert email.subject == "Candidature - dossier complet"


# --- 3. The preview's dates in the language previewed ---------------------------------------------------------------


def _preview_body(notification, language):
    sample = {"institution_name": settings.INSTITUTION_NAME, **notification.sample_context()}
    return render_email(notification.template_base, sample, language=language, code=notification.code)[1]


@pytest.mark.parametrize("notification", NOTIFICATIONS, ids=lambda n: n.code)
def test_the_english_preview_writes_no_french_date(notification):
    assert not FRENCH_DATE.search(_preview_body(notification, "en"))


@pytest.mark.parametrize(
    ("language", "sentence"),
    [("fr", "au plus tard le 30/06/2026"), ("en", "by 30 Jun 2026 at the latest")],
)
def test_the_central_offices_preview_writes_the_dates_of_the_language_previewed(
    client, central_manager, django_assert_num_queries, language, sentence
):
    client.force_login(central_manager)

    # As the preview's own tests count it: the session, the staff scope, the permissions, the override's lookup.
    with django_assert_num_queries(8):
        response = client.get(
            reverse("admin:ecandidat_mailtemplate_preview"), {"code": "AVIS_FAVORABLE", "language": language}
        )

    assert sentence in response.context["body"]


def test_the_refused_pieces_deadline_of_the_english_preview(client, central_manager):
    client.force_login(central_manager)

    response = client.get(reverse("admin:ecandidat_mailtemplate_preview"), {"code": "STATUT_IN", "language": "en"})

    assert "(to replace by 20 Jun 2026)" in response.context["body"]
