"""The HTML version of a mail the central office overrode links the addresses in the values staff typed (the
registration instructions of a formation or centre, a commission's « commentaire retour », a status or decision
comment, a refusal reason, a refused piece's comment), never one in a value the candidate typed (their names):
the confirmation mail's « Inscrivez-vous sur https://inscription… » had become plain text (7 December review)."""

import pytest
from django.utils import translation

from ecandidat import notifications
from ecandidat.emails import enqueue_email
from ecandidat.mail_templates import render_override
from ecandidat.models import MailTemplate

REGISTRATION = "https://inscription.univ.example/?annee=2027&voeu=1"
INSTRUCTIONS = f"Inscrivez-vous sur {REGISTRATION}"
EVIL = "https://evil.example/ecandidat/login"
NAME = f"Marie. URGENT: validez ici {EVIL}"
CONFIRM_BODY = (
    "Bonjour ${first_name},\n"
    "{if($registration_instructions)}\n${registration_instructions}\n{endif($registration_instructions)}"
)
LINKED = (
    '<a href="https://inscription.univ.example/?annee=2027&amp;voeu=1" rel="nofollow">'
    "https://inscription.univ.example/?annee=2027&amp;voeu=1</a>"
)

STAFF_TYPED = {
    "CANDIDATURE_CONFIRM": ["registration_instructions", "commission_comment"],
    "STATUT_IN": ["comment", "refused_pieces"],
    "AVIS_FAVORABLE": ["decision_comment"],
    "AVIS_DEFAVORABLE": ["reason"],
    "AVIS_PRESELECTION": ["preselection_place"],
}


@pytest.fixture(autouse=True)
def _french():
    with translation.override("fr"):
        yield


@pytest.mark.parametrize(("code", "names"), STAFF_TYPED.items())
def test_the_values_staff_type_are_declared_so(code, names):
    mail = notifications.get(code)

    assert [mail.variable(name).staff_text for name in names] == [True] * len(names)


@pytest.mark.parametrize("code", STAFF_TYPED)
def test_the_values_the_candidate_types_are_not(code):
    mail = notifications.get(code)

    assert [mail.variable(name).staff_text for name in ("first_name", "last_name", "numero_dossier")] == [False] * 3


@pytest.mark.django_db
def test_the_confirmation_mail_links_the_registration_site_not_the_name(django_assert_num_queries):
    """End to end, through the outbox: the office's CANDIDATURE_CONFIRM text prints the registration instructions a
    centre typed, beside the name the candidate typed."""
    MailTemplate.objects.create(code="CANDIDATURE_CONFIRM", language="fr", subject="Confirmation", body=CONFIRM_BODY)
    context = notifications.get("CANDIDATURE_CONFIRM").sample_context() | {
        "first_name": NAME,
        "registration_instructions": INSTRUCTIONS,
    }

    with django_assert_num_queries(2):  # the override looked up, the mail queued
        email = enqueue_email(
            to="estelle@example.org",
            code="CANDIDATURE_CONFIRM",
            template_base="applications/email/candidature_confirm",
            context=context,
            language="fr",
        )

    assert email.body == f"Bonjour {NAME},\n\n{INSTRUCTIONS}\n"  # as typed, unchanged
    assert email.html_body.count("<a ") == 1
    assert f"Inscrivez-vous sur {LINKED}" in email.html_body
    assert 'href="https://evil.example' not in email.html_body


def test_a_refused_piece_comment_links_its_address():
    mail = notifications.get("STATUT_IN")
    pieces = [{"label": "Relevé de notes", "comment": "modèle sur https://scol.univ.example/releve", "deadline": ""}]

    text, html = render_override("Sujet", "${refused_pieces}", mail, {"refused_pieces": pieces})[1:]

    assert text == "- Relevé de notes : modèle sur https://scol.univ.example/releve"
    assert '<a href="https://scol.univ.example/releve" rel="nofollow">https://scol.univ.example/releve</a>' in html


def test_a_staff_value_glued_to_the_candidate_name_is_still_text():
    """A word made of a staff value and a typed one is the typed one's too: no link."""
    mail = notifications.get("STATUT_IN")
    context = {"comment": "https://scol.univ.example/", "first_name": "evil.example"}

    html = render_override("Sujet", "${comment}${first_name}", mail, context)[2]

    assert "<a " not in html
