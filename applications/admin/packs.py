"""The commission pack in the back office (issue 11): a bulk action on the applications list, the pack's page
(progress, refreshed every few seconds without script; the link once ready) and its download, for the member of
staff who asked for it only (anyone else: 404)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.models import CommissionPack
from applications.services.packs import PACK_LIMIT, request_pack
from ecandidat.admin_base import bound_view
from ecandidat.exceptions import BusinessRuleError

REFRESH_SECONDS = 3


def _queue_pack(model_admin, request, queryset, kind: str):
    """From the selection (or the whole filtered list with "select all"): queue the pack, open its page."""
    ids = list(queryset.values_list("pk", flat=True)[: PACK_LIMIT + 1])
    try:
        pack = request_pack(actor=request.user, application_ids=ids, kind=kind)
    except BusinessRuleError as error:
        model_admin.message_user(request, str(error), messages.ERROR)
        return None
    model_admin.message_user(
        request, _("The commission pack of %(count)d dossiers is being built.") % {"count": pack.total}
    )
    return HttpResponseRedirect(reverse("admin:applications_application_pack", args=[pack.public_id]))


@admin.action(description=gettext_lazy("Commission pack (ZIP of the dossiers)"))
def commission_pack_action(model_admin, request, queryset):
    return _queue_pack(model_admin, request, queryset, CommissionPack.Kind.ZIP)


@admin.action(description=gettext_lazy("Commission pack (one PDF with a table of contents)"))
def commission_pack_pdf_action(model_admin, request, queryset):
    return _queue_pack(model_admin, request, queryset, CommissionPack.Kind.PDF)


def _own_pack(request, public_id) -> CommissionPack:
    return get_object_or_404(CommissionPack, public_id=public_id, requested_by=request.user)


def pack_view(request, public_id, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    pack = _own_pack(request, public_id)
    in_progress = pack.status in (CommissionPack.Status.PENDING, CommissionPack.Status.RUNNING)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Commission pack"),
        "subtitle": None,
        "is_nav_sidebar_enabled": False,
        "pack": pack,
        "in_progress": in_progress,
        "refresh_seconds": REFRESH_SECONDS,
        "download_url": reverse("admin:applications_application_pack_download", args=[pack.public_id])
        if pack.status == CommissionPack.Status.DONE
        else "",
        "other_packs": list(CommissionPack.objects.filter(requested_by=request.user).exclude(pk=pack.pk)[:10]),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/pack.html", context)


def pack_download_view(request, public_id, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    pack = _own_pack(request, public_id)
    if pack.status != CommissionPack.Status.DONE or not pack.file.name:
        raise Http404
    try:
        handle = default_storage.open(pack.file.name, "rb")
    except FileNotFoundError as error:
        raise Http404 from error
    stamp = timezone.localtime(pack.created_at).strftime("%Y%m%d-%H%M")
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"dossiers-commission-{stamp}.{pack.extension}",
        content_type=pack.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


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
