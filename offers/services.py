"""Writes on the catalogue that are more than one admin form: the calendar of several formations at once, and their
pieces, forms, questions and "en service" flag; the letter texts of a formation that moved to another centre.

eCandidat's "modifications en masse" of formations (ecandidat-features §2.8): at each campaign rollover a centre
manager moves the same three or four dates on dozens of formations. ``set_formation_dates`` does it for a
selection, all or nothing: every formation is checked with the model's own rules (window ordered, return deadline
after the window, confirmation date after the deadline, the jury and the publication, the confirmation date after a
waiting-list promotion last of all) before any is saved, so a refused selection changes nothing
and says which formation breaks which rule.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Field, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from offers.models import (
    CONFIRMATION_RULES,
    FORMATION_DEFAULTS,
    ORDERED_DATE_FIELDS,
    Campaign,
    Centre,
    ComplementaryForm,
    DecisionLetterTemplate,
    DecisionType,
    Formation,
    PieceType,
    Question,
)


def bounding_campaigns() -> QuerySet[Campaign]:
    """The campaigns whose closing date for candidates (``Campaign.ends_on``) bounds a formation's dates, the one
    that does first: the latest campaign not archived, the active one or the next one already created (its
    formations' dates prepared before the rollover); after it, the candidates can no longer log in to transmit, see
    their decision or confirm. None: nothing to compare with (the list flags the formations, ``with_campaign_dates``).
    The formation's form (``offers.admin``) and ``set_formation_dates`` compare with it."""
    today = timezone.localdate()
    return Campaign.objects.filter(Q(is_active=True) | Q(archive_on__isnull=True) | Q(archive_on__gt=today)).order_by(
        "-ends_on", "pk"
    )


def campaign_end_refusal(campaign: Campaign) -> str:
    """The refusal of a date after ``campaign``'s closing date for candidates (``Campaign.ends_on``): the last date
    they can act by, since they can no longer log in after it. A formation's dates (``offers.admin``) and an
    application's (``applications.services.staff``) are refused with it."""
    return _(
        "The date must be on or before %(date)s, the closing date for candidates of the campaign “%(campaign)s”: "
        "they can no longer log in after it."
    ) % {"date": date_format(campaign.ends_on, "SHORT_DATE_FORMAT"), "campaign": campaign.label}


@transaction.atomic
def set_formation_dates(formation_ids: Sequence[int], dates: dict[str, datetime.date]) -> list[Formation]:
    """Give every formation of ``formation_ids`` the ``dates`` (keys among ``ORDERED_DATE_FIELDS``; a date left out
    stays as it is). Returns the formations changed. Raises ``ValidationError`` with one message per formation
    that a rule refuses; nothing is saved then. A date of ``dates`` after the closing date for candidates of
    ``bounding_campaigns`` is refused for every formation (``campaign_end_refusal``), whoever calls: the admin's form
    says it beside the date first. Saving sends ``post_save`` per formation, so the public catalogue
    is rebuilt when the transaction commits, as after an edit in the formation's form."""
    unknown = set(dates) - set(ORDERED_DATE_FIELDS)
    if unknown:
        raise ValueError(f"not calendar fields: {sorted(unknown)}")
    if not dates:
        return []
    # Locked in pk order, the order every path that locks several formations takes (a bulk validation of decisions,
    # ``applications.services.staff.lock_waiting_lists_to_validate``): two such requests wait, never deadlock.
    # A formation has no campaign of its own: its dates are bounded by the closing date for candidates of
    # ``bounding_campaigns``, read by the locking query itself (a subquery: no query more, whatever the selection;
    # NULL without a campaign). Any caller gets the form's refusal of 31/12/9999, not only the admin's form.
    bound = bounding_campaigns()
    locked = list(
        Formation.objects.select_for_update(of=("self",))
        .select_related("commission")  # clean() compares the commission's centre with the formation's
        .annotate(
            campaign_ends_on=Subquery(bound.values("ends_on")[:1]),
            campaign_label=Subquery(bound.values("label")[:1]),
        )
        .filter(pk__in=formation_ids)
        .order_by("pk")
    )
    after_campaign = None  # the refusal of a date of ``dates`` after the campaign, the same for every formation
    if locked and locked[0].campaign_ends_on is not None:
        campaign = Campaign(label=locked[0].campaign_label, ends_on=locked[0].campaign_ends_on)
        if any(day is not None and day > campaign.ends_on for day in dates.values()):
            after_campaign = campaign_end_refusal(campaign)
    # the refusals read in the order of the codes
    formations: list[Formation] = sorted(locked, key=lambda formation: formation.code)
    refusals = []
    # A confirmation is a date or a délai in days (Formation.clean): a date is not given to a formation that counts
    # in days. Said by its own sentence, naming the formations, instead of the form's "not both".
    given = [(date_field, delay_field) for date_field, delay_field in CONFIRMATION_RULES if date_field in dates]
    for formation in formations:
        in_days = [(d, delay) for d, delay in given if getattr(formation, delay) is not None]
        for field, value in dates.items():
            setattr(formation, field, value)
        reasons = [
            _("it counts “%(date)s” in days (%(delay)s): empty its delay in its form first, or leave this date empty")
            % {
                "date": getattr(Formation._meta.get_field(date_field), "verbose_name", date_field),
                "delay": getattr(Formation._meta.get_field(delay_field), "verbose_name", delay_field),
            }
            for date_field, delay_field in in_days
        ]
        if after_campaign is not None:
            reasons.insert(0, after_campaign)
        try:
            formation.clean()
        except ValidationError as error:
            said = {delay for _date, delay in in_days}
            reasons += [
                message for field, messages in error.message_dict.items() if field not in said for message in messages
            ]
        if reasons:
            refusals.append(
                _("%(formation)s: %(reasons)s") % {"formation": formation.code, "reasons": "; ".join(reasons)}
            )
    if refusals:
        raise ValidationError(refusals)
    for formation in formations:
        formation.save(update_fields=list(dates))
    return formations


@transaction.atomic
def set_formation_links(
    formation_ids: Sequence[int],
    *,
    add: Iterable[PieceType | ComplementaryForm | Question] = (),
    remove: Iterable[PieceType | ComplementaryForm | Question] = (),
    in_service: bool | None = None,
) -> list[Formation]:
    """eCandidat's other mass edits of formations (§2.8): attach the specific pieces, forms and questions ``add`` to
    every formation of ``formation_ids``, detach ``remove`` from them, and put them in or out of service (None: as
    they are). Returns the formations concerned.

    One statement per piece, form or question, whatever the number of formations (through its ``formations``
    relation: ``m2m_changed`` is sent, so the candidate pages' copies are dropped on commit); formations whose state
    changes are saved one by one, so the public catalogue is rebuilt as after an edit in the form. An object both
    added and removed is refused (``ValueError``): the form does not allow it."""
    add, remove = list(add), list(remove)
    if {(type(obj), obj.pk) for obj in add} & {(type(obj), obj.pk) for obj in remove}:
        raise ValueError("an object is both added and removed")
    # Locked in pk order, as ``set_formation_dates``.
    formations = list(Formation.objects.select_for_update(of=("self",)).filter(pk__in=formation_ids).order_by("pk"))
    formations.sort(key=lambda formation: formation.code)
    ids = [formation.pk for formation in formations]
    for obj in add:
        obj.formations.add(*ids)
    for obj in remove:
        obj.formations.remove(*ids)
    if in_service is not None:
        for formation in formations:
            if formation.in_service != in_service:
                formation.in_service = in_service
                formation.save(update_fields=["in_service"])
    return formations


@transaction.atomic
def move_letter_texts(formation: Formation) -> list[DecisionLetterTemplate]:
    """File the formation's own letter texts under its centre, after the formation moved to another centre (its
    form): they are its letters, not its former centre's (``DecisionLetterTemplate.clean`` wants the formation's
    centre; the new centre's managers edit them). Returns the texts moved, for their history. Called in the
    transaction that saves the formation (the admin's change form is one)."""
    texts = list(
        DecisionLetterTemplate.objects.select_for_update()
        .filter(formation_id=formation.pk)
        .exclude(centre_id=formation.centre_id)
        .order_by("pk")
    )
    for text in texts:
        text.formation = formation  # the row's name (its history) reads it: no query
        text.centre_id = formation.centre_id
        text.save(update_fields=["centre", "updated_at"])
    return texts


def new_formation_initial(centre: Centre) -> dict[str, Any]:
    """The initial values of the form of a new formation of ``centre`` (eCandidat's "paramètres par défaut" of a
    centre, §2.8): the centre itself and its default values that are set (``FORMATION_DEFAULTS``; a date or a
    decision type left empty on the centre is left out). Initial values only: the manager changes them in the form,
    and a later change of the centre's defaults changes no formation. No query (foreign keys as ids)."""
    initial: dict[str, Any] = {"centre": centre.pk}
    for name in FORMATION_DEFAULTS:
        field = Centre._meta.get_field(f"default_{name}")
        assert isinstance(field, Field)  # a column of the centre (a decision type: its id)
        value = getattr(centre, field.attname)
        if value is not None:
            initial[name] = value
    return initial


# Checks of a campaign's code that a higher layer knows (applications.opi.periods: the code must be one of Pégase's
# periods when the OPI files go to Pégase), registered from its AppConfig.ready(). Each returns (error, warning),
# French, "" for none: an error refuses the code, a warning is shown once the campaign is saved. ``active``: whether
# the campaign saved is (or becomes) the active one.
CampaignCodeCheck = Callable[..., tuple[str, str]]
_CAMPAIGN_CODE_CHECKS: list[CampaignCodeCheck] = []


def register_campaign_code_check(check: CampaignCodeCheck) -> None:
    if check not in _CAMPAIGN_CODE_CHECKS:
        _CAMPAIGN_CODE_CHECKS.append(check)


def campaign_code_problems(code: str, *, active: bool) -> tuple[list[str], list[str]]:
    """The registered checks' errors and warnings about a campaign's ``code``."""
    results = [check(code, active=active) for check in _CAMPAIGN_CODE_CHECKS]
    return [error for error, _warning in results if error], [warning for _error, warning in results if warning]


# Rows of higher layers that store a campaign's code as text rather than as a key, registered from their
# AppConfig.ready() (documents.Document.campaign_code: the files live under "<code>/", and the nightly rescan, the
# orphan sweep and the destruction find them by the campaign's current code). Each answers whether some row stores
# ``code``.
CampaignCodeHolder = Callable[[str], bool]
_CAMPAIGN_CODE_HOLDERS: list[CampaignCodeHolder] = []


def register_campaign_code_holder(holder: CampaignCodeHolder) -> None:
    if holder not in _CAMPAIGN_CODE_HOLDERS:
        _CAMPAIGN_CODE_HOLDERS.append(holder)


def campaign_code_in_use(campaign: Campaign) -> bool:
    """Whether ``campaign``'s code may no longer change: it has candidate accounts (annual, ``User.campaign``), or
    a registered holder stores its code (uploaded pieces). Renamed then, its pieces would be stranded under the old
    prefix: never rescanned, swept as orphans or left behind by the destruction. A new, empty campaign keeps an
    editable code. One query per check, until one answers yes."""
    if campaign.pk is None:
        return False
    return campaign.accounts.exists() or any(holder(campaign.code) for holder in _CAMPAIGN_CODE_HOLDERS)


# Whether decisions use a decision type, asked by a higher layer that holds them (applications.Decision, whose
# ``decision_type`` has no reverse relation), registered from its AppConfig.ready(): the type's kind of decision
# (« Type d'avis ») then no longer changes (a refusal turned favourable would let its candidates confirm).
DecisionTypeUse = Callable[[int], bool]
_DECISION_TYPE_USES: list[DecisionTypeUse] = []


def register_decision_type_use(check: DecisionTypeUse) -> None:
    if check not in _DECISION_TYPE_USES:
        _DECISION_TYPE_USES.append(check)


def decision_type_in_use(decision_type: DecisionType) -> bool:
    """Whether some decision (validated or not) is of ``decision_type``; False for a type not saved yet."""
    return decision_type.pk is not None and any(check(decision_type.pk) for check in _DECISION_TYPE_USES)


def _archived_before_closing(ends_on: datetime.date) -> str:
    """The refusal of an archiving date before the campaign's closing date for candidates, beside ``archive_on``."""
    return _(
        "The archiving closes the candidates' accounts: give a date on or after the closing date for candidates "
        "(%(date)s)."
    ) % {"date": date_format(ends_on, "SHORT_DATE_FORMAT")}


def campaign_rollover_errors(
    campaign: Campaign,
    *,
    starts_on: datetime.date | None,
    archive_on: datetime.date | None,
    today: datetime.date,
    is_active: bool | None = None,
    ends_on: datetime.date | None = None,
) -> dict[str, str]:
    """The rollover's rules for a campaign about to be saved from the back office (eCandidat's "Campagne", §2.8), as
    ``{field: message}``; empty when it may be saved. The nightly ``archive_campaigns`` activates, on the active
    campaign's archiving date, the campaign awaiting activation (``Campaign.objects.awaiting_activation``): so the
    next campaign must open after the active one, only one may wait, and the active one gets an archiving date only
    once the next one exists (the batch otherwise refuses at night and nothing happens). That date is today or
    later: a past one would have the batch archive the running campaign that very night, close every candidate
    account, and even destroy its data in the same run when it lies ``ARCHIVE_RETENTION_DAYS`` back. ``today`` is
    the local date (Europe/Paris), the one the batch compares with. ``is_active``: whether the campaign saved is (or
    becomes, the very first one ticked « Active ») the active one; None: as it is stored.

    A campaign that is not active is archived after the active one, by its own rollover a year later: its archiving
    date is empty or after today and after the active campaign's. A past one would make it look archived at once
    (``Campaign.is_archived_on``: read only, never deleted) and the batch would not activate it (« no next
    campaign »); nor would it with a date not after the active campaign's, on the rollover night. For the same
    reason the active campaign's archiving date comes before the next campaign's.

    The rules read the submitted ``starts_on``, not the instance's (the stored one during a form's clean): the active
    campaign, moved or activated, opens before every campaign waiting, or the batch would find no next campaign.

    Any campaign's archiving date is on or after its own submitted closing date for candidates (``ends_on``): the
    archiving closes its candidates' accounts, and a date typed before it (01/07 for 01/10) had the batch close them,
    freeze the dates and activate the next campaign while this one still promised candidates they could transmit and
    confirm until its closing date. The same day is accepted: the site closes before the nightly batch runs.
    ``ends_on`` None (not submitted, or its field in error): not compared.

    The active campaign's archiving date comes before the next campaign's opening date, and the next campaign opens
    and closes after it (whichever of the two is edited): the batch activates the next campaign the night of that
    date (23:00), without reading its dates. One wrong year (30/09/2028 for 30/09/2027) was saved: from its opening,
    every new candidate of the next campaign was told the campaign was closed, and the next campaign was activated a
    year late, already closed. A next campaign opened already (its rollover late) is activated tonight at the
    earliest: today's date is then accepted; one closed by the archiving night never is."""
    errors: dict[str, str] = {}
    active = Campaign.objects.active().exclude(pk=campaign.pk).first()
    if campaign.is_active if is_active is None else is_active:
        # The opening date as submitted: during the form's clean the instance still holds the stored one, and a
        # running campaign moved after the waiting one (a mistyped year) left the nightly archiving without a next
        # campaign (``awaiting_activation`` looks after the active one's opening), every night, nothing activated.
        opening = campaign.starts_on if starts_on is None else starts_on
        if starts_on is not None and (starts_on != campaign.starts_on or not campaign.is_active):
            # Moved, or becoming active: no campaign waiting (neither active nor archived) opens on or before it.
            # (An active campaign's other edits are not refused over a campaign left behind before this check.)
            earlier = (
                Campaign.objects.filter(is_active=False, starts_on__lte=starts_on)
                .filter(Q(archive_on__isnull=True) | Q(archive_on__gt=today))
                .exclude(pk=campaign.pk)
                .order_by("starts_on", "pk")
                .first()
            )
            if earlier is not None:
                errors["starts_on"] = _(
                    "Campaign %(code)s, which awaits activation, opens on %(date)s: the active campaign must open "
                    "before it, or the nightly archiving would never activate it."
                ) % {"code": earlier.code, "date": date_format(earlier.starts_on, "SHORT_DATE_FORMAT")}
        if archive_on is not None and archive_on < today:
            errors["archive_on"] = _(
                "The archiving date of the active campaign cannot be in the past (%(date)s at the earliest): the "
                "very next night the nightly archiving would archive it, close its candidates' accounts and might "
                "destroy its data."
            ) % {"date": date_format(today, "SHORT_DATE_FORMAT")}
        elif archive_on is not None and ends_on is not None and archive_on < ends_on:
            errors["archive_on"] = _archived_before_closing(ends_on)
        elif archive_on is not None and campaign.pk is not None and opening is not None and "starts_on" not in errors:
            # (the very first campaign, added: nothing awaits it yet) The next one, after the submitted opening.
            following = (
                Campaign.objects.awaiting_activation(Campaign(starts_on=opening), today)
                .exclude(pk=campaign.pk)
                .first()
            )
            if following is None:
                errors["archive_on"] = _(
                    "Create the next campaign first: on this date the nightly archiving activates it and archives "
                    "this one."
                )
            elif following.archive_on is not None and following.archive_on <= archive_on:
                errors["archive_on"] = _(
                    "The next campaign, %(code)s, is archived on %(date)s: this campaign's archiving date must come "
                    "before it, or the nightly archiving would not activate it."
                ) % {"code": following.code, "date": date_format(following.archive_on, "SHORT_DATE_FORMAT")}
            elif following.ends_on <= archive_on:
                errors["archive_on"] = _(
                    "The next campaign, %(code)s, closes for candidates on %(date)s: the nightly archiving "
                    "activates it the night of this date, already closed. Give a date before its opening, or move "
                    "its dates first."
                ) % {"code": following.code, "date": date_format(following.ends_on, "SHORT_DATE_FORMAT")}
            elif following.starts_on <= archive_on and archive_on > today:
                # (Opened already: tonight, today's date, is the earliest it can be activated, and is accepted.)
                errors["archive_on"] = _(
                    "The next campaign, %(code)s, opens for candidates on %(date)s: the nightly archiving activates "
                    "it the night of this date, so give %(latest)s at the latest. Otherwise its candidates would be "
                    "told the campaign is closed until then."
                ) % {
                    "code": following.code,
                    "date": date_format(following.starts_on, "SHORT_DATE_FORMAT"),
                    "latest": date_format(
                        max(today, following.starts_on - datetime.timedelta(days=1)), "SHORT_DATE_FORMAT"
                    ),
                }
        return errors
    if archive_on is not None:
        earliest = today if active is None or active.archive_on is None else max(today, active.archive_on)
        if archive_on <= earliest:
            errors["archive_on"] = _(
                "A campaign that is not active is archived after the active one: leave its archiving date empty or "
                "set it after %(date)s. Otherwise it would be read as archived and the nightly archiving would not "
                "activate it."
            ) % {"date": date_format(earliest, "SHORT_DATE_FORMAT")}
        elif ends_on is not None and archive_on < ends_on:
            errors["archive_on"] = _archived_before_closing(ends_on)
    if active is None or starts_on is None:
        return errors
    if starts_on <= active.starts_on:
        errors["starts_on"] = _(
            "The next campaign opens after the active one (%(date)s): it is the one the nightly archiving activates."
        ) % {"date": date_format(active.starts_on, "SHORT_DATE_FORMAT")}
        return errors
    waiting = Campaign.objects.awaiting_activation(active, today).exclude(pk=campaign.pk).first()
    if waiting is not None:
        errors["starts_on"] = _(
            "Campaign %(code)s already awaits activation: only one campaign waits at a time; change that one."
        ) % {"code": waiting.code}
    elif active.archive_on is not None:
        # This campaign is the one the active campaign's archiving night activates (tonight when that date is
        # today or past): it opens after that night, or its candidates are told the campaign is closed until then,
        # unless that night is tonight, the earliest; and it closes after it, or it is activated closed.
        activated_on = max(active.archive_on, today)
        date = date_format(active.archive_on, "SHORT_DATE_FORMAT")
        if today < active.archive_on and starts_on <= active.archive_on:
            errors["starts_on"] = _(
                "The active campaign, %(code)s, is archived on %(date)s: the nightly archiving activates this "
                "campaign the night of that date, so it must open after it. Otherwise its candidates would be told "
                "the campaign is closed until then."
            ) % {"code": active.code, "date": date}
        if ends_on is not None and ends_on <= activated_on:
            errors["ends_on"] = _(
                "The active campaign, %(code)s, is archived on %(date)s: the nightly archiving activates this "
                "campaign the night of that date, so it must close after it, or it would be activated already "
                "closed for candidates."
            ) % {"code": active.code, "date": date}
    return errors
