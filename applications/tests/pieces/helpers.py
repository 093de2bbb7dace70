"""Builders shared by the pieces tests."""

from applications.models import Application, Candidate
from applications.tests.factories import CandidateFactory as DossierFactory


def make_application(user, formation, **fields) -> Application:
    """An application of the candidate account ``user`` (its dossier is created on first use)."""
    dossier = Candidate.objects.filter(user=user).first()
    if dossier is None:
        dossier = DossierFactory(user=user, first_name=user.first_name, birth_name=user.last_name.upper())
    return Application.objects.create(
        candidate=dossier, formation=formation, campaign=user.campaign, created_by=user, **fields
    )
