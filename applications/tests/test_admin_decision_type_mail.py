"""The decision type's own mail in the back office: its fields, the variables, the preview, who may edit it."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from applications.tests.factories_candidature import decision_type
from ecandidat.models import MailTemplate, OutboundEmail
from offers.enums import Avis
from offers.models import DecisionType

pytestmark = pytest.mark.django_db
ADD = reverse("admin:offers_decisiontype_add")
PREVIEW = reverse("admin:offers_decisiontype_mail_preview")
KIND_LOCKED_BY_TEXT = (
    "Ce type de décision a son propre texte de mail, écrit pour son mail actuel : seule la scolarité centrale peut "
    "changer son mail ou son type d'avis."
)
DECISION_TYPE_PERMISSIONS = ("view_decisiontype", "change_decisiontype", "add_decisiontype")


def change_url(decision_type):
    return reverse("admin:offers_decisiontype_change", args=[decision_type.pk])


@pytest.fixture
def favourable(db):
    return decision_type(Avis.FAVOURABLE)


@pytest.fixture
def setup_rights(central_manager, centre_manager):
    """The setup screens' Django permissions on decision types, as the central office's group gives them; a centre
    manager who was given them too."""
    permissions = Permission.objects.filter(codename__in=DECISION_TYPE_PERMISSIONS)
    for user in (central_manager, centre_manager):
        user.user_permissions.add(*permissions)


def unknown_variable(code, placeholder):
    return (
        f"Variable inconnue pour le mail {code} : {placeholder}. Utilisez uniquement les variables listées sous le "
        "formulaire."
    )


def type_data(**fields):
    return {
        "code": "ADM_RES",
        "label": "Admis sous réserve",
        "candidate_label": "Admis sous réserve",
        "avis": "FA",
        "mail_code": "",
        "in_service": "on",
        "mail_subject_fr": "Admis en ${formation_code}",
        "mail_body_fr": "Bonjour ${first_name}, ${decision_label}. Confirmez avant le ${confirmation_date}.",
        "mail_subject_en": "",
        "mail_body_en": "",
        **fields,
    }


# --- who sees what ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status", "editable"),
    [
        ("central_manager", 200, True),
        ("centre_manager", 200, False),
        ("commission_member", 404, False),  # readers write none of the setup: not found, as an outsider
        ("read_only", 404, False),
        ("other_centre_manager", 403, False),
        ("candidate", 302, False),
        ("anonymous", 302, False),
    ],
    indirect=["persona"],
)
def test_change_page_by_persona(client, persona, status, editable, favourable, setup_rights):
    """Only the central office edits the text (it goes to every candidate of the type); a centre manager given the
    setup permissions reads it; another manager is refused (403), the readers do not find it (404), and who is not
    staff goes to the login page."""
    if persona.is_authenticated:
        client.force_login(persona)

    response = client.get(change_url(favourable))

    assert response.status_code == status
    if status != 200:
        return
    content = response.content.decode()
    assert ('name="mail_body_fr"' in content) is editable
    assert (f'formaction="{PREVIEW}"' in content) is editable
    assert "<code>${confirmation_date}</code>" in content  # the variables of AVIS_FAVORABLE, the type's mail
    assert "<code>${reason}</code>" not in content  # not the refusal's


@pytest.mark.parametrize("persona", ["central_manager"], indirect=True)
def test_change_page_queries(client, persona, favourable, setup_rights, django_assert_num_queries):
    client.force_login(persona)
    ContentType.objects.clear_cache()  # whatever test ran before in this process

    # Session, user, the request's savepoint pair, the type, the user's and groups' permissions, the staff scope,
    # the content type (the admin's history link): the variables and the preview button cost none.
    with django_assert_num_queries(9):
        response = client.get(change_url(favourable), language="fr")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Mail de ce type de décision" in content
    assert "Aperçu du mail en français" in content
    assert 'aria-describedby="id_mail_body_fr_helptext"' in content


def test_the_add_page_lists_the_variables_of_every_decision_mail(client, central_manager, setup_rights):
    client.force_login(central_manager)

    content = client.get(ADD).content.decode()

    for code in ("AVIS_FAVORABLE", "AVIS_DEFAVORABLE", "AVIS_LISTE_COMP", "AVIS_LISTE_ATT", "AVIS_PRESELECTION"):
        assert f"{code} (" in content
    assert "<code>${reason}</code>" in content


# --- saving -----------------------------------------------------------------------------------------------------


def test_the_central_office_saves_a_types_text(client, central_manager, setup_rights):
    client.force_login(central_manager)

    response = client.post(ADD, type_data())

    assert response.status_code == 302
    saved = DecisionType.objects.get(code="ADM_RES")
    assert saved.mail_code == "AVIS_FAVORABLE"
    assert saved.mail_texts == {"fr": ("Admis en ${formation_code}", type_data()["mail_body_fr"])}
    assert LogEntry.objects.get().user == central_manager


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"mail_body_fr": "Motif : ${reason}"},
            {"mail_body_fr": [unknown_variable("AVIS_FAVORABLE", "${reason}")]},
        ),
        (
            {"avis": "DE", "mail_subject_fr": "Refus", "mail_body_fr": "Votre rang : ${rank}"},
            {"mail_body_fr": [unknown_variable("AVIS_DEFAVORABLE", "${rank}")]},
        ),
        (
            {"mail_subject_en": "Admitted ${first_name"},
            {
                "mail_subject_en": ["Un « ${ » n'est pas fermé : écrivez ${name}, avec un nom de la liste."],
                "mail_body_en": ["Écrivez aussi le corps, ou videz l'objet : un mail a besoin des deux."],
            },
        ),
        (
            {"mail_subject_fr": "", "mail_body_fr": "", "mail_subject_en": "Admitted", "mail_body_en": "Hello"},
            {"mail_subject_fr": ["Écrivez d'abord le texte en français : l'anglais est facultatif."]},
        ),
        (
            {"mail_subject_fr": ""},
            {"mail_subject_fr": ["Écrivez aussi l'objet, ou videz le corps : un mail a besoin des deux."]},
        ),
    ],
    ids=["unknown variable", "variable of another kind", "unclosed placeholder", "english only", "no subject"],
)
def test_a_wrong_text_is_refused_beside_its_field(client, central_manager, setup_rights, fields, errors):
    client.force_login(central_manager)

    response = client.post(ADD, type_data(**fields), language="fr")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert not DecisionType.objects.filter(code="ADM_RES").exists()


def test_changing_the_kind_checks_the_text_against_the_new_mail(client, central_manager, setup_rights, favourable):
    decision_type(Avis.UNFAVOURABLE)
    custom = DecisionType.objects.create(
        code="ADM_RES",
        label="Admis sous réserve",
        candidate_label="Admis sous réserve",
        avis="FA",
        mail_code="AVIS_FAVORABLE",
        mail_subject_fr="Admis",
        mail_body_fr="Confirmez avant le ${confirmation_date}.",
    )
    client.force_login(central_manager)
    data = type_data(avis="DE", mail_subject_fr="Admis", mail_body_fr="Confirmez avant le ${confirmation_date}.")

    response = client.post(change_url(custom), data, language="fr")

    assert response.status_code == 200
    assert "AVIS_DEFAVORABLE : ${confirmation_date}" in str(response.context["adminform"].form.errors["mail_body_fr"])
    custom.refresh_from_db()
    assert custom.avis == "FA"


def test_a_centre_manager_cannot_change_the_text(client, centre_manager, setup_rights, favourable):
    favourable.mail_subject_fr, favourable.mail_body_fr = "Avant", "Texte d'avant"
    favourable.save()
    client.force_login(centre_manager)
    data = type_data(code=favourable.code, mail_subject_fr="Après", mail_body_fr="Texte d'après")

    response = client.post(change_url(favourable), data)

    assert response.status_code == 302
    favourable.refresh_from_db()
    assert (favourable.mail_subject_fr, favourable.mail_body_fr) == ("Avant", "Texte d'avant")
    assert favourable.label == "Admis sous réserve"  # the rest of the type is theirs to change


def test_a_centre_manager_cannot_change_the_kind_of_a_type_whose_text_needs_it(
    client, centre_manager, setup_rights, favourable
):
    """The text is read-only for them: a kind whose mail lacks its variables is refused, never a server error."""
    decision_type(Avis.UNFAVOURABLE)
    favourable.mail_subject_fr, favourable.mail_body_fr = "Admis", "Confirmez avant le ${confirmation_date}."
    favourable.save()
    client.force_login(centre_manager)
    data = {key: value for key, value in type_data(code=favourable.code, avis="DE").items() if "mail_" not in key}

    response = client.post(change_url(favourable), data, language="fr")

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [KIND_LOCKED_BY_TEXT]
    favourable.refresh_from_db()
    assert favourable.avis == "FA"


def test_a_text_the_mail_outgrew_does_not_lock_the_types_other_fields(
    client, centre_manager, setup_rights, favourable
):
    """A stored text that no longer suits its mail (a variable since removed, simulated here) must not stop a centre
    manager from relabelling the type: only a change of mail or kind is checked against the text (review finding)."""
    DecisionType.objects.filter(pk=favourable.pk).update(mail_subject_fr="Admis", mail_body_fr="${no_such_variable}")
    client.force_login(centre_manager)
    data = type_data(code=favourable.code, label="Admis (nouveau)", mail_code=favourable.mail_code)
    data = {key: value for key, value in data.items() if "mail_" not in key or key == "mail_code"}

    response = client.post(change_url(favourable), data, language="fr")

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    favourable.refresh_from_db()
    assert favourable.label == "Admis (nouveau)"


# --- the preview ------------------------------------------------------------------------------------------------


def test_preview_of_the_text_being_edited(client, central_manager, setup_rights, django_assert_num_queries):
    client.force_login(central_manager)
    data = type_data(mail_body_fr="Bonjour ${first_name} <b>${last_name}</b>, ${decision_label}.")

    # Session, user, the request's savepoint pair, the staff scope, the user's and groups' permissions, the kind's
    # override lookup (its "out of service" switch). No decision type is read or written.
    with django_assert_num_queries(8):
        response = client.post(PREVIEW, {**data, "preview_language": "fr"})

    assert response.status_code == 200
    assert response.context["subject"] == "Admis en MINFO"
    assert response.context["body"] == "Bonjour Estelle <b>Martin</b>, Admis sous réserve."
    content = response.content.decode()
    assert "Bonjour Estelle &lt;b&gt;Martin&lt;/b&gt;, Admis sous réserve." in content
    assert not DecisionType.objects.exists()
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [(True, "Texte du bureau central"), (False, "Favourable decision on your application")],
    ids=["kind override", "default file"],
)
def test_preview_of_a_language_without_the_types_text_shows_the_kinds_mail(
    client, central_manager, setup_rights, override, expected
):
    if override:
        MailTemplate.objects.create(code="AVIS_FAVORABLE", language="en", subject="Texte du bureau central", body="x")
    client.force_login(central_manager)

    response = client.post(PREVIEW, {**type_data(), "preview_language": "en"})

    assert response.context["subject"] == expected


def test_preview_shows_the_errors_the_save_would_show(client, central_manager, setup_rights):
    client.force_login(central_manager)

    response = client.post(PREVIEW, {**type_data(mail_subject_fr="${motif}"), "preview_language": "fr"})

    assert response.status_code == 200
    assert response.context["errors"] == [
        "Unknown variable for the mail AVIS_FAVORABLE: ${motif}. Use only the variables listed below the form."
    ]
    assert "subject" not in response.context


def test_preview_of_a_mail_out_of_service_says_it_is_not_sent(client, central_manager, setup_rights):
    MailTemplate.objects.create(code="AVIS_FAVORABLE", language="fr", subject="x", body="x", in_service=False)
    client.force_login(central_manager)

    response = client.post(PREVIEW, {**type_data(), "preview_language": "fr"}, language="fr")

    assert response.context["subject"] == "Admis en MINFO"
    assert "mis ce mail de décision hors service dans cette langue" in response.content.decode()


@pytest.mark.parametrize(
    "fields", [{"preview_language": "de"}, {"avis": "XX", "mail_code": ""}, {"mail_code": "STATUT_IN"}]
)
def test_preview_of_an_unknown_mail_or_language_is_a_404(client, central_manager, setup_rights, fields):
    client.force_login(central_manager)

    assert client.post(PREVIEW, {**type_data(), "preview_language": "fr", **fields}).status_code == 404


@pytest.mark.parametrize(
    ("persona", "status"),
    # The preview of a list the commission member may not read is one they are never offered: not found.
    [("centre_manager", 403), ("commission_member", 404), ("candidate", 302), ("anonymous", 302)],
    indirect=["persona"],
)
def test_preview_is_the_central_offices(client, persona, status, setup_rights):
    if persona.is_authenticated:
        client.force_login(persona)

    assert client.post(PREVIEW, {**type_data(), "preview_language": "fr"}).status_code == status


def test_preview_answers_only_the_forms_button(client, central_manager, setup_rights):
    client.force_login(central_manager)

    assert client.get(PREVIEW).status_code == 405
