"""A mail's subject is plain text: a formation code « L3 M&I » arrived as « L3 M&amp;I » in the subjects of the
commission alerts, and an allauth mail's subject (« accounts/email/generic ») had its apostrophes and « & » escaped,
because those subject files printed their variables with Django's HTML escaping on. Every subject file that prints
a variable does it inside ``{% autoescape off %}``, as the bodies do."""

from pathlib import Path

import pytest
from django.conf import settings

from ecandidat import notifications
from ecandidat.emails import render_email

CODE = "L3 M&I <Info>"
ALERTS_WITH_THE_CODE = [
    "COMMISSION_ALERT_ANNULATION",
    "COMMISSION_ALERT_DESISTEMENT",
    "COMMISSION_ALERT_PROPOSITION",
    "COMMISSION_ALERT_TRANSMISSION",
]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("code", ALERTS_WITH_THE_CODE)
def test_the_formation_code_is_printed_as_typed_in_a_commission_alert_subject(code, language):
    notification = notifications.get(code)
    context = {**notification.sample_context(), "formation_code": CODE}

    subject, body, _html = render_email(notification.template_base, context, language=language, template=None)

    assert subject.endswith(CODE)
    assert "&amp;" not in subject
    assert CODE in body


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_allauth_mail_subject_is_printed_as_typed(language):
    subject, body, _html = render_email(
        "accounts/email/generic",
        {"subject": "Changement d'adresse : « A & B » <x>", "body": "Texte d'A & B"},
        language=language,
        template=None,
    )

    assert subject == "Changement d'adresse : « A & B » <x>"
    assert body.strip() == "Texte d'A & B"


def _hostile(value):
    return f"{value} & l'<x>" if isinstance(value, str) else value


@pytest.mark.parametrize("code", notifications.codes())
def test_no_subject_file_escapes_a_value(code):
    """Every registered mail, every text value of its sample given « & », « ' » and « < »."""
    notification = notifications.get(code)
    context = {name: _hostile(value) for name, value in notification.sample_context().items()}

    subject, _body, _html = render_email(notification.template_base, context, language="fr", template=None)

    assert not any(entity in subject for entity in ("&amp;", "&#x27;", "&#39;", "&lt;", "&gt;", "&quot;"))


def test_every_subject_file_that_prints_a_variable_turns_escaping_off():
    """The files no registered mail renders (the generic one) are read too."""
    unsafe = [
        str(path.relative_to(settings.BASE_DIR))
        for path in sorted(Path(settings.BASE_DIR, "templates").rglob("*_subject.txt"))
        if "{{" in (text := path.read_text()) and "{% autoescape off %}" not in text
    ]

    assert unsafe == []
