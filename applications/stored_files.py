"""Are the candidates' files still there? (``manage.py verify_stored_files``)

After restoring the database and the file storage from backups taken at different moments, or after a storage
incident, some piece rows may point to a file that is gone, or to one that changed. Nothing here writes: each such
file is reported with the numéro de dossier, the piece and the applications concerned, so that staff can ask these
candidates for the piece again (the candidate's pieces table lets them replace it while the dossier is open; staff
refuse the piece to reopen it). Until then, the piece's download answers 404, and the dossier PDF and the commission
packs are built without it, saying « Ce fichier est absent du stockage » in its place (``applications.dossier_pdf``).
The reverse case, files without a row, is ``remove_orphan_files``'s.

The files staff put in the back office are checked too (``verify_reference_files``, without ``--campaign``): a piece
type's template, which candidates download ("modèle", a 404 once gone), and a letter's signature image, without which
every admission or refusal letter of that text goes out unsigned (a warning in the log only). Letters and commission
packs are not: they are built again when their file is gone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain

from django.core.files.storage import default_storage
from django.utils.text import Truncator

from applications.models import PieceSubmission
from documents.models import Document
from offers.models import DecisionLetterTemplate, PieceType

CHUNK = 500  # rows read per query: memory stays flat over a campaign of any size
READ_BLOCK = 1024 * 1024


class Problem(StrEnum):
    MISSING = "MISSING"  # no object under that name
    SIZE = "SIZE"  # there, not of the size recorded at upload
    CHECKSUM = "CHECKSUM"  # there, of that size, but not the bytes recorded at upload (--checksums only)
    UNREADABLE = "UNREADABLE"  # the storage refused to answer for it


@dataclass(frozen=True)
class Finding:
    problem: Problem
    name: str
    numero_dossier: str
    piece: str
    formation: str  # the application's formation code; "(shared)" for a piece shared by all applications
    detail: str = ""

    def line(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        where = f"dossier {self.numero_dossier}  {self.formation}" if self.numero_dossier else self.formation
        return f"{self.problem:<10} {self.name}  {where}  «{self.piece}»{detail}"


def _sha256(name: str) -> str:
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _check(submission: PieceSubmission, *, checksums: bool) -> tuple[Problem, str] | None:
    document = submission.document
    assert document is not None  # the query keeps only submissions with a file
    name = document.file.name or ""
    try:
        if not default_storage.exists(name):
            return Problem.MISSING, ""
        size = default_storage.size(name)
        if size != document.size:
            return Problem.SIZE, f"{size} bytes instead of {document.size}"
        if checksums and _sha256(name) != document.sha256:
            return Problem.CHECKSUM, "not the bytes uploaded"
    except Exception as error:  # noqa: BLE001 — any storage failure is a finding, the walk goes on
        return Problem.UNREADABLE, f"{type(error).__name__}: {error}"[:200]
    return None


def verify_stored_files(*, campaign: str | None = None, checksums: bool = False) -> Iterator[Finding | None]:
    """Walk every piece submission that holds a file (of ``campaign``'s documents only, when given), in id order,
    ``CHUNK`` rows per query; yield a ``Finding`` per file missing or changed, and None per file found intact (for
    the count). One storage request per file (two with ``checksums``: the file is then read in full)."""
    rows = (
        PieceSubmission.objects.filter(document__isnull=False)
        .select_related("document", "candidate__user", "piece_type", "application__formation")
        .order_by("pk")
    )
    if campaign:
        rows = rows.filter(document__campaign_code=campaign)
    for submission in rows.iterator(chunk_size=CHUNK):
        found = _check(submission, checksums=checksums)
        if found is None:
            yield None
            continue
        application = submission.application
        document = submission.document
        assert document is not None
        yield Finding(
            problem=found[0],
            name=document.file.name or "",
            numero_dossier=submission.candidate.user.numero_dossier,
            piece=Truncator(submission.piece_type.label).chars(80),
            formation=application.formation.code if application is not None else "(shared)",
            detail=found[1],
        )


def _check_present(name: str) -> tuple[Problem, str] | None:
    """A file with no size or checksum recorded: there, or not."""
    try:
        if not default_storage.exists(name):
            return Problem.MISSING, ""
    except Exception as error:  # noqa: BLE001 — any storage failure is a finding, the walk goes on
        return Problem.UNREADABLE, f"{type(error).__name__}: {error}"[:200]
    return None


def verify_reference_files() -> Iterator[Finding | None]:
    """The piece types' templates and the letters' signature images that have a file: a ``Finding`` per file
    missing (``formation`` says which kind of file, ``piece`` which row), None per file found. Two queries."""
    templates = PieceType.objects.exclude(template="").order_by("pk").only("pk", "label", "template")
    signatures = DecisionLetterTemplate.objects.exclude(signature="").order_by("pk").only("pk", "title", "signature")
    files = chain(
        ((str(piece_type.template.name), piece_type.label, "piece template") for piece_type in templates),
        ((str(letter.signature.name), letter.title, "letter signature") for letter in signatures),
    )
    for name, label, kind in files:
        found = _check_present(name)
        yield (
            None
            if found is None
            else Finding(
                problem=found[0],
                name=name,
                numero_dossier="",
                piece=Truncator(label).chars(80),
                formation=kind,
                detail=found[1],
            )
        )


def documents_store_campaign_code(code: str) -> bool:
    """Whether some uploaded piece stores the campaign's ``code`` under which its file lives
    (``offers.services.campaign_code_in_use``, registered by ``ApplicationsConfig.ready``)."""
    return Document.objects.filter(campaign_code=code).exists()
