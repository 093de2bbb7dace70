"""The commission pack in the back office (issue 11): a bulk action on the applications list, the pack's page
(progress, refreshed every few seconds without script; the link once ready) and its download, for the member of
staff who asked for it only, while its dossiers still exist and are in their scope (anyone else: 404)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from applications.admin.review import list_filters, list_url
from applications.dossier_pdf import ascii_name
from applications.models import Application, CommissionPack
from applications.packs import is_stalled, is_withdrawn
from applications.services.packs import PACK_LIMIT, all_cancelled_refusal, request_pack, requeue_lost_pack
from ecandidat.admin_base import bound_view
from ecandidat.downloads import stored_file_response
from ecandidat.exceptions import BusinessRuleError
from ecandidat.staff_text import StaffText, StaffTextSelect
from offers.models import Formation, PieceType

# Seconds between two updates of the progress page's live region by static/js/job_progress.js (no reload of the page).
REFRESH_SECONDS = 3
WITHDRAWN_MESSAGE = gettext_lazy(
    "This pack is no longer available: a file it may hold was since found infected by the antivirus. Ask for it again."
)


def _action_list_url(request) -> str:
    """The list as it was filtered and sorted when the action was posted to it (its own query string): only ever
    the list's address, whatever the query holds (as ``review.list_url``)."""
    filters = request.GET.urlencode()
    return reverse("admin:applications_application_changelist") + (f"?{filters}" if filters else "")


def _pack_url(pack: CommissionPack, filters: str) -> str:
    """The pack's page, with the list it was asked from (``_changelist_filters``, read by ``review.list_url``)."""
    url = reverse("admin:applications_application_pack", args=[pack.public_id])
    return url + (f"?{urlencode({'_changelist_filters': filters})}" if filters else "")


def _queue_pack(model_admin, request, queryset, kind: str, piece_type: PieceType | None = None):
    """From the selection (or the whole filtered list with "select all"): queue the pack, open its page, which
    leads back to the list as filtered and sorted (the action was posted to the list's own address)."""
    ids = list(queryset.values_list("pk", flat=True)[: PACK_LIMIT + 1])
    try:
        pack = request_pack(actor=request.user, application_ids=ids, kind=kind, piece_type=piece_type)
    except BusinessRuleError as error:
        model_admin.message_user(request, str(error), messages.ERROR)
        return None
    message = ngettext(
        "The commission pack of %(count)d dossier is being built.",
        "The commission pack of %(count)d dossiers is being built.",
        pack.total,
    ) % {"count": pack.total}
    # The cancelled applications of the selection, left out by ``request_pack`` (the only ones it leaves out).
    left_out = len(set(ids)) - pack.total
    if left_out:
        message += " " + ngettext(
            "%(count)d cancelled application left out.", "%(count)d cancelled applications left out.", left_out
        ) % {"count": left_out}
    model_admin.message_user(request, message, messages.WARNING if left_out else messages.INFO)
    return HttpResponseRedirect(_pack_url(pack, request.GET.urlencode()))


@admin.action(description=gettext_lazy("Commission pack (ZIP of the dossiers)"))
def commission_pack_action(model_admin, request, queryset):
    return _queue_pack(model_admin, request, queryset, CommissionPack.Kind.ZIP)


@admin.action(description=gettext_lazy("Commission pack (one PDF with a table of contents)"))
def commission_pack_pdf_action(model_admin, request, queryset):
    return _queue_pack(model_admin, request, queryset, CommissionPack.Kind.PDF)


class PieceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        # The whole label, cut with "…" only when very long; the staff's, in French (StaffTextSelect, RGAA 8.7).
        return StaffText(Truncator(obj.label).chars(150), "fr")


class PiecePackForm(forms.Form):
    piece_type = PieceChoiceField(
        label=gettext_lazy("Piece"),
        widget=StaffTextSelect,
        queryset=PieceType.objects.none(),
        error_messages={"required": gettext_lazy("Choose the piece to download.")},
    )

    def __init__(self, *args, formation_ids: set[int], **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["piece_type"]
        assert isinstance(field, PieceChoiceField)
        field.queryset = requested_piece_types(formation_ids)


def requested_piece_types(formation_ids: set[int]):
    """The piece types these formations ask for (in service or not: files may predate a withdrawal)."""
    centres = Formation.objects.filter(pk__in=formation_ids).values("centre_id")
    return (
        PieceType.objects.filter(
            Q(is_common=True, centre__isnull=True)
            | Q(is_common=True, centre_id__in=centres)
            | Q(is_common=False, formations__in=formation_ids)
        )
        .distinct()
        .order_by("order", "id")
    )


@admin.action(description=gettext_lazy("One piece of each dossier (ZIP)…"))
def piece_pack_action(model_admin, request, queryset):
    """eCandidat's download of "one chosen piece type across the selected dossiers": choose the piece, then the
    pack is built like the others (ZIP, with ``sommaire.csv``)."""
    # The cancellations come with the selection (no query more): the form counts the dossiers the pack will hold, as
    # ``request_pack`` leaves the cancelled applications out; the selection is sent back whole, so that the message
    # after it says how many were left out.
    selected = list(queryset.values_list("pk", "formation_id", "cancelled_at")[: PACK_LIMIT + 1])
    if len(selected) > PACK_LIMIT:
        model_admin.message_user(
            request,
            _("At most %(limit)d dossiers in one pack; narrow the list.") % {"limit": PACK_LIMIT},
            messages.ERROR,
        )
        return None
    live_count = sum(1 for _pk, _formation, cancelled_at in selected if cancelled_at is None)
    if selected and not live_count:
        # No dossier to take a piece from: refused now, as the pack's request would refuse it once a piece is chosen.
        model_admin.message_user(request, all_cancelled_refusal(len(selected)), messages.ERROR)
        return None
    form = PiecePackForm(
        request.POST if "apply" in request.POST else None,
        formation_ids={formation for _pk, formation, _cancelled in selected},
    )
    if form.is_bound and form.is_valid():
        return _queue_pack(
            model_admin, request, queryset, CommissionPack.Kind.PIECE, piece_type=form.cleaned_data["piece_type"]
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("One piece of each dossier (ZIP)"),
        "subtitle": None,
        "form": form,
        "selected": [pk for pk, _formation, _cancelled in selected],
        "live_count": live_count,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "piece_pack_action",
        # The breadcrumb's list and « Annuler »: the list as filtered and sorted, as the bulk « Saisir un avis ».
        "list_url": _action_list_url(request),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/pack_piece.html", context)


def _own_pack(request, public_id) -> CommissionPack:
    """The requester's pack, while every dossier it holds still exists and is in their scope (404 otherwise): a
    right withdrawn since the build (another commission, another centre) withdraws its pack too, as it does the
    dossiers' pages; a dossier deleted since (its campaign destroyed, its candidate erased) withdraws it too,
    though the deletion removes the pack as well (``applications.packs.packs_holding``). One query after the
    pack's: the dossiers that still exist and those outside the scope, counted together by the database."""
    pack = get_object_or_404(
        CommissionPack.objects.select_related("piece_type"), public_id=public_id, requested_by=request.user
    )
    listed = set(pack.application_ids or ())
    counts = Application.objects.filter(pk__in=listed).aggregate(
        existing=Count("pk"),
        outside=Count("pk", filter=~Q(pk__in=Application.objects.visible_to(request.user).values("pk"))),
    )
    if counts["existing"] < len(listed) or counts["outside"]:
        raise Http404
    return pack


def pack_view(request, public_id, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    pack = _own_pack(request, public_id)
    # Its task never queued (the broker was unreachable): queued again, the page goes on refreshing.
    requeue_lost_pack(pack)
    if is_stalled(pack):
        # Its worker was killed and no new delivery of the task has taken it back, or its task was never queued nor
        # queued again since: shown as failed (« relancez la demande »), not refreshed every few seconds for ever.
        # Only shown so: a late delivery may still build it.
        pack.error = (
            _("The build did not start.")
            if pack.status == CommissionPack.Status.PENDING
            else _("The build stopped without finishing.")
        )
        pack.status = CommissionPack.Status.FAILED
    if is_withdrawn(pack):
        # Its file was deleted (applications.packs.withdraw_quarantined); the page's error note says to ask again.
        messages.warning(request, WITHDRAWN_MESSAGE)
    in_progress = pack.status in (CommissionPack.Status.PENDING, CommissionPack.Status.RUNNING)
    filters = list_filters(request)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("One piece of each dossier (ZIP)")
        if pack.kind == CommissionPack.Kind.PIECE
        else _("Commission pack"),
        "subtitle": None,
        "is_nav_sidebar_enabled": False,
        "pack": pack,
        # The piece's label is the staff's, in French (RGAA 8.7); the piece type comes with the pack (no query more).
        "piece_label": StaffText(Truncator(pack.piece_type.label).chars(150), "fr").marked if pack.piece_type else "",
        "in_progress": in_progress,
        "refresh_seconds": REFRESH_SECONDS,
        # The list's filters ride along: a pack withdrawn meanwhile sends the download back to this page as it was.
        "download_url": _with_filters(
            reverse("admin:applications_application_pack_download", args=[pack.public_id]), filters
        )
        if pack.status == CommissionPack.Status.DONE
        else "",
        "other_packs": list(CommissionPack.objects.filter(requested_by=request.user).exclude(pk=pack.pk)[:10]),
        # The list the pack was asked from (``_changelist_filters``): the breadcrumb's, kept by « Actualiser » and
        # the links to the other packs.
        "list_url": list_url(request),
        "changelist_query": urlencode({"_changelist_filters": filters}) if filters else "",
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/pack.html", context)


def _with_filters(url: str, filters: str) -> str:
    """``url`` carrying the list's ``_changelist_filters``, as the pack page's other links do."""
    return f"{url}?{urlencode({'_changelist_filters': filters})}" if filters else url


def _download_name(pack: CommissionPack, stamp: str) -> str:
    if pack.kind == CommissionPack.Kind.PIECE and pack.piece_type is not None:
        return f"piece-{ascii_name(pack.piece_type.code)}-{stamp}.zip"
    return f"dossiers-commission-{stamp}.{pack.extension}"


def pack_download_view(request, public_id, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    pack = _own_pack(request, public_id)
    if is_withdrawn(pack):
        # A link kept from when it was ready: its page says why it is gone (WITHDRAWN_MESSAGE).
        return HttpResponseRedirect(
            _with_filters(reverse("admin:applications_application_pack", args=[pack.public_id]), list_filters(request))
        )
    if pack.status != CommissionPack.Status.DONE or not pack.file.name:
        raise Http404
    stamp = timezone.localtime(pack.created_at).strftime("%Y%m%d-%H%M")
    # Up to ~1.7 GB for 500 dossiers: handed to nginx when the deployment says so (ecandidat/downloads.py).
    return stored_file_response(pack.file.name, filename=_download_name(pack, stamp), content_type=pack.content_type)


def pack_urls(model_admin) -> list:
    return [
        path(
            "packs/<uuid:public_id>/",
            bound_view(model_admin, pack_view),
            name="applications_application_pack",
        ),
        path(
            "packs/<uuid:public_id>/download/",
            bound_view(model_admin, pack_download_view),
            name="applications_application_pack_download",
        ),
    ]
