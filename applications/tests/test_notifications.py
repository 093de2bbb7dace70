"""The notifications registry (ecandidat.notifications) as the apps fill it: every registered mail renders with its
declared variables, built by its app's context builder from a real subject."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.functional import Promise

from accounts.notifications import account_context
from applications.notifications import application_context
from applications.tests.factories_candidature import ApplicationFactory
from ecandidat import notifications
from ecandidat.emails import render
from ecandidat.mail_templates import check_source, file_version, render_override
from ecandidat.notifications import INSTITUTION_NAME, Deferred, Kind, Notification, Variable

pytestmark = pytest.mark.django_db


@pytest.fixture
def subjects(campaign):
    application = ApplicationFactory(
        candidate__first_name="Noémie",
        candidate__birth_name="LEFÈVRE",
        candidate__user__campaign=campaign,
        candidate__user__first_name="Noé",
        formation__code="MBIO",
        formation__title="Master Biologie",
    )
    return {application_context: application, account_context: application.candidate.user}


def test_every_app_registers_its_mails_in_order():
    codes = notifications.codes()

    assert codes[:10] == ["CPT_MIN_CREATE", "CPT_MIN_MODIF_MAIL", "CPT_MIN_ID_OUBLIE", "CPT_MIN_ID_OUBLIE_ENT"] + [
        "CPT_MIN_EXISTE",
        "CPT_MIN_MODIF_MAIL_EXISTE",
        "CPT_MIN_INCONNU",
        "CPT_MIN_MODIF_MAIL_ANCIEN",  # the notice to the former address of an account
        "CPT_MIN_DOUBLE_AUTH_RETIREE",  # the notice that the helpdesk removed the account's second factor
        "CPT_MIN_DELETE",
    ]
    # issue 12: LISTE_COMP_PROGRESSION; then TYPE_TRAIT_AC, _AD, _ATT, ALERT_PROPOSITION; then CPT_MIN_DELETE;
    # then CANDIDATURE_RELANCE_TRANSMISSION; then CPT_MIN_ID_OUBLIE_ENT (an ENT account, ENT_ACCOUNTS_PASSWORD off)
    assert len(codes) == 10 + 26
    assert {n.template_base.split("/")[0] for n in notifications.registered()} == {"accounts", "applications"}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("code", notifications.codes())
def test_every_registered_notification_renders_with_its_declared_variables(code, language, subjects):
    notification = notifications.get(code)
    built = notification.context(subjects[notification.context])
    # Plain values only, or a Deferred one giving a plain value (no model instance reaches a template); a lazy
    # translation is rendered in the mail's language.
    resolved = {name: value() if isinstance(value, Deferred) else value for name, value in built.items()}
    assert all(isinstance(value, str | bool | int | Promise) for value in resolved.values()), "plain values only"
    # The builder's values for the variables it declares, samples for those each sending adds.
    context = notification.sample_context() | {name: resolved[name] for name in notification.names if name in built}

    subject, body, _html = render(code, context, language=language)
    source_subject, source_body = file_version(notification, language)
    check_source(source_subject, notification)
    check_source(source_body, notification)
    overridden = render_override(source_subject, source_body, notification, context)

    assert subject
    assert body.strip()
    assert overridden[0] == subject
    # The text variables printed in the branch of the text this mail takes (a paper application's recap link is
    # printed in the paper branch only): each non-empty one's value replaced by a mark, so every block is resolved
    # as in the mail.
    marks = {
        variable.name: f"@@{variable.name}@@"
        for variable in notification.variables
        if variable.kind == Kind.TEXT and context[variable.name]
    }
    marked = "".join(render_override(source_subject, source_body, notification, context | marks)[:2])
    for variable in notification.variables:
        if variable.name in marks and marks[variable.name] in marked:
            with translation.override(language):  # a lazy value (a date) is written in the mail's language
                assert str(context[variable.name]) in subject + body, variable.name
    if code.startswith("CPT_MIN") and "${first_name}" in source_body:
        assert "Noé " in body  # the account's name
    elif "${first_name}" in source_body:
        assert "Noémie LEFÈVRE" in body  # the dossier's


def test_the_registry_refuses_a_second_declaration_and_a_switch_off_the_database_forbids():
    mail = notifications.get("STATUT_CO")
    changed = Notification(
        code=mail.code,
        label=mail.label,
        sent_when=mail.sent_when,
        recipient=mail.recipient,
        template_base=mail.template_base,
        variables=(INSTITUTION_NAME,),
        context=mail.context,
    )
    link = Variable("signup_url", mail.label, "https://example.org")
    protected_elsewhere = Notification(  # the database would let the central office switch it off
        code="CPT_MIN_NOUVEAU",
        label=mail.label,
        sent_when=mail.sent_when,
        recipient=mail.recipient,
        template_base="accounts/email/cpt_min_inconnu",
        variables=(INSTITUTION_NAME, link),
        context=account_context,
        required=(link.name,),
    )

    notifications.register(mail)  # the same declaration again: nothing happens
    with pytest.raises(ImproperlyConfigured, match="declared twice"):
        notifications.register(changed)
    with pytest.raises(ImproperlyConfigured, match="ALWAYS_ON_CODES"):
        notifications.register(protected_elsewhere)
    assert notifications.get("STATUT_CO") is mail
    assert notifications.get("CPT_MIN_NOUVEAU") is None
