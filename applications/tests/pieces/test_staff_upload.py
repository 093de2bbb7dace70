"""Staff upload a piece on the candidate's behalf from the back office's application page (issue 5)."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.urls import reverse

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, ApplicationEvent, PieceSubmission
from applications.services import pieces as services
from applications.tests.helpers import post_raw
from documents.enums import ScanStatus
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.clamd_peer import ClamdPeer
from documents.tests.storage import stored_files
from offers.tests.factories import PieceTypeFactory


def staff_upload_url(application, piece_type):
    return reverse("pieces:staff_upload", args=[application.public_id, piece_type.pk])


def change_url(application):
    return reverse("admin:applications_application_change", args=[application.pk]) + "#pieces"


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def manager(client, centre_manager):
    client.force_login(centre_manager)
    return client


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("centre_manager", 302),
        ("central_manager", 302),
        ("other_centre_manager", 404),
        ("read_only_staff", 403),
        ("commission_member", 403),
        ("candidate_user", 404),
        ("other_candidate_user", 404),
    ],
)
def test_staff_upload_personas(request, client, application, piece, persona, expected):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    response = client.post(staff_upload_url(application, piece), {"file": hostile.valid_pdf_upload()})

    assert response.status_code == expected
    if expected == 302:
        assert response["Location"] == change_url(application)
        submission = PieceSubmission.objects.get()
        assert (submission.status, submission.status_changed_by) == (PieceStatus.SUBMITTED, user)
        assert submission.document.uploaded_by == user
        event = ApplicationEvent.objects.get(kind="piece_uploaded_by_staff")
        assert (event.application, event.actor, event.comment) == (application, user, piece.code)
    else:
        assert not Document.objects.exists()
        assert stored_files() == []


def test_staff_upload_query_count(manager, application, piece, django_assert_num_queries):
    # session, user, memberships, application, editable check, piece type; requested check, existing piece;
    # savepoint, lock, locked piece, document, submission, event, release; session save (3) for the message
    with django_assert_num_queries(14):
        response = manager.post(staff_upload_url(application, piece), {"file": hostile.valid_pdf_upload()})

    assert response.status_code == 302
    assert messages_of(response) == ["Lettre de motivation: file received."]


def test_a_hostile_file_is_refused_with_its_message_and_nothing_stored(manager, application, piece):
    response = manager.post(
        staff_upload_url(application, piece),
        {"file": hostile.upload("js.pdf", hostile.pdf_with_open_action_javascript())},
    )

    assert response.status_code == 302
    (text,) = messages_of(response)
    assert text.startswith("Lettre de motivation: ")
    assert "contains JavaScript" in text
    assert not Document.objects.exists()
    assert not PieceSubmission.objects.exists()
    assert stored_files() == []


def test_without_a_file_says_so(manager, application, piece):
    response = manager.post(staff_upload_url(application, piece))

    assert messages_of(response) == ["Lettre de motivation: Choose a file to upload."]


def test_get_is_not_allowed(manager, application, piece):
    assert manager.get(staff_upload_url(application, piece)).status_code == 405


def test_staff_may_upload_after_transmission_and_the_deadline(manager, application, piece):
    Application.objects.filter(pk=application.pk).update(
        dossier_status=DossierStatus.RECEIVED, return_deadline_override="2000-01-01"
    )
    assert services.pieces_locked_reason(Application.objects.select_related("formation").get(pk=application.pk))

    manager.post(staff_upload_url(application, piece), {"file": hostile.valid_pdf_upload()})

    assert PieceSubmission.objects.get().status == PieceStatus.SUBMITTED


def test_a_refused_file_is_replaced_and_deleted_after_commit(
    manager, centre_manager, application, piece, django_capture_on_commit_callbacks
):
    refused = services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    services.set_piece_status(
        submission=refused, status=PieceStatus.REFUSED, comment="illisible", actor=centre_manager
    )
    old_name = refused.document.file.name

    with django_capture_on_commit_callbacks(execute=True):
        manager.post(staff_upload_url(application, piece), {"file": hostile.valid_pdf_upload("par-courrier.pdf")})

    submission = PieceSubmission.objects.get()
    assert (submission.status, submission.comment) == (PieceStatus.SUBMITTED, "")
    assert submission.document.original_name == "par-courrier.pdf"
    assert Document.objects.count() == 1
    assert not default_storage.exists(old_name)
    assert stored_files() == [submission.document.file.name]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (PieceStatus.VALIDATED, "This piece has been validated: it can no longer be changed."),
        # Said to staff as what happened (it was the candidate's « one file per piece »).
        (
            PieceStatus.SUBMITTED,
            "The candidate has sent a file for this piece since the page was shown: nothing was uploaded.",
        ),
    ],
)
def test_a_piece_with_a_file_in_use_is_not_replaced(manager, centre_manager, application, piece, status, message):
    submission = services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    services.set_piece_status(submission=submission, status=status, actor=centre_manager)

    response = manager.post(staff_upload_url(application, piece), {"file": hostile.valid_pdf_upload()})

    assert messages_of(response) == [f"Lettre de motivation: {message}"]
    assert Document.objects.count() == 1


def test_a_cancelled_application_takes_no_file(manager, application, piece):
    Application.objects.filter(pk=application.pk).update(cancelled_at="2026-01-01T00:00:00Z")

    response = manager.post(staff_upload_url(application, piece), {"file": hostile.valid_pdf_upload()})

    assert messages_of(response) == ["Lettre de motivation: This application has been cancelled."]
    assert stored_files() == []


def test_a_piece_the_formation_does_not_ask_for_is_refused(manager, application, formation):
    unrelated = PieceTypeFactory(label="Autre")

    response = manager.post(staff_upload_url(application, unrelated), {"file": hostile.valid_pdf_upload()})

    assert messages_of(response) == ["Autre: This supporting document is not requested for this application."]


def test_the_antivirus_scans_a_staff_upload_before_staff_can_open_it(
    settings, manager, application, piece, django_capture_on_commit_callbacks
):
    peer = ClamdPeer()
    settings.CLAMD_ADDRESS = peer.address
    try:
        with django_capture_on_commit_callbacks(execute=True):
            manager.post(
                staff_upload_url(application, piece),
                {
                    "file": hostile.upload(
                        "e.pdf",
                        hostile.build_pdf([hostile.CATALOG, hostile.PAGES, hostile.PAGE], comment=hostile.EICAR),
                    )
                },
            )
    finally:
        peer.close()

    document = Document.objects.get()
    assert document.scan_status == ScanStatus.INFECTED
    submission = PieceSubmission.objects.get()
    # Refused without its file (quarantined): staff or the candidate send another.
    assert (submission.status, submission.document) == (PieceStatus.REFUSED, None)


# --- the back office's pieces block -----------------------------------------------------------------------------


def test_the_application_page_offers_the_upload_form_outside_the_admin_form(manager, application, piece):
    page = manager.get(reverse("admin:applications_application_change", args=[application.pk])).content.decode()

    action = staff_upload_url(application, piece)
    assert f'action="{action}"' in page
    assert 'enctype="multipart/form-data"' in page[page.index('id="pieces"') :]
    # The reading page has no admin form around the pieces' forms: browsers drop nested forms.
    assert 'id="application_form"' not in page


@pytest.mark.parametrize("persona", ["read_only_staff", "commission_member"])
def test_readers_get_no_upload_form(request, client, application, piece, persona):
    client.force_login(request.getfixturevalue(persona))

    page = client.get(reverse("admin:applications_application_change", args=[application.pk])).content.decode()

    assert "Lettre de motivation" in page
    assert staff_upload_url(application, piece) not in page


def test_a_file_name_that_is_not_utf8_is_received(manager, application, piece, django_assert_num_queries):
    """Regression (2026-12-03): Django skipped the part (« Choose a file to upload. »); the name is read as
    Windows-1252 (ecandidat/uploads.py), with the staff upload's usual query count."""
    with django_assert_num_queries(14):
        response = post_raw(
            manager, staff_upload_url(application, piece), [(b"courrier re\xe7u.pdf", hostile.pdf_bytes())]
        )

    assert messages_of(response) == ["Lettre de motivation: file received."]
    assert Document.objects.get().original_name == "courrier reçu.pdf"


def test_a_file_name_empty_once_sanitised_gets_the_pipelines_message(manager, application, piece):
    response = post_raw(manager, staff_upload_url(application, piece), [(b"..", hostile.pdf_bytes())])

    (text,) = messages_of(response)
    assert text.startswith("Lettre de motivation: ")
    assert "Choose a file" not in text
    assert not Document.objects.exists()
