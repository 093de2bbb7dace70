"""The preview of a mail text being edited (« Aperçu » on the mail template's add or change page,
``MailTemplateAdmin.preview_view``) checks the text as the save checks it.

It ran the model's ``clean`` alone (the variables, the blocks, the required variables): the form's own checks were
skipped, so a subject holding a NUL character or over 200 characters, or an account mail switched off, previewed
cleanly and then the save refused it. It now validates with the admin's form: the same messages as the save's, in
French, and nothing rendered."""

import pytest
from django.urls import reverse
from django.utils import translation

from ecandidat import notifications
from ecandidat.mail_templates import file_version
from ecandidat.models import MailTemplate, OutboundEmail

pytestmark = pytest.mark.django_db

PREVIEW = reverse("admin:ecandidat_mailtemplate_preview")
ADD = reverse("admin:ecandidat_mailtemplate_add")
# Session, user, the request's savepoint and its release, the staff scope, the user's and groups' permissions (the
# admin's sidebar), no more: the form's checks read nothing (no mail template either).
PREVIEW_QUERIES = 7
NUL = "Le caractère nul n’est pas autorisé."
TOO_LONG = "Assurez-vous que cette valeur comporte au plus 200 caractères (actuellement 5000)."
CANNOT_SWITCH_OFF = (
    "Ce mail permet d'accéder à son compte (lien de validation ou de mot de passe) : il ne peut pas être mis hors "
    "service."
)


def _statut_in(**fields) -> dict:
    """The add page's form of STATUT_IN as posted, with ``fields`` changed."""
    return {
        "code": "STATUT_IN",
        "language": "fr",
        "subject": "Dossier ${formation_code} incomplet",
        "body": "Bonjour ${first_name},\n${refused_pieces}",
        "in_service": "on",
        **fields,
    }


def _account_mail_switched_off() -> dict:
    """CPT_MIN_CREATE's file version, « in service » unticked (an account mail: the save refuses it)."""
    subject, body = file_version(notifications.get("CPT_MIN_CREATE"), "fr")
    return {"code": "CPT_MIN_CREATE", "language": "fr", "subject": subject, "body": body}


CASES = {
    "nul in the subject": (_statut_in(subject="Dossier\x00 incomplet"), "subject", [NUL]),
    "subject of 5,000 characters": (_statut_in(subject="x" * 5000), "subject", [TOO_LONG]),
    "nul in the body": (_statut_in(body="Bonjour ${first_name},\x00\n${refused_pieces}"), "body", [NUL]),
    "account mail switched off": (_account_mail_switched_off(), "in_service", [CANNOT_SWITCH_OFF]),
}


@pytest.mark.parametrize(("data", "field", "messages"), CASES.values(), ids=CASES.keys())
def test_the_preview_refuses_what_the_save_refuses(
    client, central_manager, django_assert_num_queries, data, field, messages
):
    client.force_login(central_manager)

    with translation.override("fr"):
        with django_assert_num_queries(PREVIEW_QUERIES):
            preview = client.post(PREVIEW, data, language="fr")
        save = client.post(f"{ADD}?code={data['code']}&language=fr", data, language="fr")

        assert preview.status_code == 200
        assert preview.context["errors"] == messages
        assert "subject" not in preview.context  # nothing rendered
        assert "Le texte ne peut pas être enregistré tel quel" in preview.content.decode()
        # The save's own form says the same, at the field.
        assert save.status_code == 200
        assert save.context["adminform"].form.errors == {field: messages}
    assert not MailTemplate.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_the_change_pages_preview_checks_the_subject_too(client, central_manager, django_assert_num_queries):
    """The change page posts neither the mail nor the language (read-only there): the preview's address gives them."""
    MailTemplate.objects.create(code="STATUT_IN", language="fr", subject="Dossier", body="${refused_pieces}")
    client.force_login(central_manager)
    data = {"subject": "x" * 5000, "body": "Bonjour ${first_name},\n${refused_pieces}", "in_service": "on"}

    with translation.override("fr"), django_assert_num_queries(PREVIEW_QUERIES):
        response = client.post(f"{PREVIEW}?code=STATUT_IN&language=fr", data, language="fr")

    with translation.override("fr"):
        assert response.context["errors"] == [TOO_LONG]
    assert "subject" not in response.context


def test_a_text_the_save_accepts_is_previewed_as_it_will_be_saved(client, central_manager, django_assert_num_queries):
    """The form's cleaned text is rendered (surrounding spaces stripped, as the save stores it)."""
    client.force_login(central_manager)

    with django_assert_num_queries(PREVIEW_QUERIES):
        response = client.post(PREVIEW, _statut_in(subject="  Dossier ${formation_code} incomplet  "), language="fr")

    assert response.context["errors"] == []
    assert response.context["subject"] == "Dossier MINFO incomplet"
    assert not MailTemplate.objects.exists()
