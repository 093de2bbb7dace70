"""Factories of applications, decisions and pieces for the candidature tests, and the small builders made of them.

They set state directly (for speed); the tests of a flow build their state through the real services (``decide``
goes through the staff services on purpose).
"""

import hashlib

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, Candidate, Decision, PieceSubmission
from applications.services import staff
from applications.tests.factories import AddressFactory, BaccalaureateFactory, CandidateFactory
from documents.enums import ScanStatus
from documents.models import Document
from ecandidat.tests.plugins.browser import pdf_bytes
from offers.enums import DECISION_MAIL_BY_AVIS, Avis
from offers.models import DecisionType
from offers.tests.factories import CampaignFactory, FormationFactory, PieceTypeFactory

# The eCandidat mail of each avis (the notifications of applications.notifications).
MAIL_CODES = DECISION_MAIL_BY_AVIS
PDF_BYTES = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def complete_candidate(**fields):
    """A candidate whose dossier is complete enough to apply (personal details, address, baccalaureate)."""
    candidate = CandidateFactory(**fields)
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(candidate=candidate)
    return candidate


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    candidate = factory.SubFactory(CandidateFactory)
    formation = factory.SubFactory(FormationFactory)
    campaign = factory.LazyAttribute(lambda o: o.candidate.user.campaign or CampaignFactory())
    created_by = factory.LazyAttribute(lambda o: o.candidate.user)
    dossier_status = DossierStatus.WAITING

    class Params:
        transmitted = factory.Trait(
            dossier_status=DossierStatus.RECEIVED, transmitted_at=factory.LazyFunction(timezone.now)
        )
        incomplete = factory.Trait(
            dossier_status=DossierStatus.INCOMPLETE, incomplete_on=factory.LazyFunction(timezone.localdate)
        )
        complete = factory.Trait(
            dossier_status=DossierStatus.COMPLETE, complete_on=factory.LazyFunction(timezone.localdate)
        )


class DecisionTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DecisionType
        django_get_or_create = ("code",)

    code = factory.LazyAttribute(lambda o: f"DT_{o.avis}")
    label = factory.LazyAttribute(lambda o: f"Décision {o.avis}")
    candidate_label = factory.LazyAttribute(lambda o: f"Avis {o.avis}")
    avis = Avis.FAVOURABLE
    mail_code = factory.LazyAttribute(lambda o: MAIL_CODES[o.avis])


class DecisionFactory(factory.django.DjangoModelFactory):
    """A decision row; ``validated=True`` for a validated one."""

    class Meta:
        model = Decision

    application = factory.SubFactory(ApplicationFactory)
    decision_type = factory.SubFactory(DecisionTypeFactory)

    class Params:
        validated = factory.Trait(validated_at=factory.LazyFunction(timezone.now))


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    campaign_code = "C2026"
    file = factory.LazyFunction(lambda: ContentFile(PDF_BYTES, name="piece.pdf"))
    original_name = "piece.pdf"
    size = len(PDF_BYTES)
    content_type = "application/pdf"
    sha256 = hashlib.sha256(PDF_BYTES).hexdigest()
    uploaded_by = factory.SubFactory("accounts.tests.factories.CandidateUserFactory")


class PieceSubmissionFactory(factory.django.DjangoModelFactory):
    """A piece answered for an application (``status``: AT and NC have no file, TR/VA/RE have one)."""

    class Meta:
        model = PieceSubmission

    application = factory.SubFactory(ApplicationFactory)
    candidate = factory.LazyAttribute(lambda o: o.application.candidate if o.application else None)
    piece_type = factory.SubFactory("offers.tests.factories.PieceTypeFactory")
    status = PieceStatus.SUBMITTED
    document = factory.Maybe(
        factory.LazyAttribute(
            lambda o: o.status in (PieceStatus.SUBMITTED, PieceStatus.VALIDATED, PieceStatus.REFUSED)
        ),
        yes_declaration=factory.SubFactory(DocumentFactory, uploaded_by=factory.SelfAttribute("..candidate.user")),
        no_declaration=None,
    )


# --- builders ---------------------------------------------------------------------------------------------------


def decision_type(avis) -> DecisionType:
    """The decision type of ``avis`` under its eCandidat mail code (AVIS_FAVORABLE…), labelled in English."""
    code = MAIL_CODES[avis]
    label = {
        Avis.FAVOURABLE: "Favourable",
        Avis.UNFAVOURABLE: "Unfavourable",
        Avis.COMPLEMENTARY_LIST: "Complementary list",
        Avis.WAITING_LIST: "Waiting list",
        Avis.PRESELECTION: "Preselection",
    }[avis]
    return DecisionTypeFactory.create(code=code, label=label, candidate_label=label, avis=avis, mail_code=code)


def make_application(formation, *, campaign, status=DossierStatus.RECEIVED, email=None, **fields) -> Application:
    """An application of a new candidate (dossier and account) to ``formation``, at dossier status ``status``."""
    candidate = CandidateFactory(user__campaign=campaign, **({"user__email": email} if email else {}))
    return ApplicationFactory.create(
        candidate=candidate, formation=formation, campaign=campaign, dossier_status=status, **fields
    )


def application_of(user, formation, **fields) -> Application:
    """An application of the candidate account ``user`` (its dossier is created on first use)."""
    dossier = Candidate.objects.filter(user=user).first()
    if dossier is None:
        dossier = CandidateFactory(user=user, first_name=user.first_name, birth_name=user.last_name.upper())
    return ApplicationFactory.create(candidate=dossier, formation=formation, campaign=user.campaign, **fields)


def decide(application, avis, *, actor, **kwargs) -> Decision:
    """Record and validate a decision through the staff services (its history row and mail included)."""
    decision = staff.record_decision(application, decision_type=decision_type(avis), actor=actor, **kwargs)
    return staff.validate_decision(decision, actor=actor)


def with_file(application, *, status=PieceStatus.SUBMITTED, label="Relevé de notes", replaces=None) -> PieceSubmission:
    """A piece of ``application`` with a document row (no stored bytes); or, given a piece of it (``replaces``), that
    piece with a new document row at ``status``, as the candidate's upload leaves it (« Transmise »)."""
    document = DocumentFactory(
        campaign_code="C",
        file="C/x.pdf",
        original_name="releve.pdf",
        size=1,
        sha256="0" * 64,
        uploaded_by=application.candidate.user,
    )
    if replaces is not None:
        PieceSubmission.objects.filter(pk=replaces.pk).update(status=status, document=document)
        replaces.status, replaces.document = status, document
        return replaces
    return PieceSubmissionFactory.create(
        application=application, piece_type=PieceTypeFactory(label=label), status=status, document=document
    )


def stored_piece(application, label, *, scan=ScanStatus.CLEAN) -> PieceSubmission:
    """A piece of ``application`` whose file is a one-page PDF in the default storage, scanned ``scan``."""
    submission = with_file(application, label=label)
    submission.document.file = default_storage.save("C/piece.pdf", ContentFile(pdf_bytes(label)))
    submission.document.scan_status = scan
    submission.document.save()
    return submission
