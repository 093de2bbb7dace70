"""What each member of staff may see and do on applications (house-style §6, ecandidat-features §2.1).

Rights come from ``StaffMembership`` rows (Django groups and permissions only gate admin pages):

- central office (SCOL): every application, every action;
- centre manager (CTR): the applications of their centres, every action;
- commission member (COM): the applications of their commissions; read, and enter decisions (not validate them);
- read-only (RO): the applications of their centres, read only.

Superusers act as the central office. Object access always goes through these querysets, so an outsider's
lookup finds nothing (404).
"""

from dataclasses import dataclass

from django.db.models import Q

from accounts.models import StaffMembership, StaffRole
from applications.models import Application


@dataclass(frozen=True)
class StaffScope:
    is_central: bool
    managed_centres: frozenset[int]  # CTR
    read_centres: frozenset[int]  # CTR + RO
    commissions: frozenset[int]  # COM

    @property
    def is_staff_member(self) -> bool:
        return self.is_central or bool(self.read_centres or self.commissions)


_EMPTY = StaffScope(False, frozenset(), frozenset(), frozenset())


def scope_of(user) -> StaffScope:
    """The user's memberships, read once per user object (one query)."""
    if not user.is_authenticated or not user.is_active:
        return _EMPTY
    cached = getattr(user, "_staff_scope", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        scope = StaffScope(True, frozenset(), frozenset(), frozenset())
    else:
        rows = list(StaffMembership.objects.filter(user=user).values_list("role", "centre_id", "commission_id"))
        scope = StaffScope(
            is_central=any(role == StaffRole.CENTRAL for role, _c, _m in rows),
            managed_centres=frozenset(c for role, c, _m in rows if role == StaffRole.CENTRE_MANAGER),
            read_centres=frozenset(
                c for role, c, _m in rows if role in (StaffRole.CENTRE_MANAGER, StaffRole.READ_ONLY)
            ),
            commissions=frozenset(m for role, _c, m in rows if role == StaffRole.COMMISSION_MEMBER),
        )
    user._staff_scope = scope
    return scope


def _filter(queryset, *, centres, commissions):
    condition = Q(pk__in=[])
    if centres:
        condition |= Q(formation__centre_id__in=sorted(centres))
    if commissions:
        condition |= Q(formation__commission_id__in=sorted(commissions))
    return queryset.filter(condition)


def applications_visible_to(user, queryset=None):
    """Every application the user may read."""
    queryset = Application.objects.all() if queryset is None else queryset
    scope = scope_of(user)
    if scope.is_central:
        return queryset
    if not scope.is_staff_member:
        return queryset.none()
    return _filter(queryset, centres=scope.read_centres, commissions=scope.commissions)


def editable_by(user, queryset=None):
    """Applications whose dossier the user manages: statuses, pieces, decisions, validation, deadlines."""
    queryset = Application.objects.all() if queryset is None else queryset
    scope = scope_of(user)
    if scope.is_central:
        return queryset
    if not scope.managed_centres:
        return queryset.none()
    return _filter(queryset, centres=scope.managed_centres, commissions=())


def decidable_by(user, queryset=None):
    """Applications on which the user may enter (not validate) a decision: managers plus commission members."""
    queryset = Application.objects.all() if queryset is None else queryset
    scope = scope_of(user)
    if scope.is_central:
        return queryset
    return _filter(queryset, centres=scope.managed_centres, commissions=scope.commissions)


def validatable_by(user, queryset=None):
    """Validating decisions is a separate right (VALID_AVIS): the central office and centre managers."""
    return editable_by(user, queryset)


def centres_visible_to(user, queryset):
    """Centres the user may pick in filters and autocompletes."""
    scope = scope_of(user)
    if scope.is_central:
        return queryset
    from offers.models import Commission

    commission_centres = Commission.objects.filter(pk__in=sorted(scope.commissions)).values("centre_id")
    return queryset.filter(Q(pk__in=sorted(scope.read_centres)) | Q(pk__in=commission_centres))


def formations_visible_to(user, queryset):
    scope = scope_of(user)
    if scope.is_central:
        return queryset
    return queryset.filter(
        Q(centre_id__in=sorted(scope.read_centres)) | Q(commission_id__in=sorted(scope.commissions))
    )


def commissions_visible_to(user, queryset):
    scope = scope_of(user)
    if scope.is_central:
        return queryset
    return queryset.filter(Q(centre_id__in=sorted(scope.read_centres)) | Q(pk__in=sorted(scope.commissions)))
