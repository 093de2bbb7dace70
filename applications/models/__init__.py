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
from applications.models.exports import ExportColumns, ExportJob
from applications.models.letters import DecisionLetter, ReleaseJob
from applications.models.opi import Opi, OpiExport, OpiPiece
from applications.models.packs import CommissionPack
from applications.models.pieces import PieceSubmission
from applications.models.questions import QuestionAnswer
from applications.models.reference import (
    ReferenceBacSeries,
    ReferenceBacSpeciality,
    ReferenceCommune,
    ReferenceCountry,
    ReferenceFeeExemption,
    ReferenceOtherDiploma,
    ReferenceRegime,
    ReferenceSchool,
)
from applications.models.review import ApplicationNote, ApplicationTag, SavedFilter, Tag
from applications.models.sva import SvaAlertLevel

__all__ = [
    "Address",
    "Application",
    "ApplicationEvent",
    "ApplicationNote",
    "ApplicationTag",
    "Baccalaureate",
    "Candidate",
    "CommissionPack",
    "Decision",
    "DecisionLetter",
    "DossierRow",
    "ExportColumns",
    "ExportJob",
    "ExternalCursus",
    "FormAnswer",
    "InternalCursus",
    "Internship",
    "Opi",
    "OpiExport",
    "OpiPiece",
    "PieceSubmission",
    "QuestionAnswer",
    "ReferenceBacSeries",
    "ReferenceBacSpeciality",
    "ReferenceCommune",
    "ReferenceCountry",
    "ReferenceOtherDiploma",
    "ReferenceFeeExemption",
    "ReferenceRegime",
    "ReferenceSchool",
    "ReleaseJob",
    "SavedFilter",
    "SisRecord",
    "SvaAlertLevel",
    "Tag",
    "WorkExperience",
]
