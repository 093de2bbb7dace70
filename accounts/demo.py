"""Demo accounts for ``manage.py seed_demo`` (called from applications/demo_all.py). Idempotent."""

from allauth.account.models import EmailAddress

from accounts.models import StaffMembership, StaffRole, User
from accounts.services import issue_numero_dossier
from offers.models import Campaign, Centre

CANDIDATE_EMAIL = "candidat.demo@example.org"
CANDIDATE_PASSWORD = "candidat-demo-2026"
MANAGER = ("gestionnaire.see", "gestion-demo-2026")


def _verified(user: User) -> None:
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})


def seed() -> list[str]:
    """A validated external candidate of the active campaign and the manager of centre SEE. Returns README lines."""
    lines = []
    campaign = Campaign.objects.active().first()
    if campaign is not None:
        candidate = User.objects.filter(campaign=campaign, email__iexact=CANDIDATE_EMAIL).first()
        if candidate is None:
            candidate = User(
                username=issue_numero_dossier(),
                campaign=campaign,
                email=CANDIDATE_EMAIL,
                first_name="Camille",
                last_name="Démo",
            )
            candidate.set_password(CANDIDATE_PASSWORD)
            candidate.save()
        _verified(candidate)
        lines.append(
            f"Candidate: {candidate.username} or {CANDIDATE_EMAIL} / {CANDIDATE_PASSWORD} (e-mail account, validated)"
        )
    centre = Centre.objects.filter(code="SEE").first()
    if centre is not None:
        manager, created = User.objects.get_or_create(
            username=MANAGER[0],
            defaults={
                "email": "gestionnaire.see@univ-perp.fr",
                "first_name": "Gestionnaire",
                "last_name": "SEE",
                "is_staff": True,
            },
        )
        if created:
            manager.set_password(MANAGER[1])
            manager.save(update_fields=["password"])
        _verified(manager)
        StaffMembership.objects.get_or_create(user=manager, role=StaffRole.CENTRE_MANAGER, centre=centre)
        lines.append(f"Centre manager (SEE): /gestion/ — login {MANAGER[0]} / {MANAGER[1]}")
    # Staff log in through allauth, which requires a validated address: the demo superuser's is, by construction.
    for staff in User.objects.filter(is_staff=True, campaign__isnull=True).exclude(email=""):
        if not EmailAddress.objects.filter(user=staff, verified=True).exists():
            _verified(staff)
    return lines
