"""What a member of staff may reach: the shape of a staff scope, read by every layer (ecandidat-features §2.1).

Rights come from ``accounts.StaffMembership`` rows (Django groups and permissions only gate admin pages):

- central office (SCOL): everything, every action;
- centre manager (CTR): the applications of their centres, every action;
- commission member (COM): the applications of their commissions; read, and enter decisions (not validate them);
- read-only (RO): the applications of their centres, read only.

Superusers act as the central office. The core only defines the scope (sets of centre and commission ids) and
reads it from the configured user model (``accounts.User.staff_scope``, one query per user object), the way
Django's core asks the user ``has_perm`` and lets the auth backends answer. The scopes on data are QuerySet
methods next to each model: ``Centre.objects.visible_to(user)``, ``Application.objects.visible_to(user)``,
``editable_by(user)``… so an outsider's lookup finds nothing (404).
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StaffScope:
    is_central: bool
    managed_centres: frozenset[int]  # CTR
    read_centres: frozenset[int]  # CTR + RO
    commissions: frozenset[int]  # COM

    @property
    def is_staff_member(self) -> bool:
        return self.is_central or bool(self.read_centres or self.commissions)


EMPTY_SCOPE = StaffScope(False, frozenset(), frozenset(), frozenset())
CENTRAL_SCOPE = StaffScope(True, frozenset(), frozenset(), frozenset())


def scope_of(user: Any) -> StaffScope:
    """The user's staff scope: empty for anonymous and inactive users, else what the user model computes."""
    if not user.is_authenticated or not user.is_active:
        return EMPTY_SCOPE
    return user.staff_scope
