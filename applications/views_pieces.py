"""Candidate pieces ("Pièces justificatives"): upload, removal, conditional pieces, downloads; staff downloads and
uploads on the candidate's behalf.

Every object is loaded through a scoped queryset: another candidate's application, piece or file is a 404.
Errors come back as a message naming the piece, on the page the candidate came from (post/redirect/get).
Uploads and dossier PDFs are limited per account and per IP address (``documents.fair_use``): over the limit, the
answer is a 429 with ``Retry-After`` and a message saying how long to wait, before anything is read or stored.
"""

import math

from django.contrib import messages
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.staff_access import back_office_required
from applications.dossier_pdf import build_dossier_pdf, dossier_filename
from applications.models import Application, PieceSubmission
from applications.permissions import can_change_pieces
from applications.pieces import pieces_table_context
from applications.services import pieces as services
from documents import fair_use
from documents.enums import OPENABLE_SCANS
from documents.saturation import RETRY_AFTER_SECONDS, upload_slot
from documents.services import UploadsPaused, check_uploads_open
from documents.storage import stored_name
from ecandidat.downloads import storage_errors, streamed_file_response
from ecandidat.exceptions import BusinessRuleError
from ecandidat.prepared import PreparedQuery
from ecandidat.staff import object_in_scope_or_404
from ecandidat.staff_text import StaffText
from offers.models import PieceType, template_download_name

# Compiled once per process (ecandidat.prepared, issue 14): the pieces page and every upload read them.
_PIECE_TYPE = PreparedQuery(lambda pk: PieceType.objects.filter(pk=pk))
_OWN_APPLICATION = PreparedQuery(
    lambda user_id, public_id: Application.objects.filter(
        candidate__user_id=user_id, public_id=public_id
    ).select_related("formation", "campaign", "candidate")[:1]
)


def _own_application(request, application_id) -> Application:
    """The candidate's application with what the pieces need (no decision: the pieces do not depend on it)."""
    if not request.user.is_authenticated:
        raise Http404
    application = _OWN_APPLICATION.first(user_id=request.user.pk, public_id=application_id)
    if application is None:
        raise Http404
    return application


def _piece_type(piece_type_id) -> PieceType:
    piece_type = _PIECE_TYPE.first(pk=piece_type_id)
    if piece_type is None:
        raise Http404
    return piece_type


def _done(request, application, piece_type=None):
    """Back to the recap page, at the piece's row; the upload script (``X-Upload-Progress``) gets the address to go
    to instead, so that the messages are read by the page it opens, not by the redirect it would follow."""
    url = _back(application, piece_type)
    if request.headers.get("X-Upload-Progress"):
        return JsonResponse({"location": url})
    return redirect(url)


def _back(application, piece_type=None) -> str:
    """The application's recap page ("Récapitulatif de votre candidature"), or the pieces page until it exists; at
    the piece's row when there is one (its message is shown there, see ``_piece_tag``)."""
    try:
        url = reverse("applications:detail", args=[application.public_id])
    except NoReverseMatch:
        url = reverse("pieces:pieces", args=[application.public_id])
    return url + (f"#piece-{piece_type.pk}" if piece_type is not None else "#pieces")


def _piece_tag(piece_type) -> str:
    """The messages' extra tag that puts them in the piece's row of the pieces table, next to what they are about."""
    return f"piece-{piece_type.pk}"


def _piece_label(piece_type) -> str:
    # A long label is cut with an ellipsis: cut bare, "… (téléchargez avec : fichier reçu." reads as one sentence.
    return Truncator(piece_type.shown_label.text).chars(120)


def _about_piece(piece_type, message) -> str:
    """A message about one piece, after its label: "Cover letter: …" in English, "Lettre de motivation : …" in
    French (the French space before the colon is French typography only). A refusal while the uploads are in
    maintenance ends with the central office's own words (``UploadsPaused.staff_message``), in an element of their
    own marked French (RGAA 8.7): the message is then safe HTML, which the messages keep as such."""
    text = _("%(piece)s: %(message)s") % {"piece": _piece_label(piece_type), "message": message}
    if isinstance(message, UploadsPaused) and message.staff_message:
        return format_html("{} {}", text, StaffText(message.staff_message, "fr").marked)
    return text


@transaction.non_atomic_requests  # read-only page: no transaction to open and commit (issue 14)
@require_GET
def pieces(request, application_id):
    """The "Pièces justificatives" table of one application on its own page."""
    application = _own_application(request, application_id)
    return render(request, "applications/pieces.html", pieces_table_context(application))


def _piece_action(request, application_id, piece_type_id, action, success: str):
    application = _own_application(request, application_id)
    piece_type = _piece_type(piece_type_id)
    try:
        action(application=application, piece_type=piece_type, actor=request.user)
    except BusinessRuleError as error:
        messages.error(request, _about_piece(piece_type, error), extra_tags=_piece_tag(piece_type))
    else:
        messages.success(request, success % {"piece": _piece_label(piece_type)}, extra_tags=_piece_tag(piece_type))
    return redirect(_back(application, piece_type))


def _wait_text(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return ngettext("wait %(count)d minute", "wait %(count)d minutes", minutes) % {"count": minutes}


def _too_many_uploads(seconds: int) -> str:
    return _("Too many files sent in a short time: %(wait)s, then send this one again. It has not been saved.") % {
        "wait": _wait_text(seconds)
    }


def _too_many_dossiers(seconds: int) -> str:
    return _("Too many dossier downloads in a short time: %(wait)s, then try again.") % {"wait": _wait_text(seconds)}


def _too_many(response, seconds: int):
    response.status_code = 429
    response["Retry-After"] = str(seconds)
    return response


def _rate_limited_page(request, message: str, back: str, seconds: int):
    return _too_many(render(request, "applications/rate_limited.html", {"message": message, "back": back}), seconds)


@require_POST
@transaction.non_atomic_requests
def upload(request, application_id, piece_type_id):
    """ "+": one file for one piece. Not wrapped in the request transaction: the service writes the file, then
    commits the rows itself, so a failure in between can delete the file it has just written.

    Piece uploads in maintenance (``documents.services.check_uploads_open``): refused at once, the message beside
    the piece; the file is neither validated, counted nor stored.

    Over the fair-use limit: the pieces page again, the message beside the piece, status 429 (the upload script
    gets the address of the recap page and reads the message there).

    Server saturated (every upload slot taken, ``documents.saturation``): the same, with status 503 and a message
    that says the file was not saved and to send it again in a few seconds; nothing is read or stored. The upload
    script, which keeps the file, says how many more times it will send it by itself (``X-Upload-Retries-Left``);
    while it will, the answer is only the delay (JSON ``retry_after``) and no message is left for a later page."""
    application = _own_application(request, application_id)
    piece_type = _piece_type(piece_type_id)
    try:
        check_uploads_open()  # before the fair-use count and the upload slot: a refused file costs nothing
    except UploadsPaused as error:
        messages.error(request, _about_piece(piece_type, error), extra_tags=_piece_tag(piece_type))
        return _done(request, application, piece_type)
    with upload_slot() as admitted:
        if not admitted:
            return _saturated(request, application, piece_type)
        return _upload(request, application, piece_type)


def _saturated(request, application, piece_type):
    response: HttpResponse
    by_script = bool(request.headers.get("X-Upload-Progress"))
    if by_script and _retries_left(request) > 0:
        response = JsonResponse({"retry_after": RETRY_AFTER_SECONDS})
    else:
        message = _about_piece(
            piece_type,
            _(
                "Many files are being sent right now: yours has not been saved. Send it again in a few seconds, it "
                "will then be received normally."
            ),
        )
        if by_script:
            messages.error(request, message, extra_tags=_piece_tag(piece_type))
            response = _done(request, application, piece_type)
        else:
            response = render(
                request, "applications/rate_limited.html", {"message": message, "back": _back(application, piece_type)}
            )
    response.status_code = 503
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _retries_left(request) -> int:
    """How many more times the upload script will send this file by itself after a 503 (0: none, or not said)."""
    value = request.headers.get("X-Upload-Retries-Left", "")
    return int(value) if value.isascii() and value.isdecimal() and len(value) <= 2 else 0


def _upload(request, application, piece_type):
    wait = fair_use.consume(request, fair_use.UPLOAD)
    if wait is not None:
        message = _too_many_uploads(wait)
        if request.headers.get("X-Upload-Progress"):
            messages.error(request, _about_piece(piece_type, message), extra_tags=_piece_tag(piece_type))
            return _too_many(_done(request, application, piece_type), wait)
        context = {**pieces_table_context(application), "piece_error_id": piece_type.pk, "piece_error": message}
        return _too_many(render(request, "applications/pieces.html", context), wait)
    uploaded = request.FILES.getlist("file")  # several: photos of one document, stored as one PDF
    if not uploaded:
        messages.error(
            request, _about_piece(piece_type, _("Choose a file to upload.")), extra_tags=_piece_tag(piece_type)
        )
        return _done(request, application, piece_type)
    try:
        services.upload_piece(
            application=application, piece_type=piece_type, uploaded_file=uploaded, actor=request.user
        )
    except BusinessRuleError as error:
        messages.error(request, _about_piece(piece_type, error), extra_tags=_piece_tag(piece_type))
        return _done(request, application, piece_type)
    # Whether every piece is now there is said by the recap page, from the rows it computes anyway (issue 14).
    if can_change_pieces(request.user, application):
        received = _("%(piece)s: file received.")
    else:
        # A refused piece replaced while the others are locked (targeted correction, issue 13): the dossier is
        # with the commission already and the recap offers no "Transmettre" then; without this the guide's
        # « n'oubliez pas de transmettre votre dossier » left the candidate looking for a button (no query: the
        # application comes with its formation and candidate).
        received = _(
            "%(piece)s: file received. The commission will examine it: you do not need to transmit your "
            "application again."
        )
    messages.success(request, received % {"piece": _piece_label(piece_type)}, extra_tags=_piece_tag(piece_type))
    return _done(request, application, piece_type)


@require_POST
def remove(request, application_id, piece_type_id):
    """ "-": remove the file of a piece (not a validated one); refused while the piece uploads are in maintenance.
    The form posts the file it showed (``document``; absent from a page of before: nothing checked)."""
    shown_document = request.POST.get("document")

    def remove_while_uploads_open(**arguments):
        check_uploads_open()
        return services.remove_piece(**arguments, shown_document=shown_document)

    return _piece_action(
        request, application_id, piece_type_id, remove_while_uploads_open, _("%(piece)s: file removed.")
    )


@require_POST
def not_concerned(request, application_id, piece_type_id):
    return _piece_action(
        request, application_id, piece_type_id, services.declare_not_concerned, _("%(piece)s: not concerned.")
    )


@require_POST
def concerned(request, application_id, piece_type_id):
    return _piece_action(
        request, application_id, piece_type_id, services.declare_concerned, _("%(piece)s: expected again.")
    )


def _file_response(document) -> StreamingHttpResponse | FileResponse:
    """Stream a stored document as an attachment, with its validated type; never cached, never sniffed. Missing from
    the storage: 404; the storage unreachable: the 503 page (``ecandidat.downloads``)."""
    return streamed_file_response(
        stored_name(document), filename=document.original_name, content_type=document.content_type
    )


@require_GET
def download(request, submission_id):
    """The candidate's own file."""
    submission = get_object_or_404(
        PieceSubmission.objects.for_candidate_user(request.user).select_related("document"),
        public_id=submission_id,
        document__isnull=False,
    )
    return _file_response(submission.document)


@require_GET
def template_download(request, piece_type_id):
    """The template file of a piece (e.g. "Dossier de candidature complémentaire"), for anyone logged in."""
    piece_type = get_object_or_404(PieceType.objects.exclude(template=""), pk=piece_type_id, in_service=True)
    stored = piece_type.template.name
    assert stored is not None  # template="" is excluded above
    name = template_download_name(stored)
    content_type = "application/pdf" if name.lower().endswith(".pdf") else "application/octet-stream"
    # Missing: 404; the storage failing: the 503 page. From a bucket, open() only asks for the object's headers and
    # FileResponse downloads it as it reads its size: inside too, so that a transfer cut or stalled is the 503 page.
    with storage_errors():
        handle = default_storage.open(stored, "rb")
        response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@back_office_required
@require_GET
def staff_download(request, submission_id):
    """A piece's file for staff whose scope covers one of its applications; not before the antivirus said clean."""
    submission = object_in_scope_or_404(
        PieceSubmission.objects.select_related("document"),
        request.user,
        public_id=submission_id,
        document__isnull=False,
    )
    if submission.document.scan_status not in OPENABLE_SCANS:
        raise Http404
    return _file_response(submission.document)


@back_office_required
@require_POST
@transaction.non_atomic_requests
def staff_upload(request, application_id, piece_type_id):
    """Staff upload a file for a piece on the candidate's behalf (e.g. received by post), from the back office's
    application page. Outsiders get a 404; staff who only read the application (read-only, commission) a 403.
    Not wrapped in the request transaction, like the candidate's upload (the service commits after the file)."""
    application = object_in_scope_or_404(
        Application.objects.select_related("formation", "campaign", "candidate").with_current_decision(),
        request.user,
        allowed_by="editable_by",
        public_id=application_id,
    )
    piece_type = get_object_or_404(PieceType, pk=piece_type_id)
    back = reverse("admin:applications_application_change", args=[application.pk]) + "#pieces"
    wait = fair_use.consume(request, fair_use.STAFF_UPLOAD)
    if wait is not None:
        return _rate_limited_page(request, _about_piece(piece_type, _too_many_uploads(wait)), back, wait)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, _about_piece(piece_type, _("Choose a file to upload.")))
        return redirect(back)
    try:
        services.upload_piece_for_candidate(
            application=application, piece_type=piece_type, uploaded_file=uploaded, actor=request.user
        )
    except BusinessRuleError as error:
        messages.error(request, _about_piece(piece_type, error))
    else:
        messages.success(request, _("%(piece)s: file received.") % {"piece": _piece_label(piece_type)})
    return redirect(back)


def _pdf_response(request, application, *, action: str, back: str, for_candidate: bool = False):
    wait = fair_use.consume(request, action)
    if wait is not None:
        return _rate_limited_page(request, _too_many_dossiers(wait), back, wait)
    handle = build_dossier_pdf(application, for_candidate=for_candidate)
    response = FileResponse(
        handle, as_attachment=True, filename=dossier_filename(application), content_type="application/pdf"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def dossier_pdf(request, application_id):
    """ "Télécharger mon dossier": one PDF, summary pages then every uploaded piece."""
    application = get_object_or_404(
        Application.objects.for_candidate_user(request.user)
        .select_related("formation", "campaign", "candidate")
        .with_current_decision(),
        public_id=application_id,
    )
    return _pdf_response(
        request, application, action=fair_use.DOSSIER_PDF, back=_back(application), for_candidate=True
    )


@back_office_required
@require_GET
def staff_dossier_pdf(request, application_id):
    application = get_object_or_404(
        Application.objects.visible_to(request.user)
        .select_related("formation", "campaign", "candidate")
        .with_current_decision(),
        public_id=application_id,
    )
    back = reverse("admin:applications_application_change", args=[application.pk])
    return _pdf_response(request, application, action=fair_use.STAFF_DOSSIER_PDF, back=back)
