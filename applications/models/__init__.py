from applications.models.candidature import Application, ApplicationEvent, Decision, FormAnswer
from applications.models.dossier import (
    Address,
    Baccalaureate,
    Candidate,
    DossierRow,
    ExternalCursus,
    InternalCursus,
    Internship,
    SisRecord,
    WorkExperience,
)
from applications.models.pieces import PieceSubmission

__all__ = [
    "Address",
    "Application",
    "ApplicationEvent",
    "Baccalaureate",
    "Candidate",
    "Decision",
    "DossierRow",
    "ExternalCursus",
    "FormAnswer",
    "InternalCursus",
    "Internship",
    "PieceSubmission",
    "SisRecord",
    "WorkExperience",
]
