"""Demo data of the dossier: the local SIS copy (the development ENT's students) and the demo candidate's dossier."""

import datetime

from django.conf import settings

from accounts.models import User
from applications import services
from applications.enums import BacSeries, Civility, Mention, Obtained
from applications.models import Candidate, ExternalCursus, Internship, WorkExperience
from applications.sis import parse_csv

DEMO_SIS_FILE = settings.BASE_DIR / "devtools" / "sis" / "demo-students.csv"
DEMO_CANDIDATE_EMAIL = "candidat.demo@example.org"


def seed() -> list[str]:
    """Idempotent: the SIS records are replaced, the demo dossier is created once."""
    result = parse_csv(DEMO_SIS_FILE.read_text(encoding="utf-8"))
    if result.errors:
        raise ValueError(f"{DEMO_SIS_FILE}: {result.errors}")
    services.store_sis_records(students=result.students, actor=None)
    lines = [f"Student records system: {len(result.students)} demo students ({DEMO_SIS_FILE.name})"]
    user = User.objects.filter(email__iexact=DEMO_CANDIDATE_EMAIL, campaign__is_active=True).first()
    if user is None or Candidate.objects.filter(user=user).exists():
        return lines
    candidate = services.save_personal_details(
        user=user,
        candidate=None,
        data={
            "civility": Civility.MRS,
            "birth_name": user.last_name or "DUPONT",
            "first_name": user.first_name or "Camille",
            "birth_date": datetime.date(2002, 5, 17),
            "birth_country": "FR",
            "birth_department": "34",
            "birth_city": "Montpellier",
            "nationality": "FR",
            "ine": "2002051701D",  # a valid INE (BEA, its key computed): required of a French national
            "mobile": "+33612345699",
        },
        actor=user,
    )
    services.save_address(
        candidate=candidate,
        data={"line1": "8 rue de la Loge", "postal_code": "66000", "city": "PERPIGNAN", "country": "FR"},
        actor=user,
    )
    services.add_baccalaureate(
        candidate=candidate,
        data={"series": BacSeries.GENERAL, "year": 2020, "country": "FR", "department": "34", "mention": Mention.GOOD},
        actor=user,
    )
    services.add_row(
        model=ExternalCursus,
        candidate=candidate,
        data={
            "year": 2023,
            "label": "Licence 3 Biologie",
            "diploma": "LIC",
            "obtained": Obtained.YES,
            "country": "FR",
            "department": "34",
            "city": "Montpellier",
            "school": "Université de Montpellier",
        },
        actor=user,
    )
    services.add_row(
        model=Internship,
        candidate=candidate,
        data={"year": 2023, "duration": "2 mois", "hours_per_week": 35, "organisation": "Station marine de Banyuls"},
        actor=user,
    )
    services.add_row(
        model=WorkExperience,
        candidate=candidate,
        data={"year": 2022, "duration": "3 mois", "title": "Animatrice", "organisation": "Centre de loisirs"},
        actor=user,
    )
    lines.append(f"Dossier filled for the demo candidate {DEMO_CANDIDATE_EMAIL}")
    return lines
