"""Demo applications for ``manage.py seed_demo``: a few candidates who already applied and transmitted, so that a
newcomer logged in as a manager has pieces to check, statuses to set and decisions to enter.

Everything goes through the same services as a real candidate (apply, upload, declare "Non concerné", transmit):
the history, the stored files and the mails are the real ones. Idempotent: an applicant who exists is left alone.
"""

import datetime
import io

from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from accounts.services import issue_numero_dossier
from applications import services
from applications.enums import BacSeries, Civility, Mention
from applications.models import Application
from applications.pieces import piece_rows
from applications.services import candidature
from applications.services import pieces as piece_services
from ecandidat.pdf import FONT, UnicodePDF
from offers.models import Campaign, Formation

DEMO_FORMATION = "M1ENER"  # MASTER 1 - ENERGIE Parc. Matériaux et procédés solaires (centre SEE, online)
APPLICANTS = [
    # e-mail, first name, last name, civility, birth date, INE (valid: BEA with its key)
    ("lea.roussel@example.org", "Léa", "ROUSSEL", Civility.MRS, datetime.date(2001, 3, 9), "2001030901N"),
    ("hugo.ferrand@example.org", "Hugo", "FERRAND", Civility.MR, datetime.date(2000, 11, 23), "2000112301K"),
    ("sarah.benali@example.org", "Sarah", "BENALI", Civility.MRS, datetime.date(2002, 1, 30), "2002013001N"),
]


def _pdf(title: str, piece: str, candidate: str) -> SimpleUploadedFile:
    """A one-page PDF with a few readable lines (what the staff preview shows): it goes through the whole validation
    pipeline, as a candidate's scan would."""
    pdf = UnicodePDF(unit="mm", format="A4")
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font(FONT, style="B", size=18)
    pdf.multi_cell(0, 10, text=piece)
    pdf.set_font(FONT, size=12)
    pdf.ln(4)
    text = f"{candidate}\nDocument de démonstration (manage.py seed_demo) : aucune donnée réelle."
    pdf.multi_cell(0, 7, text=text)
    buffer = io.BytesIO(bytes(pdf.output()))
    return SimpleUploadedFile(f"{title}.pdf", buffer.getvalue(), content_type="application/pdf")


def _applicant(campaign: Campaign, email: str, first_name: str, last_name: str) -> User | None:
    if User.objects.filter(campaign=campaign, email__iexact=email).exists():
        return None
    user = User(
        username=issue_numero_dossier(),
        campaign=campaign,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    user.set_unusable_password()  # a demo applicant, not a login: the README's demo candidate is the one to try
    user.save()
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def seed() -> list[str]:
    campaign = Campaign.objects.active().first()
    formation = Formation.objects.filter(code=DEMO_FORMATION).select_related("centre").first()
    if campaign is None or formation is None:
        return []
    created = 0
    for email, first_name, last_name, civility, birth_date, ine in APPLICANTS:
        user = _applicant(campaign, email, first_name, last_name)
        if user is None:
            continue
        candidate = services.save_personal_details(
            user=user,
            candidate=None,
            data={
                "civility": civility,
                "birth_name": last_name,
                "first_name": first_name,
                "birth_date": birth_date,
                "birth_country": "FR",
                "birth_department": "66",
                "birth_city": "Perpignan",
                "nationality": "FR",
                "ine": ine,
                "mobile": "+33612345670",
            },
            actor=user,
        )
        services.save_address(
            candidate=candidate,
            data={
                "line1": "12 avenue de Grande-Bretagne",
                "postal_code": "66000",
                "city": "PERPIGNAN",
                "country": "FR",
            },
            actor=user,
        )
        services.add_baccalaureate(
            candidate=candidate,
            data={
                "series": BacSeries.GENERAL,
                "year": 2019,
                "country": "FR",
                "department": "66",
                "mention": Mention.FAIRLY_GOOD,
            },
            actor=user,
        )
        application = candidature.create_application(candidate=candidate, formation=formation, actor=user)
        send_pieces_and_transmit(application, user)
        created += 1
    if not created:
        return []
    return [f"Applications: {created} demo candidates transmitted their dossier to {formation.code} (pieces to check)"]


def send_pieces_and_transmit(application: Application, user: User) -> None:
    """What the candidate does on the pieces tab: a PDF for each piece, "Non concerné" for each conditional one,
    then "Transmettre ma candidature"."""
    name = f"{user.first_name} {user.last_name}"
    for row in piece_rows(application):
        if row.piece_type.is_conditional:
            piece_services.declare_not_concerned(application=application, piece_type=row.piece_type, actor=user)
        else:
            upload = _pdf(f"{row.piece_type.code}-{user.last_name.lower()}", row.piece_type.label, name)
            piece_services.upload_piece(
                application=application, piece_type=row.piece_type, uploaded_file=upload, actor=user
            )
    candidature.transmit_application(application=application, actor=user)
