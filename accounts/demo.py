"""Demo accounts for ``manage.py seed_demo`` (called from applications/demo_all.py). Idempotent."""

from allauth.account.models import EmailAddress

from accounts.models import StaffMembership, StaffRole, User
from accounts.services import issue_numero_dossier
from offers.models import Campaign, Centre

CANDIDATE_EMAIL = "candidat.demo@example.org"
CANDIDATE_PASSWORD = "candidat-demo-2026"
MANAGER = ("gestionnaire.see", "gestion-demo-2026")
# Accounts without a dossier (état civil not filled in yet), for « Comptes candidats » in the back office: one whose
# address is validated, one who never followed the validation link (the helpdesk sends it again from its page).
# (e-mail, first name, last name, address validated)
ACCOUNTS_WITHOUT_DOSSIER = (
    ("thomas.lefevre@example.org", "Thomas", "Lefèvre", True),
    ("manon.girard@example.org", "Manon", "Girard", False),
)


def _verified(user: User) -> None:
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})


def _accounts_without_dossier(campaign: Campaign) -> list[str]:
    """Created once, with the demo candidate's password; an address not validated stays so (the helpdesk's
    « Renvoyer le lien de validation » mails it to the demo mailbox). Seeding again leaves them as they are."""
    lines = []
    for email, first_name, last_name, validated in ACCOUNTS_WITHOUT_DOSSIER:
        account = User.objects.filter(campaign=campaign, email__iexact=email).first()
        if account is None:
            account = User(
                username=issue_numero_dossier(),
                campaign=campaign,
                email=email,
                first_name=first_name,
                last_name=last_name,
            )
            account.set_password(CANDIDATE_PASSWORD)
            account.save()
            EmailAddress.objects.create(user=account, email=email, verified=validated, primary=True)
        state = "validated" if validated else "address not validated"
        lines.append(f"Candidate account without a dossier: {account.username} or {email} ({state})")
    return lines


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
        lines += _accounts_without_dossier(campaign)
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
