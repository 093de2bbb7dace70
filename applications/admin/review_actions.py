"""What staff do from one application's reading page (``review``): check a piece, validate every submitted piece,
add or delete an internal note, set the tags, preview a piece (PNG pages drawn by the server).

Small views with Django's decorators, each calling one service (``applications.services.pieces`` /
``review``), which owns the rules and raises what the page shows. Each takes its application through
``ecandidat.staff.object_in_scope_or_404``: outsiders get a 404, staff who may not do this a 403 (pieces and tags
need ``editable_by``, notes ``decidable_by``).
"""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, npgettext
from django.views.decorators.http import require_GET, require_POST

from applications.admin.review import NOTE_RETRY, PIECE_CHECK_RETRY, PREVIEW_CSP, change_url, list_filters
from applications.enums import PieceStatus
from applications.models import Application, PieceSubmission, Tag
from applications.pieces import applicable_piece_types
from applications.services import review as review_services
from applications.services.pieces import (
    clean_piece_check,
    is_replayed_check,
    set_piece_status,
    validate_shown_pieces,
)
from documents.enums import OPENABLE_SCANS
from documents.preview import MAX_PAGES as PREVIEW_MAX_PAGES
from documents.preview import PREVIEWABLE, PreviewUnavailable, render_page
from ecandidat.admin_base import bound_view
from ecandidat.exceptions import BusinessRuleError, FieldRuleError
from ecandidat.staff import object_in_scope_or_404
from ecandidat.text import is_number
from offers.models import PieceType


def application_for(request, object_id, allowed_by: str | None = None):
    """The application a staff view acts on (``ecandidat.staff.object_in_scope_or_404``), with its candidate and
    formation."""
    return object_in_scope_or_404(
        Application.objects.select_related("candidate__user", "formation__centre"),
        request.user,
        allowed_by=allowed_by,
        pk=object_id,
    )


def piece_of(application, piece_id):
    """One of the application's pieces: its own, or one of the candidate's shared ones whose type this application
    asks for (``applicable_piece_types``: a shared piece of another centre's application is not this one's, even
    through the candidate's application here); any other: 404. One query (the types in a subquery)."""
    asked_for = PieceType.objects.filter(applicable_piece_types(application)).values("pk")
    return get_object_or_404(
        PieceSubmission.objects.select_related("piece_type", "document").filter(
            Q(application=application)
            | Q(application__isnull=True, candidate_id=application.candidate_id, piece_type_id__in=asked_for)
        ),
        public_id=piece_id,
    )


def _refused(request, submission, back: str, *, message: str, field: str) -> HttpResponseRedirect:
    """A check the rules refused: the message at the top of the page and next to its field, what was typed kept for
    the page the redirect leads to (``review.PIECE_CHECK_RETRY``, read once)."""
    messages.error(request, message)
    request.session[PIECE_CHECK_RETRY] = {
        "piece": str(submission.public_id),
        "comment": request.POST.get("comment", "")[:500],
        "replace_by": request.POST.get("replace_by", "")[:10],
        "field": field,
        # HTML (the session keeps text only): the message escaped, a part already HTML (a label marked with its
        # language) kept; ``review._piece_items`` shows it as is.
        "error": str(conditional_escape(message)),
    }
    return HttpResponseRedirect(back)


def lower_first(text: str | Promise) -> str:
    """A sentence or a status label going on after a colon or inside a sentence ("Relevé de notes : refusée", "déjà
    validée"): its first letter in lower case, unless it starts a word in capitals ("INE")."""
    text = str(text)
    if text[:1].isupper() and text[1:2].islower():
        return text[0].lower() + text[1:]
    return text


def _about_piece(label: str, message: str) -> str:
    """ "Relevé de notes : la date limite …": the service's sentence after the piece's name."""
    return _("%(piece)s: %(message)s") % {"piece": label, "message": lower_first(message)}


def _shown(value: str | None) -> str | None:
    """A file's public id as a page posts it (bounded), None when the form did not say which file it showed."""
    return value[:36] if value is not None else None


@require_POST
def piece_check_view(request, object_id, piece_id, *, model_admin):
    """Valider / Refuser one piece, back to the same piece on the page (anchor: the scroll position is kept). The
    service checks the status and the comment; its message names the piece. A refused check comes back with what was
    typed, the message next to its field."""
    application = application_for(request, object_id, "editable_by")
    submission = piece_of(application, piece_id)
    back = change_url(application.pk, list_filters(request), f"piece-{submission.piece_type_id}")
    status = request.POST.get("status", "")
    label = Truncator(submission.piece_type.label).chars(80)
    replace_by = None
    # A date with « Valider » is refused next to it (``clean_piece_check``), not dropped: Enter in the date field
    # sends Chromium's form through « Valider » even past the disabled default button of the page.
    if raw_date := request.POST.get("replace_by", "").strip():
        try:
            replace_by = datetime.date.fromisoformat(raw_date)
        except ValueError:
            message = _("%(piece)s: the deadline to replace the piece is not a valid date.") % {"piece": label}
            return _refused(request, submission, back, message=message, field="replace_by")
    try:
        comment = clean_piece_check(
            submission=submission, status=status, comment=request.POST.get("comment", ""), replace_by=replace_by
        )
        if is_replayed_check(submission, status=status, comment=comment, replace_by=replace_by):
            messages.info(
                request,
                _("%(piece)s: already %(status)s.")
                % {"piece": label, "status": lower_first(PieceStatus(status).label)},
            )
            return HttpResponseRedirect(back)
        set_piece_status(
            submission=submission,
            status=status,
            comment=comment,
            actor=request.user,
            replace_by=replace_by,
            # The file the page showed: refused when the piece holds another one now (never checked unseen).
            shown_document=_shown(request.POST.get("document")),
            # The status the page showed, and when it was set: a colleague's check made since is not overwritten
            # (a page without these fields, from before them, checks nothing).
            shown_status=request.POST.get("shown_status", "")[:2] or None,
            shown_changed_at=request.POST["shown_changed_at"][:40] if "shown_changed_at" in request.POST else None,
        )
    except FieldRuleError as error:
        message = _about_piece(label, str(error)) if error.field == "replace_by" else str(error)
        return _refused(request, submission, back, message=message, field=error.field)
    except BusinessRuleError as error:
        return _refused(request, submission, back, message=_about_piece(label, str(error)), field="")
    else:
        done = _("%(piece)s: %(status)s.") % {"piece": label, "status": lower_first(PieceStatus(status).label)}
        if replace_by is not None:
            done += " " + _("To replace by %(date)s.") % {"date": date_format(replace_by, "SHORT_DATE_FORMAT")}
        messages.success(request, done)
    return HttpResponseRedirect(back)


@require_POST
def validate_all_view(request, object_id, *, model_admin):
    """ "Valider toutes les pièces transmises": one POST, one transaction, only the files the page showed (it posts
    their public ids; a file sent or replaced since refuses the whole action)."""
    application = application_for(request, object_id, "editable_by")
    back = change_url(application.pk, list_filters(request), "pieces")
    # The files the page offered to validate (none said: a form of before, nothing to compare).
    shown = {value[:36] for value in request.POST.getlist("document")[:1000]} if "document" in request.POST else None
    try:
        count = validate_shown_pieces(application=application, shown_documents=shown, actor=request.user)
    except BusinessRuleError as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(back)
    if count:
        messages.success(
            request,
            ngettext("%(count)d piece validated.", "%(count)d pieces validated.", count) % {"count": count},
        )
    elif not count.refused_meanwhile:
        messages.info(request, _("No submitted piece was waiting for a check."))
    if count.refused_meanwhile:
        messages.warning(request, count.refused_meanwhile_message)
    return HttpResponseRedirect(back)


@require_POST
def note_view(request, object_id, *, model_admin):
    """Add an internal note (managers and commission members; read-only staff get a 403). A refused note comes back
    in the form with its message (``review.NOTE_RETRY``), so that nothing typed is lost."""
    application = application_for(request, object_id, "decidable_by")
    text = request.POST.get("text", "")
    try:
        review_services.add_note(application=application, actor=request.user, text=text)
    except BusinessRuleError as error:
        messages.error(request, str(error))
        # Bounded: a session row is no place for a megabyte some client posted.
        request.session[NOTE_RETRY] = {"text": text[: 2 * review_services.NOTE_MAX_LENGTH], "error": str(error)}
    else:
        messages.success(request, _("Note added."))
    return HttpResponseRedirect(change_url(application.pk, list_filters(request), "notes"))


@require_POST
def note_delete_view(request, object_id, note_id, *, model_admin):
    """Delete one internal note: its author, or the central office (others who write notes get a 403, outsiders a
    404; another application's note is not found)."""
    application = application_for(request, object_id, "decidable_by")
    note = get_object_or_404(application.notes.select_related("author"), pk=note_id)
    if not review_services.may_delete_note(note, request.user):
        raise PermissionDenied
    review_services.delete_note(note=note, actor=request.user)
    messages.success(request, _("Note deleted."))
    return HttpResponseRedirect(change_url(application.pk, list_filters(request), "notes"))


@require_POST
def tags_view(request, object_id, *, model_admin):
    """Change the application's tags among those the user may use (managers; others get a 403).

    The page posts the tags it showed ticked (``shown_tags``) beside those ticked now: only the difference is applied
    (``review.change_tags``), so a tag a colleague put on since the page was opened stays, and one they took off is
    not put back unless it was ticked here. A form that does not say what it showed (a page of before) sets the
    list, as it did (``review.set_tags``)."""
    application = application_for(request, object_id, "editable_by")
    back = change_url(application.pk, list_filters(request), "notes")
    ticked = {int(value) for value in request.POST.getlist("tags")[:1000] if is_number(value)}
    shown = (
        {int(value) for value in request.POST.get("shown_tags", "").split()[:1000] if is_number(value)}
        if "shown_tags" in request.POST
        else None
    )
    wanted = ticked if shown is None else ticked - shown
    unticked = set() if shown is None else shown - ticked
    # One query for both: the tags to put on must all be usable here; those to take off, only the usable ones.
    tags = {tag.pk: tag for tag in Tag.objects.usable_by(request.user).filter(pk__in=wanted | unticked)}
    if not wanted <= tags.keys():
        messages.error(request, _("One of these tags cannot be used here."))
        return HttpResponseRedirect(back)
    try:
        if shown is None:
            added, removed = review_services.set_tags(
                application=application, actor=request.user, tags=[tags[pk] for pk in wanted]
            )
        else:
            added, removed = review_services.change_tags(
                application=application,
                actor=request.user,
                add=[tags[pk] for pk in wanted],
                remove=[tags[pk] for pk in unticked if pk in tags],
            )
    except BusinessRuleError as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(back)
    messages.success(
        request,
        _("Tags saved (%(added)s, %(removed)s).")
        % {
            "added": npgettext("tags", "%(count)d added", "%(count)d added", added) % {"count": added},
            "removed": npgettext("tags", "%(count)d removed", "%(count)d removed", removed) % {"count": removed},
        },
    )
    return HttpResponseRedirect(back)


@require_GET
@transaction.non_atomic_requests
def piece_preview_view(request, object_id, piece_id, *, model_admin):
    """One page of the piece as a PNG drawn by the server (``?page=N``, from 1; ``documents.preview``): same rule
    as the staff download (scope, antivirus clean); the candidate's file itself is never sent. A file that cannot
    be shown is a 404 (the page already says why in words).

    Outside the request transaction: it only reads, and drawing a page takes up to a second (its child process is
    stopped at ``PREVIEW_TIME_LIMIT``, see ``documents.pdf_raster``); on SQLite the request transaction (``BEGIN
    IMMEDIATE``) would hold the write lock meanwhile, and the page's images, asked for at once, would wait on each
    other (or fail with "database table is locked" on the tests' in-memory database)."""
    application = object_in_scope_or_404(Application.objects.all(), request.user, pk=object_id)
    submission = piece_of(application, piece_id)
    document = submission.document
    if document is None or document.scan_status not in OPENABLE_SCANS or document.content_type not in PREVIEWABLE:
        raise Http404
    page = request.GET.get("page", "1")
    if not is_number(page, max_digits=4) or not 1 <= int(page) <= PREVIEW_MAX_PAGES:
        raise Http404
    try:
        png = render_page(document, int(page))
    except PreviewUnavailable as error:
        raise Http404(error.message) from error
    response = HttpResponse(png, content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="apercu-{page}.png"'
    response["Content-Security-Policy"] = PREVIEW_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Frame-Options"] = "SAMEORIGIN"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def review_urls(model_admin) -> list:
    return [
        path(
            "<int:object_id>/pieces/<uuid:piece_id>/check/",
            bound_view(model_admin, piece_check_view),
            name="applications_application_piece_check",
        ),
        path(
            "<int:object_id>/pieces/<uuid:piece_id>/preview/",
            bound_view(model_admin, piece_preview_view),
            name="applications_application_piece_preview",
        ),
        path(
            "<int:object_id>/pieces/validate-all/",
            bound_view(model_admin, validate_all_view),
            name="applications_application_validate_pieces",
        ),
        path("<int:object_id>/notes/", bound_view(model_admin, note_view), name="applications_application_note"),
        path(
            "<int:object_id>/notes/<int:note_id>/delete/",
            bound_view(model_admin, note_delete_view),
            name="applications_application_note_delete",
        ),
        path("<int:object_id>/tags/", bound_view(model_admin, tags_view), name="applications_application_tags"),
    ]
