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
    "SisRecord",
    "WorkExperience",
]
