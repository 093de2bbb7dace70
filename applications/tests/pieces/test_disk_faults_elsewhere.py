"""The local disk failing (an I/O error, a full disk) under the other files than the pieces' upload and download:
the decision letters (download by their candidate and by staff, the build at the download), a piece's template, the
dossier PDF (and the commission's pack built from it), « Mes données », and the files staff upload in the back
office (a piece's template, a letter's signature). Each is the 503 page « réessayez dans quelques minutes » with
Retry-After (after a form sent: « ce que vous avez envoyé n'a pas été enregistré »), never a 500, and nothing is left
half-written: no row, no part of a file. A file missing from the storage keeps its own answer."""

import errno
import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.urls import reverse

from applications import packs
from applications.letters import letter_response
from applications.models import CommissionPack, DecisionLetter
from applications.tests.helpers import released, upload_pdf
from documents import storage
from documents.tests import hostile_files as hostile
from documents.tests.storage import on_local_disk
from ecandidat.downloads import STORAGE_RETRY_AFTER_SECONDS, StorageUnavailable
from offers.models import DecisionLetterTemplate, PieceType
from offers.tests.factories import PieceTypeFactory

UNAVAILABLE = "Ce fichier est momentanément indisponible : réessayez dans quelques minutes."
NOT_SAVED = "ce que vous avez envoyé n'a pas été enregistré. Renvoyez-le dans quelques minutes."


@pytest.fixture
def media(settings, tmp_path):
    """The production default: FileSystemStorage in a temporary MEDIA_ROOT."""
    on_local_disk(settings, tmp_path)
    return tmp_path


def files_under(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), root) for folder, _, names in os.walk(root) for name in names
    )


def failing_reads(monkeypatch, code: int = errno.EIO) -> None:
    """Every file on the disk fails to open (``code``); a file that is not there is still missing."""
    original = FileSystemStorage._open

    def failing(self, name, mode="rb"):
        if os.path.exists(self.path(name)):
            raise OSError(code, os.strerror(code))
        return original(self, name, mode)

    monkeypatch.setattr(FileSystemStorage, "_open", failing)


def half_then_full(self, chunk_size=None):
    """A write that fills the disk half-way through the file."""
    yield self.read()[: len(self) // 2]
    raise OSError(errno.ENOSPC, "No space left on device")


def assert_unavailable(response, message: str = UNAVAILABLE) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert message in page, page[page.find("<h1") :][:600]


@pytest.fixture
def client(client):
    """The clients answer what the server answers (a 500 page without the fixes) rather than raise the view's
    exception."""
    client.raise_request_exception = False
    return client


@pytest.fixture
def admin_client(admin_client):
    admin_client.raise_request_exception = False
    return admin_client


# --- decision letters -----------------------------------------------------------------------------------------------


@pytest.fixture
def admission_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION,
        centre=centre,
        title="Lettre d'admission",
        body="Vous êtes admis(e) en ${formation_title}.",
    )


@pytest.fixture
def with_letter(media, formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks):
    """A released admission whose letter is built, on the disk."""
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)
    assert files_under(media) == [DecisionLetter.objects.get().file.name]
    return application


@pytest.fixture
def letter_not_built(media, formation, campaign, centre_manager, admission_text):
    """A released admission whose letter the worker has not built yet (its build is left queued)."""
    application = released(formation, campaign, centre_manager)
    assert not DecisionLetter.objects.get().file
    return application


def letter_url(application) -> str:
    return reverse("applications:letter", args=[application.public_id])


def test_a_candidate_letter_on_a_failing_disk_is_a_503(client, with_letter, monkeypatch, django_assert_num_queries):
    failing_reads(monkeypatch)
    client.force_login(with_letter.candidate.user)

    # session, user, savepoint, application, letter, rollback to and release of the savepoint
    with django_assert_num_queries(9):
        response = client.get(letter_url(with_letter), language="fr")

    assert_unavailable(response)


def test_a_staff_letter_download_on_a_failing_disk_is_a_503(
    client, with_letter, centre_manager, monkeypatch, django_assert_num_queries
):
    failing_reads(monkeypatch)
    client.force_login(centre_manager)

    with django_assert_num_queries(11):  # as the download, then the rollback to and release of the savepoint
        response = client.get(reverse("admin:applications_application_letter", args=[with_letter.pk]), language="fr")

    assert_unavailable(response)


def test_a_letter_rebuilt_then_unreadable_is_a_503_and_its_history_is_rolled_back(
    client, with_letter, monkeypatch, media, django_assert_num_queries
):
    """Its file gone, the letter is built again, which then fails to open: the rebuild's row update and its history
    go with the request's transaction."""
    letter = DecisionLetter.objects.get()
    os.remove(letter.file.path)
    events = with_letter.events.count()
    failing_reads(monkeypatch)
    client.force_login(with_letter.candidate.user)

    with django_assert_num_queries(16):  # the rebuild's update and history, rolled back to the savepoint
        response = client.get(letter_url(with_letter), language="fr")

    assert_unavailable(response)
    assert DecisionLetter.objects.get().file.name == letter.file.name
    assert with_letter.events.count() == events


def test_letter_response_reading_a_failing_disk_is_storage_unavailable(with_letter, monkeypatch):
    letter = DecisionLetter.objects.get()
    failing_reads(monkeypatch)

    with pytest.raises(StorageUnavailable, match="Input/output error"):
        letter_response(letter)


def test_a_letter_built_at_the_download_on_a_full_disk_is_a_503_and_leaves_nothing(
    client, letter_not_built, monkeypatch, media, django_assert_num_queries
):
    monkeypatch.setattr(ContentFile, "chunks", half_then_full)
    client.force_login(letter_not_built.candidate.user)

    with django_assert_num_queries(13):  # the build's reads, no write, then the rollback to the savepoint
        response = client.get(letter_url(letter_not_built), language="fr")

    assert_unavailable(response)
    assert not DecisionLetter.objects.get().file
    assert files_under(media) == []


def test_a_letter_built_at_the_download_whose_flush_fails_is_a_503_and_leaves_nothing(
    client, letter_not_built, monkeypatch, media
):
    def failing_fsync(descriptor):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage.os, "fsync", failing_fsync)
    client.force_login(letter_not_built.candidate.user)

    response = client.get(letter_url(letter_not_built), language="fr")

    assert_unavailable(response)
    assert not DecisionLetter.objects.get().file
    assert files_under(media) == []


# --- a piece's template ---------------------------------------------------------------------------------------------


@pytest.fixture
def template_piece(media, formation):
    piece_type = PieceTypeFactory(label="Dossier de candidature complémentaire")
    piece_type.template.save("dossier-complementaire.pdf", ContentFile(hostile.pdf_bytes()))
    formation.piece_types.add(piece_type)
    return piece_type


def test_a_piece_template_on_a_failing_disk_is_a_503(owner, template_piece, monkeypatch, django_assert_num_queries):
    failing_reads(monkeypatch)

    # session, user, savepoint, piece type, rollback to and release of the savepoint
    with django_assert_num_queries(6):
        response = owner.get(reverse("pieces:template_download", args=[template_piece.pk]), language="fr")

    assert_unavailable(response)


def test_a_piece_template_missing_from_the_disk_is_still_a_404(owner, template_piece, monkeypatch):
    os.remove(template_piece.template.path)
    failing_reads(monkeypatch)

    assert owner.get(reverse("pieces:template_download", args=[template_piece.pk])).status_code == 404


# --- the dossier PDF and the commission's pack ----------------------------------------------------------------------


def test_the_dossier_pdf_on_a_failing_disk_is_a_503(
    owner, application, piece, media, monkeypatch, django_assert_num_queries
):
    upload_pdf(application, piece)
    failing_reads(monkeypatch)

    with django_assert_num_queries(18):  # as any dossier of one piece, and the rollback to the savepoint
        response = owner.get(reverse("pieces:dossier_pdf", args=[application.public_id]), language="fr")

    assert_unavailable(response)


def test_a_commission_pack_on_a_failing_disk_is_marked_failed_and_keeps_no_file(
    application, piece, centre_manager, media, monkeypatch
):
    upload_pdf(application, piece)
    pack = CommissionPack.objects.create(requested_by=centre_manager, application_ids=[application.pk], total=1)
    failing_reads(monkeypatch)

    with pytest.raises(StorageUnavailable):
        packs.build_pack(pack.pk)

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.file.name) == ("FAILED", 0, "")
    assert pack.error == "OSError: [Errno 5] Input/output error"
    assert not any(name.startswith("packs") for name in files_under(media))


# --- « Mes données » ------------------------------------------------------------------------------------------------


def test_my_data_on_a_failing_disk_is_a_503(owner, application, piece, media, monkeypatch, django_assert_num_queries):
    upload_pdf(application, piece)
    failing_reads(monkeypatch)

    with django_assert_num_queries(21):  # as the archive, and the rollback to the savepoint
        response = owner.get(reverse("applications:my_data_download"), language="fr")

    assert_unavailable(response)


# --- files uploaded in the back office ------------------------------------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch):
    monkeypatch.setattr(InMemoryUploadedFile, "chunks", half_then_full)


def test_a_piece_template_sent_to_a_full_disk_is_a_503_and_saves_nothing(
    admin_client, media, full_disk, django_assert_num_queries
):
    data = {"code": "PJ_NEW", "label": "Attestation", "order": 0, "in_service": "on"}
    data["template"] = hostile.valid_pdf_upload("attestation.pdf")

    with django_assert_num_queries(12):  # the form's checks, no write, then the rollback to the savepoint
        response = admin_client.post(reverse("admin:offers_piecetype_add"), data, language="fr")

    assert_unavailable(response, NOT_SAVED)
    assert not PieceType.objects.filter(code="PJ_NEW").exists()
    assert files_under(media) == []


def test_a_piece_template_replaced_on_a_full_disk_keeps_the_row_as_it_was(admin_client, template_piece, full_disk):
    before = template_piece.template.name
    data = {
        "code": template_piece.code,
        "label": "Nouveau libellé",
        "order": template_piece.order,
        "in_service": "on",
        "template": hostile.valid_pdf_upload("nouveau.pdf"),
    }

    response = admin_client.post(
        reverse("admin:offers_piecetype_change", args=[template_piece.pk]), data, language="fr"
    )

    assert_unavailable(response, NOT_SAVED)
    template_piece.refresh_from_db()
    assert (template_piece.label, template_piece.template.name) == ("Dossier de candidature complémentaire", before)
    assert files_under(template_piece.template.storage.location) == [before]


def test_a_signature_sent_to_a_full_disk_is_a_503_and_saves_nothing(
    client, centre_manager, centre, media, full_disk, django_assert_num_queries
):
    client.force_login(centre_manager)
    data = {"kind": "LETTRE_ADM", "centre": centre.pk, "formation": "", "title": "Admission", "body": "Bienvenue."}
    signature = hostile.upload("signature.png", hostile.png_of_size(400, 200), "image/png")

    with django_assert_num_queries(16):  # the form's checks, no write, then the rollback to the savepoint
        response = client.post(
            reverse("admin:offers_decisionlettertemplate_add"), {**data, "signature": signature}, language="fr"
        )

    assert_unavailable(response, NOT_SAVED)
    assert not DecisionLetterTemplate.objects.exists()
    assert files_under(media) == []


def test_with_the_disk_back_the_same_signature_is_stored(client, centre_manager, centre, media):
    client.force_login(centre_manager)
    data = {"kind": "LETTRE_ADM", "centre": centre.pk, "formation": "", "title": "Admission", "body": "Bienvenue."}
    signature = hostile.upload("signature.png", hostile.png_of_size(400, 200), "image/png")

    response = client.post(reverse("admin:offers_decisionlettertemplate_add"), {**data, "signature": signature})

    assert response.status_code == 302
    name = DecisionLetterTemplate.objects.get().signature.name
    assert name.startswith("letters/signatures/signature")
    assert files_under(media) == [name]
