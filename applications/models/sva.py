"""SVA alerts ("silence vaut acceptation" deadline tracking, ecandidat-features §2.3; eCandidat ``AlertSva``).

The central office defines alert levels, each a number of days and a colour. One reference date is chosen for the
whole site (setting ``SVA_ALERT_DATE``, eCandidat ``SVA_ALERT_DAT``); an application without a validated decision
whose reference date is at least a level's days old is "in alert" at the highest such level. With
``SVA_ALERT_FINAL_ONLY`` (eCandidat ``SVA_ALERT_DEFINITIF``) only a validated decision whose type is final
(``DecisionType.is_final``, eCandidat's "définitif") ends the alert.

The computation is SQL (``ApplicationQuerySet.with_sva_alert``), over the levels read once (``SvaAlert``): the
list's number of queries does not depend on its rows or on the number of levels.
"""

import datetime
from dataclasses import dataclass

from django.apps import apps
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from applications.enums import SvaColour, SvaReferenceDate
from ecandidat import parameters

# The Application field holding each reference date. Every eCandidat code has one:
# - CRE: the creation of the application (eCandidat dat_cre_cand);
# - ANN: its cancellation by the candidate (dat_annul_cand), so only cancelled applications can be in alert;
# - ACC: the candidate's answer to a favourable decision (dat_accept_cand, stamped on a confirmation as on a
#   withdrawal, here ``answered_at``);
# - TRANS: the transmission of the dossier; REC, COM, INC: the dates staff set with the dossier statuses.
REFERENCE_FIELDS: dict[str, str] = {
    SvaReferenceDate.CREATED: "created_at",
    SvaReferenceDate.CANCELLED: "cancelled_at",
    SvaReferenceDate.ACCEPTED: "answered_at",
    SvaReferenceDate.TRANSMITTED: "transmitted_at",
    SvaReferenceDate.RECEIVED: "received_on",
    SvaReferenceDate.COMPLETE: "complete_on",
    SvaReferenceDate.INCOMPLETE: "incomplete_on",
}


@dataclass(frozen=True)
class SvaAlert:
    """The SVA rule in force for one page: the reference date, the final-only switch, the levels as
    ``(days, colour)`` with the most days first, and the day the ages are counted to (local date)."""

    reference: str
    final_only: bool
    levels: tuple[tuple[int, str], ...]
    today: datetime.date

    @property
    def field(self) -> str:
        """The Application field of the reference date."""
        return REFERENCE_FIELDS[self.reference]

    def reached(self, days: int) -> Q:
        """Applications whose reference date is ``days`` days old or more, counted in local calendar days (a
        date-time stamped at 23:59 is one day old at 00:00). No reference date: never reached."""
        field = apps.get_model("applications", "Application")._meta.get_field(self.field)
        last_day = self.today - datetime.timedelta(days=days)
        if isinstance(field, models.DateTimeField):
            next_midnight = datetime.datetime.combine(last_day + datetime.timedelta(days=1), datetime.time.min)
            return Q(**{f"{self.field}__lt": timezone.make_aware(next_midnight)})
        return Q(**{f"{self.field}__lte": last_day})


def age_in_days(value: datetime.date | datetime.datetime | None, today: datetime.date) -> int | None:
    """How many local calendar days old a reference date is on ``today`` (None without one)."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        value = timezone.localdate(value)
    return (today - value).days


class SvaAlertLevelQuerySet(models.QuerySet["SvaAlertLevel"]):
    def alert(self, *, today: datetime.date | None = None) -> SvaAlert | None:
        """The rule the settings give (``SVA_ALERT_DATE``, ``SVA_ALERT_FINAL_ONLY``) with the levels, read in one
        query; None, without a query, when ``SVA_ALERT_DATE`` is ``NO`` (no alert)."""
        reference = parameters.get("SVA_ALERT_DATE")
        if reference == SvaReferenceDate.NONE:
            return None
        levels = tuple(self.order_by("-days").values_list("days", "colour"))
        return SvaAlert(
            reference=reference,
            final_only=parameters.get("SVA_ALERT_FINAL_ONLY"),
            levels=levels,
            today=today or timezone.localdate(),
        )


class SvaAlertLevel(models.Model):
    """An alert level: applications in alert for ``days`` days or more show it, in words and in its colour."""

    days = models.PositiveSmallIntegerField(
        _("number of days"),
        unique=True,
        validators=[MinValueValidator(1)],
        help_text=_("Age, in days since the reference date, at which an application is in alert."),
        error_messages={"unique": _("A level with this number of days already exists.")},
    )
    colour = models.CharField(_("colour"), max_length=7, choices=SvaColour, default=SvaColour.ORANGE)

    objects = SvaAlertLevelQuerySet.as_manager()

    class Meta:
        verbose_name = _("SVA alert level")
        verbose_name_plural = _("SVA alert levels")
        ordering = ["days"]
        constraints = [
            models.CheckConstraint(condition=Q(days__gte=1), name="sva_alert_level_days_positive"),
            models.CheckConstraint(condition=Q(colour__in=SvaColour.values), name="sva_alert_level_colour_in_palette"),
        ]

    def __str__(self):
        return ngettext("%(days)s day", "%(days)s days", self.days) % {"days": self.days}
