"""Optimistic concurrency for the dossier's sections (eCandidat's LOCK_*, ecandidat-features §1.3, without locks).

Every dossier form carries the version of the section it was read at (``read_at``: the row's ``updated_at``, ""
for a section that did not exist yet). The service compares it under the row lock it takes: when the section
changed meanwhile (the candidate in another tab, a member of staff in the back office), nothing is written and
``EditConflict`` says who changed it and when, so the page can show the values typed again beside those stored.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.db import models
from django.db.models import Count, Max, OuterRef, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from applications.models import Address, Baccalaureate, Candidate, ExternalCursus, Internship, WorkExperience
from ecandidat.exceptions import BusinessRuleError

if TYPE_CHECKING:
    from accounts.models import User

# The hidden field of every dossier form (and of the back office's dossier page).
READ_AT_FIELD = "read_at"


class VersionField(forms.CharField):
    """The hidden field holding the version a form was read at. It never refuses a value: a forged one (a NUL, a
    control character, any text that is no version) matches no version, so the save is refused as a conflict, with
    its message at the top of the form, rather than with an error on a field nobody sees (« (Champ masqué read_at)
    Le caractère nul n'est pas autorisé. »)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, widget=forms.HiddenInput, **kwargs)
        self.validators = []  # CharField's own: NUL refused


def version_of(obj: models.Model | None) -> str:
    """The version a form reads a section at: its ``updated_at`` to the microsecond, "" when it does not exist."""
    if obj is None or obj.pk is None:
        return ""
    updated_at = getattr(obj, "updated_at", None)
    return updated_at.isoformat() if updated_at else ""


class EditConflict(BusinessRuleError):
    """The section changed (or disappeared: ``current`` is None) since the form was read; nothing was written."""

    def __init__(self, current: models.Model | None, *, changed_by: User | None = None) -> None:
        self.current = current
        self.changed_by = changed_by if changed_by is not None else getattr(current, "updated_by", None)
        self.changed_at: datetime.datetime | None = getattr(current, "updated_at", None)
        super().__init__(_("This section was changed while you were editing it."))

    def message_for(self, viewer: User | None, *, owner: User | None = None) -> str:
        """The sentence at the top of the form, for ``viewer``; ``owner`` is the dossier's account (the candidate)."""
        if self.current is None:
            return row_gone_message()
        who = self.who_for(viewer, owner=owner)
        if self.changed_at is None:
            return _(
                "This section was changed by %(who)s while you were editing it: check the current values below, "
                "then save again."
            ) % {"who": who}
        when = timezone.localtime(self.changed_at)
        return _(
            "This section was changed by %(who)s on %(date)s at %(time)s while you were editing it: check the "
            "current values below, then save again."
        ) % {"who": who, "date": date_format(when, "SHORT_DATE_FORMAT"), "time": date_format(when, "H:i")}

    def who_for(self, viewer: User | None, *, owner: User | None = None) -> str:
        changer = self.changed_by
        if changer is None:
            return _("someone else")
        if viewer is not None and changer.pk == viewer.pk:
            return _("yourself (in another tab or on another device)")
        if owner is not None and changer.pk == owner.pk:
            return _("the candidate")
        name = changer.get_full_name() or changer.username
        if owner is not None and viewer is not None and viewer.pk == owner.pk:
            return _("the admissions office (%(name)s)") % {"name": name}
        return name


def posted_with(data: Any, key: str, value: str) -> Any:
    """A copy of a form's posted data (an immutable QueryDict) where ``key`` is ``value``."""
    data = data.copy()
    data[key] = value
    return data


def row_gone_message() -> str:
    return _(
        "This line no longer exists: it was deleted meanwhile (in another tab or by the admissions office). "
        "Nothing was saved."
    )


def check_version(current: models.Model | None, read_at: str | None) -> None:
    """Raise ``EditConflict`` when ``current`` (the section read again under the lock) is not the version the form
    was read at. ``read_at=None``: the caller does not check (commands, the SIS import)."""
    if read_at is None:
        return
    if version_of(current) != read_at:
        raise EditConflict(current)


# --- The add forms of the dossier's lists of rows (cursus externe, stages, expériences pro.) -------------------


def rows_version(candidate_pk: int, model: type[models.Model]) -> str:
    """The version of one of the dossier's lists of rows, which its add form is read at: the number of rows and the
    latest ``updated_at`` ("" for an empty list, as a section that does not exist). A row added, edited or deleted
    changes it. One query."""
    found = model._default_manager.filter(candidate_id=candidate_pk).aggregate(
        count=Count("pk"), latest=Max("updated_at")
    )
    if not found["count"]:
        return ""
    return f"{found['count']}|{found['latest'].isoformat()}"


def rows_read_until(read_at: str) -> datetime.datetime | None:
    """The latest ``updated_at`` of the list an add form was read at (``rows_version``); None for an empty list, or
    for a version that is none (forged, or from a page served before the add forms carried one)."""
    try:
        read_until = datetime.datetime.fromisoformat(read_at.partition("|")[2])
    except ValueError:
        return None
    return read_until if read_until.tzinfo is not None else None  # ours carry their offset


# --- The back office's dossier page: one version for the whole dossier ------------------------------------------

# The sections a member of staff corrects on the dossier's page, by the candidate's related names.
DOSSIER_SECTIONS: dict[str, type[models.Model]] = {
    "address": Address,
    "baccalaureate": Baccalaureate,
    "external_cursus": ExternalCursus,
    "internships": Internship,
    "work_experiences": WorkExperience,
}


def dossier_version(candidate_pk: int) -> str:
    """The version of a whole dossier (the back office corrects it on one page): its details' ``updated_at`` and,
    per section, the latest ``updated_at`` and the number of rows (a deleted row changes the count). One query."""
    annotations = {}
    for name, model in DOSSIER_SECTIONS.items():
        rows = model._default_manager.filter(candidate=OuterRef("pk")).order_by().values("candidate")
        annotations[f"{name}_latest"] = Subquery(rows.annotate(latest=Max("updated_at")).values("latest"))
        annotations[f"{name}_count"] = Subquery(rows.annotate(count=Count("pk")).values("count"))
    names = ["updated_at", *annotations]
    found = list(Candidate.objects.filter(pk=candidate_pk).annotate(**annotations).values_list(*names))
    if not found:
        return ""
    return "|".join(value.isoformat() if hasattr(value, "isoformat") else str(value or 0) for value in found[0])


def latest_change(candidate: Candidate) -> models.Model | None:
    """The section of the dossier saved last (the details, the address, the bac or a row): for the message."""
    objects: list[models.Model | None] = [candidate]
    for model in DOSSIER_SECTIONS.values():
        rows = model._default_manager.filter(candidate=candidate).select_related("updated_by")
        objects.append(rows.order_by("-updated_at").first())
    found = [(at, obj) for obj in objects if obj is not None and (at := getattr(obj, "updated_at", None))]
    return max(found, key=lambda pair: pair[0])[1] if found else None
