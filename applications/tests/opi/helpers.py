"""Builders and readers of the OPI tests: a candidate with every field the files read, admitted through the real staff
services, who confirms through the candidate's service; the Pégase files parsed back into rows."""

import datetime

from django.core.files.base import ContentFile
from django.utils import timezone

from applications.enums import EventKind, PieceStatus
from applications.history import record_event
from applications.models import Application, OpiExport
from applications.services import candidature, staff
from applications.signals import confirmation_withdrawn
from applications.tests.factories import AddressFactory, BaccalaureateFactory, CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory, DocumentFactory, PieceSubmissionFactory

# The OPI screen's queries, whatever the number of OPIs (13 while the "déversée vers" filter read the distinct codes
# stored).
QUERIES_SCREEN = 12

# Two files of known bytes, for the PJ-OPI.
ID_BYTES = b"%PDF-1.4 carte d'identite " + bytes(range(256)) * 40
BAC_BYTES = b"\x89PNG\r\n\x1a\n releve du bac " + bytes(range(255, -1, -1)) * 30


def piece(application, piece_type, content, *, name="piece.pdf", status=PieceStatus.VALIDATED, shared=False):
    """The candidate's piece with ``content`` in the storage (a common piece shared by their applications when
    ``shared``)."""
    document = DocumentFactory(file=ContentFile(content, name=name), uploaded_by=application.candidate.user)
    return PieceSubmissionFactory(
        application=None if shared else application,
        candidate=application.candidate,
        piece_type=piece_type,
        status=status,
        document=document,
    )


def make_candidate(campaign, *, username="AB123456", **fields):
    """A candidate with every field the OPI files read, set to known values."""
    values = {
        "user__campaign": campaign,
        "user__username": username,
        "user__email": f"{username.lower()}@example.org",
        "user__student_number": "21901234",
        "birth_name": "DUPONT",
        "usual_name": "MARTIN",
        "first_name": "Élodie",
        "other_first_name": "Marie",
        "birth_date": timezone.datetime(2001, 2, 3).date(),
        "birth_country": "FR",
        "birth_department": "66",
        "birth_city": "Perpignan",
        "nationality": "FR",
        "ine": "1234567890a",
        "phone": "+33468000000",
        "mobile": "+33612345678",
        **fields,
    }
    candidate = CandidateFactory(**values)
    AddressFactory(
        candidate=candidate,
        line1="12 rue des Lilas",
        line2="Appartement 3",
        line3="Résidence; Les Pins",
        postal_code="66000",
        city="PERPIGNAN",
        country="FR",
    )
    BaccalaureateFactory(candidate=candidate, year=2019, department="66", mention="AB")
    return candidate


def admit(candidate, formation, *, manager, decision_type) -> Application:
    """An application with a validated favourable decision of ``decision_type``, through the staff services."""
    application: Application = ApplicationFactory(
        candidate=candidate, formation=formation, campaign=candidate.user.campaign, complete=True
    )
    decision = staff.record_decision(application, decision_type=decision_type, actor=manager)
    staff.validate_decision(decision, actor=manager)
    return application


def confirm(application) -> Application:
    return candidature.confirm_application(application=application, actor=application.candidate.user)


def withdraw_after_confirmation(application, *, actor) -> None:
    """What "désister after confirming" does to a confirmed application (the service is built on another branch,
    which sends the same ``confirmation_withdrawn`` signal): the answer becomes a withdrawal, in the history, and
    the signal goes out in the same transaction."""
    Application.objects.filter(pk=application.pk).update(accepted=False, answered_at=timezone.now())
    record_event(application, kind=EventKind.WITHDRAWN, actor=actor)
    confirmation_withdrawn.send(sender=Application, application=application, actor=actor)


# --- the Pégase OPI files ------------------------------------------------------------------------------------------

DAY1 = datetime.datetime(2026, 7, 6, 21, 0, tzinfo=datetime.UTC)  # 23:00 in Paris


def parse(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """One OPI file: its header and its rows as dicts (it ends with a line end, as Pégase requires)."""
    lines = text.split("\n")
    assert lines[-1] == "", "the file ends with a line end"
    header = lines[0].split(";")
    return header, [dict(zip(header, line.split(";"), strict=True)) for line in lines[1:-1]]


def files_of(export: OpiExport) -> dict[str, tuple[list[str], list[dict[str, str]]]]:
    """The files of one OPI export, by kind (the name's first word), each parsed."""
    return {name.split("-")[0]: parse(text) for name, text in export.files.items()}
