"""The effective dates of an application (ecandidat-features §1.12)."""

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Case, DateField, F, Func, Subquery, When
from django.db.models.functions import Least, TruncDate
from django.utils import timezone

from applications.models.candidature import latest_decision
from ecandidat.maintenance import WINDOW_WARNING_MINUTES
from offers.enums import Avis

if TYPE_CHECKING:
    from applications.models import Application


def effective_return_deadline(application) -> datetime.date:
    """The formation's date limite de retour, replaced by the application's extension only when that is later.

    Once the campaign's archiving froze the dates into the application (``dates_frozen_on``), its own date is the
    deadline as it is: the formation, shared across years, may carry the next campaign's date by now."""
    override = application.return_deadline_override
    if application.dates_frozen_on is not None and override is not None:
        return override
    deadline = application.formation.return_deadline
    return max(deadline, override) if override else deadline


def effective_confirmation_date(
    application, favourable_validated_at: datetime.datetime | None
) -> datetime.date | None:
    """The date de confirmation; the first rule that applies wins.

    1. the application's own date (set by staff or by a waiting-list promotion);
    2. the formation's délai in days after the validation of the favourable decision (no date before it), never
       after the closing date for candidates of the application's campaign (``Campaign.ends_on``): capped at it;
    3. the formation's date de confirmation (None when it has none: no deadline to confirm).

    Rule 2's cap: past that closing date the candidate can no longer log in (``accounts.services``), so a decision
    validated on 23/06 with a délai of 10 days in a campaign closed to candidates after 25/06 mailed « confirmez au
    plus tard le 03/07 », a date they could not reach, and the nightly withdrawal never withdrew it (its place held
    for the whole campaign). Dates given by hand are refused past it already (``staff._new_date_refusal``, and
    ``offers.services.campaign_end_refusal`` for the formation's). The campaign is read from the application
    (``_campaign_end``: no query when it comes with it, ``select_related("campaign")``); an application not created
    yet (an admission proposal asked about before, without a campaign) is not capped.

    Once the campaign's archiving froze the dates (``dates_frozen_on``), the application's own date is the only
    one: the batch stored there the date that rule 2 or 3 gave (``counted_confirmation_date``); None when none did.
    """
    if application.confirmation_date_override:
        return application.confirmation_date_override
    if application.dates_frozen_on is not None:
        return None
    formation = application.formation
    if formation.confirmation_delay_days is not None:
        if favourable_validated_at is None:
            return None
        validated_on = timezone.localdate(favourable_validated_at)
        counted = validated_on + datetime.timedelta(days=formation.confirmation_delay_days)
        campaign_end = _campaign_end(application)
        return counted if campaign_end is None else min(counted, campaign_end)
    return formation.confirmation_date


def _campaign_end(application) -> datetime.date | None:
    """The closing date for candidates of the application's campaign (``Campaign.ends_on``); None for an application
    without a campaign (one not created yet). No query when the campaign comes with the application (the back
    office's list and page, the nightly batches and the staff services' locks load it); one otherwise."""
    if application.campaign_id is None:
        return None
    return application.campaign.ends_on


class AddDays(Func):
    """A date plus a whole number of days, in SQL: PostgreSQL's ``date + integer``, SQLite's ``date(d, '+n days')``."""

    arity = 2
    arg_joiner = " + "
    template = "(%(expressions)s)"
    output_field = DateField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="date(%(expressions)s || ' days')", arg_joiner=", '+' || ", **extra_context
        )


def counted_confirmation_date() -> Subquery:
    """Rule 2 above in SQL, for an application queryset (a subquery on its ``pk``): the day (local time, as
    ``timezone.localdate``) its latest validated decision was validated plus its formation's délai, capped at its
    campaign's closing date for candidates (a join in the same subquery), when that decision is favourable and the
    formation counts in days; NULL otherwise. The campaign's archiving stores it
    (``applications.services.nightly.archive_campaigns``), so that next year's délai does not move it."""
    # Least only where both sides are dates: PostgreSQL's LEAST skips a NULL, SQLite's MIN returns it.
    counted = Least(
        AddDays(
            TruncDate("validated_at", tzinfo=timezone.get_current_timezone()),
            F("application__formation__confirmation_delay_days"),
        ),
        F("application__campaign__ends_on"),
        output_field=DateField(),
    )
    favourable = When(
        decision_type__avis=Avis.FAVOURABLE,
        application__formation__confirmation_delay_days__isnull=False,
        then=counted,
    )
    return latest_decision(Case(favourable, output_field=DateField()), validated_only=True)


def confirmation_date(application: "Application") -> datetime.date | None:
    """The date de confirmation of an application read through ``with_current_decision()``: the rule above, counted
    from the latest validated decision when it is favourable (``Application.favourable_validated_at``). The recap,
    the back office, the dossier PDF and the nightly batches all read it here."""
    return effective_confirmation_date(application, application.favourable_validated_at)


def first_day_to_act(
    moment: datetime.datetime | None = None, *, margin: datetime.timedelta = datetime.timedelta(0)
) -> datetime.date:
    """The first day, seen from ``moment`` (default: now), on which a candidate can still act on the site.

    The nightly runs at 23:00 (deploy/crontab), inside the evening part of the maintenance window (22:45–06:00):
    the candidate pages are closed until 06:00 tomorrow, so a date that is today has gone by for the candidate, and
    a reminder of it would arrive when nothing can be done any more. From the window's start to midnight that first
    day is tomorrow; after midnight (a cron that reads 23:00 in UTC runs at 00:00 or 01:00 in Paris) it is today,
    the same day. Without an enforced window the site stays open until midnight: today.

    ``margin``: how long the candidate must still have before the site closes for today to count
    (``ACT_MARGIN`` for what staff give a candidate to do: a decision validated at 22:40 on its date de
    confirmation left 5 minutes to confirm, and the nightly batch withdrew it 20 minutes later). Today is lost from
    ``margin`` before the window's start. Only with the window enforced: without it, the site never closes.
    """
    local = timezone.localtime(moment)
    start, end = settings.MAINTENANCE_START, settings.MAINTENANCE_END
    if settings.MAINTENANCE_WINDOW_ENFORCED and start > end:
        # On the wall clock, as ``ecandidat.maintenance.in_window``: the moment, ``margin`` later, is past today's
        # start of the window (or already on the next day).
        shifted = local.replace(tzinfo=None) + margin
        if local.time() >= start or shifted >= datetime.datetime.combine(local.date(), start):
            return local.date() + datetime.timedelta(days=1)
    return local.date()


# What staff give a candidate to do on a day (a decision to confirm, a date to meet) needs at least the hour before
# the site closes for the night on that day: the hour the candidate pages warn that the site is about to close
# (``ecandidat.maintenance.WINDOW_WARNING_MINUTES``). ``first_day_to_act(moment, margin=ACT_MARGIN)``.
ACT_MARGIN = datetime.timedelta(minutes=WINDOW_WARNING_MINUTES)


def closes_tonight(moment: datetime.datetime | None = None) -> bool:
    """Whether ``moment`` (default: now) is before the enforced window of its evening, the site still open: what
    ``ACT_MARGIN`` made lost is lost because the site closes soon, not because it is closed."""
    local = timezone.localtime(moment)
    start, end = settings.MAINTENANCE_START, settings.MAINTENANCE_END
    return settings.MAINTENANCE_WINDOW_ENFORCED and start > end and end <= local.time() < start
