"""The HTML version of a mail the central office overrode links the addresses of its own text and of the link
variables (``${recap_url}``, a list's form links) and of the values staff typed (``Variable.staff_text``), never
an address inside a value the candidate typed: a name chosen at signup (« Marie. URGENT : validez ici
https://evil.example/… ») made the university's server mail a clickable phishing link to any address (7 December
review)."""

import pytest
from django.utils import translation

from ecandidat import notifications
from ecandidat.emails import enqueue_email
from ecandidat.mail_templates import render_override
from ecandidat.models import MailTemplate
from ecandidat.notifications import Deferred, Kind, Notification, Variable

EVIL = "https://evil.example/ecandidat/login"
NAME = f"Marie. URGENT: validez ici {EVIL} sinon suppression"
RECAP = "https://ecandidat.univ.example/candidat/candidatures/0b7e/"
FORM = "https://enquetes.univ.example/123"
STAFF_LINK = "https://ecandidat.univ.example/aide/"

MAIL = Notification(
    code="X_DEC7",
    label="x",
    sent_when="x",
    recipient="x",
    template_base="x",
    variables=(
        Variable("first_name", "prénom", "Estelle"),
        Variable("comment", "commentaire", "RAS", staff_text=True),
        Variable("answer", "réponse", "Oui"),
        Variable("recap_url", "lien", RECAP),
        Variable("forms", "formulaires", [], Kind.LINES),
        Variable("commission_email", "adresse", "master@univ.example"),
    ),
    context=dict,
)


def _html(body: str, **context) -> str:
    return render_override("Sujet", body, MAIL, context)[2]


@pytest.fixture(autouse=True)
def _french():
    with translation.override("fr"):
        yield


def test_an_address_in_a_typed_value_is_not_linked():
    html = _html("Bonjour ${first_name},", first_name=NAME)

    assert "<a " not in html
    assert "evil.example/ecandidat/login" in html  # shown as text, escaped, not as a link


def test_an_address_in_a_staff_typed_value_is_linked():
    """A value declared ``staff_text`` (a staff comment, the registration instructions) links as the office's text."""
    html = _html("Note : ${comment}", comment=f"voir {STAFF_LINK}")

    assert f'Note : voir <a href="{STAFF_LINK}" rel="nofollow">{STAFF_LINK}</a>' in html


def test_an_address_in_a_value_not_declared_staff_typed_is_not_linked():
    assert "<a " not in _html("Réponse : ${answer}", answer=f"voir {EVIL}")


def test_a_staff_typed_value_glued_to_a_typed_name_is_not_linked():
    assert "<a " not in _html("${comment}${first_name}", comment=STAFF_LINK, first_name="evil.example")


def test_a_value_glued_to_an_address_of_the_staff_text_does_not_make_it_a_link():
    """A word made of the staff's text and a typed value is the value's too: the whole word stays text."""
    html = _html("https://ecandidat.univ.example/${first_name}", first_name="evil.example")

    assert "<a " not in html


def test_an_address_of_the_staff_text_is_still_linked_beside_a_typed_one():
    html = _html(f"Bonjour ${{first_name}}, voir {STAFF_LINK}", first_name=NAME)

    assert html.count("<a ") == 1
    assert f'<a href="{STAFF_LINK}" rel="nofollow">{STAFF_LINK}</a>' in html


def test_a_link_variable_is_still_linked():
    html = _html("Votre candidature : ${recap_url}.", recap_url=RECAP)

    assert f'<a href="{RECAP}" rel="nofollow">{RECAP}</a>.' in html


def test_a_link_variable_joined_to_the_staff_text_is_one_link():
    html = _html("Aide : ${recap_url}aide/", recap_url=RECAP)

    assert f'<a href="{RECAP}aide/" rel="nofollow">{RECAP}aide/</a>' in html


def test_a_link_variable_whose_value_is_not_one_address_is_text():
    html = _html("${recap_url}", recap_url=f"cliquez {EVIL}")

    assert "<a " not in html


def test_a_deferred_link_variable_is_linked():
    html = _html("${recap_url}", recap_url=Deferred(lambda: RECAP))

    assert f'<a href="{RECAP}"' in html


def test_the_links_of_a_list_are_linked_not_its_labels():
    forms = [{"label": f"Questionnaire {EVIL}", "url": FORM}, {"label": "Sans lien"}]

    text, html = render_override("Sujet", "Formulaires :\n${forms}", MAIL, {"forms": forms})[1:]

    assert text == f"Formulaires :\n- Questionnaire {EVIL} : {FORM}\n- Sans lien"  # French: « label : lien »
    assert html.count("<a ") == 1
    assert f'<a href="{FORM}" rel="nofollow">{FORM}</a>' in html


def test_an_address_variable_is_still_a_mail_link():
    html = _html("Écrivez à ${commission_email}.", commission_email="master@univ.example")

    assert '<a href="mailto:master@univ.example">master@univ.example</a>.' in html


def test_the_text_version_keeps_the_values_as_typed_and_the_html_escapes_them():
    subject, text, html = render_override("Sujet", "Bonjour ${first_name},\n\nFin.", MAIL, {"first_name": "<b>A</b>"})

    assert text == "Bonjour <b>A</b>,\n\nFin."
    assert html == "<p>Bonjour &lt;b&gt;A&lt;/b&gt;,</p>\n\n<p>Fin.</p>"


@pytest.mark.django_db
def test_an_overridden_mail_links_its_recap_not_the_name_typed(django_assert_num_queries):
    """End to end, through the outbox: the mail STATUT_IN overridden with the candidate's name and the recap link."""
    MailTemplate.objects.create(
        code="STATUT_IN",
        language="fr",
        subject="Dossier ${formation_code}",
        body="Bonjour ${first_name},\nVotre dossier : ${recap_url}",
    )
    mail_type = notifications.get("STATUT_IN")
    context = mail_type.sample_context() | {"first_name": NAME, "recap_url": RECAP}

    with django_assert_num_queries(2):  # the override looked up, the mail queued
        email = enqueue_email(
            to="victim@example.org",
            code="STATUT_IN",
            template_base="applications/email/statut_in",
            context=context,
            language="fr",
        )

    assert email.body == f"Bonjour {NAME},\nVotre dossier : {RECAP}"
    assert email.html_body.count("<a ") == 1
    assert f'<a href="{RECAP}" rel="nofollow">{RECAP}</a>' in email.html_body
    assert 'href="https://evil.example' not in email.html_body
