"""Who may do what with a candidate's dossier."""

from applications.models import Candidate

# A candidate must stay reachable: phones and language remain editable after the lock.
ALWAYS_EDITABLE_PERSONAL_FIELDS = ("phone", "mobile", "preferred_language")


def candidate_has_applications(candidate: Candidate) -> bool:
    """Whether the candidate has at least one application that is not cancelled (the "Informations perso." lock)."""
    return candidate.applications.active().exists()


def can_edit_personal_details(user, candidate: Candidate) -> bool:
    """ "Informations perso." lock once the candidate has an application (staff still edit them in the admin)."""
    return candidate.user_id == user.pk and not candidate_has_applications(candidate)


def is_candidate(user) -> bool:
    return user.is_authenticated and user.campaign_id is not None
