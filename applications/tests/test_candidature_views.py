"""Candidate pages of applications: personas, exact query counts, rules and messages, post/redirect/get."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.tests.factories import CandidateUserFactory
from applications.enums import DossierStatus, PieceStatus
from applications.models import Application
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    PieceSubmissionFactory,
    complete_candidate,
)
from applications.tests.helpers import english_date
from ecandidat.models import OutboundEmail
from offers.enums import ApplicationMode, Avis
from offers.models import ComplementaryForm
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def formation(commission):
    commission.address = "52 avenue Paul Alduy\nUFR SEE\n66860 PERPIGNAN"
    commission.save()
    return FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - ENERGIE")


@pytest.fixture
def application(applicant, formation):
    return ApplicationFactory(candidate=applicant, formation=formation)


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


def _url(name, application):
    return reverse(f"applications:{name}", args=[application.public_id])


# --- Personas ---------------------------------------------------------------------------------------------------

PAGES = ["detail", "cancel", "confirm", "withdraw"]


@pytest.mark.parametrize("persona", ["other_candidate", "centre_manager", "commission_member", "central_manager"])
@pytest.mark.parametrize("name", [*PAGES, "transmit"])
def test_outsiders_get_404(client, application, persona, name, request):
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    method = client.post if name == "transmit" else client.get
    response = method(_url(name, application))

    assert response.status_code == 404
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member"])
def test_staff_get_404_on_the_list_and_apply(client, formation, persona, request):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse("applications:application_list")).status_code == 404
    assert client.get(reverse("applications:apply", args=[formation.pk])).status_code == 404


def test_anonymous_is_sent_to_login(client, application):
    response = client.get(_url("detail", application))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("name", ["transmit", "cancel", "confirm", "withdraw"])
def test_other_candidate_cannot_write(client, other_candidate, application, name):
    client.force_login(other_candidate.user)

    assert client.post(_url(name, application)).status_code == 404
    application.refresh_from_db()
    assert (application.dossier_status, application.cancelled_at, application.accepted) == ("AT", None, None)


# --- List -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 20])
def test_list_queries_do_not_grow(owner, applicant, count, django_assert_num_queries):
    for _ in range(count):
        application = ApplicationFactory(candidate=applicant)
        DecisionFactory(application=application, validated=True)

    with django_assert_num_queries(3):  # session, user, the applications with their current decision
        response = owner.get(reverse("applications:application_list"))

    assert response.status_code == 200
    assert response.content.decode().count("Avis FA") == count


def test_list_shows_the_guide_columns_and_hides_unvalidated_decisions(owner, application):
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.UNFAVOURABLE))

    response = owner.get(reverse("applications:application_list"))

    for label in ("Formation", "Return deadline", "Dossier status", "Decision", "+New application"):
        assertContains(response, label)
    assertContains(response, "MASTER 1 - ENERGIE")
    assertContains(response, english_date(application.formation.return_deadline))
    assertNotContains(response, "Avis DE")
    assertContains(response, f'href="{reverse("offers:catalogue")}"')


def test_cancelled_applications_leave_the_list(owner, application):
    application.cancelled_at = timezone.now()
    application.save()

    assertNotContains(owner.get(reverse("applications:application_list")), "MASTER 1 - ENERGIE")


# --- Applying ---------------------------------------------------------------------------------------------------


def test_catalogue_links_open_formations_for_candidates_only(client, applicant, formation):
    apply_url = reverse("applications:apply", args=[formation.pk])

    assertNotContains(client.get(reverse("offers:catalogue")), apply_url)
    client.force_login(applicant.user)
    assertContains(client.get(reverse("offers:catalogue")), apply_url)


def test_apply_asks_then_creates(owner, applicant, formation, django_capture_on_commit_callbacks, mailoutbox):
    url = reverse("applications:apply", args=[formation.pk])

    assertContains(
        owner.get(url), """Do you want to apply to the formation '<span lang="fr">MASTER 1 - ENERGIE</span>'?"""
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(url, follow=True)

    application = Application.objects.get(candidate=applicant)
    assertRedirects(response, _url("detail", application))
    assertContains(response, "Your application to the formation MASTER 1 - ENERGIE has been registered.")
    assert [m.subject for m in mailoutbox] == ["Candidature sur eCandidat"]


def test_apply_twice_one_application_and_a_clear_message(owner, applicant, formation, time_machine):
    url = reverse("applications:apply", args=[formation.pk])
    time_machine.move_to(timezone.now(), tick=False)
    owner.post(url)
    # Later than a double tap's echo (test_candidature_double_tap.py): the refusal is said.
    time_machine.shift(datetime.timedelta(minutes=3))

    response = owner.post(url, follow=True)

    assert Application.objects.filter(candidate=applicant).count() == 1
    assertContains(response, "You have already applied to this formation.", count=2)
    assertNotContains(response, "Do you want to apply")


def test_apply_to_a_closed_formation_says_why(owner, formation):
    formation.opens_on = timezone.localdate() + datetime.timedelta(days=3)
    formation.save()

    response = owner.get(reverse("applications:apply", args=[formation.pk]))

    assertContains(response, "You can only select the formations open in the application campaign")
    assertNotContains(response, "Do you want to apply")
    assert owner.post(reverse("applications:apply", args=[formation.pk])).status_code == 302
    assert not Application.objects.exists()


@pytest.mark.parametrize("taken_out", ["formation", "centre"])
def test_apply_to_a_formation_out_of_service_is_not_found(owner, formation, taken_out, django_assert_num_queries):
    """The catalogue hides a formation out of service (or of a centre out of service): its apply page is a 404 too,
    rather than a page that shows its title."""
    target = formation if taken_out == "formation" else formation.centre
    target.in_service = False
    target.save()
    url = reverse("applications:apply", args=[formation.pk])

    with django_assert_num_queries(6):  # session, user, the formation inside the request's savepoint (3)
        response = owner.get(url)

    assert response.status_code == 404
    assertNotContains(response, "MASTER 1 - ENERGIE", status_code=404)
    assert owner.post(url).status_code == 404
    assert not Application.objects.exists()


def test_apply_without_a_dossier_says_what_to_fill(client, campaign, formation):
    client.force_login(CandidateUserFactory(campaign=campaign))

    assertContains(
        client.get(reverse("applications:apply", args=[formation.pk])),
        "Fill in your personal details before applying.",
    )
    response = client.post(reverse("applications:apply", args=[formation.pk]), follow=True)
    assertContains(response, "Fill in your personal details before applying.")
    assert not Application.objects.exists()


# --- Recap ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 20])
def test_recap_queries_do_not_grow_with_pieces(owner, application, count, django_assert_num_queries):
    for _ in range(count):
        PieceSubmissionFactory(application=application, piece_type=PieceTypeFactory(is_common=True, is_unique=True))

    with django_assert_num_queries(7):  # the letter is read only once a decision is validated
        response = owner.get(_url("detail", application))

    assert response.status_code == 200
    assert response.content.decode().count(">piece.pdf</a>") == count  # each file's link (its "-" names it too)


def test_recap_blocks_and_labels(owner, application):
    formation = application.formation

    response = owner.get(_url("detail", application))

    for label in (
        "Summary of your application",
        "Detailed information",
        "Useful dates",
        "Contact address",
        "52 avenue Paul Alduy",
        formation.commission.email,
        "Close",
        "Cancel the application",
        "Transmit my application",
    ):
        assertContains(response, label)
    assertContains(response, "<dt>Decision</dt><dd>Waiting</dd>", html=False)
    # The two deadlines the candidate must meet stand out (the guide's "Dates utiles").
    assertContains(response, f"<dd><strong>{english_date(formation.return_deadline)}</strong></dd>", html=True)
    assertContains(response, f"<dd><strong>{english_date(formation.confirmation_date)}</strong></dd>", html=True)
    assertContains(
        response,
        f"Online procedure, please upload your supporting documents with the controls of the table by "
        f"{english_date(formation.return_deadline)}. Once done you will have to transmit your application.",
    )
    assertContains(response, reverse("pieces:dossier_pdf", args=[application.public_id]))


def test_recap_shows_the_commissions_page_and_comment(owner, application, django_assert_num_queries):
    commission = application.formation.commission
    commission.url = "https://assistance.univ.example/m1"
    commission.return_comment = "Le secrétariat répond de 9 h à 12 h.\nFermé le mercredi."
    commission.save()

    with django_assert_num_queries(7):  # the commission comes with the formation: nothing more
        response = owner.get(_url("detail", application), language="fr")

    link = '<a href="https://assistance.univ.example/m1" rel="noopener">Page web de la commission</a>'
    assertContains(response, link)
    assertContains(response, "Le secrétariat répond de 9 h à 12 h.<br>Fermé le mercredi.")


def test_recap_paper_dossier(owner, application):
    application.formation.mode = ApplicationMode.PAPER
    application.formation.save()

    response = owner.get(_url("detail", application))

    assertContains(response, "Paper procedure, please print your dossier")
    assertNotContains(response, "Transmit my application")


def test_transmit_button_green_only_without_blocking_pieces(owner, application, django_assert_num_queries):
    piece = PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation")

    response = owner.get(_url("detail", application))
    assertContains(
        response, '<button type="button" class="button" disabled>Transmit my application</button>', html=True
    )
    assertContains(response, "If the button is not green, a supporting document is missing.")
    assertContains(
        response,
        f'<li><a href="#piece-{piece.pk}"><span lang="fr">Lettre de motivation</span></a> (Waiting)</li>',
        html=True,
    )

    PieceSubmissionFactory(application=application, piece_type=piece)
    with django_assert_num_queries(5):  # the view above cached the piece types and questions
        response = owner.get(_url("detail", application))
    # A plain link to the page that asks before transmitting: no GET form, which left an empty "?" on the URL.
    url = _url("transmit", application)
    assertContains(response, f'<a class="button button--success" href="{url}">Transmit my application</a>', html=True)
    assertNotContains(response, 'method="get"')
    assertNotContains(response, "If the button is not green")


def test_recap_shows_refused_piece_comment(owner, application):
    PieceSubmissionFactory(
        application=application,
        piece_type=PieceTypeFactory(is_common=True, is_unique=True, label="Relevé"),
        status=PieceStatus.REFUSED,
        comment="scan illisible",
    )

    assertContains(owner.get(_url("detail", application)), "scan illisible")


def test_recap_reminds_complementary_forms(owner, application):
    form = ComplementaryForm.objects.create(
        code="F1", survey_id=1, label="Q", candidate_label="Questionnaire", url="https://x"
    )
    application.formation.forms.add(form)

    assertContains(owner.get(_url("detail", application)), "Do not forget to look at the 'Complementary forms' tab")


# --- Transmitting -----------------------------------------------------------------------------------------------


def test_transmit_prg_message_and_mail(owner, application, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(_url("transmit", application), follow=True)

    assertRedirects(response, _url("detail", application))
    assertContains(
        response,
        "Check your e-mails: if your dossier has been transmitted correctly, you have received a message "
        "confirming it.",
    )
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED
    candidate = [application.candidate.user.email]
    assert [m.subject for m in mailoutbox if m.to == candidate] == ["Candidature - dossier réceptionné"]
    # The commission's alert « Dossier transmis », on by default as in eCandidat.
    assert [m.subject for m in mailoutbox if m.to != candidate] == [f"Dossier transmis : {application.formation.code}"]


def test_transmit_twice_one_effect_and_a_message(owner, application, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    owner.post(_url("transmit", application))
    # Later than a double tap's echo (test_candidature_double_tap.py): the refusal is said.
    time_machine.shift(datetime.timedelta(minutes=3))

    response = owner.post(_url("transmit", application), follow=True)

    assertContains(response, "Your application has already been transmitted.")
    assert application.events.count() == 1
    assert OutboundEmail.objects.filter(code="STATUT_RE").count() == 1


def test_transmit_with_missing_piece_says_which(owner, application):
    PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation")

    response = owner.post(_url("transmit", application), follow=True)

    assertContains(response, "A supporting document is missing: Lettre de motivation.")
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING


def test_transmit_get_only_asks(owner, application):
    # The GET shows what will be sent and asks to confirm (issue 13); only the POST transmits.
    assert owner.get(_url("transmit", application)).status_code == 200
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING


# --- Cancelling -------------------------------------------------------------------------------------------------


def test_cancel_is_asked_then_done(owner, application, django_capture_on_commit_callbacks, mailoutbox):
    assertContains(owner.get(_url("cancel", application)), "Do you really want to cancel your application")

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(_url("cancel", application), follow=True)

    assertRedirects(response, reverse("applications:application_list"))
    assertContains(response, "Your application has been cancelled.")
    application.refresh_from_db()
    assert application.cancelled_at is not None
    candidate = [application.candidate.user.email]
    assert [m.subject for m in mailoutbox if m.to == candidate] == ["Candidature annulée"]
    assert [m.subject for m in mailoutbox if m.to != candidate] == [
        f"Candidature annulée : {application.formation.code}"
    ]


def test_cancel_page_refused_once_transmitted(owner, applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)

    response = owner.get(_url("cancel", application), follow=True)
    assertContains(response, "This action is not available for this application.")
    response = owner.post(_url("cancel", application), follow=True)
    assertContains(response, "A transmitted application can no longer be cancelled.")


# --- Confirming or withdrawing ----------------------------------------------------------------------------------


@pytest.fixture
def favourable(applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, complete=True)
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)
    return application


def test_recap_offers_confirm_and_withdraw_after_a_favourable_decision(owner, favourable, django_assert_num_queries):
    with django_assert_num_queries(8):  # + the decision letter (issue 12)
        response = owner.get(_url("detail", favourable))

    assertContains(response, '<dd><span lang="fr">Avis FA</span></dd>', html=True)
    assertContains(response, _url("confirm", favourable))
    assertContains(response, _url("withdraw", favourable))


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_answer_block_says_until_when_to_answer(owner, favourable, language, django_assert_num_queries):
    """The date de confirmation stands next to "Confirmer" / "Désister", that day included, with what happens
    without an answer (the nightly automatic désistement), as the AVIS_FAVORABLE mail says: a candidate promoted
    from the waiting list has only a few days, and the "Dates utiles" panel alone does not say that it is the
    date to answer by."""
    answer_by = timezone.localdate() + datetime.timedelta(days=10)
    favourable.confirmation_date_override = answer_by
    favourable.save()

    with django_assert_num_queries(8):
        response = owner.get(_url("detail", favourable), language=language)

    if language == "fr":
        expected = (
            f"Répondez au plus tard le {answer_by:%d/%m/%Y}, ce jour compris. Sans réponse à cette date, vous serez "
            "automatiquement désisté(e)."
        )
    else:
        expected = (
            f"Answer by {english_date(answer_by)} at the latest, that day included. Without an answer by that date, "
            "your application is withdrawn automatically."
        )
    assertContains(response, f"<p><strong>{expected}</strong></p>", html=True)


def test_no_date_to_answer_by_when_the_formation_has_none(owner, favourable):
    favourable.formation.confirmation_date = None
    favourable.formation.save()

    response = owner.get(_url("detail", favourable))

    assertContains(response, _url("confirm", favourable))
    assertNotContains(response, "that day included")


@pytest.mark.parametrize("answer", [None, True, False])
def test_once_decided_the_recap_no_longer_says_the_commission_examines_the_dossier(
    owner, favourable, answer, django_assert_num_queries
):
    favourable.transmitted_at = timezone.now()
    favourable.accepted = answer
    favourable.answered_at = None if answer is None else timezone.now()
    favourable.save()

    with django_assert_num_queries(8):
        response = owner.get(_url("detail", favourable))

    assertContains(response, "Its supporting documents can no longer be changed.")
    assertNotContains(response, "while the commission examines your dossier")


def test_the_recap_says_once_that_the_pieces_can_no_longer_be_changed(owner, favourable, django_assert_num_queries):
    """The sentence with the date of transmission above the table says it: the table's own notice, the same words
    again just under it on a phone, is left out (the pieces page, which has no such sentence, keeps it)."""
    favourable.transmitted_at = timezone.now()
    favourable.save()

    with django_assert_num_queries(8):
        response = owner.get(_url("detail", favourable), language="fr")

    assertContains(response, "Ses pièces justificatives ne peuvent plus être modifiées.", count=1)
    assertNotContains(response, "ses pièces justificatives ne peuvent plus être modifiées")
    pieces_page = owner.get(reverse("pieces:pieces", args=[favourable.public_id]), language="fr")
    assertContains(pieces_page, "Votre candidature a été transmise : ses pièces justificatives ne peuvent plus")


def test_before_the_decision_the_recap_says_the_commission_examines_the_dossier(owner, application):
    application.dossier_status = DossierStatus.RECEIVED
    application.transmitted_at = timezone.now()
    application.save()

    response = owner.get(_url("detail", application))

    assertContains(response, "Your supporting documents are locked while the commission examines your dossier.")


def test_no_answer_buttons_without_a_validated_favourable_decision(owner, application):
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE))

    response = owner.get(_url("detail", application))

    assertNotContains(response, _url("confirm", application))
    assertContains(response, "<dd>Waiting</dd>", html=True)


def test_confirm_is_asked_twice_and_irreversible(owner, favourable, django_capture_on_commit_callbacks, mailoutbox):
    assertContains(owner.get(_url("confirm", favourable)), "This choice is irreversible.")

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(_url("confirm", favourable), follow=True)

    assertContains(response, "You have confirmed your application.")
    assert [m.subject for m in mailoutbox] == ["Candidature confirmée"]
    response = owner.post(_url("confirm", favourable), follow=True)
    assertContains(response, "You have already answered: this choice cannot be changed.")
    favourable.refresh_from_db()
    assert favourable.accepted is True


def test_withdraw_is_asked_twice(owner, favourable, django_capture_on_commit_callbacks, mailoutbox):
    assertContains(owner.get(_url("withdraw", favourable)), "This choice is irreversible.")

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(_url("withdraw", favourable), {"reason": "FIN"}, follow=True)

    assertContains(response, "You have withdrawn from this formation.")
    favourable.refresh_from_db()
    assert favourable.accepted is False
    assert "Désistement d'une formation" in [m.subject for m in mailoutbox]


def test_withdraw_without_a_reason_says_so_in_the_focused_error_summary(owner, favourable, django_assert_num_queries):
    with django_assert_num_queries(5):
        response = owner.post(_url("withdraw", favourable), {}, language="fr")

    # As on the other candidate forms: "Erreur :" in the title, the summary focused by forms.js, its link to the
    # first radio button of the question (a list of radio buttons has no single id to link to).
    assertContains(response, "<title>Erreur : Désister", html=False)
    assertContains(response, 'id="error-summary"')
    assertContains(response, "js/forms.js")
    assertContains(
        response,
        '<li><a href="#id_reason_0">Motif de votre désistement : Choisissez le motif du désistement.</a></li>',
        html=True,
    )
    favourable.refresh_from_db()
    assert favourable.accepted is None


def test_confirm_after_the_date_is_refused_with_its_message(client, favourable, time_machine):
    time_machine.move_to(favourable.formation.confirmation_date + datetime.timedelta(days=1))
    client.force_login(favourable.candidate.user)
    owner = client

    response = owner.post(_url("confirm", favourable), follow=True)

    assertContains(response, "The confirmation date")
    assertContains(response, "has passed.")
    favourable.refresh_from_db()
    assert favourable.accepted is None


# --- Query counts of the other pages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "queries", "title"),
    [("cancel", 5, "Annuler la candidature"), ("confirm", 5, "Confirmer"), ("withdraw", 5, "Désister")],
)
def test_confirmation_pages_queries(owner, favourable, name, queries, title, django_assert_num_queries):
    if name == "cancel":
        favourable.decisions.all().delete()
        favourable.dossier_status = DossierStatus.WAITING
        favourable.save()

    with django_assert_num_queries(queries):
        response = owner.get(_url(name, favourable), language="fr")

    # The title names the formation, as every page of an application does: with two applications open in two tabs,
    # the one being cancelled, confirmed or withdrawn from is the one its tab and a screen reader name first.
    assertContains(response, f"<title>{title} – MASTER 1 - ENERGIE · eCandidat", html=False)


def test_apply_page_queries(owner, formation, django_assert_num_queries):
    with django_assert_num_queries(10):
        response = owner.get(reverse("applications:apply", args=[formation.pk]))

    assertContains(response, "Do you want to apply")
    assertContains(response, "js/forms.js")  # a second tap on « Oui » is not sent again


def test_transmit_page_loads_the_double_tap_guard(owner, application, django_assert_num_queries):
    with django_assert_num_queries(9):
        response = owner.get(_url("transmit", application))

    assertContains(response, "Transmit my application")
    assertContains(response, "js/forms.js")  # a second tap on « Transmettre ma candidature » is not sent again


def test_transmit_queries(owner, application, django_assert_num_queries):
    # Includes the lookups of the back office's texts for the STATUT_RE mail and the commission's alert, its row, and
    # the withdrawal of an earlier status mail not yet sent (it must not arrive after this one).
    # +1: the dossier locked before the application.
    with django_assert_num_queries(19):
        response = owner.post(_url("transmit", application))

    assert response.status_code == 302


def test_outsider_404_queries(client, other_candidate, application, django_assert_num_queries):
    client.force_login(other_candidate.user)

    with django_assert_num_queries(3):
        assert client.get(_url("detail", application)).status_code == 404
