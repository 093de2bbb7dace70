"""Applications ("candidatures"), their history and their decisions (ecandidat-features §1.5–1.12, §2.5–2.7).

Three independent axes (house-style §3): the dossier status, the append-only decisions, and the candidate's
answer to a favourable decision (confirmation / withdrawal). State only changes through
``applications.services``; the admin shows these fields read-only.
"""

import datetime
import operator
import uuid
from functools import reduce
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Case, Expression, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import JSONObject
from django.utils.translation import gettext_lazy as _

from applications.enums import (
    ANSWER_LABELS,
    AUTOMATIC_DECISION_AUTHORS,
    DecisionAction,
    DossierStatus,
    EventKind,
    WithdrawalReason,
)
from applications.models.sva import SvaAlert
from ecandidat.staff import scope_of
from offers.enums import Avis, TreatmentType

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


def latest_decision(field: str | Expression, *, validated_only: bool = False) -> Subquery:
    """``field`` (a name, or an expression on the decision) of the application's latest decision (or latest
    validated one), as a subquery on ``pk``: the one definition of "latest" (newest ``created_at``, then ``id``) for
    every annotation."""
    decisions = Decision.objects.filter(application=OuterRef("pk"))
    if validated_only:
        decisions = decisions.validated()
    if isinstance(field, str):
        return Subquery(decisions.newest_first().values(field)[:1])
    return Subquery(decisions.newest_first().annotate(value=field).values("value")[:1])


def decision_author(username: str | None, action: str | None) -> str:
    """Who entered (or validated) a decision: the person's login, else the automatic origin of a decision of
    ``action`` that no person made (« gestion automatique des listes complémentaires »); "" without a decision.
    Pure: the list and the export give the annotated ``created_by__username`` and ``action``."""
    if username:
        return username
    if action not in DecisionAction.values:
        return ""
    return str(AUTOMATIC_DECISION_AUTHORS[DecisionAction(action)])


def answer_label(accepted: bool | None) -> str:
    """The candidate's answer said of the application (« Confirmée », « Désistée »); "" before any answer."""
    return "" if accepted is None else str(ANSWER_LABELS[accepted])


# The Commission flag that shows its members the dossiers of each status (eCandidat tem_comm_visible, per commission;
# ecandidat-features §2.2 and issue #64). Every status has one (applications/tests/test_commission_statuses.py).
COMMISSION_STATUS_FLAGS: dict[str, str] = {
    DossierStatus.WAITING: "shows_waiting",
    DossierStatus.RECEIVED: "shows_received",
    DossierStatus.INCOMPLETE: "shows_incomplete",
    DossierStatus.COMPLETE: "shows_complete",
}


def shown_to_commission() -> Q:
    """Applications whose dossier status their formation's commission shows to its members: one join on the
    commission, in the query itself (no row is read first)."""
    return reduce(
        operator.or_,
        (
            Q(dossier_status=status, **{f"formation__commission__{flag}": True})
            for status, flag in COMMISSION_STATUS_FLAGS.items()
        ),
    )


def _in_scope(queryset: "ApplicationQuerySet", *, wholly: Q, commissions: frozenset[int]) -> Any:
    """The applications ``wholly`` names (a staff scope's ``reads`` or ``manages``: every status), and those of
    ``commissions`` whose status the commission shows its members: the one place commission members' rows are
    scoped."""
    condition = wholly
    if commissions:
        condition |= Q(formation__commission_id__in=sorted(commissions)) & shown_to_commission()
    return queryset.filter(condition)


# The lookups from an application to its centre and commission, for the staff scope's ``reads`` and ``manages``.
_APPLICATION_SCOPE = {"centre": "formation__centre_id", "commission": "formation__commission_id"}


class ApplicationQuerySet(models.QuerySet["Application"]):
    # --- staff scopes (ecandidat.staff): an outsider's lookup finds nothing ---

    def visible_to(self, user: Any) -> "ApplicationQuerySet":
        """Every application the user may read."""
        scope = scope_of(user)
        if scope.is_central:
            return self
        if not scope.is_staff_member:
            return self.none()
        return _in_scope(self, wholly=scope.reads(**_APPLICATION_SCOPE), commissions=scope.commissions)

    def editable_by(self, user: Any) -> "ApplicationQuerySet":
        """Applications whose dossier the user manages: statuses, pieces, decisions, validation, deadlines. Only
        the active campaign's: an archived campaign's applications are read, exported and printed, never changed
        (eCandidat's « Candidatures archivées »)."""
        scope = scope_of(user)
        if scope.is_central:
            return self.of_active_campaign()
        if not scope.is_manager:
            return self.none()
        return _in_scope(
            self, wholly=scope.manages(**_APPLICATION_SCOPE), commissions=frozenset()
        ).of_active_campaign()

    def decidable_by(self, user: Any) -> "ApplicationQuerySet":
        """Applications on which the user may enter (not validate) a decision: managers plus commission members.
        Only the active campaign's, as ``editable_by``."""
        scope = scope_of(user)
        if scope.is_central:
            return self.of_active_campaign()
        return _in_scope(
            self, wholly=scope.manages(**_APPLICATION_SCOPE), commissions=scope.commissions
        ).of_active_campaign()

    def of_active_campaign(self) -> "ApplicationQuerySet":
        return self.filter(campaign__is_active=True)

    def validatable_by(self, user: Any) -> "ApplicationQuerySet":
        """Validating decisions is a separate right (VALID_AVIS): the central office and centre managers."""
        return self.editable_by(user)

    def active(self) -> "ApplicationQuerySet":
        """Not cancelled."""
        return self.filter(cancelled_at__isnull=True)

    def with_current_decision(self) -> "ApplicationQuerySet":
        """Annotate the latest decision (``current_decision_id``, whether validated or not) and the latest
        *validated* one, the only one a candidate may see: ``validated_decision_labels`` (its type's candidate labels,
        ``{"fr": …, "en": …, "staff": …}``: ``shown_decision_label`` picks the page's),
        ``validated_decision_avis`` and ``validated_decision_at``."""
        return self.annotate(
            current_decision_id=latest_decision("pk", validated_only=False),
            validated_decision_labels=latest_decision(
                JSONObject(
                    fr=F("decision_type__candidate_label"),
                    en=F("decision_type__candidate_label_en"),
                    staff=F("decision_type__label"),
                ),
                validated_only=True,
            ),
            validated_decision_avis=latest_decision("decision_type__avis", validated_only=True),
            validated_decision_at=latest_decision("validated_at", validated_only=True),
        )

    def with_validated_details(self) -> "ApplicationQuerySet":
        """``validated_decision_details``: what the candidate's recap shows of the latest validated decision besides
        its label, as one JSON object from one subquery: ``rank`` (the rang saisi), ``reason`` and ``reason_en`` (of
        a refusal, in French and in English: the recap shows the page's), ``comment`` (when its type shows it to the
        candidate), ``preselection_at`` (ISO text), ``preselection_place`` and ``after_appeal``; None without a
        validated decision."""
        shown_comment = Case(
            When(decision_type__show_comment=True, then=F("comment")),
            default=Value(""),
            output_field=models.TextField(),
        )
        details = JSONObject(
            rank=F("rank"),
            reason=F("refusal_reason__label"),
            reason_en=F("refusal_reason__label_en"),
            comment=shown_comment,
            preselection_at=F("preselection_at"),
            preselection_place=F("preselection_place"),
            after_appeal=F("after_appeal"),
        )
        return self.annotate(validated_decision_details=latest_decision(details, validated_only=True))

    def with_sva_alert(self, alert: SvaAlert) -> "ApplicationQuerySet":
        """The SVA alert of each row (``applications.models.sva``), computed in this query from ``alert``'s levels:
        ``sva_since`` (the reference date), ``sva_threshold`` (the days of the highest level reached) and
        ``sva_colour`` (that level's colour); both None when no level is reached, when the application has a
        validated decision or, with ``alert.final_only``, when its latest validated decision is final."""
        aliases: dict[str, Subquery] = {}
        if alert.final_only:
            aliases["sva_final"] = latest_decision("decision_type__is_final", validated_only=True)
            exempt = Q(sva_final=True)
        elif "validated_decision_at" in self.query.annotations:  # with_current_decision() has it: no 2nd subquery
            exempt = Q(validated_decision_at__isnull=False)
        else:
            aliases["sva_validated_at"] = latest_decision("validated_at", validated_only=True)
            exempt = Q(sva_validated_at__isnull=False)

        # Most days first: the first level reached is the highest; an exempt row reaches none.
        reached = [(alert.reached(days), days, colour) for days, colour in alert.levels]
        no_threshold = Value(None, output_field=models.PositiveSmallIntegerField())
        no_colour = Value(None, output_field=models.CharField())
        return self.alias(**aliases).annotate(
            sva_since=F(alert.field),
            sva_threshold=Case(
                When(exempt, then=no_threshold),
                *(When(condition, then=Value(days)) for condition, days, _colour in reached),
                default=no_threshold,
                output_field=models.PositiveSmallIntegerField(),
            ),
            sva_colour=Case(
                When(exempt, then=no_colour),
                *(When(condition, then=Value(colour)) for condition, _days, colour in reached),
                default=no_colour,
                output_field=models.CharField(),
            ),
        )

    def with_list_data(self) -> "ApplicationQuerySet":
        """What the candidate's list and recap show: formation, centre, commission, candidate and decisions."""
        return self.select_related(
            "formation__centre", "formation__commission", "candidate__user"
        ).with_current_decision()

    def for_candidate_user(self, user: "AbstractBaseUser | AnonymousUser") -> "ApplicationQuerySet":
        """The applications of this candidate account; empty for anonymous users."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(candidate__user_id=user.pk)


class Application(models.Model):
    """One candidate's application to one formation."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    candidate = models.ForeignKey(
        "applications.Candidate", verbose_name=_("candidate"), on_delete=models.PROTECT, related_name="applications"
    )
    formation = models.ForeignKey(
        "offers.Formation", verbose_name=_("formation"), on_delete=models.PROTECT, related_name="applications"
    )
    campaign = models.ForeignKey(
        "offers.Campaign", verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="applications"
    )
    dossier_status = models.CharField(
        _("dossier status"), max_length=2, choices=DossierStatus, default=DossierStatus.WAITING
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    transmitted_at = models.DateTimeField(_("transmitted at"), null=True, blank=True)  # dat_trans_dossier_cand
    received_on = models.DateField(_("received on"), null=True, blank=True)  # dat_recept_dossier_cand
    complete_on = models.DateField(_("complete on"), null=True, blank=True)
    incomplete_on = models.DateField(_("incomplete on"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cancelled by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Per-application extensions (dat_new_retour_cand, dat_new_confirm_cand), set by staff or by waiting-list
    # promotion; the effective dates are computed in applications.dates.
    return_deadline_override = models.DateField(_("extended return deadline"), null=True, blank=True)
    confirmation_date_override = models.DateField(_("specific confirmation date"), null=True, blank=True)
    # The night the campaign's archiving (nightly archive_campaigns) froze the formation's dates into the two fields
    # above: from then on they are the application's dates as they are, whatever its formation says for a new year.
    dates_frozen_on = models.DateField(_("dates frozen on"), null=True, blank=True, editable=False)
    # tem_accept_cand: None = no answer yet, True = confirmed, False = withdrawn.
    accepted = models.BooleanField(_("confirmed"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Why the candidate withdrew (a WithdrawalReason code), when they or staff on their behalf gave one.
    withdrawal_reason = models.CharField(
        _("reason for withdrawal"), max_length=3, choices=WithdrawalReason, blank=True
    )
    # Copied from the formation at creation; staff may change it per application (with a reason in the history).
    treatment_type = models.CharField(
        _("processing type"), max_length=2, choices=TreatmentType, default=TreatmentType.CONTROLLED
    )
    # Régime d'inscription and situation des droits (eCandidat GEST_REGIME, GEST_MONTANT; cod_rgi, cod_cat_exo_ext,
    # cmt_cat_exo_ext_cand, mnt_charge_cand), set by staff when SIS_REGIME_ENTRY is on (services.registration) and
    # sent in the Apogée OPI (codRge, codCatExoExt, comExoExt). The keys are the codes (to_field): the OPI and the
    # exports read them without a join.
    regime = models.ForeignKey(
        "applications.ReferenceRegime",
        verbose_name=_("registration regime"),
        to_field="code",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    fee_exemption = models.ForeignKey(
        "applications.ReferenceFeeExemption",
        verbose_name=_("fee exemption category"),
        to_field="code",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    fee_exemption_comment = models.CharField(_("fee exemption complement"), max_length=15, blank=True)
    fee_amount = models.DecimalField(
        _("amount payable (euros)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    favourable_reminder_sent_at = models.DateTimeField(_("confirmation reminder sent at"), null=True, blank=True)
    waiting_list_rank = models.PositiveIntegerField(_("actual rank on the complementary list"), null=True, blank=True)
    # When the rank last changed, and the rank the candidate was last told (the nightly batch mails a progress).
    waiting_list_rank_at = models.DateTimeField(_("rank date"), null=True, blank=True)
    waiting_list_rank_mailed = models.PositiveIntegerField(_("rank last mailed"), null=True, blank=True)

    objects = ApplicationQuerySet.as_manager()

    # Set only on rows read through ApplicationQuerySet.with_current_decision(); annotations here tell the type
    # checker about them and create nothing (no field, no attribute).
    current_decision_id: int | None
    validated_decision_labels: dict[str, str] | None
    validated_decision_avis: str | None
    validated_decision_at: datetime.datetime | None
    validated_decision_details: dict[str, Any] | None  # with_validated_details(), for the recap
    sva_since: datetime.date | datetime.datetime | None  # with_sva_alert()
    sva_threshold: int | None
    sva_colour: str | None

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "formation"],
                condition=Q(cancelled_at__isnull=True),
                name="application_once_per_formation",
                violation_error_message=_("You have already applied to this formation."),
            ),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True) | Q(dossier_status=DossierStatus.WAITING),
                name="application_cancelled_only_while_waiting",
            ),
            models.CheckConstraint(
                condition=Q(accepted__isnull=True, answered_at__isnull=True)
                | Q(accepted__isnull=False, answered_at__isnull=False),
                name="application_answer_has_date",
            ),
            models.CheckConstraint(
                condition=Q(fee_amount__isnull=True) | Q(fee_amount__gte=0),
                name="application_fee_amount_not_negative",
                violation_error_message=_("The amount cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(fee_exemption__isnull=False) | Q(fee_exemption_comment=""),
                name="application_fee_complement_needs_category",
                violation_error_message=_("A complement needs a fee exemption category."),
            ),
        ]
        indexes = [
            models.Index(fields=["formation", "dossier_status"], name="application_formation_status"),
            models.Index(fields=["campaign", "dossier_status"], name="application_campaign_status"),
            models.Index(
                fields=["formation"],
                condition=Q(accepted__isnull=True, cancelled_at__isnull=True),
                name="application_unanswered",
            ),
        ]

    def __str__(self):
        return f"{self.candidate_id} → {self.formation_id}"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def has_validated_favourable_decision(self) -> bool:
        """From ``with_current_decision()``: the latest validated decision is favourable."""
        return getattr(self, "validated_decision_avis", None) == Avis.FAVOURABLE

    @property
    def favourable_validated_at(self) -> datetime.datetime | None:
        """From ``with_current_decision()``: when the latest validated decision was validated, if it is favourable
        (what the date de confirmation counts from); None otherwise. A favourable decision followed by a validated
        unfavourable one gives None: there is nothing to confirm."""
        return self.validated_decision_at if self.has_validated_favourable_decision else None


class ApplicationEvent(models.Model):
    """History: every change of an application, with its actor (None and ``batch`` set for nightly commands)."""

    application = models.ForeignKey(
        Application, verbose_name=_("application"), on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    batch = models.CharField(_("batch"), max_length=60, blank=True)
    kind = models.CharField(_("event"), max_length=40, choices=EventKind)
    from_status = models.CharField(_("from"), max_length=2, blank=True)
    to_status = models.CharField(_("to"), max_length=2, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("date"), auto_now_add=True)

    class Meta:
        verbose_name = _("application event")
        verbose_name_plural = _("application events")
        ordering = ["created_at", "id"]
        # The back-office home's "latest actions" of one member of staff (applications.admin.home).
        indexes = [models.Index(fields=["actor", "-created_at"], name="application_event_actor_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(actor__isnull=False) | ~Q(batch=""), name="application_event_has_actor_or_batch"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.from_status}→{self.to_status}"


class DecisionQuerySet(models.QuerySet["Decision"]):
    def validated(self) -> "DecisionQuerySet":
        return self.filter(validated_at__isnull=False)

    def newest_first(self) -> "DecisionQuerySet":
        """The order that defines "the latest decision": newest ``created_at``, then ``id``."""
        return self.order_by("-created_at", "-id")

    def current(self) -> "Decision | None":
        """The latest decision, validated or not (what staff work on)."""
        return self.newest_first().first()

    def current_validated(self) -> "Decision | None":
        """The latest validated decision (the only one a candidate sees)."""
        return self.validated().newest_first().first()


class Decision(models.Model):
    """An avis on an application. Append-only: a new decision is a new row; the latest row is the current one,
    and the candidate only ever sees validated rows."""

    application = models.ForeignKey(
        Application, verbose_name=_("application"), on_delete=models.CASCADE, related_name="decisions"
    )
    decision_type = models.ForeignKey(
        "offers.DecisionType", verbose_name=_("decision"), on_delete=models.PROTECT, related_name="+"
    )
    refusal_reason = models.ForeignKey(
        "offers.RefusalReason",
        verbose_name=_("reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    comment = models.TextField(_("comment"), max_length=1000, blank=True)
    rank = models.PositiveIntegerField(_("rank"), null=True, blank=True)
    preselection_at = models.DateTimeField(_("preselection date and time"), null=True, blank=True)
    preselection_place = models.CharField(_("preselection place"), max_length=255, blank=True)
    # eCandidat "Appel" (SCOL_IS_APPEL): the commission decided again after the candidate appealed.
    after_appeal = models.BooleanField(_("after an appeal"), default=False)
    action = models.CharField(_("action"), max_length=1, choices=DecisionAction, default=DecisionAction.ENTERED)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    validated_at = models.DateTimeField(_("validated at"), null=True, blank=True)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("validated by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = DecisionQuerySet.as_manager()

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        ordering = ["created_at", "id"]
        get_latest_by = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(validated_at__isnull=True, validated_by__isnull=True) | Q(validated_at__isnull=False),
                name="decision_validator_has_date",
            )
        ]

    def __str__(self):
        return str(self.decision_type_id)

    @property
    def entered_by_label(self) -> str:
        """Who entered it: a login, or its automatic origin (``decision_author``). Reads ``created_by``: select it."""
        author = self.created_by  # None without a query when nobody entered it
        return decision_author(author.get_username() if author is not None else None, self.action)

    @property
    def validated_by_label(self) -> str:
        """Who validated it ("" while it is not): a login, or the automatic origin of a decision validated as it was
        created (a promotion from the waiting list). Reads ``validated_by``: select it."""
        if self.validated_at is None:
            return ""
        validator = self.validated_by
        return decision_author(validator.get_username() if validator is not None else None, self.action)


class FormAnswer(models.Model):
    """The latest LimeSurvey answer to a complementary form, per candidate or per application (nightly sync).

    The form is protected, as pieces and questions are: deleting it deleted every answer imported, the archived
    campaigns' too, which the nightly import never brings back. A form is retired by putting it out of service."""

    form = models.ForeignKey(
        "offers.ComplementaryForm", verbose_name=_("form"), on_delete=models.PROTECT, related_name="answers"
    )
    candidate = models.ForeignKey(
        "applications.Candidate", verbose_name=_("candidate"), on_delete=models.CASCADE, related_name="form_answers"
    )
    application = models.ForeignKey(
        Application,
        verbose_name=_("application"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="form_answers",
    )
    not_concerned = models.BooleanField(_("not concerned"), default=False)
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    synchronised_at = models.DateTimeField(_("synchronised at"), null=True, blank=True)

    class Meta:
        verbose_name = _("form answer")
        verbose_name_plural = _("form answers")
        constraints = [
            models.UniqueConstraint(
                fields=["form", "candidate"],
                condition=Q(application__isnull=True),
                name="form_answer_once_per_candidate",
            ),
            models.UniqueConstraint(
                fields=["form", "application"],
                condition=Q(application__isnull=False),
                name="form_answer_once_per_application",
            ),
        ]

    def __str__(self):
        return f"{self.form_id}/{self.candidate_id}"
