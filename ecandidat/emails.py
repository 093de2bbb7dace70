"""Render e-mails from templates into the outbox, and send outbox rows.

Services never send mail inline: they call :func:`enqueue_email` inside their transaction; the row is sent by
the ``send_outbound_email`` task once the transaction commits (in-process when no broker is configured).
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ecandidat.models import OutboundEmail

logger = logging.getLogger(__name__)


def render_email(template_base: str, context: dict, *, language: str) -> tuple[str, str, str]:
    """Return (subject, text body, html body) for ``<template_base>_subject.txt`` and ``_body.txt|.html``."""
    with translation.override(language):
        subject = render_to_string(f"{template_base}_subject.txt", context).strip()
        subject = " ".join(subject.splitlines())
        body = render_to_string(f"{template_base}_body.txt", context)
        try:
            html = render_to_string(f"{template_base}_body.html", context)
        except TemplateDoesNotExist:
            html = ""
    prefix = settings.EMAIL_SUBJECT_PREFIX
    return (f"{prefix}{subject}" if prefix else subject), body, html


def enqueue_email(*, to: str, code: str, template_base: str, context: dict, language: str | None = None):
    """Write one mail to the outbox and schedule its sending after the current transaction commits."""
    from ecandidat.tasks import send_outbound_email

    language = language or translation.get_language() or settings.LANGUAGE_CODE
    context = {"institution_name": settings.INSTITUTION_NAME, **context}
    subject, body, html = render_email(template_base, context, language=language)
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
