"""A member of staff's saved filters of the applications list (eCandidat's grid preferences, ecandidat-features
§2.3): theirs only, at most ``SAVED_FILTERS_MAX``, one name each.

A saved filter is a preference, not a state of an application: it has no history row. The limit is checked with
the user's row locked, so two saves at once (two tabs) cannot pass it together.
"""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import SavedFilter
from ecandidat.exceptions import BusinessRuleError, FieldRuleError
from ecandidat.text import NUL, check_savable

SAVED_FILTERS_MAX = 30
LABEL_MAX_LENGTH = SavedFilter._meta.get_field("label").max_length or 80
QUERY_MAX_LENGTH = SavedFilter._meta.get_field("query_string").max_length or 1000


def clean_query(query: str) -> str:
    """The list's query string as it will be saved and followed: without its "?", bounded, and empty when it is not
    one our list makes (a NUL in it)."""
    query = query.lstrip("?")[:QUERY_MAX_LENGTH]
    return "" if NUL in query or "%00" in query else query


def save_filter(*, user: User, label: str, query: str) -> SavedFilter:
    """Save the list's filters ``query`` under ``label`` for ``user``.

    Raises ``FieldRuleError`` (field ``label``) for an empty or unsavable name, ``BusinessRuleError`` when the user
    already has ``SAVED_FILTERS_MAX`` filters or one of that name; nothing is written then."""
    label = label.strip()[:LABEL_MAX_LENGTH]
    if not label:
        raise FieldRuleError(_("Give the filter a name to save it."), field="label")
    check_savable(label, field="label")
    try:
        with transaction.atomic():
            User.objects.select_for_update().only("pk").get(pk=user.pk)
            if SavedFilter.objects.filter(user=user).count() >= SAVED_FILTERS_MAX:
                raise BusinessRuleError(
                    _("At most %(max)d saved filters: delete one first.") % {"max": SAVED_FILTERS_MAX}
                )
            return SavedFilter.objects.create(user=user, label=label, query_string=clean_query(query))
    except IntegrityError:
        raise BusinessRuleError(_("You already have a filter named “%(label)s”.") % {"label": label}) from None


def delete_filter(*, user: User, filter_id: int) -> SavedFilter | None:
    """Delete ``user``'s saved filter ``filter_id``; ``None`` when they have none of that id (another user's
    included)."""
    with transaction.atomic():
        saved = SavedFilter.objects.select_for_update().filter(pk=filter_id, user=user).first()
        if saved is not None:
            saved.delete()
        return saved
