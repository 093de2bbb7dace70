"""Releasing decisions with a preview (issue 12): the "Validate the decisions" operation page shows, for the
selection, each mail exactly as it will be sent (``applications.services.release.preview_release``), and the
two-person rule when it is on; "Confirm" then validates and sends."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from applications.letters import (
    KIND_BY_AVIS,
    STAFF_DOWNLOAD,
    letter_response,
    letter_values,
    open_letter,
    regenerate_letter,
    render_letter_pdf,
    template_for,
)
from applications.models import Application, ReleaseJob
from applications.services.release import (
    BACKGROUND_RELEASE_FROM,
    PREVIEW_LIMIT,
    is_stalled,
    never_started,
    preview_release,
    queue_release,
    refused_unread,
    released_by,
    requeue_lost_release,
    retry_release,
)
from ecandidat.exceptions import BusinessRuleError


def preview_context(request, applications) -> dict:
    """The preview of the first ``PREVIEW_LIMIT`` applications (each validation run and rolled back), and the
    refusals of the others the database answers alone (``refused_unread``: one query more, only past the limit,
    whatever the selection's size), counted with the previewed ones: the page never says « will be validated » of an
    application it did not read. Every application refused: the page says so (``release_none``)."""
    previews = preview_release(applications, actor=request.user)
    for preview in previews:
        if preview.mails and preview.letter:
            preview.letter_url = reverse(
                "admin:applications_application_letter_preview", args=[preview.application.pk]
            )
    previewed = {preview.application.pk for preview in previews}
    rest = [application for application in applications if application.pk not in previewed]
    refused = sum(1 for preview in previews if preview.refusal) + refused_unread(rest, actor=request.user)
    return {
        "release_previews": previews,
        "release_refused": refused,
        "release_none": bool(applications) and refused == len(applications),
        "release_not_previewed": len(rest),
        "release_preview_limit": PREVIEW_LIMIT,
        "two_person_rule": settings.DECISION_TWO_PERSON_RULE,
    }


# --- letters: preview before the release, staff download, regeneration ------------------------------------------


def _scoped(model_admin, request, object_id, scope: str) -> Application:
    """404 when the user cannot see the application, 403 when they see it but may not do this."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    application = get_object_or_404(
        Application.objects.visible_to(request.user).select_related(
            "candidate__user", "formation__centre", "formation__commission"
        ),
        pk=object_id,
    )
    if not getattr(Application.objects.filter(pk=application.pk), scope)(request.user).exists():
        raise PermissionDenied
    return application


def letter_preview_view(model_admin, request, object_id):
    """The letter the current (not yet validated) decision would produce, built in memory, never stored."""
    application = _scoped(model_admin, request, object_id, "validatable_by")
    decision = application.decisions.select_related("decision_type", "refusal_reason").current()
    kind = KIND_BY_AVIS.get(decision.decision_type.avis, "") if decision is not None else ""
    template = template_for(application, kind) if kind else None
    if decision is None or template is None:
        raise Http404
    language = application.candidate.preferred_language or settings.LANGUAGE_CODE
    with translation.override(language):  # as the build does (applications.letters.build_letter)
        values = letter_values(application, decision, kind)
    response = HttpResponse(render_letter_pdf(template, values), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="apercu-lettre.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def letter_download_view(model_admin, request, object_id):
    """Staff download of the letter of the latest validated decision (anyone who may read the application); 404
    when that decision has none: the letter of an older decision (an admission since replaced by a complementary
    list, a refusal before an appeal still to validate…) is not the one in force. Built now if the worker has not
    yet, built again if its file is gone from the storage, as for the candidate's link (``open_letter``); 404 only
    when it cannot be had (its text deleted before it was built)."""
    application = _scoped(model_admin, request, object_id, "visible_to")
    decision = application.decisions.select_related("letter").current_validated()
    letter = getattr(decision, "letter", None)  # None without a decision or a letter (RelatedObjectDoesNotExist)
    if letter is None:
        raise Http404
    opened = open_letter(letter, batch=STAFF_DOWNLOAD)
    if opened is None:
        if not application.campaign.is_active:
            # A past campaign's letter is served as it was sent, never rebuilt with this year's text (``open_letter``).
            messages.error(
                request,
                gettext(
                    "This letter's file is missing and is not rebuilt: the application belongs to a past campaign."
                ),
            )
            return HttpResponseRedirect(reverse("admin:applications_application_change", args=[application.pk]))
        raise Http404
    return letter_response(*opened)


def letter_urls(model_admin) -> list:
    wrap = model_admin.admin_site.admin_view
    return [
        path(
            "<int:object_id>/lettre/apercu/",
            wrap(lambda request, object_id: letter_preview_view(model_admin, request, object_id)),
            name="applications_application_letter_preview",
        ),
        path(
            "<int:object_id>/lettre/",
            wrap(lambda request, object_id: letter_download_view(model_admin, request, object_id)),
            name="applications_application_letter",
        ),
    ]


def regenerate(application, form, actor) -> None:
    regenerate_letter(application, actor=actor)


# --- big releases: queued, with their progress ------------------------------------------------------------------

# Seconds between two updates of the progress page's live region by static/js/job_progress.js (no reload of the page).
REFRESH_SECONDS = 3


def _job_url(job: ReleaseJob) -> str:
    return reverse("admin:applications_application_release", args=[job.public_id])


def bulk_release(model_admin, request, applications, form):
    """A selection of ``BACKGROUND_RELEASE_FROM`` or more: queue it and open its progress page (None: run it here),
    with the decisions the page previewed (``form``: a valid ``ReleaseForm``).

    « Confirmer » clicked twice: the second request waits for the first (``released_by``, ``queue_release``: both
    serialise the user's releases), then, for a small selection run here, finds every decision validated by this
    user and says so, back to the list as it was filtered, rather than refuse each one as « déjà validé »; for a big
    one, finds the first's job still waiting or running and opens its page, rather than queue a second job of as
    many refusals."""
    if len(applications) < BACKGROUND_RELEASE_FROM:
        if released_by(request.user, [application.pk for application in applications]):
            messages.info(
                request,
                gettext(
                    "All these decisions are already validated and sent, by you (the confirmation was sent twice?): "
                    "nothing more was done."
                ),
            )
            return HttpResponseRedirect(request.get_full_path())
        return None
    if refused_unread(applications, actor=request.user) == len(applications):
        # Nothing to validate (each one's decision validated already, none, cancelled…): no job, which would only
        # list as many refusals.
        messages.error(
            request, gettext("None of these applications has a decision to validate: nothing was released.")
        )
        return HttpResponseRedirect(reverse("admin:applications_application_changelist"))
    try:
        job, queued = queue_release(
            actor=request.user,
            application_ids=[application.pk for application in applications],
            decision_ids=form.cleaned_data["decisions"],
        )
    except BusinessRuleError as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(reverse("admin:applications_application_changelist"))
    if queued:
        messages.success(request, gettext("The release of %(count)d decisions has started.") % {"count": job.total})
    else:
        messages.info(request, gettext("This release is already under way: here is its progress."))
    return HttpResponseRedirect(_job_url(job))


def _own_job(request, public_id) -> ReleaseJob:
    """The requester's release (404 for anyone else, as for a job that does not exist), while every application it
    holds that still exists is in their scope (404 otherwise): a right withdrawn since it was asked for (another
    centre, another commission) withdraws its page too, with its refusals (dossier numbers, formations, reasons), as
    it does the dossiers' pages, the commission packs (``packs._own_pack``) and the exports. One query more: the
    applications outside the scope, counted by the database (none for a job without applications)."""
    job = get_object_or_404(ReleaseJob, public_id=public_id, requested_by=request.user)
    outside = Application.objects.filter(pk__in=job.application_ids).exclude(
        pk__in=Application.objects.visible_to(request.user).values("pk")
    )
    if outside.exists():
        raise Http404
    return job


def release_job_view(model_admin, request, public_id):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    job = _own_job(request, public_id)
    # Its task never queued (Redis unreachable) or lost (Redis restarted): queued again, the page goes on refreshing.
    requeue_lost_release(job)
    stalled = is_stalled(job)  # its worker was killed and no new delivery took it back: not "in progress" for ever
    lost = never_started(job)  # its task never came, nor when queued again: « relancez-la », not "waiting" for ever
    if stalled or lost:
        job.status = ReleaseJob.Status.FAILED  # shown so only: a late delivery of the task may still take it
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Release of decisions"),
        "is_nav_sidebar_enabled": False,
        "subtitle": None,
        "job": job,
        "in_progress": job.status in (ReleaseJob.Status.PENDING, ReleaseJob.Status.RUNNING),
        "stalled": stalled,
        "never_started": lost,
        "retry_url": reverse("admin:applications_application_release_retry", args=[job.public_id]) if lost else "",
        "refresh_seconds": REFRESH_SECONDS,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/release_job.html", context)


def release_job_retry_view(model_admin, request, public_id):
    """« Relancer la publication » on the page of a release that never started (``retry_release``); back to its
    page, which shows it waiting again (or, clicked twice or once it has started, as it is)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    job = _own_job(request, public_id)
    try:
        relaunched = retry_release(job, actor=request.user)
    except BusinessRuleError as error:
        messages.error(request, str(error))
    else:
        if relaunched:
            messages.success(
                request, gettext("The release of %(count)d decisions has started.") % {"count": job.total}
            )
    return HttpResponseRedirect(_job_url(job))


def release_urls(model_admin) -> list:
    wrap = model_admin.admin_site.admin_view
    return [
        *letter_urls(model_admin),
        path(
            "validation/<uuid:public_id>/",
            wrap(lambda request, public_id: release_job_view(model_admin, request, public_id)),
            name="applications_application_release",
        ),
        path(
            "validation/<uuid:public_id>/relancer/",
            wrap(require_POST(lambda request, public_id: release_job_retry_view(model_admin, request, public_id))),
            name="applications_application_release_retry",
        ),
    ]
