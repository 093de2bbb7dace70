"""Back-office demo data for ``manage.py seed_demo`` (call ``applications.demo_staff.seed()`` after the accounts and
offers seeds): the seeded decision types (ecandidat-features §2.7), refusal reasons, the SEE formations' decision
defaults with automatic complementary-list management, a commission member, a centre manager limited to one
commission, a read-only user and a candidates manager (the helpdesk). Idempotent."""

from allauth.account.models import EmailAddress

from accounts.models import StaffMembership, StaffRole, User
from offers.enums import Avis
from offers.models import Centre, Commission, DecisionType, Formation, RefusalReason

DECISIONS_IN_ENGLISH = {
    Avis.FAVOURABLE: "Favourable decision",
    Avis.UNFAVOURABLE: "Unfavourable decision",
    Avis.WAITING_LIST: "Waiting list",
    Avis.COMPLEMENTARY_LIST: "Complementary list",
    Avis.PRESELECTION: "Preselection",
}
DECISION_TYPES = [
    # code, label, label shown to the candidate, avis, final, mail code
    ("AVIS_FAVORABLE", "Type de décision favorable", "Avis favorable", Avis.FAVOURABLE, True, "AVIS_FAVORABLE"),
    (
        "AVIS_DEFAVORABLE",
        "Type de décision défavorable",
        "Avis défavorable",
        Avis.UNFAVOURABLE,
        True,
        "AVIS_DEFAVORABLE",
    ),
    (
        "AVIS_LISTE_ATT",
        "Type de décision liste d'attente",
        "Liste d'attente",
        Avis.WAITING_LIST,
        False,
        "AVIS_LISTE_ATT",
    ),
    (
        "AVIS_LISTE_COMP",
        "Type de décision liste complémentaire",
        "Liste complémentaire",
        Avis.COMPLEMENTARY_LIST,
        False,
        "AVIS_LISTE_COMP",
    ),
    (
        "AVIS_PRESELECTION",
        "Type de décision présélection",
        "Présélection",
        Avis.PRESELECTION,
        False,
        "AVIS_PRESELECTION",
    ),
]
REFUSAL_REASONS = [
    ("CAPACITE", "Capacité d'accueil atteinte"),
    ("PREREQUIS", "Prérequis non satisfaits"),
    ("DOSSIER", "Dossier insuffisant au regard des attendus de la formation"),
]
# The English of two reasons (the third shows its French label to an English reader, marked French).
REFUSAL_REASONS_IN_ENGLISH = {
    "CAPACITE": "Capacity reached",
    "PREREQUIS": "Prerequisites not met",
}
COMMISSION_MEMBER = ("commission.see", "commission-demo-2026")
READ_ONLY = ("lecture.see", "lecture-demo-2026")
COMMISSION_MANAGER = ("gestion.commission.see", "gestion-commission-demo-2026")
CANDIDATES_MANAGER = ("accueil.candidats", "accueil-demo-2026")


def _staff_user(username: str, password: str, *, first_name: str, last_name: str) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "email": f"{username}@univ-perp.fr",
            "first_name": first_name,
            "last_name": last_name,
            "is_staff": True,
        },
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(user=user, email=user.email, defaults={"primary": True, "verified": True})
    return user


def seed() -> list[str]:
    types = {}
    for code, label, candidate_label, avis, final, mail in DECISION_TYPES:
        types[avis], _ = DecisionType.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "candidate_label": candidate_label,
                "candidate_label_en": DECISIONS_IN_ENGLISH.get(avis, ""),
                "avis": avis,
                "is_final": final,
                "mail_code": mail,
                "show_comment": avis == Avis.UNFAVOURABLE,
                "opi_transfer": avis == Avis.FAVOURABLE,  # as eCandidat's seed: confirming it creates the OPI
            },
        )
    for code, label in REFUSAL_REASONS:
        RefusalReason.objects.update_or_create(
            code=code, defaults={"label": label, "label_en": REFUSAL_REASONS_IN_ENGLISH.get(code, "")}
        )
    lines = [f"Back office: {len(DECISION_TYPES)} decision types, {len(REFUSAL_REASONS)} refusal reasons"]
    helpdesk = _staff_user(*CANDIDATES_MANAGER, first_name="Accueil", last_name="Candidats")
    StaffMembership.objects.get_or_create(user=helpdesk, role=StaffRole.CANDIDATES)
    lines.append(
        f"Candidates manager (helpdesk: every candidate's dossier, no application): /gestion/ — login "
        f"{CANDIDATES_MANAGER[0]} / {CANDIDATES_MANAGER[1]}"
    )
    Formation.objects.filter(favourable_decision_type__isnull=True).update(
        favourable_decision_type=types[Avis.FAVOURABLE]
    )
    centre = Centre.objects.filter(code="SEE").first()
    if centre is None:
        return lines
    Formation.objects.filter(centre=centre).update(
        auto_waiting_list=True,
        waiting_list_decision_type=types[Avis.FAVOURABLE],
        waiting_list_confirmation_delay_days=5,
    )
    commission = Commission.objects.filter(centre=centre).order_by("code").first()
    if commission is not None:
        member = _staff_user(*COMMISSION_MEMBER, first_name="Membre", last_name="Commission SEE")
        StaffMembership.objects.get_or_create(user=member, role=StaffRole.COMMISSION_MEMBER, commission=commission)
        lines.append(
            f"Commission member ({commission.code}: reads, enters decisions): /gestion/ — login "
            f"{COMMISSION_MEMBER[0]} / {COMMISSION_MEMBER[1]}"
        )
        limited = _staff_user(*COMMISSION_MANAGER, first_name="Gestionnaire", last_name="Commission SEE")
        membership, _ = StaffMembership.objects.get_or_create(
            user=limited, role=StaffRole.CENTRE_MANAGER, centre=centre, defaults={"all_commissions": False}
        )
        membership.commissions.add(commission)
        lines.append(
            f"Centre manager of one commission only ({commission.code}: every action on its applications): /gestion/ "
            f"— login {COMMISSION_MANAGER[0]} / {COMMISSION_MANAGER[1]}"
        )
    reader = _staff_user(*READ_ONLY, first_name="Lecture", last_name="Seule SEE")
    StaffMembership.objects.get_or_create(user=reader, role=StaffRole.READ_ONLY, centre=centre)
    lines.append(f"Read-only staff (SEE): /gestion/ — login {READ_ONLY[0]} / {READ_ONLY[1]}")
    return lines
