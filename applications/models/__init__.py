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
from applications.models.review import ApplicationNote, ApplicationTag, SavedFilter, Tag

__all__ = [
    "Address",
    "Application",
    "ApplicationEvent",
    "ApplicationNote",
    "ApplicationTag",
    "Baccalaureate",
    "Candidate",
    "Decision",
    "DossierRow",
    "ExternalCursus",
    "FormAnswer",
    "InternalCursus",
    "Internship",
    "PieceSubmission",
    "SavedFilter",
    "SisRecord",
    "Tag",
    "WorkExperience",
]
