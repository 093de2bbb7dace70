import datetime
import html
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from applications.dossier_pdf import _summary
from applications.enums import DossierStatus, PieceStatus
from applications.models import PieceSubmission
from applications.pieces import piece_rows
from applications.services import pieces as services
from applications.tests.helpers import post_file, post_raw, upload_url
from documents.enums import ScanStatus
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files
from offers.models import template_download_name
from offers.tests.factories import PieceTypeFactory


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


HOSTILE = [
    ("EICAR renamed .pdf", hostile.eicar_as_pdf_upload, "does not match its extension"),
    ("PNG/HTML polyglot as .jpg", hostile.png_html_polyglot_as_jpg_upload, "does not match its extension"),
    (
        "OpenAction JavaScript",
        lambda: hostile.upload("js.pdf", hostile.pdf_with_open_action_javascript()),
        "contains JavaScript",
    ),
    ("embedded file", lambda: hostile.upload("e.pdf", hostile.pdf_with_embedded_file()), "contains attached files"),
    ("launch action", lambda: hostile.upload("l.pdf", hostile.pdf_with_launch_action()), "launches a program"),
    (
        "OpenAction URI",
        lambda: hostile.upload("u.pdf", hostile.pdf_with_open_action(hostile.URI_ACTION)),
        "open a web address",
    ),
    (
        "page /AA SubmitForm",
        lambda: hostile.upload("s.pdf", hostile.pdf_with_page_open_action(hostile.SUBMIT_ACTION)),
        "send a form",
    ),
    (
        "OpenAction GoToR",
        lambda: hostile.upload("r.pdf", hostile.pdf_with_open_action(hostile.GOTOR_ACTION)),
        "another file",
    ),
    ("PDF+ZIP polyglot", lambda: hostile.upload("p.pdf", hostile.pdf_zip_polyglot()), "other data after its end"),
    (
        "6000x6600 JPEG of 657 bytes",
        lambda: hostile.upload("p.jpg", hostile.jpeg_claiming_size(6000, 6600)),
        "too large (16 million pixels at most)",
    ),
    ("encrypted PDF", lambda: hostile.upload("enc.pdf", hostile.encrypted_pdf()), "password-protected"),
    ("ZIP renamed .pdf", hostile.zip_as_pdf_upload, "does not match its extension"),
    ("pixel flood", hostile.pixel_flood_png_upload, "too large (16 million pixels at most)"),
    ("0-byte", hostile.empty_upload, "The file is empty."),
    ("truncated PDF", lambda: hostile.upload("t.pdf", hostile.truncated_pdf()), "unreadable or damaged"),
    ("2 MiB + 1", hostile.over_max_pdf_upload, "exceeds the maximum allowed size"),
    ("executable", lambda: hostile.upload("a.exe", b"MZ" + b"\0" * 100), "File format not accepted"),
    (
        "progressive JPEG of 600 scans",
        lambda: hostile.upload("p.jpg", hostile.progressive_jpeg_with_extra_scans((640, 480), 590)),
        "unreadable or damaged",
    ),
    (
        "15,000-page PDF of 1.8 MB",
        lambda: hostile.upload("these.pdf", hostile.pdf_with_pages(15_000)),
        "too many pages (1,000 at most)",
    ),
]


@pytest.mark.parametrize(("case", "build", "message"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_upload_is_refused_with_its_message_and_nothing_stored(
    owner, application, piece, case, build, message
):
    response = post_file(owner, application, piece, build())

    assert response.status_code == 302
    page = owner.get(response["Location"])
    (text,) = messages_of(page)
    assert text.startswith("Lettre de motivation: ")
    assert message in text
    assert not Document.objects.exists()
    assert not PieceSubmission.objects.exists()
    assert stored_files() == []


def test_a_pdf_with_restrictions_only_is_received(owner, application, piece):
    """Regression (hostile uploads round 2, 2026-12-03): refused as password-protected though it opens without one."""
    uploaded = hostile.upload("attestation.pdf", hostile.encrypted_pdf("", algorithm="AES-256"))

    response = post_file(owner, application, piece, uploaded)

    assert messages_of(owner.get(response["Location"])) == ["Lettre de motivation: file received."]
    assert Document.objects.get().original_name == "attestation.pdf"


def test_a_pdf_over_the_page_cap_is_refused_in_french_next_to_the_piece(owner, application, piece):
    """Regression (hostile uploads round 2, 2026-12-03): a 15,000-page PDF of 1.8 MB was accepted."""
    uploaded = hostile.upload("these.pdf", hostile.pdf_with_pages(15_000))

    response = owner.post(upload_url(application, piece), {"file": uploaded}, language="fr")

    page = html.unescape(owner.get(response["Location"], language="fr").content.decode())
    assert (
        "Le fichier PDF compte trop de pages (1\u00a0000 au plus) : envoyez seulement les pages demandées, ou "
        "découpez le document." in page
    )
    assert not Document.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize("size", [1_000, 100_000], ids=["1 KB", "100 KB"])
@pytest.mark.parametrize(
    ("name", "kept"),
    [(b"relev\xe9 de notes.pdf", "relevé de notes.pdf"), (b"\x93\xff\x81.pdf", "ÿ.pdf")],
    ids=["latin-1", "undefined in cp1252: read as latin-1, controls dropped"],
)
def test_a_file_name_that_is_not_utf8_is_received_under_a_readable_name(
    owner, application, piece, django_assert_num_queries, name, kept, size
):
    """Regression (2026-12-03): Django's multipart parser skipped the part's header: under about 64 KB the file
    vanished (« Choisissez un fichier à déposer »), above the answer was a 400. The name is now read as
    Windows-1252 (ecandidat/uploads.py); the pieces' usual query count."""
    with django_assert_num_queries(12):
        response = post_raw(owner, upload_url(application, piece), [(name, hostile.pdf_of_exact_size(size))])

    assert messages_of(owner.get(response["Location"])) == ["Lettre de motivation: file received."]
    document = Document.objects.get()
    assert (document.original_name, document.size) == (kept, size)
    assert len(stored_files()) == 1


@pytest.mark.parametrize("name", [b"..", b".", b"\x01\x02"])
def test_a_file_name_empty_once_sanitised_is_refused_in_french_beside_the_piece(owner, application, piece, name):
    """Django dropped such a part silently (« Choisissez un fichier à déposer »): it is now received as
    « document », a name without an extension, refused with the pipeline's message beside the piece."""
    response = post_raw(owner, upload_url(application, piece), [(name, hostile.pdf_bytes())], language="fr")

    page = owner.get(response["Location"], language="fr")
    assert [(str(m), m.extra_tags) for m in page.context["messages"]] == [
        (
            "Lettre de motivation : Format non accepté : déposez un fichier PDF, JPEG ou PNG.",
            f"piece-{piece.pk}",  # shown in the piece's row
        )
    ]
    assert not Document.objects.exists()
    assert stored_files() == []


def test_a_forged_name_of_10_000_characters_is_a_400_with_nothing_stored(owner, application, piece):
    """Django refuses part headers longer than 1 KB: the answer is the French « Requête incorrecte … rien n'a été
    enregistré » page, not a 500. No browser sends such a name (a system's file names fit in 255 bytes)."""
    response = post_raw(owner, upload_url(application, piece), [(b"a" * 10_000 + b".pdf", hostile.pdf_bytes())])

    assert response.status_code == 400
    assert not Document.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize("name", [b".pdf", b"...pdf"])
def test_a_pdf_named_only_by_its_extension_is_received_as_document_pdf(owner, application, piece, name):
    """Regression (hostile uploads round 2, 2026-12-03): refused as « Format de fichier non accepté »."""
    post_raw(owner, upload_url(application, piece), [(name, hostile.pdf_bytes())])

    assert Document.objects.get().original_name == "document.pdf"


def test_jpeg_zip_polyglot_is_accepted_re_encoded_without_its_payload(owner, application, piece):
    post_file(owner, application, piece, hostile.jpeg_zip_polyglot_upload())

    document = Document.objects.get()
    content = default_storage.open(document.file.name).read()
    assert b"PK\x03\x04" not in content


def test_jpeg_gps_exif_is_stripped(owner, application, piece):
    post_file(owner, application, piece, hostile.jpeg_with_gps_upload())

    content = default_storage.open(Document.objects.get().file.name).read()
    assert b"Exif" not in content


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "a" * 300 + ".pdf"])
def test_hostile_names_are_kept_sanitised_as_metadata_only(owner, application, piece, name):
    post_file(owner, application, piece, hostile.valid_pdf_upload(name))

    document = Document.objects.get()
    assert "/" not in document.original_name
    assert len(document.original_name) <= 100
    assert document.file.name.count("/") == 1
    assert "passwd" not in document.file.name


def test_exactly_two_mib_is_accepted(owner, application, piece):
    response = post_file(owner, application, piece, hostile.exact_max_pdf_upload())

    assert response.status_code == 302
    assert Document.objects.get().size == 2 * 1024 * 1024


def test_upload_query_count(owner, application, piece, django_assert_num_queries):
    uploaded = hostile.valid_pdf_upload()
    # session, user, application, piece type; rules (requested, existing); savepoint, lock, submission lock,
    # document, submission, event, release; blocking pieces (2); session save for the messages (savepoint, update,
    # release).
    with django_assert_num_queries(12):
        response = post_file(owner, application, piece, uploaded)
    assert response.status_code == 302


def test_upload_by_script_gets_the_address_and_keeps_the_messages(owner, application, piece):
    response = owner.post(
        upload_url(application, piece), {"file": hostile.valid_pdf_upload()}, HTTP_X_UPLOAD_PROGRESS="1"
    )

    location = response.json()["location"]
    page = owner.get(location)
    assert "Lettre de motivation: file received." in messages_of(page)


def test_last_missing_piece_reminds_to_transmit(owner, application, piece):
    response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    page = owner.get(response["Location"])
    assert "All the supporting documents are there: remember to transmit" in page.content.decode()


def test_upload_without_a_file_says_so(owner, application, piece):
    response = owner.post(upload_url(application, piece), {})

    assert messages_of(owner.get(response["Location"])) == ["Lettre de motivation: Choose a file to upload."]


def test_double_submit_through_the_view(owner, application, piece):
    owner.get(post_file(owner, application, piece, hostile.valid_pdf_upload())["Location"])
    response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    assert messages_of(owner.get(response["Location"])) == [
        "Lettre de motivation: You can upload only one file per requested supporting document"
    ]
    assert Document.objects.count() == 1
    assert len(stored_files()) == 1


def test_remove_and_conditional_buttons(
    owner, application, piece, conditional_piece, django_capture_on_commit_callbacks
):
    post_file(owner, application, piece, hostile.valid_pdf_upload())

    with django_capture_on_commit_callbacks(execute=True):
        owner.post(reverse("pieces:remove", args=[application.public_id, piece.pk]))
    owner.post(reverse("pieces:not_concerned", args=[application.public_id, conditional_piece.pk]))

    statuses = dict(PieceSubmission.objects.values_list("piece_type_id", "status"))
    assert statuses == {piece.pk: PieceStatus.WAITING, conditional_piece.pk: PieceStatus.NOT_CONCERNED}
    assert stored_files() == []

    owner.post(reverse("pieces:concerned", args=[application.public_id, conditional_piece.pk]))
    assert PieceSubmission.objects.get(piece_type=conditional_piece).status == PieceStatus.WAITING


def test_pieces_page_shows_the_table_with_accessible_buttons(
    owner, application, piece, conditional_piece, django_assert_num_queries
):
    with django_assert_num_queries(5):
        response = owner.get(reverse("pieces:pieces", args=[application.public_id]))

    html = response.content.decode()
    assert "You can upload your attachments as PDF and JPEG (or PNG) files of at most 2 MB per piece" in html
    assert html.index("upload-constraints") < html.index('type="file"')
    assert 'Add a file for <span lang="fr">Lettre de motivation</span>' in html
    # Reducing a photo is the upload script's: hidden until it runs, never promised without JavaScript.
    assert "<span data-with-script hidden>A photo that is too large is reduced in your browser" in html
    assert "Not concerned by this piece" in html
    assert 'src="/static/js/upload.js" defer' in html
    assert "<script>" not in html


def test_pieces_page_query_count_does_not_grow_with_pieces(
    owner, application, formation, django_assert_num_queries, django_capture_on_commit_callbacks
):
    def page():
        return owner.get(reverse("pieces:pieces", args=[application.public_id]))

    formation.piece_types.add(PieceTypeFactory())
    with django_assert_num_queries(5):
        page()
    with django_capture_on_commit_callbacks(execute=True):  # the changes commit: the cached piece types go
        for _ in range(19):
            piece_type = PieceTypeFactory()
            formation.piece_types.add(piece_type)
            services.upload_piece(
                application=application,
                piece_type=piece_type,
                uploaded_file=hostile.valid_pdf_upload(),
                actor=application.created_by,
            )
    with django_assert_num_queries(5):
        response = page()
    assert response.content.decode().count("Remove the file of") == 19


def test_pieces_page_marks_the_shared_pieces_in_words(
    owner, application, piece, shared_piece, django_assert_num_queries
):
    """A common piece that is not unique is sent once for all the candidate's applications: its row says so, as the
    staff's pages do, in words; the flags are the piece type's own, the page's query count does not change."""
    with django_assert_num_queries(5):
        response = owner.get(reverse("pieces:pieces", args=[application.public_id]))

    rows = {row.piece_type.label: row for row in response.context["piece_rows"]}
    assert rows["Relevé de notes"].is_shared
    assert not rows["Lettre de motivation"].is_shared
    page = response.content.decode()
    shared_row = page[page.index(f'id="piece-{shared_piece.pk}"') :].split("</tr>")[0]
    own_row = page[page.index(f'id="piece-{piece.pk}"') :].split("</tr>")[0]
    assert '<span class="help">(piece shared by your applications)</span>' in shared_row
    assert "shared by your applications" not in own_row


def test_locked_pieces_show_the_reason_and_no_buttons(owner, application, piece):
    application.dossier_status = DossierStatus.RECEIVED
    application.save()

    html = owner.get(reverse("pieces:pieces", args=[application.public_id])).content.decode()

    assert "Your application has been transmitted" in html
    assert 'type="file"' not in html


def test_download_of_own_file_has_safe_headers(owner, application, piece, django_assert_num_queries):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))
    submission = PieceSubmission.objects.get()

    with django_assert_num_queries(5):  # session, user, request savepoints, piece, session save of the messages
        response = owner.get(reverse("pieces:download", args=[submission.public_id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "relev" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    assert b"".join(response.streaming_content) == hostile.pdf_bytes()


def test_other_candidate_gets_404_everywhere(client, other_candidate_user, application, piece, conditional_piece):
    services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    submission = PieceSubmission.objects.get()
    client.force_login(other_candidate_user)

    assert client.get(reverse("pieces:download", args=[submission.public_id])).status_code == 404
    assert client.get(reverse("pieces:pieces", args=[application.public_id])).status_code == 404
    assert client.get(reverse("pieces:dossier_pdf", args=[application.public_id])).status_code == 404
    assert post_file(client, application, piece, hostile.valid_pdf_upload()).status_code == 404
    for name in ("remove", "not_concerned", "concerned"):
        assert client.post(reverse(f"pieces:{name}", args=[application.public_id, piece.pk])).status_code == 404
    assert client.get(reverse("pieces:staff_download", args=[submission.public_id])).status_code == 404
    assert PieceSubmission.objects.get().status == PieceStatus.SUBMITTED


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("candidate_user", 404),
        ("owner", 404),  # the candidate's own dossier PDF is pieces:dossier_pdf, not the staff one
    ],
)
def test_staff_dossier_pdf_personas(request, client, application, piece, persona, expected, django_assert_num_queries):
    services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    user = application.candidate.user if persona == "owner" else request.getfixturevalue(persona)
    client.force_login(user)

    response = client.get(reverse("pieces:staff_dossier_pdf", args=[application.public_id]))

    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"] == "application/pdf"


def test_staff_dossier_pdf_sends_anonymous_to_login(client, application):
    url = reverse("pieces:staff_dossier_pdf", args=[application.public_id])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("centre_manager", 200),
        ("commission_member", 200),
        ("central_manager", 200),
        ("other_centre_manager", 404),
        ("candidate_user", 404),
    ],
)
def test_staff_download_personas(request, client, application, piece, persona, expected):
    services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse("pieces:staff_download", args=[PieceSubmission.objects.get().public_id]))

    assert response.status_code == expected


def test_staff_file_views_need_the_back_office_second_factor(settings, client, application, piece, centre_manager):
    # The same rule as the admin (accounts.staff_access): a password-only staff session is sent to get its second
    # factor, and nothing is handed out or stored meanwhile.
    settings.STAFF_MFA_REQUIRED = True
    services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    submission = PieceSubmission.objects.get()
    client.force_login(centre_manager, mfa=False)
    download = reverse("pieces:staff_download", args=[submission.public_id])

    response = client.get(download)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:staff_enrolment")
    assert client.get(reverse("pieces:staff_dossier_pdf", args=[application.public_id])).status_code == 302
    upload = reverse("pieces:staff_upload", args=[application.public_id, piece.pk])
    assert client.post(upload, {"file": hostile.valid_pdf_upload()}).status_code == 302
    assert Document.objects.count() == 1

    client.force_login(centre_manager)  # with the second factor recorded
    assert client.get(download).status_code == 200


def test_template_file_download(owner, formation):
    piece_type = PieceTypeFactory(label="Dossier de candidature complémentaire")
    piece_type.template.save("dossier-complementaire.pdf", ContentFile(hostile.pdf_bytes()))
    formation.piece_types.add(piece_type)

    response = owner.get(reverse("pieces:template_download", args=[piece_type.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert owner.get(reverse("pieces:template_download", args=[PieceTypeFactory().pk])).status_code == 404


def test_a_template_is_downloaded_under_the_name_it_was_uploaded_with(owner, django_assert_num_queries):
    """Two templates uploaded as « attestation.pdf »: the storage named the second ``attestation_aB3xK9p.pdf``
    and the candidate downloaded it so. Each template now has a folder of its own and keeps its name."""
    first, second = PieceTypeFactory(), PieceTypeFactory()
    first.template.save("attestation.pdf", ContentFile(hostile.pdf_bytes()))
    second.template.save("attestation.pdf", ContentFile(hostile.pdf_bytes()))
    assert first.template.name != second.template.name

    for piece_type in (first, second):
        # session, user, the request's savepoint, the piece type, the release
        with django_assert_num_queries(5):
            response = owner.get(reverse("pieces:template_download", args=[piece_type.pk]))

        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="attestation.pdf"'
        assert response["Content-Type"] == "application/pdf"
        b"".join(response.streaming_content)


@pytest.mark.parametrize(
    ("stored", "name"),
    [
        ("piece-templates/attestation_aB3xK9p.pdf", "attestation.pdf"),  # stored before the folders, renamed
        ("piece-templates/attestation.pdf", "attestation.pdf"),
        ("piece-templates/fiche_inscrip.pdf", "fiche_inscrip.pdf"),  # a word, not the storage's suffix
        ("piece-templates/0f1e2d3c4b5a69788796a5b4c3d2e1f0/Fiche_de_voeux_2026.pdf", "Fiche_de_voeux_2026.pdf"),
    ],
)
def test_the_download_name_of_a_stored_template(stored, name):
    assert template_download_name(stored) == name


def test_dossier_pdf_has_summary_then_each_piece_with_its_header(owner, application, formation, shared_piece):
    pieces = [PieceTypeFactory(label=f"Pièce numéro {n}", order=n + 1) for n in range(3)]
    formation.piece_types.add(*pieces)
    for piece_type, uploaded in zip(
        pieces,
        [hostile.valid_pdf_upload("a.pdf"), hostile.valid_png_upload(), hostile.jpeg_with_gps_upload()],
        strict=True,
    ):
        services.upload_piece(
            application=application, piece_type=piece_type, uploaded_file=uploaded, actor=application.created_by
        )
    summary_pages = len(PdfReader(io.BytesIO(_summary_only(application))).pages)

    response = owner.get(reverse("pieces:dossier_pdf", args=[application.public_id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    candidate_user = application.candidate
    assert f'filename="dossier-{candidate_user.user.username}_' in response["Content-Disposition"]
    assert response["Content-Disposition"].endswith(f'-{formation.code}.pdf"')
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    assert len(reader.pages) == summary_pages + 3
    summary_text = "".join(reader.pages[i].extract_text() for i in range(summary_pages))
    assert formation.title in summary_text
    assert "Pièce numéro 0" in summary_text
    for offset, piece_type in enumerate(pieces):
        assert piece_type.label in reader.pages[summary_pages + offset].extract_text()


def _summary_only(application) -> bytes:
    return bytes(_summary(application, piece_rows(application)).output())


@pytest.mark.parametrize("scan", [ScanStatus.PENDING, ScanStatus.ERROR, ScanStatus.INFECTED])
def test_staff_cannot_open_a_file_the_antivirus_has_not_cleared(client, application, piece, centre_manager, scan):
    services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    submission = PieceSubmission.objects.select_related("document").get()
    Document.objects.filter(pk=submission.document_id).update(scan_status=scan)
    client.force_login(centre_manager)

    download = reverse("pieces:staff_download", args=[submission.public_id])
    assert client.get(download).status_code == 404
    change_page = client.get(reverse("admin:applications_application_change", args=[application.pk]))
    assert change_page.status_code == 200
    assert download not in change_page.content.decode()
    response = client.get(reverse("pieces:staff_dossier_pdf", args=[application.public_id]))
    # The dossier lists the piece on its summary pages, but does not merge the file in: a page says why, while the
    # antivirus has not cleared it or its check failed (an infected file gets none).
    pages = len(PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages)
    notice = 0 if scan == ScanStatus.INFECTED else 1
    assert pages == len(PdfReader(io.BytesIO(_summary_only(application))).pages) + notice

    Document.objects.filter(pk=submission.document_id).update(scan_status=ScanStatus.CLEAN)
    assert client.get(download).status_code == 200
    assert (
        download
        in client.get(reverse("admin:applications_application_change", args=[application.pk])).content.decode()
    )


# --- targeted correction (issue 13) -------------------------------------------------------------------------------


def _refused_after_transmission(application, piece, centre_manager, *, replace_by=None):
    submission = services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    services.set_piece_status(
        submission=submission,
        status=PieceStatus.REFUSED,
        comment="scan flou",
        actor=centre_manager,
        replace_by=replace_by,
    )
    application.dossier_status = DossierStatus.RECEIVED
    application.save()
    return submission


@pytest.mark.parametrize("pieces", [1, 5])
def test_after_transmission_a_refused_piece_shows_its_deadline_and_can_be_replaced(
    owner, application, formation, piece, centre_manager, django_assert_num_queries, pieces
):
    day = timezone.localdate() + datetime.timedelta(days=8)
    for _ in range(pieces - 1):
        other = PieceTypeFactory()
        formation.piece_types.add(other)
        _refused_after_transmission(application, other, centre_manager)
        application.dossier_status = DossierStatus.WAITING
        application.save()
    _refused_after_transmission(application, piece, centre_manager, replace_by=day)

    with django_assert_num_queries(5):
        response = owner.get(reverse("pieces:pieces", args=[application.public_id]), language="fr")

    page = html.unescape(response.content.decode())
    assert "Votre candidature a été transmise" in page
    assert "Vous pouvez encore remplacer les pièces refusées ci-dessous." in page
    assert f"À remplacer au plus tard le {day:%d/%m/%Y}" in page
    assert page.count('type="file"') == pieces
    assert f'action="{upload_url(application, piece)}"' in page
    assert "Remplacer" in page


def test_the_replacement_goes_through_after_transmission(owner, application, piece, centre_manager):
    submission = _refused_after_transmission(
        application, piece, centre_manager, replace_by=timezone.localdate() + datetime.timedelta(days=2)
    )

    response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.replace_by) == (PieceStatus.SUBMITTED, None)
    page = owner.get(reverse("pieces:pieces", args=[application.public_id])).content.decode()
    assert 'type="file"' not in page  # back to the transmitted dossier's lock


def test_past_the_pieces_deadline_the_page_says_so_and_offers_no_upload(
    owner, candidate_user, application, piece, centre_manager, time_machine
):
    day = timezone.localdate() + datetime.timedelta(days=2)
    _refused_after_transmission(application, piece, centre_manager, replace_by=day)
    time_machine.move_to(day + datetime.timedelta(days=1, hours=12))
    owner.force_login(candidate_user)  # the session of two days ago has expired

    page = html.unescape(
        owner.get(reverse("pieces:pieces", args=[application.public_id]), language="fr").content.decode()
    )

    assert f"La date limite pour remplacer cette pièce ({day:%d/%m/%Y}) est dépassée." in page
    assert 'type="file"' not in page
    response = post_file(owner, application, piece, hostile.valid_pdf_upload())
    assert "deadline to replace this piece" in " ".join(messages_of(owner.get(response.url)))


def test_the_recap_shows_the_pieces_deadline(owner, application, piece, centre_manager):
    day = timezone.localdate() + datetime.timedelta(days=4)
    _refused_after_transmission(application, piece, centre_manager, replace_by=day)

    page = html.unescape(
        owner.get(reverse("applications:detail", args=[application.public_id]), language="fr").content.decode()
    )

    assert f"À remplacer au plus tard le {day:%d/%m/%Y}" in page
    assert f'action="{upload_url(application, piece)}"' in page
