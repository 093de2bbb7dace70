"""The back office's inputs say their language and have a name (ecandidat/admin_inputs.py): the English version of a
text is typed in an input with ``lang="en"`` (RGAA 8.7), the French one needs none in the French back office and says
``lang="fr"`` in the English one; a file input and the inputs of an editable list are named."""

import re

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import translation

from ecandidat.models import MailTemplate
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db


def _input(html: str, name: str) -> str:
    """The opening tag of the form's input (or text area) called ``name``."""
    found = re.search(rf'<(?:input|textarea|select)\b[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert found, f"no input {name}"
    return found.group(0)


def _lang(html: str, name: str) -> str | None:
    found = re.search(r'\blang="([^"]*)"', _input(html, name))
    return found.group(1) if found else None


FORMATION_TEXTS = {
    "title": "title_en",
    "additional_information": "additional_information_en",
    "registration_instructions": "registration_instructions_en",
}


def test_english_versions_of_a_formation_say_they_are_english(admin_client, django_assert_num_queries, centre):
    formation = FormationFactory(centre=centre)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    with django_assert_num_queries(19):
        response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr"' in html
    for french, english in FORMATION_TEXTS.items():
        assert _lang(html, english) == "en"
        assert _lang(html, french) is None  # the page is French already
    assert _lang(html, "code") is None  # neither a French nor an English text


@pytest.mark.parametrize(
    ("admin_url", "texts", "queries"),
    [
        # The centre's: the two decision types of its formations' defaults listed (one query each).
        ("admin:offers_centre_change", {"registration_instructions": "registration_instructions_en"}, 9),
        ("admin:offers_commission_change", {"return_comment": "return_comment_en"}, 8),
    ],
)
def test_english_versions_of_a_centre_and_a_commission_say_they_are_english(
    admin_client, django_assert_num_queries, commission, admin_url, texts, queries
):
    row = commission.centre if admin_url == "admin:offers_centre_change" else commission
    with django_assert_num_queries(queries):
        response = admin_client.get(reverse(admin_url, args=[row.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for french, english in texts.items():
        assert _lang(html, english) == "en"
        assert _lang(html, french) is None


def test_in_the_english_back_office_the_french_versions_say_they_are_french(
    admin_client, django_assert_num_queries, centre
):
    formation = FormationFactory(centre=centre)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    with django_assert_num_queries(19):
        response = admin_client.get(url, language="en")
    html = response.content.decode()
    assert '<html lang="en"' in html
    for french, english in FORMATION_TEXTS.items():
        assert _lang(html, english) is None
        assert _lang(html, french) == "fr"


def test_file_input_and_editable_list_inputs_are_named(admin_client, django_assert_num_queries):
    with django_assert_num_queries(7):
        response = admin_client.get(reverse("admin:offers_piecetype_add"))
    assert 'aria-label="Fichier modèle"' in _input(response.content.decode(), "template")

    PieceTypeFactory(label="Lettre de motivation", order=3)
    with django_assert_num_queries(8):
        response = admin_client.get(reverse("admin:offers_piecetype_changelist"))
    html = response.content.decode()
    assert 'aria-label="Ordre — Lettre de motivation"' in _input(html, "form-0-order")


def _every_admin_form(rf, admin_user, change_of=None):
    """(model, form class) for the add form of every ModelAdmin that allows adding, and of its inlines; with
    ``change_of``, that row's change form too (the user admin's add form is Django's creation form)."""
    request = rf.get("/gestion/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_add_permission(request):
            continue
        yield model, model_admin.get_form(request)
        if change_of is not None and model is type(change_of):
            yield model, model_admin.get_form(request, change_of, change=True)
        for inline in model_admin.get_inline_instances(request):
            yield model, inline.get_formset(request).form


def test_every_english_text_of_every_admin_form_says_it_is_english(admin_user, rf):
    """Whatever the ModelAdmin or inline (those added later too): each ``*_en`` input of its add form is English."""
    english_inputs = set()
    with translation.override("fr"):  # the back office's language (this folder's tests run in English)
        forms = list(_every_admin_form(rf, admin_user))
    for model, form in forms:
        for name, field in form.base_fields.items():
            if name.endswith("_en"):
                assert field.widget.attrs.get("lang") == "en", f"{model.__name__}.{name}"
                english_inputs.add(f"{model.__name__}.{name}")
    # The texts the brief names are among them: a change of field names cannot empty the test.
    assert {
        "Formation.title_en",
        "Formation.additional_information_en",
        "Formation.registration_instructions_en",
        "Commission.return_comment_en",
        "RefusalReason.label_en",
        "DecisionType.candidate_label_en",
        "DecisionType.mail_subject_en",
        "DecisionType.mail_body_en",
    } <= english_inputs


def test_no_date_input_of_any_admin_form_names_a_warning_the_page_may_lack(admin_user, rf):
    """Django's admin date, time and date-and-time inputs named the time zone warning its JavaScript adds only when
    the browser's time zone is not the server's: without it, an invalid ``aria-describedby``. Each input names it in
    ``data-timezone-warning`` (static/js/admin_a11y.js describes the input by it once it exists), whatever the
    ModelAdmin or inline (those added later too)."""
    rendered = set()
    for model, form in _every_admin_form(rf, admin_user, change_of=admin_user):
        for name, field in form.base_fields.items():
            if "vDateField" not in str(field.widget.attrs) and not hasattr(field.widget, "widgets"):
                continue
            html = str(field.widget.render(name, None, attrs={"id": f"id_{name}"}))
            if "timezone_warning_helptext" not in html:
                continue
            assert "aria-describedby" not in html, f"{model.__name__}.{name}: {html}"
            assert f'data-timezone-warning="id_{name}_timezone_warning_helptext"' in html
            rendered.add(f"{model.__name__}.{name}")
    # Date inputs and a date and time pair are among them: a change of widgets cannot empty the test.
    assert {"Campaign.starts_on", "User.date_joined", "User.last_login"} <= rendered


@pytest.mark.parametrize(("language", "expected"), [("en", "en"), ("fr", None)])
def test_a_mail_text_says_the_language_of_its_row(admin_client, django_assert_num_queries, language, expected):
    """A mail text's language is its row's (``MailTemplate.language``), not its field's name."""
    template = MailTemplate.objects.create(code="STATUT_IN", language=language, subject="Dossier", body="Bonjour")
    with django_assert_num_queries(8):
        response = admin_client.get(reverse("admin:ecandidat_mailtemplate_change", args=[template.pk]))
    html = response.content.decode()
    assert _lang(html, "subject") == _lang(html, "body") == expected

    add_url = reverse("admin:ecandidat_mailtemplate_add") + f"?code=STATUT_RE&language={language}"
    with django_assert_num_queries(5):
        response = admin_client.get(add_url)
    html = response.content.decode()
    assert _lang(html, "subject") == _lang(html, "body") == expected
