"""Mail templates overridden from the back office: the syntax, the outbox, the admin pages and their personas."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from ecandidat import mail_templates, notifications
from ecandidat.emails import enqueue_email, render_email
from ecandidat.mail_templates import (
    TemplateSyntaxProblem,
    check_source,
    file_version,
    render_override,
    render_source,
)
from ecandidat.models import MailTemplate, OutboundEmail
from ecandidat.notifications import Deferred, Notification, Variable

STATUT_IN = notifications.get("STATUT_IN")
CHANGELIST = reverse("admin:ecandidat_mailtemplate_changelist")
ADD = reverse("admin:ecandidat_mailtemplate_add")
PREVIEW = reverse("admin:ecandidat_mailtemplate_preview")
NO_LONGER_SENT = (
    "Ce mail n'est plus envoyé par l'application : son texte ne peut plus être modifié, seulement supprimé (ce code "
    "de mail n'est plus enregistré)."
)
CANNOT_SWITCH_OFF = (
    "Ce mail permet d'accéder à son compte (lien de validation ou de mot de passe) : "
    "il ne peut pas être mis hors service."
)


def unknown_variable(names: str) -> str:
    return (
        f"Variable inconnue pour le mail STATUT_IN : {names}. Utilisez uniquement les variables listées sous le "
        "formulaire."
    )


def override(code="STATUT_IN", language="fr", **fields) -> MailTemplate:
    fields.setdefault("subject", "Dossier ${formation_code} incomplet")
    fields.setdefault("body", "Bonjour ${first_name},\n{if($comment)}Note : ${comment}\n{endif($comment)}Fin.")
    return MailTemplate.objects.create(code=code, language=language, **fields)


def enqueue_statut_in(language="fr", **context):
    defaults = {"first_name": "Estelle", "formation_code": "MINFO", "comment": ""}
    context = STATUT_IN.sample_context() | defaults | context
    return enqueue_email(
        to="estelle@example.org",
        code="STATUT_IN",
        template_base="applications/email/statut_in",
        context=context,
        language=language,
    )


@pytest.fixture(autouse=True)
def _french():
    # The messages are asserted in French, whatever language an earlier test in this worker left active.
    with translation.override("fr"):
        yield


# --- the syntax -----------------------------------------------------------------------------------------------------


class TestSyntax:
    def test_blocks_keep_their_text_only_when_the_variable_is_set(self):
        source = "{if($comment)}[${comment}]{endif($comment)}{if(!$comment)}(rien){endif(!$comment)}"

        assert render_source(source, {"comment": "à revoir"}) == "[à revoir]"
        assert render_source(source, {"comment": ""}) == "(rien)"

    def test_a_value_is_never_interpreted_as_syntax(self):
        values = {"first_name": "${comment}{if($comment)}", "comment": "secret"}

        assert render_source("Bonjour ${first_name}", values) == "Bonjour ${comment}{if($comment)}"

    def test_unknown_variable_is_refused_naming_it_in_french(self):
        with pytest.raises(TemplateSyntaxProblem) as error:
            check_source("Bonjour ${first_name} ${candidate.user.password}", STATUT_IN)

        assert str(error.value) == (
            "« ${candidate.user.password} » n'est pas une variable : écrivez ${name}, avec un nom de la liste."
        )

    def test_variable_of_another_mail_is_refused(self):
        with pytest.raises(TemplateSyntaxProblem) as error:
            check_source("${first_name} ${activate_url} {if($rank)}x{endif($rank)}", STATUT_IN)

        assert str(error.value) == unknown_variable("${activate_url}, ${rank}")

    def test_unclosed_block_and_unclosed_placeholder_are_refused(self):
        with pytest.raises(TemplateSyntaxProblem, match="Le bloc « {if\\(\\$comment\\)} » n'est pas fermé"):
            check_source("{if($comment)} oups", STATUT_IN)
        with pytest.raises(TemplateSyntaxProblem, match="n'est pas fermé"):
            check_source("Bonjour ${first_name", STATUT_IN)

    def test_yes_no_variable_cannot_be_printed(self):
        with pytest.raises(TemplateSyntaxProblem, match=r"\$\{paper\} est une variable oui/non"):
            check_source("${paper}", notifications.get("CANDIDATURE"))


# --- the catalogue against the files --------------------------------------------------------------------------------

_TEMPLATE_NAMES = re.compile(r"{{\s*(\w+)|{%\s*(?:if|elif)\s+(\w+)|{%\s*for\s+\w+\s+in\s+(\w+)|\w+=(\w+)")
_LOOP_TARGETS = re.compile(r"{%\s*for\s+(\w+)\s+in")
_ASSIGNED = re.compile(r"(\w+)=\w+")


@pytest.mark.parametrize("code", notifications.codes())
def test_every_variable_of_the_file_templates_is_in_the_allowlist(code):
    mail_type = notifications.get(code)
    sources = "".join(
        Path(settings.BASE_DIR, "templates", f"{mail_type.template_base}_{part}.txt").read_text()
        for part in ("subject", "body")
    )

    used = {name for match in _TEMPLATE_NAMES.findall(sources) for name in match if name}
    local = set(_LOOP_TARGETS.findall(sources)) | set(_ASSIGNED.findall(sources))

    assert used - local - {"trimmed"} <= set(mail_type.names)


def test_only_account_mails_are_protected():
    protected = tuple(sorted(n.code for n in notifications.registered() if n.protected))

    assert (
        protected
        == notifications.ALWAYS_ON_CODES
        == (
            "CPT_MIN_CREATE",
            "CPT_MIN_DOUBLE_AUTH_RETIREE",  # the helpdesk removed the second factor: a security mail, without a link
            "CPT_MIN_EXISTE",
            "CPT_MIN_ID_OUBLIE",
            "CPT_MIN_INCONNU",
            "CPT_MIN_MODIF_MAIL",
            "CPT_MIN_MODIF_MAIL_ANCIEN",  # the notice to the former address: a security mail, without a link
            "CPT_MIN_MODIF_MAIL_EXISTE",
        )
    )


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("code", notifications.codes())
def test_file_version_in_the_override_syntax_renders_like_the_files(code, language):
    """The starting text of a new override is faithful: rendered with the sample data it gives the file's mail."""
    mail_type = notifications.get(code)
    subject, body = file_version(mail_type, language)
    check_source(subject, mail_type)
    check_source(body, mail_type)
    context = mail_type.sample_context()

    with translation.override(language):  # as render_email renders it: the samples' words in the mail's language
        overridden = mail_templates.render_override(subject, body, mail_type, context)
    from_files = render_email(mail_type.template_base, context, language=language)

    assert overridden[0] == from_files[0]
    if not any(variable.kind == notifications.Kind.LINES for variable in mail_type.variables):
        assert overridden[1].strip() == from_files[1].strip()


_FILE_CONDITIONS = re.compile(r"\{% *(?:el)?if (\w+) *%\}")


def _file_conditions(mail_type: notifications.Notification) -> list[str]:
    """The variables the files' ``{% if %}``/``{% elif %}`` test (not a loop's own: ``piece.comment``)."""
    sources = "".join(
        Path(settings.BASE_DIR, "templates", f"{mail_type.template_base}_{part}.txt").read_text()
        for part in ("subject", "body")
    )
    return sorted(set(_FILE_CONDITIONS.findall(sources)) & set(mail_type.names))


def _toggled_contexts(mail_type: notifications.Notification, names: list[str]) -> list[dict]:
    """The sample context, then every variable a block tests set and unset (all at once, then one by one): each
    branch of each ``{% if %}``/``{% elif %}``/``{% else %}`` of the files is taken at least once."""

    def set_to(context: dict, name: str, on: bool) -> None:
        variable = mail_type.variable(name)
        assert variable is not None
        if variable.kind == notifications.Kind.FLAG:
            context[name] = on
        else:
            context[name] = (variable.sample or "valeur") if on else ""

    sample = mail_type.sample_context()
    contexts = [sample]
    for on in (True, False):
        context = dict(sample)
        for name in names:
            set_to(context, name, on)
        contexts.append(context)
        for name in names:
            context = dict(sample)
            set_to(context, name, not on)
            contexts.append(context)
    return contexts


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("code", notifications.codes())
def test_file_version_renders_like_the_files_in_every_branch(code, language):
    """Review finding: ``{% elif %}`` was not converted (the whole block was printed as if its first branch were
    taken). Converting then rendering the override gives the files' text whichever branches are taken."""
    mail_type = notifications.get(code)
    subject, body = file_version(mail_type, language)
    check_source(subject, mail_type)
    check_source(body, mail_type)
    lines = any(variable.kind == notifications.Kind.LINES for variable in mail_type.variables)

    for context in _toggled_contexts(mail_type, _file_conditions(mail_type)):
        with translation.override(language):
            overridden = mail_templates.render_override(subject, body, mail_type, context)
        from_files = render_email(mail_type.template_base, context, language=language)
        assert overridden[0] == from_files[0]
        if not lines:  # a list's items are printed by the files' own loop, by ``${name}`` one per line
            assert overridden[1].strip() == from_files[1].strip(), context


def test_an_elif_becomes_nested_blocks():
    mail_type = notifications.get("AVIS_DEFAVORABLE")

    _subject, body = file_version(mail_type, "en")

    assert (
        "{if($letter_attached)}\nYour decision letter is attached to this e-mail; you can also download it from "
        "eCandidat: ${letter_url}\n{endif($letter_attached)}{if(!$letter_attached)}{if($letter_url)}\nYour decision "
        "letter: ${letter_url}\n{endif($letter_url)}{endif(!$letter_attached)}"
    ) in body


_UNCONVERTIBLE = {
    "t/comparison_subject.txt": "Sujet",
    "t/comparison_body.txt": "{% if first_name == 'Estelle' %}Bonjour{% endif %}",
    "t/attribute_subject.txt": "Sujet",
    "t/attribute_body.txt": "{% if first_name.upper %}Bonjour{% endif %}",
    "t/loop_subject.txt": "Sujet",
    "t/loop_body.txt": "{% for letter in first_name %}{{ letter }}{% endfor %}",
    "t/repeated_subject.txt": "Sujet",
    "t/repeated_body.txt": "{% if first_name %}{% if first_name %}Bonjour{% endif %}{% endif %}",
    "t/negated_subject.txt": "Sujet",
    "t/negated_body.txt": "{% if not first_name %}Madame, Monsieur{% elif paper %}Cher {{ first_name }}{% endif %}",
}


def _locmem_notification(settings, base: str) -> notifications.Notification:
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", _UNCONVERTIBLE)]},
        }
    ]
    return notifications.Notification(
        code="TEST",
        label="test",
        sent_when="test",
        recipient="test",
        template_base=f"t/{base}",
        variables=(
            notifications.Variable("first_name", "prénom", "Estelle"),
            notifications.Variable("paper", "papier", True, kind=notifications.Kind.FLAG),
        ),
        context=lambda subject: {},
    )


@pytest.mark.parametrize("first_name", ["", "Estelle"])
@pytest.mark.parametrize("paper", [True, False])
def test_a_negated_condition_becomes_a_negated_block(settings, first_name, paper):
    mail_type = _locmem_notification(settings, "negated")

    _subject, body = file_version(mail_type, "fr")

    assert body == (
        "{if(!$first_name)}Madame, Monsieur{endif(!$first_name)}{if($first_name)}{if($paper)}Cher ${first_name}"
        "{endif($paper)}{endif($first_name)}\n"
    )
    context = {"first_name": first_name, "paper": paper}
    overridden = render_override("Sujet", body, mail_type, context)[1]
    assert overridden.strip() == render_email("t/negated", context, language="fr")[1].strip()


@pytest.mark.parametrize(
    ("base", "construct"),
    [
        ("comparison", "{% if first_name == 'Estelle' %}"),
        ("attribute", "{% if first_name.upper %}"),
        ("loop", "{% for letter in first_name %}"),
        ("repeated", "{% if first_name %}"),
    ],
)
def test_file_version_refuses_what_it_cannot_convert(settings, base, construct):
    """Rather than a starting text that says something else than the files: a French message naming the construct."""
    mail_type = _locmem_notification(settings, base)

    with translation.override("fr"), pytest.raises(TemplateSyntaxProblem) as problem:
        file_version(mail_type, "fr")

    assert str(problem.value) == (
        f"Le modèle fichier du mail TEST utilise « {construct} », que la syntaxe des textes modifiés ne sait pas "
        "écrire : rédigez ce passage vous-même."
    )


# --- the outbox -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
class TestEnqueue:
    def test_override_is_used_for_its_code_and_language_only(self):
        override(code="STATUT_IN", language="fr")

        french = enqueue_statut_in("fr", comment="relevé illisible")
        english = enqueue_statut_in("en")
        other_code = enqueue_email(
            to="estelle@example.org",
            code="STATUT_CO",
            template_base="applications/email/statut_co",
            context=notifications.get("STATUT_CO").sample_context(),
            language="fr",
        )

        assert french.subject == "Dossier MINFO incomplet"
        assert french.body == "Bonjour Estelle,\nNote : relevé illisible\nFin."
        assert english.subject == "Application - incomplete dossier"
        assert other_code.subject == "Candidature - dossier complet"

    def test_without_override_the_files_are_used(self):
        email = enqueue_statut_in("fr")

        assert email.subject == "Candidature - dossier incomplet"
        assert email.html_body == ""

    def test_deleting_the_override_goes_back_to_the_files(self):
        override().delete()

        assert enqueue_statut_in("fr").subject == "Candidature - dossier incomplet"

    def test_out_of_service_mail_is_not_sent_in_that_language(self, django_capture_on_commit_callbacks, mailoutbox):
        override(in_service=False)

        with django_capture_on_commit_callbacks(execute=True):
            french = enqueue_statut_in("fr")
            english = enqueue_statut_in("en")

        assert french is None
        assert english.language == "en"
        assert list(OutboundEmail.objects.values_list("language", flat=True)) == ["en"]
        assert [message.subject for message in mailoutbox] == ["Application - incomplete dossier"]

    def test_account_mails_cannot_be_out_of_service_in_the_database(self):
        with pytest.raises(IntegrityError):
            MailTemplate.objects.create(
                code="CPT_MIN_ID_OUBLIE", language="fr", subject="s", body="${password_reset_url}", in_service=False
            )

    def test_the_notice_to_a_former_address_cannot_be_out_of_service_in_the_database(self):
        """The owner of an account hears that its address was replaced, whatever the central office ticks."""
        with pytest.raises(IntegrityError):
            MailTemplate.objects.create(
                code="CPT_MIN_MODIF_MAIL_ANCIEN",
                language="fr",
                subject="s",
                body="${new_email_masked}",
                in_service=False,
            )

    def test_the_notice_of_a_removed_second_factor_cannot_be_out_of_service_in_the_database(self):
        """The owner of an account hears that the helpdesk removed its second factor, whatever the central office
        ticks (ecandidat 0017)."""
        with pytest.raises(IntegrityError):
            MailTemplate.objects.create(
                code="CPT_MIN_DOUBLE_AUTH_RETIREE",
                language="fr",
                subject="s",
                body="${removed_factors}",
                in_service=False,
            )

    def test_values_are_escaped_in_the_html_version_and_raw_in_the_text(self):
        override(body="Bonjour ${first_name}, voir https://ecandidat.univ.example/candidat/")

        email = enqueue_statut_in("fr", first_name='<script>alert("x")</script>')

        assert email.body == 'Bonjour <script>alert("x")</script>, voir https://ecandidat.univ.example/candidat/'
        assert "<script>" not in email.html_body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in email.html_body
        assert '<a href="https://ecandidat.univ.example/candidat/" rel="nofollow">' in email.html_body

    def test_a_value_cannot_add_a_line_to_the_subject(self):
        override(subject="Dossier ${formation_code}")

        email = enqueue_statut_in("fr", formation_code="MINFO\nBcc: victim@example.org")

        assert email.subject == "Dossier MINFO Bcc: victim@example.org"


# --- model validation -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
class TestValidation:
    def test_unknown_variable_error_is_at_the_field_in_french(self):
        template = MailTemplate(code="STATUT_IN", language="fr", subject="${secret_key}", body="ok")

        with pytest.raises(ValidationError) as error:
            template.full_clean()

        assert error.value.message_dict == {"subject": [unknown_variable("${secret_key}")]}

    def test_account_mail_cannot_be_switched_off(self):
        template = MailTemplate(
            code="CPT_MIN_CREATE", language="fr", subject="Compte", body="${activate_url}", in_service=False
        )

        with pytest.raises(ValidationError) as error:
            template.full_clean()

        assert error.value.message_dict == {"in_service": [CANNOT_SWITCH_OFF]}

    def test_account_mail_must_keep_its_link(self):
        template = MailTemplate(code="CPT_MIN_ID_OUBLIE", language="fr", subject="Identifiants", body="Bonjour")

        with pytest.raises(ValidationError) as error:
            template.full_clean()

        assert error.value.message_dict == {
            "body": ["Le corps doit contenir ${password_reset_url} : sans cela, ce mail ne sert à rien."]
        }

    def test_code_outside_the_catalogue_is_refused(self):
        template = MailTemplate(code="OUTBOX_CHECK", language="fr", subject="s", body="b")

        with pytest.raises(ValidationError) as error:
            template.full_clean()

        # Not keyed on the code: on the change page, the code is read-only (not a field of the form).
        assert error.value.message_dict == {"__all__": [NO_LONGER_SENT]}

    @pytest.mark.parametrize(
        ("code", "body", "name"),
        [
            (
                "CPT_MIN_CREATE",
                "Bonjour,\n{if($is_ent_student)}Lien : ${activate_url}{endif($is_ent_student)}\nFin.",
                "activate_url",
            ),
            (
                "CPT_MIN_ID_OUBLIE",
                "{if($first_name)}Bonjour ${first_name}, lien : ${password_reset_url}{endif($first_name)}",
                "password_reset_url",
            ),
            (
                "CPT_MIN_CREATE",
                (
                    "{if(!$is_ent_student)}{if($first_name)}${activate_url}{endif($first_name)}{endif(!$is_ent_student)}"
                    "{if($is_ent_student)}${activate_url}{endif($is_ent_student)}"
                ),
                "activate_url",
            ),
        ],
    )
    def test_account_mail_link_inside_a_block_only_is_refused(self, code, body, name):
        """Regression: the link inside a block reached some candidates only (the external ones got no link)."""
        template = MailTemplate(code=code, language="fr", subject="Compte", body=body)

        with pytest.raises(ValidationError) as error:
            template.full_clean()

        refusal = (
            f"Le corps doit donner ${{{name}}} à chaque destinataire : ici, certains destinataires ne le "
            "reçoivent pas, à cause des blocs {if(…)}…{endif(…)} qui l'entourent."
        )
        assert error.value.message_dict == {"body": [refusal]}

    def test_account_mail_link_in_both_branches_of_a_block_is_accepted(self):
        body = (
            "{if($is_ent_student)}ENT : ${activate_url}{endif($is_ent_student)}"
            "{if(!$is_ent_student)}Mot de passe : ${ activate_url }{endif(!$is_ent_student)}"
        )

        MailTemplate(code="CPT_MIN_CREATE", language="fr", subject="Compte", body=body).full_clean()

    @pytest.mark.parametrize("language", ["fr", "en"])
    @pytest.mark.parametrize("code", sorted(notifications.ALWAYS_ON_CODES))
    def test_file_version_of_every_account_mail_can_be_saved(self, code, language):
        """The add page starts from it: CPT_MIN_CREATE gives its link in both branches of {if($is_ent_student)}."""
        subject, body = file_version(notifications.get(code), language)

        MailTemplate(code=code, language=language, subject=subject, body=body).full_clean()


# --- the admin ------------------------------------------------------------------------------------------------------


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_user(username="admin", is_staff=True, is_superuser=True)


def _post_data(**fields):
    return {
        "code": "STATUT_IN",
        "language": "fr",
        "subject": "Dossier ${formation_code} incomplet",
        "body": "Bonjour ${first_name},\n${refused_pieces}",
        "in_service": "on",
        **fields,
    }


@pytest.mark.django_db
class TestAdminAccess:
    @pytest.mark.parametrize("url", [CHANGELIST, ADD, f"{PREVIEW}?code=STATUT_IN&language=fr"])
    def test_central_office_and_superusers_get_the_pages(self, client, central_manager, superuser, url):
        for user in (central_manager, superuser):
            client.force_login(user)

            assert client.get(url).status_code == 200

    @pytest.mark.parametrize("url", [CHANGELIST, ADD, f"{PREVIEW}?code=STATUT_IN&language=fr"])
    def test_centre_manager_and_commission_member_are_refused(self, client, centre_manager, commission_member, url):
        # A commission member writes none of the setup: the list, its add page and its preview, never offered, are
        # not found (404), as for an outsider; a centre manager keeps Django's 403.
        for user, expected in ((centre_manager, 403), (commission_member, 404)):
            client.force_login(user)

            assert client.get(url).status_code == expected

    def test_centre_manager_cannot_open_an_existing_text(self, client, centre_manager):
        template = override()
        client.force_login(centre_manager)

        response = client.get(reverse("admin:ecandidat_mailtemplate_change", args=[template.pk]))

        assert response.status_code == 403

    def test_centre_manager_does_not_see_the_model_on_the_index(self, client, centre_manager):
        client.force_login(centre_manager)

        response = client.get(reverse("admin:index"))

        assert CHANGELIST not in response.content.decode()

    def test_centre_manager_cannot_post_a_text(self, client, centre_manager):
        client.force_login(centre_manager)

        response = client.post(f"{ADD}?code=STATUT_IN&language=fr", _post_data())

        assert response.status_code == 403
        assert not MailTemplate.objects.exists()

    @pytest.mark.parametrize("url", [CHANGELIST, ADD, PREVIEW])
    def test_candidate_is_sent_to_the_login_page(self, client, candidate_user, url):
        client.force_login(candidate_user)

        response = client.get(url)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
class TestAdminEditing:
    def test_chooser_lists_every_mail_with_its_state(self, client, central_manager):
        override(in_service=False)
        client.force_login(central_manager)

        response = client.get(ADD)

        content = response.content.decode()
        assert all(code in content for code in notifications.codes())
        assert "Hors service : non envoyé" in content
        assert f"{ADD}?code=STATUT_CO&amp;language=en" in content

    def test_add_form_starts_from_the_file_version(self, client, central_manager):
        client.force_login(central_manager)

        response = client.get(f"{ADD}?code=STATUT_IN&language=fr")

        form = response.context["adminform"].form
        assert form.initial["subject"] == "Candidature - dossier incomplet"
        assert form.initial["body"].startswith("Bonjour ${first_name} ${last_name},")
        content = response.content.decode()
        assert "${refused_pieces}" in content
        assert "Variables disponibles" in content
        assert "Prévisualiser" in content

    def test_a_file_version_that_cannot_be_written_is_refused_in_french(self, client, central_manager, mocker):
        """The add form starts empty and says why; the change page says it where the file version would be."""
        problem = "Le modèle fichier du mail STATUT_IN utilise « {% if a == b %} »"
        mocker.patch("ecandidat.admin.file_version", side_effect=TemplateSyntaxProblem(problem))
        client.force_login(central_manager)

        add = client.get(f"{ADD}?code=STATUT_IN&language=fr")
        change = client.get(reverse("admin:ecandidat_mailtemplate_change", args=[override().pk]))

        assert "subject" not in add.context["adminform"].form.initial
        assert [str(message) for message in add.context["messages"]] == [problem]
        assert change.status_code == 200
        assert "Le modèle fichier du mail STATUT_IN utilise « {% if a == b %} »" in change.content.decode()

    def test_change_page_shows_the_variables_the_file_version_and_the_preview_button(self, client, central_manager):
        template = override()
        client.force_login(central_manager)

        response = client.get(reverse("admin:ecandidat_mailtemplate_change", args=[template.pk]))

        content = response.content.decode()
        assert response.status_code == 200
        assert "Pièces refusées avec leur commentaire et leur date limite de remplacement, une par ligne" in content
        assert "Version des fichiers" in content
        assert "Connectez-vous à eCandidat, remplacez les pièces manquantes" in content
        assert f'formaction="{PREVIEW}?code=STATUT_IN&amp;language=fr"' in content

    def test_save_records_the_author(self, client, central_manager):
        client.force_login(central_manager)

        response = client.post(f"{ADD}?code=STATUT_IN&language=fr", _post_data())

        assert response.status_code == 302
        template = MailTemplate.objects.get()
        assert template.updated_by == central_manager
        assert LogEntry.objects.get().user == central_manager

    def test_unknown_variable_is_shown_at_the_field(self, client, central_manager):
        client.force_login(central_manager)

        response = client.post(ADD, _post_data(body="Bonjour ${user.password}"))

        assert response.status_code == 200
        assert response.context["adminform"].form.errors == {
            "body": ["« ${user.password} » n'est pas une variable : écrivez ${name}, avec un nom de la liste."]
        }
        assert not MailTemplate.objects.exists()

    def test_switching_off_a_security_mail_is_refused_at_the_field(self, client, central_manager):
        client.force_login(central_manager)
        data = _post_data(code="CPT_MIN_CREATE", subject="Compte", body="${activate_url}")
        del data["in_service"]

        response = client.post(ADD, data)

        assert response.status_code == 200
        assert response.context["adminform"].form.errors["in_service"] == [CANNOT_SWITCH_OFF]

    def test_an_account_mail_with_its_link_inside_a_block_is_refused_at_the_field(self, client, central_manager):
        """Regression: saved, it gave the activation link to ENT students only."""
        client.force_login(central_manager)
        body = "Bonjour,\n{if($is_ent_student)}${activate_url}{endif($is_ent_student)}"

        response = client.post(
            f"{ADD}?code=CPT_MIN_CREATE&language=fr",
            _post_data(code="CPT_MIN_CREATE", subject="Compte", body=body),
            language="fr",
        )

        assert response.status_code == 200
        assert list(response.context["adminform"].form.errors) == ["body"]
        assert "certains destinataires ne le reçoivent pas" in response.context["adminform"].form.errors["body"][0]
        assert not MailTemplate.objects.exists()

    def test_a_text_whose_mail_is_no_longer_registered_says_so_instead_of_a_500(self, client, central_manager):
        """Regression: the model's error was keyed on the code, read-only on the change page: a ValueError (500)."""
        template = MailTemplate.objects.create(code="OLD_CODE", language="fr", subject="s", body="b")
        client.force_login(central_manager)
        url = reverse("admin:ecandidat_mailtemplate_change", args=[template.pk])

        response = client.post(url, {"subject": "s", "body": "b2", "in_service": "on"}, language="fr")

        assert response.status_code == 200
        assert response.context["adminform"].form.non_field_errors() == [NO_LONGER_SENT]
        assert NO_LONGER_SENT.replace("'", "&#x27;") in response.content.decode()
        template.refresh_from_db()
        assert template.body == "b"
        # It can still be deleted (back to nothing: the mail is not sent any more anyway).
        response = client.post(reverse("admin:ecandidat_mailtemplate_delete", args=[template.pk]), {"post": "yes"})
        assert response.status_code == 302
        assert not MailTemplate.objects.exists()

    def test_switching_a_mail_off_says_which_mails_stop(self, client, central_manager):
        template = override()
        client.force_login(central_manager)
        data = _post_data()
        del data["in_service"]

        response = client.post(reverse("admin:ecandidat_mailtemplate_change", args=[template.pk]), data, follow=True)

        messages = [str(message) for message in response.context["messages"]]
        assert messages[0] == (
            "Le mail « statut du dossier incomplet » (STATUT_IN, Français) est hors service : il n'est plus envoyé "
            "quand le statut du dossier passe à Incomplet (destinataire : le candidat). Les autres langues ne sont "
            "pas concernées. Recochez « en service » pour l'envoyer de nouveau, ou supprimez ce texte pour revenir à "
            "la version des fichiers."
        )
        template.refresh_from_db()
        assert template.in_service is False
        assert template.updated_by == central_manager


@pytest.mark.django_db
class TestPreview:
    def test_preview_of_the_text_being_edited_sends_nothing(self, client, central_manager, django_assert_num_queries):
        client.force_login(central_manager)
        data = _post_data(body="Bonjour ${first_name} <b>${last_name}</b>,\n${refused_pieces}")

        # Session, user, the request's savepoint and its release, the staff scope, the user's and groups' permissions
        # (the admin's sidebar), the session's update (savepoint, update, release). No mail template is read.
        with django_assert_num_queries(7):
            response = client.post(PREVIEW, data)

        assert response.status_code == 200
        assert response.context["subject"] == "Dossier MINFO incomplet"
        assert response.context["body"] == (
            "Bonjour Estelle <b>Martin</b>,\n"
            "- Relevé de notes de licence : illisible (à remplacer au plus tard le 20/06/2026)\n- CV"
        )
        assert "Bonjour Estelle &lt;b&gt;Martin&lt;/b&gt;," in response.content.decode()
        assert "<b>Martin</b>" not in response.content.decode()
        assert not MailTemplate.objects.exists()
        assert not OutboundEmail.objects.exists()

    def test_preview_from_the_change_page_takes_the_mail_from_the_address(self, client, central_manager):
        client.force_login(central_manager)
        data = {"subject": "Pour ${first_name}", "body": "Rang ${rank}"}

        response = client.post(f"{PREVIEW}?code=AVIS_LISTE_COMP&language=en", data)

        assert response.context["subject"] == "Pour Estelle"
        assert response.context["body"] == "Rang 3"

    @pytest.mark.parametrize(("language", "named"), [("fr", "en français"), ("en", "en anglais")])
    def test_preview_names_the_mail_and_its_language_as_a_french_sentence(
        self, client, central_manager, django_assert_num_queries, language, named
    ):
        client.force_login(central_manager)

        with django_assert_num_queries(8):
            response = client.get(PREVIEW, {"code": "CPT_MIN_CREATE", "language": language}, language="fr")

        # It read « création de compte, en Français : … »: the sentence starts with a capital, a language does not.
        assert f"Création de compte, {named} : la version des fichiers" in response.content.decode()

    def test_preview_shows_the_errors_the_save_would_show(self, client, central_manager):
        client.force_login(central_manager)

        response = client.post(PREVIEW, _post_data(subject="${motif}"))

        assert response.status_code == 200
        assert response.context["errors"] == [unknown_variable("${motif}")]
        assert "subject" not in response.context

    def test_preview_of_the_current_mail_uses_the_files_without_override(
        self, client, central_manager, django_assert_num_queries
    ):
        client.force_login(central_manager)

        # As above, plus the lookup of an override for (code, language).
        with django_assert_num_queries(8):
            response = client.get(PREVIEW, {"code": "AVIS_FAVORABLE", "language": "en"})

        assert response.status_code == 200
        assert response.context["subject"] == "Favourable decision on your application"
        assert "by 30 Jun 2026 at the latest" in response.context["body"]  # the English mail's date
        assert not OutboundEmail.objects.exists()

    def test_preview_of_an_out_of_service_mail_says_so(self, client, central_manager):
        override(in_service=False)
        client.force_login(central_manager)

        response = client.get(PREVIEW, {"code": "STATUT_IN", "language": "fr"})

        assert "Ce mail est hors service dans cette langue : il n'est pas envoyé." in response.content.decode()

    @pytest.mark.parametrize("query", [{"code": "OUTBOX_CHECK"}, {"code": "STATUT_IN", "language": "de"}])
    def test_preview_of_an_unknown_mail_is_a_404(self, client, central_manager, query):
        client.force_login(central_manager)

        assert client.get(PREVIEW, query).status_code == 404


def test_a_deferred_value_is_computed_once_and_only_when_a_text_asks():
    calls = []

    def compute():
        calls.append(1)
        return "Commission M1"

    value = Deferred(compute)
    notification = Notification(
        code="X",
        label="x",
        sent_when="x",
        recipient="x",
        template_base="x",
        variables=(Variable("commission_label", "c", "C"), Variable("other", "o", "O")),
        context=dict,
    )

    assert render_override("s", "${other}", notification, {"commission_label": value, "other": "o"})[1] == "o"
    assert calls == []
    text = render_override("s", "${commission_label} ${commission_label}", notification, {"commission_label": value})
    assert text[1] == "Commission M1 Commission M1"
    assert Template("{{ commission_label }}").render(Context({"commission_label": value})) == "Commission M1"
    assert calls == [1]
