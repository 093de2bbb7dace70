"""The central office's OPI screen (eCandidat "OPI", ecandidat-features §2.2 and §2.12): counters of pending and
transferred OPIs, the list with "re-queue" and "cancel" actions (through the services, with the actor in the
history), the day's files with their ZIP, and "produce the files now".

Central office only (superusers and SCOL memberships); every other member of staff gets a 404, as for an object
outside their scope, and candidates are sent to the login page by the admin.
"""

import logging

from django.contrib import admin, messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from applications.models import Opi, OpiExport
from applications.opi.backends import get_backend
from applications.opi.services import BATCH, cancel_opis, export_zip, opi_counts, requeue_opis, transfer_opis
from ecandidat.batches import BatchAlreadyRunning, run_batch
from ecandidat.staff import scope_of
from offers.models import Campaign

RECENT_EXPORTS = 30
logger = logging.getLogger(__name__)


@admin.register(Opi)
class OpiAdmin(admin.ModelAdmin):
    list_display = ["code", "candidate", "formation", "state", "withdrawn", "queued_at", "passed_at", "backend"]
    list_filter = ["state", "withdrawn", "backend"]
    list_select_related = ["application__candidate", "application__formation"]
    search_fields = ["code", "application__candidate__birth_name"]
    readonly_fields = ["application", "code", "state", "withdrawn", "created_at", "queued_at", "passed_at", "backend"]
    show_full_result_count = False
    actions = ["requeue", "cancel"]

    def _is_central(self, request) -> bool:
        return scope_of(request.user).is_central

    def has_module_permission(self, request):
        return self._is_central(request)

    def has_view_permission(self, request, obj=None):
        return self._is_central(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_opi_permission(self, request) -> bool:
        return self._is_central(request)

    def _central_only(self, request) -> None:
        if not self._is_central(request):
            raise Http404

    @admin.display(description=_("candidate"), ordering="application__candidate__birth_name")
    def candidate(self, opi):
        return str(opi.application.candidate)

    @admin.display(description=_("formation"))
    def formation(self, opi):
        return opi.application.formation.title

    @admin.action(description=_("Re-queue the selected OPIs (send them again)"), permissions=["opi"])
    def requeue(self, request, queryset):
        done = requeue_opis(opi_ids=queryset.values_list("pk", flat=True), actor=request.user)
        self.message_user(
            request,
            ngettext("%(count)d OPI re-queued.", "%(count)d OPIs re-queued.", done) % {"count": done},
            messages.SUCCESS if done else messages.WARNING,
        )

    @admin.action(description=_("Cancel the selected pending OPIs"), permissions=["opi"])
    def cancel(self, request, queryset):
        done = cancel_opis(opi_ids=queryset.values_list("pk", flat=True), actor=request.user)
        self.message_user(
            request,
            ngettext("%(count)d pending OPI cancelled.", "%(count)d pending OPIs cancelled.", done) % {"count": done},
            messages.SUCCESS if done else messages.WARNING,
        )

    def changelist_view(self, request, extra_context=None):
        self._central_only(request)
        campaign = Campaign.objects.active().first()
        backend = get_backend()
        exports = OpiExport.objects.defer("files")[:RECENT_EXPORTS]
        extra_context = {
            **(extra_context or {}),
            "title": _("OPI: pre-registrations in the student records system"),
            "opi_counts": opi_counts(campaign),
            "opi_campaign": campaign,
            "opi_backend": backend.label if backend else "",
            "opi_exports": [
                {
                    "export": export,
                    "url": reverse("admin:applications_opi_export_zip", args=[export.pk]),
                }
                for export in exports
            ],
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("files/<int:pk>/zip/", wrap(self.export_zip_view), name="applications_opi_export_zip"),
            path("transfer/", wrap(self.transfer_view), name="applications_opi_transfer"),
            *super().get_urls(),
        ]

    def export_zip_view(self, request, pk):
        """The ZIP of one day's files."""
        self._central_only(request)
        export = get_object_or_404(OpiExport, pk=pk)
        return HttpResponse(
            export_zip(export),
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{export.zip_name}"'},
        )

    def transfer_view(self, request):
        """ "Produce the files now": the nightly batch, run by the central office (recorded as a batch run, the
        actor in the OPIs' history); the day's files are rewritten whole."""
        self._central_only(request)
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        holder: dict = {}

        def work(report, *, dry_run, limit):
            holder["export"] = transfer_opis(report, dry_run=dry_run, limit=limit, actor=request.user)

        try:
            run = run_batch(BATCH, work)
        except BatchAlreadyRunning:
            messages.error(request, _("The OPI transfer is already running; try again in a moment."))
        except Exception:  # recorded in the batch history with its traceback; the page says so, never a 500
            logger.exception("on-demand OPI transfer failed")
            messages.error(request, _("The OPI transfer failed: see the batch history."))
        else:
            written = run.counts.get("candidates written", 0)
            if run.errors:
                messages.warning(request, _("Some candidates were not transferred: see the batch history."))
            messages.success(
                request,
                ngettext(
                    "%(count)d candidate written in the day's files.",
                    "%(count)d candidates written in the day's files.",
                    written,
                )
                % {"count": written},
            )
        return HttpResponseRedirect(reverse("admin:applications_opi_changelist"))
