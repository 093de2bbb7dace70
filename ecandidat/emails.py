"""Render e-mails from templates into the outbox, and send outbox rows.

Services never send mail inline: they call :func:`enqueue_email` inside their transaction; the row is sent by
the ``send_outbound_email`` task once the transaction commits (in-process when no broker is configured). The text
comes from the template files, or from the central office's ``MailTemplate`` for that code and language.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ecandidat.mail_templates import MAIL_TYPES, PROTECTED_CODES, render_override
from ecandidat.models import MailTemplate, OutboundEmail

logger = logging.getLogger(__name__)


_LOOK_UP = object()


def current_template(code: str, language: str) -> MailTemplate | None:
    """The back office's text for (code, language), in service or not; None when the files apply. Codes that cannot
    be overridden (technical mails, allauth notices) cost no query."""
    if code not in MAIL_TYPES:
        return None
    return MailTemplate.objects.filter(code=code, language=language).first()


def render_email(
    template_base: str, context: dict, *, language: str, code: str = "", template=_LOOK_UP
) -> tuple[str, str, str]:
    """Return (subject, text body, html body) of a mail.

    When the central office has overridden ``code`` in ``language`` and its text is in service, that text is used
    (``ecandidat.mail_templates``: a fixed variable substitution, never Django's template engine); otherwise the
    files ``<template_base>_subject.txt`` and ``_body.txt|.html``. ``template`` is the row when the caller already
    looked it up.
    """
    if template is _LOOK_UP:
        template = current_template(code, language) if code else None
    if template is not None and template.in_service:
        subject, body, html = render_override(template.subject, template.body, MAIL_TYPES[template.code], context)
    else:
        with translation.override(language):
            subject = render_to_string(f"{template_base}_subject.txt", context).strip()
            subject = " ".join(subject.splitlines())
            body = render_to_string(f"{template_base}_body.txt", context)
            try:
                html = render_to_string(f"{template_base}_body.html", context)
            except TemplateDoesNotExist:
                html = ""
    prefix = settings.EMAIL_SUBJECT_PREFIX
    subject = f"{prefix}{subject}" if prefix else subject
    return subject[: OutboundEmail._meta.get_field("subject").max_length], body, html


def enqueue_email(*, to: str, code: str, template_base: str, context: dict, language: str | None = None):
    """Write one mail to the outbox and schedule its sending after the current transaction commits.

    Returns the outbox row, or None when the central office has put this mail out of service in this language
    (eCandidat: a mail out of service is not sent); the skip is logged. Account mails cannot be out of service.
    """
    from ecandidat.tasks import send_outbound_email

    language = language or translation.get_language() or settings.LANGUAGE_CODE
    template = current_template(code, language)
    if template is not None and not template.in_service and code not in PROTECTED_CODES:
        logger.info("mail %s (%s) to %s not sent: out of service in the back office", code, language, to)
        return None
    context = {"institution_name": settings.INSTITUTION_NAME, **context}
    subject, body, html = render_email(template_base, context, language=language, code=code, template=template)
    email = OutboundEmail.objects.create(
        to=to, code=code, language=language, subject=subject, body=body, html_body=html
    )
    send_outbound_email.delay_on_commit(email.pk)
    return email


def deliver(email_id: int) -> bool:
    """Send one outbox row at most once. Returns True when this call sent it.

    The row is locked for the duration of the SMTP conversation, so two workers handed the same id (a redelivery
    after a lost ack) cannot both send it: the second one waits, then sees it SENT.
    """
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update(of=("self",)).filter(pk=email_id).first()
        if email is None or email.status == OutboundEmail.Status.SENT:
            return False
        message = EmailMultiAlternatives(
            subject=email.subject, body=email.body, from_email=settings.DEFAULT_FROM_EMAIL, to=[email.to]
        )
        if email.html_body:
            message.attach_alternative(email.html_body, "text/html")
        email.attempts += 1
        error: Exception | None
        try:
            message.send()
        except Exception as exc:
            # Record the failure and commit it (the lock is released), then let the task retry with backoff.
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            email.save(update_fields=["attempts", "last_error"])
            error = exc
        else:
            error = None
            email.status = OutboundEmail.Status.SENT
            email.sent_at = timezone.now()
            email.last_error = ""
            email.save(update_fields=["attempts", "status", "sent_at", "last_error"])
    if error is not None:
        logger.warning("mail %s to %s failed (attempt %s): %s", email.code, email.to, email.attempts, error)
        raise error
    logger.info("mail %s sent to %s", email.code, email.to)
    return True
