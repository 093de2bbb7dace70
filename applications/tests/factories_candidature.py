"""Factories of applications, decisions and pieces for the candidature tests.

They set state directly (for speed); the tests of a flow build their state through the real services.
"""

import hashlib

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, Decision, PieceSubmission
from applications.tests.factories import AddressFactory, BaccalaureateFactory, CandidateFactory
from documents.models import Document
from offers.enums import Avis
from offers.models import DecisionType
from offers.tests.factories import CampaignFactory, FormationFactory

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
    mail_code = factory.LazyAttribute(
        lambda o: {
            Avis.FAVOURABLE: "AVIS_FAVORABLE",
            Avis.UNFAVOURABLE: "AVIS_DEFAVORABLE",
            Avis.COMPLEMENTARY_LIST: "AVIS_LISTE_COMP",
            Avis.WAITING_LIST: "AVIS_LISTE_ATT",
            Avis.PRESELECTION: "AVIS_PRESELECTION",
        }[o.avis]
    )


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
    uploaded_by = factory.SubFactory("applications.tests.factories.CandidateUserFactory")


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
