"""Cross-cutting models: the e-mail outbox, the mail templates edited in the back office, the maintenance switch,
the site parameters changed in the back office and their history."""

import uuid
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ecandidat import notifications
from ecandidat.attachments import AttachmentRef
from ecandidat.batch_labels import batch_label
from ecandidat.mail_templates import TemplateSyntaxProblem, always_printed, check_source
from ecandidat.notifications import Notification
from ecandidat.text import logged_name

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class OutboundEmailQuerySet(models.QuerySet["OutboundEmail"]):
    def pending(self) -> Self:
        return self.filter(status=OutboundEmail.Status.PENDING)

    def due(self, now: datetime) -> Self:
        """Rows the sweeper must (re)send now: pending ones whose next attempt is due, and "sending" ones whose
        lease expired (the process that claimed them died)."""
        return self.filter(
            models.Q(status=OutboundEmail.Status.PENDING, next_attempt_at__lte=now)
            | models.Q(status=OutboundEmail.Status.SENDING, lease_until__lt=now)
        )

    def claimable(self, now: datetime) -> Self:
        """Rows a sender may claim: :meth:`due` ones, plus a fresh row's first attempt (right after the commit),
        except the :meth:`abandoned` ones. Never a ``CANCELLED`` one (nor ``SENT``, ``FAILED``)."""
        return self.filter(
            models.Q(status=OutboundEmail.Status.PENDING) & (models.Q(attempts=0) | models.Q(next_attempt_at__lte=now))
            | models.Q(status=OutboundEmail.Status.SENDING, lease_until__lt=now, cancelled_at__isnull=True)
            & ~_retry_horizon_passed(now)
        )

    def abandoned(self, now: datetime) -> Self:
        """ "Sending" rows whose lease expired after ``OUTBOX_RETRY_HOURS`` from their queueing (their creation, or
        the admin's resend): their sender died at every attempt (a hard time limit, out of memory while building a
        big letter), so ``record_failure`` never gave them up. The sender gives them up instead of claiming them.
        Also those whose cancellation was asked while they were being sent (``cancelled_at`` set: their sender died
        before it could record anything; ``ecandidat.emails.cancel_pending``): they are cancelled, not sent again."""
        expired = models.Q(status=OutboundEmail.Status.SENDING, lease_until__lt=now)
        return self.filter(expired & (_retry_horizon_passed(now) | models.Q(cancelled_at__isnull=False)))


def _retry_horizon_passed(now: datetime) -> models.Q:
    """``OUTBOX_RETRY_HOURS`` have passed since the row was queued (created, or resent by the admin)."""
    queued_before = now - timedelta(hours=settings.OUTBOX_RETRY_HOURS)
    return models.Q(resent_at__lt=queued_before) | models.Q(resent_at__isnull=True, created_at__lt=queued_before)


class OutboundEmail(models.Model):
    """One e-mail, written in the same transaction as the action that causes it, then sent by a worker.

    The row is the source of truth: a sender claims it (``SENDING`` with a lease), talks to the SMTP server without
    holding a lock, then records the result. Failed attempts come back with an exponential back-off until
    ``OUTBOX_RETRY_HOURS`` have passed, then the row is ``FAILED`` (the admin can resend it). The row is also the
    proof that a mail was sent ("I never received the decision"), and what the demonstration mailbox lists when no
    SMTP server is configured.

    A row not sent yet whose news no longer holds (a decision mail of an application its candidate has withdrawn
    since) is ``CANCELLED``, with the date and the reason: it is never sent, nor resent. Its ``topic`` says what it
    announces (``ecandidat.emails.cancel_pending``).
    """

    class Status(models.TextChoices):
        PENDING = "PENDING", _("pending")
        SENDING = "SENDING", _("sending")
        SENT = "SENT", _("sent")
        FAILED = "FAILED", _("failed")
        CANCELLED = "CANCELLED", pgettext_lazy("outbox status", "cancelled")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField(_("code"), max_length=60, help_text=_("The eCandidat mail code, e.g. CPT_MIN_CREATE."))
    language = models.CharField(_("language"), max_length=8)
    to = models.EmailField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("body"))
    html_body = models.TextField(_("HTML body"), blank=True)
    # References, never the files: each attempt reads them through their provider (ecandidat.attachments).
    attachments = models.JSONField(
        _("attachments"),
        default=list,
        blank=True,
        help_text=_("The files attached to the mail, read when it is sent (provider, id, file name, MIME type)."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        _("next attempt at"),
        default=timezone.now,
        help_text=_("When the sweeper sends (or sends again) a pending mail."),
    )
    lease_until = models.DateTimeField(
        _("lease until"),
        null=True,
        blank=True,
        help_text=_("A mail being sent belongs to its sender until then; after it, the sweeper sends it again."),
    )
    resent_at = models.DateTimeField(_("resent at"), null=True, blank=True)
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resent by"),
    )
    # The candidate account the mail is about, whoever it went to (the candidate, a centre's copy, a commission's
    # alert naming them): the full deletion (CNIL) and the destruction of a past campaign
    # (``destroy_archived_campaigns``) and the purge of unvalidated accounts delete those mails with the account
    # (``accounts.services.delete_mails_of_accounts``); the account mails get it by default
    # (``enqueue_notification_with``).
    about = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("about the account"),
    )
    # What the mail announces, when its news can stop holding before it leaves: ``decision:<application id>`` for
    # a decision mail and its centre copies (``applications.notifications``). "" for every other mail.
    topic = models.CharField(
        _("topic"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("What the mail announces: it is cancelled if that no longer holds before it is sent."),
    )
    cancelled_at = models.DateTimeField(pgettext_lazy("outbox", "cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(
        _("reason for the cancellation"),
        max_length=255,
        blank=True,
        help_text=_("Why the mail was not sent: what it announced no longer held."),
    )

    objects = OutboundEmailQuerySet.as_manager()

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["to"], name="outbox_to_idx"),
            # The address compared without case (``to__iexact``, i.e. UPPER("to") = UPPER(%s)): the nightly purge of
            # unvalidated accounts asks, for each, whether its validation link was mailed; without this index
            # PostgreSQL scanned the whole outbox once per account (3,000 accounts, 120,000 mails: over 10 minutes).
            models.Index(Upper("to"), name="outbox_to_upper_idx"),
            # The sweeper's scan, every minute: only the rows still to send are indexed.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["PENDING", "SENDING"]),
                name="outbox_to_send_idx",
            ),
            # ``cancel_pending``'s look-up, inside the withdrawal's transaction: only the mails with a topic.
            models.Index(fields=["topic"], condition=~models.Q(topic=""), name="outbox_topic_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="SENT", sent_at__isnull=False) | ~models.Q(status="SENT"),
                name="outbox_sent_has_date",
            ),
            models.CheckConstraint(
                condition=models.Q(status="SENDING", lease_until__isnull=False) | ~models.Q(status="SENDING"),
                name="outbox_sending_has_lease",
            ),
        ]

    def __str__(self):
        return f"{self.code} → {self.to}"

    @property
    def attachment_refs(self) -> list[AttachmentRef]:
        return [AttachmentRef.from_json(value) for value in self.attachments or ()]

    @property
    def attachment_names(self) -> list[str]:
        return [ref.filename for ref in self.attachment_refs]

    @property
    def message_id(self) -> str:
        """The ``Message-ID`` header, the same at every attempt: a duplicate after a crash is recognisable. Its
        domain is the sender's, its display name aside (« Scolarité <np@univ.fr> ») and in ASCII (IDNA, as Django
        writes the sender's): « <…@université.fr> » could not be encoded and every mail failed until it gave up."""
        address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        try:
            domain = address.rpartition("@")[2].encode("idna").decode("ascii")
        except UnicodeError:
            domain = ""
        return f"<{self.public_id}@{domain or 'ecandidat.localhost'}>"


class MaintenanceSwitch(models.Model):
    """The manual maintenance switches of the back office (one row), read through ``ecandidat.maintenance``:

    - the whole candidate site (the daily window applies besides it);
    - the piece uploads only (eCandidat ``TECH_IS_DEMAT_MAINTENANCE``: the file storage is down): candidates still
      log in, read and fill their dossier, but cannot add, replace or remove a file.
    """

    is_on = models.BooleanField(_("maintenance on"), default=False)
    message = models.TextField(
        _("message"), blank=True, help_text=_("Shown to candidates instead of the default maintenance message.")
    )
    uploads_paused = models.BooleanField(
        _("piece uploads in maintenance"),
        default=False,
        help_text=_(
            "Candidates keep access to their dossier but cannot add, replace or remove a file (the file storage is "
            "down). Staff uploads are not affected."
        ),
    )
    uploads_message = models.TextField(
        _("message about the piece uploads"),
        blank=True,
        help_text=_("Shown to candidates above their supporting documents, and with every refused upload."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("maintenance switch")
        verbose_name_plural = _("maintenance switch")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="maintenance_switch_singleton")]

    def __str__(self):
        return str(_("on") if self.is_on else _("off"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> "MaintenanceSwitch":
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class HomeMessage(models.Model):
    """eCandidat MSG_ACCUEIL: the central office's message on the home page (one row), in French and in English.
    Read through ``ecandidat.home_message`` (cached), written through its ``set_home_message``."""

    text_fr = models.TextField(_("message in French"), max_length=2000, blank=True)
    text_en = models.TextField(
        _("message in English"), max_length=2000, blank=True, help_text=_("Empty: the French message is shown.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("home page message")
        verbose_name_plural = _("home page message")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="home_message_singleton")]

    def __str__(self):
        return self.text_fr[:60] or str(_("(no message)"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)


class FaqEntryQuerySet(models.QuerySet["FaqEntry"]):
    def in_service(self) -> "FaqEntryQuerySet":
        return self.filter(in_service=True)


class FaqEntry(models.Model):
    """One question of the "Assistance" page's FAQ (eCandidat "FAQ": ordered, translatable question/answer pairs),
    written by the central office. Plain text. Read through ``ecandidat.faq`` (cached), written through its
    ``save_faq_entry`` / ``delete_faq_entries``.

    English is optional and comes as a pair: a question and its answer, or neither (the French pair is shown)."""

    order = models.PositiveSmallIntegerField(_("order"), default=0, help_text=_("Smaller numbers come first."))
    question_fr = models.CharField(_("question in French"), max_length=300)
    answer_fr = models.TextField(_("answer in French"), max_length=5000)
    question_en = models.CharField(_("question in English"), max_length=300, blank=True)
    answer_en = models.TextField(
        _("answer in English"),
        max_length=5000,
        blank=True,
        help_text=_("Give both the English question and its answer, or neither: the French ones are then shown."),
    )
    in_service = models.BooleanField(_("in service"), default=True, help_text=_("Untick to hide it from the page."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = FaqEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(question_en="", answer_en="")
                | (~models.Q(question_en="") & ~models.Q(answer_en="")),
                name="faq_entry_english_pair",
                violation_error_message=_("Give both the English question and its answer, or neither."),
            )
        ]

    def __str__(self):
        return logged_name(self.question_fr)  # up to 300 characters: Django's history keeps 200


class StaffDirectoryChange(models.Model):
    """What the staff directory changed on a staff account (eCandidat BATCH_MAJ_GESTIONNAIRE): names or address
    refreshed, or the account deactivated. Append-only history, written by ``accounts.directory_refresh`` with the
    batch as actor; read-only in the back office. Lives here, beside the batch history, because it is a record of
    what a batch did; it names the account through the configured user model."""

    class Kind(models.TextChoices):
        REFRESHED = "refreshed", _("refreshed from the directory")
        DEACTIVATED = "deactivated", _("deactivated by the directory")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("account"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("change made"), max_length=12, choices=Kind)
    changes = models.JSONField(_("values changed"), default=dict, blank=True, help_text=_("field: [before, after]"))
    comment = models.CharField(_("comment"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("made by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    batch = models.CharField(_("batch"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("made at"), auto_now_add=True)

    class Meta:
        verbose_name = _("staff directory change")
        verbose_name_plural = _("staff directory changes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor__isnull=False) | ~models.Q(batch=""),
                name="staff_directory_change_has_actor_or_batch",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class BatchRun(models.Model):
    """One run of a nightly command (eCandidat ``batch_histo``)."""

    class Status(models.TextChoices):
        RUNNING = "RUNNING", _("running")
        FINISH = "FINISH", _("finished")
        ERROR = "ERROR", _("error")
        INTERRUPT = "INTERRUPT", _("interrupted")

    name = models.CharField(_("batch"), max_length=60)
    status = models.CharField(_("status"), max_length=9, choices=Status, default=Status.RUNNING)
    dry_run = models.BooleanField(_("dry run"), default=False)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Renewed every BATCH_HEARTBEAT_SECONDS while the run works (ecandidat.batches.Heartbeat).
    heartbeat_at = models.DateTimeField(_("last sign of life"), default=timezone.now)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    errors = models.TextField(_("errors"), blank=True)

    class Meta:
        # A name Django can put in its sentences (« Supprimer les lancements de batch sélectionnés », « Sélectionner
        # tous les 120 lancements de batch »: a masculine noun, as Django's French agrees with one); the menu and the
        # list keep the title the staff know, « Historique des batchs » (BatchRunAdmin.list_title). The context
        # keeps the English words while giving the French new ones.
        verbose_name = pgettext_lazy("model name", "batch run")
        verbose_name_plural = pgettext_lazy("model name", "batch runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            # At most one real run of a batch at a time: the database refuses a second RUNNING row.
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(status="RUNNING", dry_run=False), name="batch_single_running"
            )
        ]

    def __str__(self):
        # The change page's title: the batch's label and when it started, in local time (it read
        # « transfer_opi 2026-12-02 17:43 FINISH », in UTC and in English).
        started = timezone.localtime(self.started_at) if self.started_at else None
        return f"{batch_label(self.name)} {started:%d/%m/%Y %H:%M}" if started else batch_label(self.name)


class DestroyedCampaignCount(models.Model):
    """What remains of a destroyed campaign: anonymous counts, for statistics across years."""

    campaign_code = models.CharField(_("campaign"), max_length=20, unique=True)
    accounts = models.PositiveIntegerField(_("accounts"))
    applications = models.PositiveIntegerField(_("applications"))
    documents = models.PositiveIntegerField(_("documents"))
    # Set when the campaign's last account is gone (applications.services.nightly.destroy_archived_campaigns); empty
    # while a destruction is under way (interrupted, limited to a number of accounts a night, or accounts kept for
    # their OPI work): the count is written when it begins, the date only when it is true.
    destroyed_at = models.DateTimeField(_("destroyed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("destroyed campaign")
        verbose_name_plural = _("destroyed campaigns")

    def __str__(self):
        return self.campaign_code


class MailTemplate(models.Model):
    """The central office's own text for one mail code in one language, instead of the template files
    (eCandidat "Mails", ecandidat-features §2.10). See ``ecandidat.mail_templates`` for the syntax, and the
    notification each app registers (``ecandidat.notifications``) for the variables of each code.

    ``in_service`` keeps eCandidat's meaning: a mail out of service is not sent at all, in this language. Deleting
    the row goes back to the file version. Account mails (validation, password reset) cannot be switched off.
    """

    class Language(models.TextChoices):
        FRENCH = "fr", _("French")
        ENGLISH = "en", _("English")

    code = models.CharField(_("mail"), max_length=60, help_text=_("The eCandidat mail code, e.g. STATUT_IN."))
    language = models.CharField(_("language"), max_length=8, choices=Language, default=Language.FRENCH)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(
        _("body"),
        help_text=_(
            "Plain text. ${name} inserts a variable; {if($name)}…{endif($name)} keeps a passage only when the "
            "variable is set, {if(!$name)}…{endif(!$name)} only when it is not. An HTML version is made from it."
        ),
    )
    in_service = models.BooleanField(
        _("in service"),
        default=True,
        help_text=_("Untick to stop sending this mail in this language. Account mails cannot be switched off."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("mail template")
        verbose_name_plural = _("mail templates")
        ordering = ["code", "language"]
        constraints = [
            models.UniqueConstraint(fields=["code", "language"], name="mail_template_unique_code_language"),
            models.CheckConstraint(
                condition=models.Q(in_service=True) | ~models.Q(code__in=notifications.ALWAYS_ON_CODES),
                name="mail_template_account_mails_in_service",
                violation_error_message=_("Account mails cannot be switched off."),
            ),
        ]

    def __str__(self):
        return f"{self.code} ({self.language})"

    @property
    def mail_type(self) -> Notification | None:
        return notifications.get(self.code)

    def clean(self):
        mail_type = self.mail_type
        if mail_type is None:
            # Not keyed on "code": on the change page the code is read-only, not a field of the form.
            raise ValidationError(
                _(
                    "This mail is no longer sent by the application: its text cannot be edited, only deleted (this "
                    "mail code is not registered any more)."
                )
            )
        errors: dict[str, StrOrPromise] = {}
        if mail_type.protected and not self.in_service:
            errors["in_service"] = _(
                "This mail lets people into their account (validation or password link): it cannot be switched off."
            )
        for field in ("subject", "body"):
            try:
                check_source(getattr(self, field) or "", mail_type)
            except TemplateSyntaxProblem as exc:
                errors[field] = str(exc)
        # A required variable only inside a block {if(…)}…{endif(…)} would reach some recipients only: it must be
        # printed whatever the values.
        body = self.body or ""
        printed = always_printed(body) if "body" not in errors else set()
        missing = [name for name in mail_type.required if name not in printed]
        if missing and "body" not in errors:
            names = ", ".join(f"${{{name}}}" for name in missing)
            if all(f"${{{name}}}" in body.replace(" ", "") for name in missing):
                errors["body"] = _(
                    "The body must give %(names)s to every recipient: here some recipients do not get it, because "
                    "of the blocks {if(…)}…{endif(…)} around it."
                ) % {"names": names}
            else:
                errors["body"] = _("The body must contain %(names)s: without it, this mail is useless.") % {
                    "names": names
                }
        if errors:
            raise ValidationError(errors)


class ParameterOverride(models.Model):
    """A behavioural parameter the central office changed in the back office ("Paramètres", eCandidat "Paramétrage",
    ecandidat-features §2.11): only the changed ones have a row; the others keep the environment's value (the Django
    setting of the same name). Read through ``ecandidat.parameters.get`` (kept in memory a few seconds), written
    through its ``set_parameters``, which also writes the history (``ParameterChange``)."""

    name = models.CharField(
        _("parameter"), max_length=60, unique=True, help_text=_("The Django setting it overrides, e.g. MAX_WISHES.")
    )
    value = models.JSONField(_("value"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("parameter")
        verbose_name_plural = _("parameters")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ParameterChange(models.Model):
    """One change of a parameter in the back office, append-only: who, when, the value before and after (each the
    effective value: the environment's when there was no override). ``restored_default``: the change put the
    parameter back to the environment's value (its override row was removed)."""

    name = models.CharField(_("parameter"), max_length=60)
    old_value = models.JSONField(_("old value"))
    new_value = models.JSONField(_("new value"))
    restored_default = models.BooleanField(_("default value restored"), default=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("parameter change")
        verbose_name_plural = _("parameter changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.name} {self.changed_at:%Y-%m-%d %H:%M}"
