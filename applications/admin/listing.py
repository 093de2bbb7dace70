"""The applications list at a glance (issue 11): tags column and filter, counters per dossier status above the
list, saved filters per user.

The counters are one ``GROUP BY`` on the list's filtered queryset (without its own status filter, so that each
counter says how many a click would show); the tags come with one prefetch query: the list costs the same number of
queries whatever its length.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from applications.admin.filters import CampaignFilter
from applications.enums import DossierStatus
from applications.models import ApplicationNote, ApplicationTag, SavedFilter, Tag
from applications.models.candidature import COMMISSION_STATUS_FLAGS
from applications.services import saved_filters
from ecandidat.admin_base import bound_view
from ecandidat.exceptions import BusinessRuleError, FieldRuleError
from ecandidat.staff import scope_of
from ecandidat.text import NUL, is_number
from offers.models import Commission

STATUS_PARAMETER = "dossier_status__exact"
# A filter whose name the services refused (``save_filter_view``): what was typed and why, kept in the session for the
# list the refusal redirects to, which shows them once in « My saved filters », open, the message next to the field.
# Not rendered by the view that refused it: the list's links (filters, pages, search) are relative to its own address.
SAVED_FILTER_RETRY = "applications.saved_filter_retry"
SAVED_FILTERS_ANCHOR = "saved-filters"


class TagFilter(admin.SimpleListFilter):
    title = gettext_lazy("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(str(pk), label) for pk, label in Tag.objects.usable_by(request.user).values_list("pk", "label")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and is_number(value):
            return queryset.filter(tag_links__tag_id=int(value))
        return queryset


class ApplicationChangeList(ChangeList):
    """The list's rows come with their tags (one prefetch query)."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.prefetch_related(
            Prefetch("tag_links", queryset=ApplicationTag.objects.select_related("tag").order_by("tag__label"))
        )


def with_export_data(queryset):
    """The export's rows come with their notes (bloc-notes, exported on demand with the list) and tags."""
    return queryset.prefetch_related(
        Prefetch("notes", queryset=ApplicationNote.objects.select_related("author").order_by("created_at", "id"))
    )


def export_review_columns(application, *, notes: bool) -> list[str]:
    """The tags of one exported row, and its internal notes ("dd/mm/yyyy HH:MM author: text", one per line) with
    ``notes`` (the parameter EXPORT_NOTES, read once per export by the caller)."""
    tags = ", ".join(link.tag.label for link in application.tag_links.all())
    if not notes:
        return [tags]
    written = "\n".join(
        f"{timezone.localtime(note.created_at):%d/%m/%Y %H:%M} {note.author.get_username()} : {note.text}"
        for note in application.notes.all()
    )
    return [tags, written]


def commission_statuses(user) -> list[dict[str, Any]]:
    """For a commission member (not the central office): each of their commissions with the dossier statuses it
    shows its members (``Commission.shows_*``, eCandidat tem_comm_visible), so that the list says what it leaves
    out (issue #64). A commission of a centre whose staff they are is left out: they see all of its dossiers. One
    query; none for anyone else."""
    scope = scope_of(user)
    if scope.is_central or not scope.commissions:
        return []
    commissions = (
        Commission.objects.filter(pk__in=sorted(scope.commissions))
        .exclude(scope.reads(centre="centre_id", commission="pk"))
        .order_by("label", "pk")
    )
    rows = commissions.values("label", *COMMISSION_STATUS_FLAGS.values())
    return [
        {
            "label": row["label"],
            "statuses": [status for status, flag in COMMISSION_STATUS_FLAGS.items() if row[flag]],
        }
        for row in rows
    ]


def commission_statements(user, commissions: list[dict[str, Any]]) -> list[str]:
    """ "Dossiers affichés : Réceptionné, Complet", per commission when the user sees more than one commission's
    list (or their centres' too, which show every status)."""
    scope = scope_of(user)
    per_commission = len(commissions) > 1 or bool(scope.read_centres or scope.read_commissions)
    statements = []
    for commission in commissions:
        statuses = ", ".join(str(DossierStatus(status).label) for status in commission["statuses"])
        if per_commission:
            statements.append(
                _("Dossiers shown for %(commission)s: %(statuses)s")
                % {"commission": commission["label"], "statuses": statuses}
            )
        else:
            statements.append(_("Dossiers shown: %(statuses)s") % {"statuses": statuses})
    return statements


def status_counters(request, changelist: ChangeList, shown: set[str] | None = None) -> list[dict[str, Any]]:
    """Per dossier status, how many applications the current filters (other than the status) hold, with the link
    that shows them (one query). ``shown``: the only statuses the user can see (a commission member's), else all."""
    status_spec = next(
        (spec for spec in changelist.filter_specs if STATUS_PARAMETER in spec.expected_parameters()), None
    )
    # The admin leaves out the filter whose parameters are exactly these (here: the status filter's).
    exclude = status_spec.expected_parameters() if status_spec is not None else None
    queryset = changelist.get_queryset(request, exclude_parameters=exclude)
    counts = dict(queryset.order_by().prefetch_related(None).values_list("dossier_status").annotate(count=Count("pk")))
    current = changelist.params.get(STATUS_PARAMETER)
    if isinstance(current, list):
        current = current[-1] if current else None
    return [
        {
            "label": status.label,
            "count": counts.get(status.value, 0),
            "url": changelist.get_query_string({STATUS_PARAMETER: status.value}, ["p"]),
            "selected": current == status.value,
        }
        for status in DossierStatus
        if shown is None or status in shown
    ]


def saved_filters_context(request, changelist: ChangeList) -> dict[str, Any]:
    """The user's saved filters, the list's query to save, and a name refused just before (``SAVED_FILTER_RETRY``,
    taken out of the session: shown once; no query, the session is read already)."""
    query = changelist.get_query_string(remove=["p"]).lstrip("?")
    return {
        "saved_filters": list(SavedFilter.objects.filter(user=request.user)),
        "current_query": query,
        "saved_filter_retry": request.session.pop(SAVED_FILTER_RETRY, None),
    }


@require_POST
def save_filter_view(request, *, model_admin):
    """Save the list's current filters under a name, for this user only."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    query = saved_filters.clean_query(request.POST.get("query", ""))
    back = reverse("admin:applications_application_changelist") + (f"?{query}" if query else "")
    label = request.POST.get("label", "")
    try:
        saved = saved_filters.save_filter(user=request.user, label=label, query=query)
    except FieldRuleError as error:
        # A name empty (spaces only) or unsavable: back to the form, open, with what was typed and the message next
        # to the field (``saved_filters_context``), rather than a message at the top of the page and an empty form.
        request.session[SAVED_FILTER_RETRY] = {
            "label": label[: saved_filters.LABEL_MAX_LENGTH].replace(NUL, ""),
            "error": str(error),
        }
        return HttpResponseRedirect(f"{back}#{SAVED_FILTERS_ANCHOR}")
    except BusinessRuleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Filter “%(label)s” saved.") % {"label": saved.label})
    return HttpResponseRedirect(back)


@require_http_methods(["GET", "POST"])
def delete_filter_view(request, filter_id, *, model_admin):
    """Delete one of the user's saved filters after a confirmation page (GET: the page; POST: its "Yes, delete"
    button), which works without JavaScript; another user's filter is not found. The list's filters when the user
    pressed « × » (``_changelist_filters``) are where "No, back to the list" and the deletion lead back to."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    back_query = saved_filters.clean_query(request.GET.get("_changelist_filters", ""))
    back = reverse("admin:applications_application_changelist") + (f"?{back_query}" if back_query else "")
    if request.method == "POST":
        saved = saved_filters.delete_filter(user=request.user, filter_id=filter_id)
        if saved is None:
            raise Http404
        messages.success(request, _("Filter “%(label)s” deleted.") % {"label": saved.label})
        return HttpResponseRedirect(back)
    saved = get_object_or_404(SavedFilter.objects.filter(user=request.user), pk=filter_id)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Delete the filter “%(label)s”?") % {"label": saved.label},
        "saved": saved,
        "back_url": back,
    }
    return TemplateResponse(request, "admin/applications/application/delete_filter.html", context)


def listing_urls(model_admin) -> list:
    return [
        path(
            "saved-filters/",
            bound_view(model_admin, save_filter_view),
            name="applications_application_save_filter",
        ),
        path(
            "saved-filters/<int:filter_id>/delete/",
            bound_view(model_admin, delete_filter_view),
            name="applications_application_delete_filter",
        ),
    ]


def changelist_context(request, response) -> None:
    """Add the counters and saved filters to the list page's context (when it is the list, not a redirect)."""
    context = getattr(response, "context_data", None)
    if not context or "cl" not in context:
        return
    changelist = context["cl"]
    # The list needs the whole width at 1,280 px; the apps are one link away (breadcrumbs, home).
    context["is_nav_sidebar_enabled"] = False
    # Which campaign the list shows, under its title and in the window's (base_site.html): "Campagne 2026-2027" or
    # « Toutes les campagnes »; nothing while the installation has one campaign.
    campaign_filter = next((spec for spec in changelist.filter_specs if isinstance(spec, CampaignFilter)), None)
    if campaign_filter is not None and campaign_filter.has_output():
        context["subtitle"] = campaign_filter.shown_label()
    scope = scope_of(request.user)
    commissions = commission_statuses(request.user)
    context["commission_statements"] = commission_statements(request.user, commissions)
    context["commission_hides_statuses"] = any(
        len(commission["statuses"]) < len(DossierStatus) for commission in commissions
    )
    # A counter the user can never fill is left out (a commission member without a centre of their own).
    shown = None
    if commissions and not (scope.read_centres or scope.read_commissions):
        shown = {status for commission in commissions for status in commission["statuses"]}
    context["status_counters"] = status_counters(request, changelist, shown)
    context["can_act_on_behalf"] = scope.is_central or scope.is_manager  # issue 12, admin/on_behalf.py
    context.update(saved_filters_context(request, changelist))
