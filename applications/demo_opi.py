"""The OPI in ``manage.py seed_demo``: one candidate admitted to a demo formation with a decision type marked
"Déversement OPI", whose pieces were checked and who confirmed, and the day's Pégase files, so that the central
office's OPI screen (/gestion/applications/opi/) shows a transferred OPI and a ZIP with the reference's columns.

Everything goes through the real services (dossier, apply, upload, transmit, check the pieces, complete, decide,
validate, confirm, transfer).
Idempotent: an applicant who exists is left alone.
"""

import datetime
from decimal import Decimal

from django.db import transaction

from accounts.demo import MANAGER
from accounts.models import User
from applications import services
from applications.demo_applications import _applicant, send_pieces_and_transmit
from applications.enums import BacSeries, Civility, DossierStatus, Mention, PieceStatus
from applications.models import ReferenceFeeExemption, ReferenceRegime
from applications.opi.services import transfer_opis
from applications.pieces import submissions_of
from applications.services import candidature, staff
from applications.services import pieces as piece_services
from applications.services.registration import set_regime_and_fees
from documents.enums import ScanStatus
from documents.scanning import scan_stored_document
from ecandidat import parameters
from ecandidat.batches import Report
from offers.enums import Avis
from offers.models import Campaign, DecisionType, Formation

OPI_FORMATION = "M1EEA"  # MASTER 1 - ELECTRONIQUE, ENERGIE ELECTRIQUE, AUTOMATIQUE (centre SEE, online)
APPLICANT = ("chloe.marchand@example.org", "Chloé", "MARCHAND")
# The demo formation's codes in the student records systems (a university sets its own in the formation's page).
CODES = {
    "pegase_code": "M1-EEA-ASGE",
    "apogee_cge": "PER",
    "apogee_step_code": "M1EEA",
    "apogee_step_version": "101",
    "apogee_diploma_code": "MEEA",
    "apogee_diploma_version": "1",
}


def seed() -> list[str]:
    campaign = Campaign.objects.active().first()
    formation = Formation.objects.filter(code=OPI_FORMATION).first()
    decision_type = DecisionType.objects.filter(avis=Avis.FAVOURABLE, opi_transfer=True, in_service=True).first()
    manager = User.objects.filter(username=MANAGER[0]).first()
    if campaign is None or formation is None or decision_type is None or manager is None:
        return []
    Formation.objects.filter(pk=formation.pk, pegase_code="").update(**CODES)
    formation.refresh_from_db()
    email, first_name, last_name = APPLICANT
    with transaction.atomic():  # all or nothing: a failed seed leaves no half-made applicant to skip next time
        user = _applicant(campaign, email, first_name, last_name)
        if user is None:
            return []
        candidate = services.save_personal_details(
            user=user,
            candidate=None,
            data={
                "civility": Civility.MRS,
                "birth_name": last_name,
                "first_name": first_name,
                "birth_date": datetime.date(2002, 5, 14),
                "birth_country": "FR",
                "birth_department": "66",
                "birth_city": "Perpignan",
                "nationality": "FR",
                "ine": "0123456789M",  # a valid INE: BEA with its key
                "mobile": "+33612345671",
            },
            actor=user,
        )
        services.save_address(
            candidate=candidate,
            data={"line1": "3 rue Jean Jaurès", "postal_code": "66000", "city": "PERPIGNAN", "country": "FR"},
            actor=user,
        )
        services.add_baccalaureate(
            candidate=candidate,
            data={
                "series": BacSeries.GENERAL,
                "year": 2020,
                "country": "FR",
                "department": "66",
                "mention": Mention.GOOD,
            },
            actor=user,
        )
        application = candidature.create_application(candidate=candidate, formation=formation, actor=user)
        send_pieces_and_transmit(application, user)
        for submission in submissions_of(application):
            if submission.status != PieceStatus.NOT_CONCERNED:
                if submission.document is not None and submission.document.scan_status == ScanStatus.PENDING:
                    # With clamd set up (CLAMD_ADDRESS), staff validate only a file it cleared: scanned here rather
                    # than by the task, which runs once the seed commits.
                    scan_stored_document(document_id=submission.document.pk)
                    submission.document.refresh_from_db(fields=["scan_status"])
                piece_services.set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=manager)
        staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=manager)
        decision = staff.record_decision(application, decision_type=decision_type, actor=manager)
        staff.validate_decision(decision, actor=manager)
        if parameters.get("SIS_REGIME_ENTRY"):  # the régime and fees the Apogée OPI file carries (docs/opi-apogee.md)
            set_regime_and_fees(
                application,
                actor=manager,
                regime=ReferenceRegime.objects.filter(code="1").first(),
                fee_exemption=ReferenceFeeExemption.objects.filter(code="BO").first(),
                fee_exemption_comment="échelon 4",
                fee_amount=Decimal("0"),
            )
        candidature.confirm_application(application=application, actor=user)
        export = transfer_opis(Report(), actor=manager)
    files = f" ({export.zip_name})" if export else ""
    return [f"OPI: {first_name} {last_name} confirmed {formation.code}; files on /gestion/applications/opi/{files}"]
