"""A decision letter's text (« Lettres de décision », ``offers.DecisionLetterTemplate``) naming a variable the letter
does not have is refused beside its field in the letter's own words: it is a letter, not a mail, and its variables
are listed in the form (above « Signataire »), not below it. The mails keep their message."""

import html
import re

import pytest
from django.urls import reverse
from django.utils import translation

from ecandidat import notifications
from ecandidat.mail_templates import TemplateSyntaxProblem, check_source
from offers.models import DecisionLetterTemplate

pytestmark = pytest.mark.django_db

BODY = "Madame, Monsieur ${nom_famille},\nvous êtes admis."
LETTER_MESSAGE = (
    "Variable inconnue dans la lettre : ${nom_famille}. Utilisez uniquement les variables listées dans le formulaire."
)
MAIL_MESSAGE = (
    "Variable inconnue pour le mail STATUT_IN : ${nom_famille}. Utilisez uniquement les variables listées sous le "
    "formulaire."
)


@pytest.fixture
def central_client(client, central_manager):
    client.force_login(central_manager)
    client.language = "fr"  # the back office's language
    return client


def test_an_unknown_variable_in_a_letter_is_refused_in_the_letters_words(
    central_client, centre, django_assert_num_queries
):
    data = {
        "kind": DecisionLetterTemplate.Kind.ADMISSION,
        "centre": centre.pk,
        "formation": "",
        "title": "Admission",
        "body": BODY,
        "signatory": "",
    }

    # Session and user, the staff scope and permissions, the form's centre and its checks, the page's choices: the
    # text itself reads nothing.
    with django_assert_num_queries(17):
        response = central_client.post(reverse("admin:offers_decisionlettertemplate_add"), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"body": [LETTER_MESSAGE]}
    page = html.unescape(response.content.decode())
    body_row = re.search(r'<div class="form-row[^"]*field-body.*?</textarea>', page, re.DOTALL)
    assert body_row is not None
    assert LETTER_MESSAGE in body_row.group()  # beside the field
    assert f">\n{BODY}</textarea>" in body_row.group()  # the text typed is kept
    assert "pour le mail" not in page
    assert not DecisionLetterTemplate.objects.exists()


def test_an_unknown_variable_in_a_mail_keeps_the_mails_message():
    with translation.override("fr"), pytest.raises(TemplateSyntaxProblem) as problem:
        check_source(BODY, notifications.get("STATUT_IN"))

    assert str(problem.value) == MAIL_MESSAGE
