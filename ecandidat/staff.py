"""What a member of staff may reach: the shape of a staff scope, read by every layer (ecandidat-features §2.1).

Rights come from ``accounts.StaffMembership`` rows (Django groups and permissions only gate admin pages):

- central office (SCOL): everything, every action;
- centre manager (CTR): the applications of their centres, every action;
- commission member (COM): the applications of their commissions; read, and enter decisions (not validate them);
- read-only (RO): the applications of their centres, read only;
- candidates manager (GCA) and candidates manager, read only (GCAL), eCandidat's gestionCandidat and
  gestionCandidatLS: every candidate of the active campaign (also one who has applied nowhere), the dossier
  corrected (GCA) or read (GCAL), never an application's handling: they are no members of the applications' staff
  (``is_staff_member`` stays false, so every applications' page, list and scope is closed to them), only of the
  candidates' list (``reaches_candidates``).

A centre manager or read-only member is attached to every commission of their centre or, like eCandidat's
gestionnaire without ``tem_all_comm_gest``, to a list of its commissions: the scope then holds those commissions
(``managed_commissions``, ``read_commissions``) instead of the centre, and they act on those commissions' applications
exactly as a manager of the whole centre does (every dossier status). ``partly_read_centres`` and
``partly_managed_centres`` name their centres, for what is read at the centre's level (filters, the centre's tags,
pieces and letters).

Superusers act as the central office. The core only defines the scope (sets of centre and commission ids) and
reads it from the configured user model (``accounts.User.staff_scope``, one query per user object), the way
Django's core asks the user ``has_perm`` and lets the auth backends answer. The scopes on data are QuerySet
methods next to each model: ``Centre.objects.visible_to(user)``, ``Application.objects.visible_to(user)``,
``editable_by(user)``… so an outsider's lookup finds nothing (404): staff views take their object through
``object_in_scope_or_404``.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404


@dataclass(frozen=True)
class StaffScope:
    is_central: bool
    managed_centres: frozenset[int]  # CTR of every commission of the centre
    read_centres: frozenset[int]  # CTR + RO of every commission of the centre
    commissions: frozenset[int]  # COM
    managed_commissions: frozenset[int] = frozenset()  # CTR of some commissions of a centre
    read_commissions: frozenset[int] = frozenset()  # CTR + RO of some commissions of a centre
    partly_read_centres: frozenset[int] = frozenset()  # the centres of read_commissions
    partly_managed_centres: frozenset[int] = frozenset()  # the centres of managed_commissions
    reads_all_candidates: bool = False  # GCA + GCAL: every candidate's dossier of the active campaign
    corrects_all_candidates: bool = False  # GCA: corrects it (what the SIS holds excepted)

    @property
    def is_staff_member(self) -> bool:
        return self.is_central or bool(self.read_centres or self.read_commissions or self.commissions)

    @property
    def reaches_candidates(self) -> bool:
        """Opens the candidates' list: every member of staff (the candidates of what they read), and the
        candidates managers (every candidate)."""
        return self.is_staff_member or self.reads_all_candidates

    @property
    def is_manager(self) -> bool:
        """A centre manager, of the whole centre or of some of its commissions."""
        return bool(self.managed_centres or self.managed_commissions)

    def reads(self, *, centre: str, commission: str) -> Q:
        """The rows (every dossier status) of the centres and commissions the user is a manager or read-only member
        of, for a model whose centre id is ``centre`` and commission id ``commission`` (lookups); nothing when none."""
        return _rows(centre, self.read_centres, commission, self.read_commissions)

    def manages(self, *, centre: str, commission: str) -> Q:
        """The rows of the centres and commissions the user manages, as ``reads``."""
        return _rows(centre, self.managed_centres, commission, self.managed_commissions)

    @property
    def centres_read(self) -> frozenset[int]:
        """Every centre the user is a manager or read-only member of, wholly or for some of its commissions."""
        return self.read_centres | self.partly_read_centres


def _rows(centre: str, centres: frozenset[int], commission: str, commissions: frozenset[int]) -> Q:
    condition = Q(pk__in=[])
    if centres:
        condition |= Q(**{f"{centre}__in": sorted(centres)})
    if commissions:
        condition |= Q(**{f"{commission}__in": sorted(commissions)})
    return condition


EMPTY_SCOPE = StaffScope(False, frozenset(), frozenset(), frozenset())
CENTRAL_SCOPE = StaffScope(True, frozenset(), frozenset(), frozenset())


def scope_of(user: Any) -> StaffScope:
    """The user's staff scope: empty for anonymous and inactive users, else what the user model computes."""
    if not user.is_authenticated or not user.is_active:
        return EMPTY_SCOPE
    return user.staff_scope


def is_central(user: Any) -> bool:
    """The central office (SCOL memberships and superusers): every row, every action."""
    return scope_of(user).is_central


def object_in_scope_or_404(queryset: Any, user: Any, *, allowed_by: str | None = None, **lookup: Any) -> Any:
    """The one object a staff view acts on, or the refusal every staff view gives.

    404 for a user who is no member of the applications' staff (a candidate, a candidates manager GCA/GCAL: every
    back-office page outside their own lists answers them 404, as the pages' ``has_module_permission`` does) and
    when the object is outside the user's scope (the lookup goes through the QuerySet's ``visible_to(user)``: an
    outsider cannot tell a row from a missing one, nor a staff URL from a missing one); 403 when they
    see it but the QuerySet scope named by ``allowed_by`` (``editable_by``, ``decidable_by``…) refuses them this
    action. ``queryset`` may carry ``select_related`` and annotations; ``lookup`` is ``get_object_or_404``'s.
    """
    if not scope_of(user).is_staff_member:
        raise Http404
    obj = get_object_or_404(queryset.visible_to(user), **lookup)
    if allowed_by is not None:
        same_row = queryset.model._default_manager.filter(pk=obj.pk)
        if not getattr(same_row, allowed_by)(user).exists():
            raise PermissionDenied
    return obj
