"""Render e-mails from templates into the outbox, and send outbox rows.

The outbox is the source of truth for every mail. Services never send mail inline: they call
:func:`enqueue_email` inside their transaction; once it commits, the ``send_outbound_email`` task makes the first
attempt (in-process when no broker is configured; if the broker is unreachable the row simply waits). Every later
attempt is the sweeper's (:func:`send_pending_mails`: a Celery beat entry every minute, and ``manage.py
send_pending_mails`` from cron), with an exponential back-off over hours, until ``OUTBOX_RETRY_HOURS`` have passed:
then the row is ``FAILED`` and the admin can resend it. One retry policy, the row's: the task itself never retries.

A sender claims a row with a conditional UPDATE (``SENDING`` plus a lease, committed), talks to the SMTP server
without holding any lock, then records the result. Two senders never both claim a row; a sender killed mid-way
leaves a ``SENDING`` row whose lease expires, and the sweeper sends it again with the same ``Message-ID``, so a
duplicate after a crash between the SMTP ``250`` and the commit is recognisable; past ``OUTBOX_RETRY_HOURS`` such a
row is ``FAILED`` instead (:func:`claim`).

The text comes from the template files, or from the central office's ``MailTemplate`` for that code and language,
or from the sender's own text (a decision type's mail, ``own_text``), which wins over both in its languages.

Attachments are references on the row (``ecandidat.attachments``), read at each attempt: a file that cannot be read
now (storage down, not built yet and its build failing) fails the attempt, which is retried with the same back-off;
a file that can never be had (its object deleted) is left out: the mail says so in a paragraph added to its text
(:func:`missing_notice`, in the mail's language), the sent row keeps that text as sent and its ``last_error`` names
the file and why.

A row not sent yet can be withdrawn when what it announces no longer holds (a decision mail of an application its
candidate has withdrawn since, queued while the SMTP server was down): the row carries a ``topic`` and
:func:`cancel_pending` makes the rows of that topic still waiting ``CANCELLED``, with a reason; no sender claims them
again, the admin cannot resend them.
"""

import logging
import re
import smtplib
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.db.models import Case, CharField, F, TextField, Value, When
from django.db.models.functions import Cast, Concat
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import format_html, linebreaks
from django.utils.translation import gettext

from ecandidat import attachments as mail_attachments
from ecandidat import notifications
from ecandidat.attachments import AttachmentRef, AttachmentUnavailable
from ecandidat.celery import publish_or_leave, registered_task
from ecandidat.mail_templates import render_override
from ecandidat.models import MailTemplate, OutboundEmail

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from django.contrib.auth.base_user import AbstractBaseUser

logger = logging.getLogger(__name__)

# The sweeper leaves a fresh row to the task for this long before it looks at it ("older than a minute").
FIRST_SWEEP_DELAY = timedelta(minutes=1)

# Wait after the n-th failed attempt (the last one repeats), until OUTBOX_RETRY_HOURS after the row was queued.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
)

# A sweep stops claiming rows after this long, so that runs every minute do not pile up behind a slow SMTP server
# (what is left is due again at the next run).
SWEEP_TIME_BUDGET_SECONDS = 45

# Rows per UPDATE when failed mails are resent without their attachments (each with its own text: ``bulk_update``).
RESEND_BATCH_SIZE = 500


_LOOK_UP = object()


def current_template(code: str, language: str) -> MailTemplate | None:
    """The back office's text for (code, language), in service or not; None when the files apply. Codes that cannot
    be overridden (technical mails, allauth notices) cost no query."""
    if notifications.get(code) is None:
        return None
    return MailTemplate.objects.filter(code=code, language=language).first()


def render_email(
    template_base: str, context: dict, *, language: str, code: str = "", template=_LOOK_UP, copy_of: str = ""
) -> tuple[str, str, str]:
    """Return (subject, text body, html body) of a mail.

    When the central office has overridden ``code`` in ``language`` and its text is in service, that text is used
    (``ecandidat.mail_templates``: a fixed variable substitution, never Django's template engine); otherwise the
    files ``<template_base>_subject.txt`` and ``_body.txt|.html``. ``template`` is the row when the caller already
    looked it up. ``copy_of``: the candidate's address when this is a centre's copy of the mail sent to them
    (:func:`as_copy`).
    """
    if template is _LOOK_UP:
        template = current_template(code, language) if code else None
    if template is not None and template.in_service:
        with translation.override(language):  # lazy values of the context (fixed sentences) in the mail's language
            subject, body, html = render_override(template.subject, template.body, _registered(template.code), context)
    else:
        with translation.override(language):
            subject = render_to_string(f"{template_base}_subject.txt", context).strip()
            subject = " ".join(subject.splitlines())
            body = render_to_string(f"{template_base}_body.txt", context)
            try:
                html = render_to_string(f"{template_base}_body.html", context)
            except TemplateDoesNotExist:
                html = ""
    if copy_of:
        subject, body, html = as_copy(subject, body, html, copy_of=copy_of, language=language)
    # One space after the prefix whatever the variable's end: systemd's EnvironmentFile (and deploy/manage.sh) drop a
    # value's trailing spaces, so the README's `[RECETTE] ` arrived as "[RECETTE]" and subjects read "[RECETTE]Avis…".
    prefix = settings.EMAIL_SUBJECT_PREFIX.strip()
    subject = f"{prefix} {subject}" if prefix else subject
    return subject[: OutboundEmail._meta.get_field("subject").max_length], body, html


def as_copy(subject: str, body: str, html: str, *, copy_of: str, language: str) -> tuple[str, str, str]:
    """A centre's copy of the mail sent to the candidate at ``copy_of`` (eCandidat typ_send_mail_ctr_cand), in
    ``language``: « [Copie] » before its subject and « Copie du message envoyé à <address> » as the first line of its
    text and HTML bodies. The copy is the candidate's text, which speaks to the candidate (« Votre candidature… »):
    without this, the staff member reading it could not tell it from a mail written to them, nor whom it went to."""
    with translation.override(language):
        subject = gettext("[Copy] %(subject)s") % {"subject": subject}
        line = gettext("Copy of the message sent to %(address)s") % {"address": copy_of}
    body = f"{line}\n\n{body}"
    if html:
        paragraph = format_html("<p>{}</p>\n", line)
        start = re.search(r"<body\b[^>]*>", html, flags=re.IGNORECASE)
        at = start.end() if start else 0
        html = f"{html[:at]}{paragraph}{html[at:]}"
    return subject, body, html


def _registered(code: str) -> notifications.Notification:
    notification = notifications.get(code)
    if notification is None:
        raise LookupError(f"no notification {code} is registered (ecandidat.notifications)")
    return notification


def render(code: str, context: dict, *, language: str) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of the registered notification ``code`` with ``context``: the back office's
    text when it has one in service in ``language``, else the notification's files."""
    context = {notifications.INSTITUTION_NAME.name: settings.INSTITUTION_NAME, **context}
    return render_email(_registered(code).template_base, context, language=language, code=code)


# A text of the sender's own for one mail, by language: ``{"fr": (subject, body)}`` (a decision type's mail). Same
# syntax and variables as the mail's ``MailTemplate``; a language it lacks falls back to the usual text.
OwnText = Mapping[str, tuple[str, str]]


def enqueue_notification(code: str, subject: object, *, to: str, language: str | None = None, **extra: object):
    """Write the registered notification ``code`` about ``subject`` (an application, an account…) to ``to``.

    Its context builder gives the variables common to that kind of subject, ``extra`` the ones of this sending; of
    both, only the variables the notification declares reach the template (what an override may use is what the
    files may use). Returns the outbox row, or None when the mail is out of service (see :func:`enqueue_email`)."""
    return enqueue_notification_with(code, subject, to=to, language=language, extra=extra)


def enqueue_notification_with(
    code: str,
    subject: object,
    *,
    to: str,
    extra: "Mapping[str, object]",
    attachments: "Sequence[AttachmentRef]" = (),
    language: str | None = None,
    own_text: OwnText | None = None,
    about: "AbstractBaseUser | None" = None,
    copy_of: str = "",
    topic: str = "",
):
    """:func:`enqueue_notification` with its ``extra`` variables as a mapping, files to attach (references, read
    when the mail is sent: ``ecandidat.attachments``), the sender's own text, the account the mail is about, for a
    centre's copy the candidate's address, and the ``topic`` :func:`cancel_pending` may withdraw it by (see
    :func:`enqueue_email`).

    Without ``about``, a mail whose subject is a candidate account (the account mails: signup, address validation,
    forgotten credentials, an account created by staff) is about that account: its full deletion and the purge of
    unvalidated accounts delete it, even when another account (last year's of the same person) uses its address.
    A mail with no subject (to the owner of an address, who is not told whose account tried) stays unlinked."""
    if about is None and isinstance(subject, get_user_model()) and subject.is_candidate:
        about = subject
    notification = _registered(code)
    values = {**notification.context(subject), **extra}
    context = {name: values[name] for name in notification.names if name in values}
    return enqueue_email(
        to=to,
        code=code,
        template_base=notification.template_base,
        context=context,
        language=language,
        attachments=attachments,
        own_text=own_text,
        about=about,
        copy_of=copy_of,
        topic=topic,
    )


def own_template(code: str, language: str, own_text: OwnText | None) -> MailTemplate | None:
    """The sender's own text for (code, language) as an unsaved, in-service ``MailTemplate`` (rendered like the
    back office's), or None when it has none in that language. The caller has checked it (the model's ``clean``)."""
    if not own_text or language not in own_text:
        return None
    subject, body = own_text[language]
    return MailTemplate(code=code, language=language, subject=subject, body=body, in_service=True)


def enqueue_email(
    *,
    to: str,
    code: str,
    template_base: str,
    context: dict,
    language: str | None = None,
    attachments: "Sequence[AttachmentRef]" = (),
    own_text: OwnText | None = None,
    about: "AbstractBaseUser | None" = None,
    copy_of: str = "",
    topic: str = "",
):
    """Write one mail to the outbox and schedule its first attempt after the current transaction commits.

    The text is, in ``language``: the sender's ``own_text`` (a decision type's mail), else the central office's
    ``MailTemplate`` in service, else the files. ``attachments`` are references (``ecandidat.attachments``): the
    files are read at each attempt, not copied. Returns the outbox row, or None when the central office has put this
    mail out of service in this language (eCandidat: a mail out of service is not sent, own text or not); the skip
    is logged. Account mails cannot be out of service. ``about`` is the candidate account the mail is about,
    whoever it goes to (``OutboundEmail.about``: the full deletion of that account and its purge delete it).
    ``copy_of``: the candidate's address when the mail is a centre's copy of theirs (marked so: :func:`as_copy`).
    ``topic``: what the mail announces, when that can stop holding before it leaves (:func:`cancel_pending`).
    Never fails the caller because of the broker: see :func:`dispatch`.
    """
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    template = current_template(code, language)
    if template is not None and not template.in_service and code not in notifications.ALWAYS_ON_CODES:
        logger.info("mail %s (%s) to %s not sent: out of service in the back office", code, language, to)
        return None
    template = own_template(code, language, own_text) or template
    context = {"institution_name": settings.INSTITUTION_NAME, **context}
    subject, body, html = render_email(
        template_base, context, language=language, code=code, template=template, copy_of=copy_of
    )
    email = OutboundEmail.objects.create(
        to=to,
        code=code,
        language=language,
        subject=subject,
        body=body,
        html_body=html,
        attachments=[ref.as_json() for ref in attachments],
        next_attempt_at=timezone.now() + FIRST_SWEEP_DELAY,
        about_id=about.pk if about is not None else None,
        topic=topic,
    )
    transaction.on_commit(partial(dispatch, email.pk))
    return email


def cancel_pending(topic: str, reason: str, *, now=None) -> int:
    """Withdraw the mails of ``topic`` that have not left, because what they announce no longer holds (a decision
    mail of an application withdrawn or cancelled since it was queued: ``applications.notifications``). Called in
    the transaction of the change that voids them, so that both commit, or neither. Returns how many rows were
    cancelled.

    Under row locks (``SELECT … FOR UPDATE``, in id order): the ``PENDING`` rows, and the ``FAILED`` ones (given up,
    but the admin could resend them), become ``CANCELLED`` with ``cancelled_at`` and ``reason`` (written by the
    caller, in the institution's language: the central office reads it in the outbox). A sender's claim of such a
    row waits for this transaction, then finds it cancelled: no sender, task or sweeper, sends it, and the admin's
    resend leaves it alone (it resends ``FAILED`` rows only).

    ``SENT`` rows are history and are never touched. A ``SENDING`` row belongs to its sender, which is talking to
    the SMTP server without any lock: its status is left alone, only ``cancelled_at`` and ``reason`` are recorded.
    The race then goes one of three ways: the attempt succeeds and the mail has left (the row ends ``SENT``, keeping
    the date and reason of the cancellation that came too late, which the admin shows); it fails, and
    :func:`record_failure` makes the row ``CANCELLED`` instead of waiting for another attempt; its sender dies, and
    once the lease expires the row is ``CANCELLED`` instead of being claimed again (:func:`claim`)."""
    if not topic:
        raise ValueError("cancel_pending needs a topic: an empty one would be every mail without one")
    now = now or timezone.now()
    reason = reason[: OutboundEmail._meta.get_field("cancel_reason").max_length]
    waiting = [OutboundEmail.Status.PENDING, OutboundEmail.Status.FAILED]
    # No savepoint of its own: it is part of the caller's change (one SELECT when nothing waits, as on most calls).
    with transaction.atomic(savepoint=False):
        rows = list(
            OutboundEmail.objects.select_for_update(of=("self",))
            .filter(topic=topic, status__in=[*waiting, OutboundEmail.Status.SENDING])
            .order_by("pk")
            .values_list("pk", "status")
        )
        if not rows:
            return 0
        cancelled = [pk for pk, status in rows if status in waiting]
        being_sent = [pk for pk, status in rows if status == OutboundEmail.Status.SENDING]
        if cancelled:
            OutboundEmail.objects.filter(pk__in=cancelled).update(
                status=OutboundEmail.Status.CANCELLED, cancelled_at=now, cancel_reason=reason, lease_until=None
            )
        if being_sent:
            OutboundEmail.objects.filter(pk__in=being_sent).update(cancelled_at=now, cancel_reason=reason)
    if cancelled:
        logger.info("%s mail(s) of %s cancelled before they left: %s", len(cancelled), topic, reason)
    if being_sent:
        logger.warning(
            "%s mail(s) of %s being sent as they were cancelled: they may have left (%s)",
            len(being_sent),
            topic,
            being_sent,
        )
    return len(cancelled)


def dispatch(email_id: int) -> bool:
    """Hand a committed row to the ``send_outbound_email`` task (run in-process without a broker).

    If the broker is unreachable the row stays pending and the sweeper sends it: one log line, no exception, so the
    request or batch that committed goes on. A broker that takes the connection and never answers is unreachable
    after its socket timeout (``CELERY_BROKER_TRANSPORT_OPTIONS``), kombu's ``OperationalError``; the process then
    leaves its next publishes to the sweeper for ``BROKER_REST_SECONDS`` (``publish_or_leave``) instead of waiting
    that timeout again for each. Returns whether the task was handed over.
    """
    return publish_or_leave(
        partial(registered_task("ecandidat.tasks.send_outbound_email").delay, email_id),
        f"mail {email_id} left for the sweeper",
    )


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1 for the first): 1 min, 5 min, 15 min, 1 h,
    2 h, then every 4 h."""
    return RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]


def claim(email_id: int, *, now=None) -> OutboundEmail | None:
    """Take a row for sending: one conditional UPDATE (status ``SENDING``, a lease of ``OUTBOX_LEASE_SECONDS``, one
    more attempt), committed before any SMTP traffic. Returns the row, or None when another sender has it, it is
    not due yet, or it is already sent or failed.

    A row whose sender died (expired lease) past ``OUTBOX_RETRY_HOURS`` from its queueing is not claimed again: it
    becomes ``FAILED`` (``last_error`` "sender died (lease expired) after N attempts", an error in the log; the admin
    can resend it) and None is returned. Its sender died at every attempt (a hard time limit, out of memory while
    building a big letter), so :func:`record_failure`, which would have given it up, never ran. A row whose sender
    died after its cancellation was asked (:func:`cancel_pending`) becomes ``CANCELLED`` instead, at any time."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = (
            OutboundEmail.objects.claimable(now)
            .filter(pk=email_id)
            .update(
                status=OutboundEmail.Status.SENDING,
                lease_until=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
                attempts=F("attempts") + 1,
            )
        )
        given_up = 0
        if not claimed:  # rare: no second query on the usual path
            given_up = (
                OutboundEmail.objects.abandoned(now)
                .filter(pk=email_id)
                .update(
                    status=Case(
                        When(cancelled_at__isnull=False, then=Value(OutboundEmail.Status.CANCELLED)),
                        default=Value(OutboundEmail.Status.FAILED),
                    ),
                    next_attempt_at=now,
                    lease_until=None,
                    last_error=Concat(
                        Value("sender died (lease expired) after "),
                        Cast("attempts", output_field=CharField()),
                        Value(" attempts"),
                        output_field=TextField(),
                    ),
                )
            )
    if given_up:
        email = OutboundEmail.objects.get(pk=email_id)
        if email.status == OutboundEmail.Status.CANCELLED:
            logger.warning(
                "mail %s to %s CANCELLED: %s, its sender died while it was cancelled (%s)",
                email.code,
                email.to,
                email.last_error,
                email.cancel_reason,
            )
            return None
        logger.error(
            "mail %s to %s FAILED: %s, past OUTBOX_RETRY_HOURS (resend it from the admin)",
            email.code,
            email.to,
            email.last_error,
        )
        return None
    if not claimed:
        return None
    return OutboundEmail.objects.get(pk=email_id)


class AttachmentError(Exception):
    """An attachment could not be read at this attempt (storage outage, failed build): the attempt fails."""


class NoRecipient(Exception):
    """The mail backend sent the message to nobody (``send()`` returned 0: the row's address is empty). Asking again
    gives the same answer: the row is failed at once (:func:`record_failure`)."""


class InvalidRecipient(NoRecipient):
    """The mail backend refuses the row's address itself before any exchange about it (« régis@example.org »: a
    non-ASCII local part cannot be written in an SMTP envelope; see :func:`recipient_address_refused`). Asking again
    gives the same answer: the row is failed at once, like :class:`NoRecipient`, until the address is corrected."""


def recipient_address_refused(address: str) -> str:
    """Why the default mailer refuses ``address`` as a recipient, by its own check (``prep_address`` of Django's SMTP
    backend: malformed, several addresses, non-ASCII local part, domain without an IDNA form), or "" when it accepts
    it or has no such check. Asked only after ``send()`` raised a ``ValueError`` (``UnicodeEncodeError`` is one): the
    error is then the address's only when the address alone is refused, never a connection or configuration fault."""
    try:
        prep_address = getattr(mailers.default, "prep_address", None)
    except Exception:  # the mailer cannot even be built: its configuration is at fault, not the address
        return ""
    if prep_address is None:
        return ""
    try:
        prep_address(address)
    except ValueError as error:
        return str(error)
    return ""


@dataclass(frozen=True)
class MissingAttachment:
    """A file of the row that can never be had: its name, why (for ``last_error``) and whom to ask for it."""

    filename: str
    reason: str
    contact: str = ""


def read_attachments(email: OutboundEmail) -> tuple[list[tuple[str, bytes, str]], list[MissingAttachment]]:
    """The row's attachments as (file name, bytes, MIME type), and those that can never be had
    (``AttachmentUnavailable``: the mail leaves without them). Any other failure raises :class:`AttachmentError`,
    naming the file: the attempt fails and the row is retried, so a mail never leaves without a file it still
    may have."""
    files: list[tuple[str, bytes, str]] = []
    missing: list[MissingAttachment] = []
    for ref in email.attachment_refs:
        try:
            content = mail_attachments.read(ref)
        except AttachmentUnavailable as unavailable:
            logger.error(
                "mail %s to %s: attachment %s unavailable, sent without it (%s)",
                email.code,
                email.to,
                ref.filename,
                unavailable,
            )
            missing.append(MissingAttachment(ref.filename, str(unavailable), unavailable.contact))
            continue
        except Exception as error:
            raise AttachmentError(f"{ref.filename}: {type(error).__name__}: {error}") from error
        files.append((ref.filename, content, ref.mimetype))
    return files, missing


def missing_notice(missing: "Sequence[MissingAttachment]", *, language: str) -> str:
    """The paragraph the delivery adds to a mail whose files could not be attached, in the mail's language: the
    text was written when the mail was queued and may announce them. One sentence per file, with whom to ask for
    it (the provider's ``contact``, else the institution); "" when nothing is missing."""
    with translation.override(language):
        return "\n".join(
            gettext("The file %(filename)s could not be attached to this e-mail. To obtain it, contact %(contact)s.")
            % {"filename": item.filename, "contact": item.contact or settings.INSTITUTION_NAME}
            for item in missing
        )


def with_notice(email: OutboundEmail, notice: str) -> tuple[str, str]:
    """The row's text and HTML bodies with ``notice`` added at their end (escaped in the HTML, before its
    ``</body>`` when it has one); unchanged when ``notice`` is empty."""
    if not notice:
        return email.body, email.html_body
    body = f"{email.body.rstrip()}\n\n{notice}\n"
    html = email.html_body
    if html:
        paragraph = linebreaks(notice, autoescape=True)
        end = html.lower().rfind("</body>")
        html = f"{html[:end]}{paragraph}\n{html[end:]}" if end >= 0 else f"{html.rstrip()}\n{paragraph}\n"
    return body, html


def build_message(
    email: OutboundEmail, files: "Sequence[tuple[str, bytes, str]]" = (), *, notice: str = ""
) -> EmailMultiAlternatives:
    """The message of a row, with its stable ``Message-ID``, the attachments read for this attempt and the
    ``notice`` of those that could not be (:func:`missing_notice`)."""
    body, html = with_notice(email, notice)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id},
    )
    if html:
        message.attach_alternative(html, "text/html")
    for filename, content, mimetype in files:
        message.attach(filename, content, mimetype)
    return message


def deliver(email_id: int) -> str:
    """Make one attempt at sending one outbox row, if it can be claimed (see :func:`claim`).

    Returns ``"sent"``, ``"retry"`` (failed; the sweeper tries again at ``next_attempt_at``), ``"failed"`` (failed
    and past ``OUTBOX_RETRY_HOURS``, or for good: see :func:`record_failure`; given up, the admin can resend it),
    ``"cancelled"`` (failed, and cancelled while it was being sent: :func:`cancel_pending`) or ``"skipped"`` (not
    claimed: a ``CANCELLED`` row never is). Never raises for a mail server error: the row records it. A ``send()``
    that reaches nobody (it returns 0: an empty address) is a failure for good (:class:`NoRecipient`), never "sent";
    so is an address the backend refuses itself (:class:`InvalidRecipient`: « régis@example.org »).

    The attachments are read at each attempt (:func:`read_attachments`): one that cannot be read now fails the
    attempt like an SMTP error; one that can never be had is left out, the mail says so (:func:`missing_notice`),
    the sent row keeps the text as sent and its ``last_error`` names the file and why.
    """
    email = claim(email_id)
    if email is None:
        return "skipped"
    notice = ""
    try:
        files, missing = read_attachments(email)
        notice = missing_notice(missing, language=email.language)
        message = build_message(email, files, notice=notice)
        try:
            accepted = message.send()
        except ValueError as error:
            refusal = recipient_address_refused(email.to)
            if not refusal:
                raise
            raise InvalidRecipient(f"the mail backend refuses the recipient: {refusal}") from error
        if not accepted:
            raise NoRecipient(f"the mail was sent to nobody (recipient {email.to!r})")
    except Exception as exc:  # any error of the mail backend (SMTP, socket, TLS, time limit) is one failed attempt
        return record_failure(email, exc)
    sent: dict[str, object] = {"last_error": ""}
    if missing:
        # The row shows what left: its text with the notice (a sent row is never sent again, so it is added once).
        sent["body"], sent["html_body"] = with_notice(email, notice)
        sent["last_error"] = (
            "Sent without its attachment: " + "; ".join(f"{item.filename} ({item.reason})" for item in missing)
        )[:2000]
    # Unconditional: if the lease expired meanwhile and another sender failed, this success still stands.
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=OutboundEmail.Status.SENT,
        sent_at=timezone.now(),
        lease_until=None,
        **sent,
    )
    logger.info("mail %s sent to %s (attempt %s, %s)", email.code, email.to, email.attempts, email.message_id)
    return "sent"


def recipient_refused_for_good(error: Exception) -> bool:
    """The mail server refused the recipient's address for good: a 5xx to ``RCPT TO`` whose enhanced status
    (RFC 3463) is of class 5.1, the destination address (« 550 5.1.1 No such user », 5.1.2 unknown domain, 5.1.3 bad
    syntax, 5.1.6 moved, 5.1.10 null MX; not 5.1.0, 5.1.7 or 5.1.8, given for our sender). Asking again gives the
    same answer: the address has to be corrected.

    Every other refusal is tried again (a fault delays a mail, never drops it): a 4xx; a 5xx about the server itself
    (authentication, sender refused); a 5xx without an enhanced status (« 550 relay not permitted », Exim's answer
    when the relay does not accept *us*: every mail to another domain failed at once, and stayed failed once the
    relay was fixed); one of class 5.7 (security or policy: « 554 5.7.1 Relay access denied », credentials of
    ``EMAIL_URL`` gone), 5.2 (the mailbox: full, disabled) or 5.5 (the protocol)."""
    if not isinstance(error, smtplib.SMTPRecipientsRefused) or not error.recipients:
        return False
    return all(
        500 <= code <= 599 and _enhanced_status(message) in DESTINATION_ADDRESS_STATUSES
        for code, message in error.recipients.values()
    )


# The statuses of class 5.1 that name the *destination* address (RFC 3463, RFC 7505): 5.1.1 bad mailbox, 5.1.2 bad
# system, 5.1.3 bad syntax, 5.1.6 mailbox moved, 5.1.10 null MX. The others do not say whose address it is, or say it
# is ours, and some relays give them at ``RCPT TO``: 5.1.0 (Postfix's « Sender address rejected: User unknown » when
# ``DEFAULT_FROM_EMAIL`` is no mailbox of the relay), 5.1.7 and 5.1.8 (our sender's syntax or domain). The sender has
# to be corrected, and every mail waits for it instead of failing.
DESTINATION_ADDRESS_STATUSES = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10"})


def _enhanced_status(message: bytes | str) -> str:
    """The enhanced status an SMTP answer's text starts with (RFC 3463: « 5.3.4 »), or ""."""
    text = message.decode("ascii", "replace") if isinstance(message, bytes) else str(message)
    found = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", text)
    return found.group(1) if found else ""


# The enhanced statuses (RFC 3463) of a refusal of the message itself, by the answer that carries it: at ``DATA`` or
# its end, class 5.3 (the mail system: « 552 5.3.4 Message size exceeds fixed limit ») and 5.6 (its content); at
# ``MAIL FROM``, only 5.3.4, the size smtplib announces there when the server takes SIZE (Postfix refuses a message
# too big so, before any recipient), every other refusal there being about our sender (5.1, 5.7).
MESSAGE_REFUSED_FOR_GOOD: tuple[tuple[type[smtplib.SMTPResponseException], tuple[str, ...]], ...] = (
    (smtplib.SMTPDataError, ("5.3.", "5.6.")),
    (smtplib.SMTPSenderRefused, ("5.3.4",)),
)


def message_refused_for_good(error: Exception) -> bool:
    """The mail server refused the message itself for good: a 5xx whose enhanced status says it is too big (« 552
    5.3.4 ») or its content refused (5.6.x), see :data:`MESSAGE_REFUSED_FOR_GOOD`. The same message gets the same
    answer at every attempt: the row fails at once, as for a recipient refused for good, and the central office,
    reading its ``last_error``, can resend it without its attachments (what usually makes it too big) instead of
    waiting ``OUTBOX_RETRY_HOURS`` for it to fail.

    A 4xx, a 5xx without an enhanced status, or one of class 5.7 (security or policy: our sender's DMARC, the relay
    not accepting us, an anti-spam verdict that a corrected configuration changes) is tried again, as are the other
    refusals of our sender and of our authentication (``SMTPAuthenticationError``)."""
    for kind, statuses in MESSAGE_REFUSED_FOR_GOOD:
        if isinstance(error, kind):
            return 500 <= error.smtp_code <= 599 and _enhanced_status(error.smtp_error).startswith(statuses)
    return False


def record_failure(email: OutboundEmail, error: Exception, *, now=None) -> str:
    """Record a failed attempt on a claimed row: back to ``PENDING`` with its next attempt after
    :func:`retry_delay`, or ``FAILED`` when that would fall after ``OUTBOX_RETRY_HOURS`` from its queueing (its
    creation, or the admin's resend), or at once when the server refused the recipient for good
    (:func:`recipient_refused_for_good`: the address is wrong; it is corrected, then the mail resent) or the message
    itself (:func:`message_refused_for_good`: too big; it is resent without its attachments), and when the
    backend sent it to nobody (:class:`NoRecipient`). A row cancelled while it was being sent (:func:`cancel_pending`)
    becomes ``CANCELLED``: it is not tried again (``"cancelled"``)."""
    now = now or timezone.now()
    next_attempt_at = now + retry_delay(email.attempts)
    horizon = (email.resent_at or email.created_at) + timedelta(hours=settings.OUTBOX_RETRY_HOURS)
    refused = recipient_refused_for_good(error)
    message_refused = message_refused_for_good(error)
    nobody = isinstance(error, NoRecipient)
    gives_up = refused or message_refused or nobody or next_attempt_at > horizon
    last_error = f"{type(error).__name__}: {error}"[:2000]
    sending = OutboundEmail.objects.filter(pk=email.pk, status=OutboundEmail.Status.SENDING)
    # One UPDATE on the usual path. Each is atomic on the row: a cancellation that comes before it is seen (the
    # second UPDATE cancels), one that comes after it finds the row PENDING (or FAILED) and cancels it itself.
    recorded = sending.filter(cancelled_at__isnull=True).update(
        status=OutboundEmail.Status.FAILED if gives_up else OutboundEmail.Status.PENDING,
        next_attempt_at=now if gives_up else next_attempt_at,
        lease_until=None,
        last_error=last_error,
    )
    if not recorded and sending.filter(cancelled_at__isnull=False).update(
        status=OutboundEmail.Status.CANCELLED, next_attempt_at=now, lease_until=None, last_error=last_error
    ):
        logger.info("mail %s to %s failed and was cancelled meanwhile: not tried again", email.code, email.to)
        return "cancelled"
    if refused:
        logger.error(
            "mail %s to %s FAILED: the mail server refused this address for good (%s); correct it, then resend the "
            "mail from the admin",
            email.code,
            email.to,
            error,
        )
        return "failed"
    if message_refused:
        logger.error(
            "mail %s to %s FAILED: the mail server refused this message for good (%s); resend it from the admin, "
            "without its attachments when they make it too big",
            email.code,
            email.to,
            error,
        )
        return "failed"
    if nobody:
        logger.error("mail %s FAILED: %s; correct the address, then resend the mail from the admin", email.code, error)
        return "failed"
    if gives_up:
        logger.error(
            "mail %s to %s FAILED after %s attempts: %s (resend it from the admin)",
            email.code,
            email.to,
            email.attempts,
            error,
        )
        return "failed"
    logger.warning(
        "mail %s to %s failed (attempt %s), next attempt at %s: %s",
        email.code,
        email.to,
        email.attempts,
        next_attempt_at.isoformat(timespec="seconds"),
        error,
    )
    return "retry"


def send_pending_mails(*, limit: int | None = None, dry_run: bool = False) -> Counter[str]:
    """The sweeper: send the rows that are due (pending ones whose next attempt has come, "sending" ones whose
    lease expired), oldest due first, at most ``limit`` (default ``OUTBOX_SWEEP_LIMIT``).

    Safe to run anywhere and at the same time as workers and other sweepers: each row is claimed before it is sent.
    Returns counts by outcome (``sent``, ``retry``, ``failed``, ``cancelled``, ``skipped``), or only ``due`` with
    ``dry_run``: every mail due (one COUNT), or at most ``limit`` when one is given. A ``CANCELLED`` row is never due
    (:func:`cancel_pending`).
    """
    counts: Counter[str] = Counter()
    if dry_run:
        # The whole backlog, not the first OUTBOX_SWEEP_LIMIT: a dry run capped at 500 hid 1,200 mails due for hours.
        due = OutboundEmail.objects.due(timezone.now()).order_by()
        counts["due"] = (due if limit is None else due[:limit]).count()
        return counts
    limit = settings.OUTBOX_SWEEP_LIMIT if limit is None else limit
    ids = list(
        OutboundEmail.objects.due(timezone.now())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    deadline = time.monotonic() + SWEEP_TIME_BUDGET_SECONDS
    for email_id in ids:
        if time.monotonic() > deadline:
            counts["left for the next run"] = len(ids) - sum(counts.values())
            break
        counts[deliver(email_id)] += 1
    return counts


def resend_emails(
    *, emails: "Iterable[OutboundEmail]", actor: "AbstractBaseUser", without_attachments: bool = False
) -> list[OutboundEmail]:
    """Put failed mails back in the queue (admin "Renvoyer"): ``PENDING``, due now, a fresh retry horizon, the
    actor and date recorded on the row; the first attempt follows the commit. Rows that are not ``FAILED`` are left
    alone: deliberately also the ``CANCELLED`` ones, whose news no longer holds (:func:`cancel_pending`; a withdrawal
    is irreversible), so a cancelled mail is never resent. Returns the rows resent.

    ``without_attachments``: the way out for a mail whose file can never be read (a letter whose build fails every
    time): its references are dropped, so the mail leaves without them rather than never, and its text says which
    files it could not carry (:func:`missing_notice`). Who decided is on the row (``resent_by``) and, from the admin,
    in its history with the files' names. Set-based: one UPDATE for all the rows (``RESEND_BATCH_SIZE`` rows per
    UPDATE without attachments, each row keeping its own text), whatever their number."""
    ids = [email.pk for email in emails]
    now = timezone.now()
    queued = {"status": OutboundEmail.Status.PENDING, "next_attempt_at": now, "resent_at": now, "resent_by": actor}
    with transaction.atomic():
        resent = list(
            OutboundEmail.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, status=OutboundEmail.Status.FAILED)
            .order_by("pk")
        )
        if not without_attachments:
            OutboundEmail.objects.filter(pk__in=[email.pk for email in resent]).update(**queued)
        else:
            # Each row gets its own text (its files, its language): one UPDATE per batch (``bulk_update``), never one
            # per mail. New instances: ``resent`` keeps the rows as they were (the caller names the files left out).
            changed = []
            for email in resent:
                # The text may announce the files it no longer carries: it says so, as for a file deleted since.
                left_out = [MissingAttachment(name, "resent without it") for name in email.attachment_names]
                body, html = with_notice(email, missing_notice(left_out, language=email.language))
                changed.append(OutboundEmail(pk=email.pk, attachments=[], body=body, html_body=html, **queued))
            OutboundEmail.objects.bulk_update(
                changed, [*queued, "attachments", "body", "html_body"], batch_size=RESEND_BATCH_SIZE
            )
        for email in resent:
            transaction.on_commit(partial(dispatch, email.pk))
    for email in resent:
        logger.info("mail %s to %s resent by %s", email.code, email.to, actor)
    return resent
