"""Candidate pages of the dossier: Informations perso., Adresse, Baccalauréat, Cursus interne, Cursus externe, Stages,
Expériences pro., and "Mes données"."""

from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from applications import personal_data, services
from applications.concurrency import EditConflict, row_gone_message, rows_version, version_of
from applications.countries import country_name
from applications.forms import (
    AddressForm,
    BaccalaureateForm,
    ExternalCursusForm,
    InternshipForm,
    PersonalDetailsForm,
    WorkExperienceForm,
)
from applications.models import Candidate, ExternalCursus, Internship, WorkExperience
from applications.permissions import can_edit_personal_details, is_candidate
from applications.services import sis_lookup
from applications.sis import StudentRecordsUnavailable
from ecandidat.exceptions import BusinessRuleError, FieldRuleError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# The first completion follows these steps (guide: "tout d'abord les informations personnelles puis l'adresse").
STEPS = ("applications:personal_details", "applications:address", "applications:baccalaureate")
STEP_LABELS = (gettext_lazy("Personal details"), gettext_lazy("Address"), gettext_lazy("Baccalaureate"))


def candidate_required(view):
    """Dossier pages exist for candidate accounts only; staff and others get a 404."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_candidate(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _load_candidate(request) -> Candidate | None:
    """The user's own dossier (address and bac joined), read only: an ENT student's SIS data were imported at login
    (``services.open_dossier_at_login``)."""
    return Candidate.objects.for_user(request.user).select_related("address", "baccalaureate").first()


def _done_steps(candidate: Candidate | None) -> list[bool]:
    if candidate is None:
        return [False, False, False]
    return [True, hasattr(candidate, "address"), hasattr(candidate, "baccalaureate")]


def _progress(candidate, step_name: str) -> dict:
    done = _done_steps(candidate)
    return {
        "dossier_complete": all(done),
        "step_number": STEPS.index(step_name) + 1 if step_name in STEPS else None,
        "step_count": len(STEPS),
        # The stepper ("Étape 2 sur 3 : Adresse"): every step by name, done or not, the current one marked.
        "steps": [
            {"url_name": name, "label": label, "done": is_done, "current": name == step_name}
            for name, label, is_done in zip(STEPS, STEP_LABELS, done, strict=True)
        ],
    }


def _after_step(request, candidate, current: str):
    """Post/redirect/get: during the first completion go to the next missing step, else stay on the page."""
    done = _done_steps(candidate)
    for name, is_done in zip(STEPS, done, strict=True):
        if not is_done:
            return redirect(name)
    return redirect(current)


@require_GET
def start(request):
    """Where a login lands (LOGIN_REDIRECT_URL): the guide's "Vous devrez alors compléter vos informations
    personnelles avant de pouvoir candidater" — the first missing step of the dossier, else the applications.
    Staff go to the back office, and any other account to the home page."""
    if request.user.is_staff:
        return redirect("admin:index")
    if not is_candidate(request.user):
        return redirect("home")
    candidate = _load_candidate(request)  # an ENT student's SIS data were imported at login
    for name, is_done in zip(STEPS, _done_steps(candidate), strict=True):
        if not is_done:
            if name == STEPS[0]:
                return _need_personal_details(request)
            return redirect(name)
    return redirect("applications:application_list")


def _need_personal_details(request):
    # No message: the page's stepper says "Follow the steps…" (the guide's sentence) until the dossier is complete.
    return redirect("applications:personal_details")


def _new_dossier_initial(request) -> dict:
    """A new dossier starts with the account's names and, as preferred language (the language of the mails), the
    language the candidate is reading the site in: an English reader who does not notice the field still gets
    English mails."""
    language = "en" if (translation.get_language() or "").startswith("en") else "fr"
    return {
        "first_name": request.user.first_name,
        "birth_name": request.user.last_name,
        "preferred_language": language,
    }


@candidate_required
@require_http_methods(["GET", "POST"])
def personal_details(request):
    candidate = _load_candidate(request)
    details_locked = candidate is not None and not can_edit_personal_details(request.user, candidate)
    sis_locked = candidate is not None and candidate.sis_locked
    form = PersonalDetailsForm(
        data=request.POST or None,
        instance=candidate,
        sis_locked=sis_locked,
        details_locked=details_locked,
        initial=None if candidate else _new_dossier_initial(request),
        campaign_id=request.user.campaign_id,
    )
    if request.method == "POST" and form.is_valid():
        try:
            candidate = services.save_personal_details(
                user=request.user,
                candidate=candidate,
                data=form.changes(),
                actor=request.user,
                read_at=form.read_version(),
            )
        except EditConflict as exc:
            _show_conflict(request, form, exc)
        except FieldRuleError as exc:  # an INE a dossier of the campaign took after the form's check
            form.add_error(exc.field, str(exc))
        except BusinessRuleError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Your personal details have been saved."))
            if "ine" in form.changed_data or _sis_lookup_pending(request, candidate):
                try:
                    student = sis_lookup.sis_match_for_ine(candidate)
                except StudentRecordsUnavailable:
                    _sis_lookup_failed(request, candidate)
                else:
                    _sis_lookup_done(request)
                    if student is not None:
                        return redirect("applications:certify_identity")
            if not hasattr(candidate, "address"):
                candidate = Candidate.objects.select_related("address", "baccalaureate").get(pk=candidate.pk)
            return _after_step(request, candidate, "applications:personal_details")
    return render(
        request,
        "applications/personal_details.html",
        {
            "form": form,
            "candidate": candidate,
            "sis_locked": sis_locked,
            "details_locked": details_locked,
            **_progress(candidate, "applications:personal_details"),
        },
    )


# The session's note that the INE lookup of this dossier failed (the candidate id): the next save of the personal
# details asks the SIS again, INE changed or not. Cleared once the SIS answered (a question asked, or no match).
SIS_LOOKUP_PENDING = "applications.sis_lookup_pending"


def _sis_lookup_pending(request, candidate: Candidate) -> bool:
    return request.session.get(SIS_LOOKUP_PENDING) == candidate.pk


def _sis_lookup_failed(request, candidate: Candidate) -> None:
    """The SIS failed during the INE lookup: said next to the save's message, and asked again at the next save."""
    request.session[SIS_LOOKUP_PENDING] = candidate.pk
    messages.warning(request, sis_lookup.SIS_LOOKUP_UNAVAILABLE_MESSAGE)


def _sis_lookup_done(request) -> None:
    request.session.pop(SIS_LOOKUP_PENDING, None)


@candidate_required
@require_http_methods(["GET", "POST"])
def certify_identity(request):
    """ "Certifiez-vous être …": the student records system knows the INE, birth date and name just typed
    (``services.sis_lookup``). Yes imports the university's records, no goes on with manual entry (and the question
    is not asked again for that INE). A SIS that fails before the import is said, and the personal details page asks
    it again at the next save."""
    candidate = _load_candidate(request)
    if candidate is None or not can_edit_personal_details(request.user, candidate):
        return redirect("applications:personal_details")
    try:
        student = sis_lookup.sis_match_for_ine(candidate)
    except StudentRecordsUnavailable:
        _sis_lookup_failed(request, candidate)
        return redirect("applications:personal_details")
    if student is None:
        return redirect("applications:personal_details")
    if request.method == "POST":
        if request.POST.get("answer") == "yes":
            try:
                imported = sis_lookup.certify_sis_identity(candidate=candidate, actor=request.user)
            except BusinessRuleError as exc:
                messages.error(request, str(exc))
                return redirect("applications:personal_details")
            except StudentRecordsUnavailable:
                _sis_lookup_failed(request, candidate)
                return redirect("applications:personal_details")
            _sis_lookup_done(request)
            if imported:
                messages.success(
                    request,
                    _(
                        "Your personal details, baccalaureate and internal cursus now come from the university's "
                        "records."
                    ),
                )
        else:
            _sis_lookup_done(request)
            messages.info(
                request, _("Nothing was taken from the university's records: fill in your dossier yourself.")
            )
        candidate = Candidate.objects.select_related("address", "baccalaureate").get(pk=candidate.pk)
        return _after_step(request, candidate, "applications:personal_details")
    # What the candidate typed (the match requires it equal to the records'), never the records' own spelling.
    return render(request, "applications/certify_identity.html", {"typed": candidate})


@candidate_required
@require_http_methods(["GET", "POST"])
def address(request):
    candidate = _load_candidate(request)
    if candidate is None:
        return _need_personal_details(request)
    instance = getattr(candidate, "address", None)
    form = AddressForm(data=request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_address(
                candidate=candidate, data=form.changes(), actor=request.user, read_at=form.read_version()
            )
        except EditConflict as exc:
            _show_conflict(request, form, exc)
        else:
            messages.success(request, _("Your address has been saved."))
            candidate = Candidate.objects.select_related("address", "baccalaureate").get(pk=candidate.pk)
            return _after_step(request, candidate, "applications:address")
    return render(
        request,
        "applications/address.html",
        {"form": form, "candidate": candidate, **_progress(candidate, "applications:address")},
    )


@candidate_required
@require_http_methods(["GET", "POST"])
def baccalaureate(request):
    """One bac only: "J'ai le bac ou une équivalence" shows the form, "Je n'ai pas le bac" records its absence."""
    candidate = _load_candidate(request)
    if candidate is None:
        return _need_personal_details(request)
    bac = getattr(candidate, "baccalaureate", None)
    editing = bac is not None and bac.has_bac
    show_form = editing or request.GET.get("avec-bac") == "1" or request.method == "POST"
    form = None
    if show_form and not (bac and bac.sis_locked):
        # The version of the record read, also a "Je n'ai pas le bac" one that adding a bac replaces.
        form = BaccalaureateForm(data=request.POST or None, instance=bac if editing else None, version=version_of(bac))
        if request.method == "POST" and form.is_valid():
            edit = request.POST.get("mode") == "edit" and editing
            save = services.update_baccalaureate if edit else services.add_baccalaureate
            try:
                save(candidate=candidate, data=form.changes(), actor=request.user, read_at=form.read_version())
            except EditConflict as exc:
                _show_conflict(request, form, exc)
            except BusinessRuleError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Your baccalaureate has been saved."))
                candidate = Candidate.objects.select_related("address", "baccalaureate").get(pk=candidate.pk)
                return _after_step(request, candidate, "applications:baccalaureate")
    elif request.method == "POST":
        messages.error(request, _("Your baccalaureate comes from the student records system and cannot be changed."))
        return redirect("applications:baccalaureate")
    return render(
        request,
        "applications/baccalaureate.html",
        {
            "form": form,
            "bac": bac,
            "bac_from_sis": bac is not None and bac.sis_locked,
            "mode": "edit" if editing else "add",
            "candidate": candidate,
            "bac_country": country_name(bac.country) if bac else "",
            "bac_version": version_of(bac),
            **_progress(candidate, "applications:baccalaureate"),
        },
    )


@candidate_required
@require_POST
def baccalaureate_none(request):
    candidate = _load_candidate(request)
    if candidate is None:
        return _need_personal_details(request)
    try:
        services.declare_no_baccalaureate(candidate=candidate, actor=request.user, read_at=request.POST.get("read_at"))
    except EditConflict as exc:
        messages.error(request, exc.message_for(request.user, owner=request.user))
        return redirect("applications:baccalaureate")
    except BusinessRuleError as exc:
        messages.error(request, str(exc))
        return redirect("applications:baccalaureate")
    messages.success(request, _("Your baccalaureate has been saved."))
    candidate = Candidate.objects.select_related("address", "baccalaureate").get(pk=candidate.pk)
    return _after_step(request, candidate, "applications:baccalaureate")


@candidate_required
def internal_cursus(request):
    candidate = _load_candidate(request)
    rows = candidate.internal_cursus.all() if candidate else []
    return render(request, "applications/internal_cursus.html", {"rows": rows, "candidate": candidate})


# --- Rows: cursus externe, stages, expériences pro. -------------------------------------------------------------


@dataclass(frozen=True)
class RowKind:
    model: type[ExternalCursus | Internship | WorkExperience]
    form_class: type
    related_name: str
    url_prefix: str  # URL names: <prefix>_list, _add, _edit, _delete
    title: "StrOrPromise"
    add_label: "StrOrPromise"
    saved: "StrOrPromise"
    deleted: "StrOrPromise"
    template: str = "applications/row_form.html"


ROW_KINDS = {
    "external_cursus": RowKind(
        ExternalCursus,
        ExternalCursusForm,
        "external_cursus",
        "external_cursus",
        gettext_lazy("External cursus"),
        gettext_lazy("Add a cursus"),
        gettext_lazy("The cursus has been saved."),
        gettext_lazy("The cursus has been deleted."),
        "applications/external_cursus_form.html",
    ),
    "internship": RowKind(
        Internship,
        InternshipForm,
        "internships",
        "internship",
        gettext_lazy("Internships"),
        gettext_lazy("Add an internship"),
        gettext_lazy("The internship has been saved."),
        gettext_lazy("The internship has been deleted."),
    ),
    "work_experience": RowKind(
        WorkExperience,
        WorkExperienceForm,
        "work_experiences",
        "work_experience",
        gettext_lazy("Work experience"),
        gettext_lazy("Add a work experience"),
        gettext_lazy("The work experience has been saved."),
        gettext_lazy("The work experience has been deleted."),
    ),
}


def _urls(kind: RowKind) -> dict:
    return {
        "list_url": reverse(f"applications:{kind.url_prefix}_list"),
        "add_url": reverse(f"applications:{kind.url_prefix}_add"),
        "edit_name": f"applications:{kind.url_prefix}_edit",
        "delete_name": f"applications:{kind.url_prefix}_delete",
    }


def _own_row(candidate, kind: RowKind, public_id):
    # Scoped to the candidate's own rows: another candidate's row is a 404.
    if candidate is None:
        raise Http404
    return get_object_or_404(kind.model.objects.filter(candidate_id=candidate.pk), public_id=public_id)


class RowGone(Exception):
    """The row of the URL no longer exists (deleted in another tab or by the admissions office)."""


def _own_row_or_gone(candidate, kind: RowKind, public_id):
    """As ``_own_row``, but a row that no longer exists at all (deleted meanwhile) raises ``RowGone``, for a
    message on the list rather than a 404 page; another candidate's row is still a 404."""
    if candidate is None:
        raise Http404
    row = kind.model.objects.filter(candidate_id=candidate.pk, public_id=public_id).first()
    if row is None:
        if kind.model.objects.filter(public_id=public_id).exists():
            raise Http404
        raise RowGone
    return row


def _row_gone(request, kind: RowKind):
    messages.error(request, row_gone_message())
    return redirect(f"applications:{kind.url_prefix}_list")


def _show_conflict(request, form, exc: EditConflict) -> None:
    form.show_conflict(exc, exc.message_for(request.user, owner=request.user))


@candidate_required
def row_list(request, kind_name):
    kind = ROW_KINDS[kind_name]
    candidate = _load_candidate(request)
    rows = getattr(candidate, kind.related_name).all() if candidate else []
    if kind.model is ExternalCursus:
        rows = [(row, country_name(row.country)) for row in rows]
    return render(
        request,
        f"applications/{kind_name}_list.html",
        {"kind": kind, "rows": rows, "candidate": candidate, **_urls(kind)},
    )


@candidate_required
@require_http_methods(["GET", "POST"])
def row_edit(request, kind_name, public_id=None):
    kind = ROW_KINDS[kind_name]
    candidate = _load_candidate(request)
    if candidate is None:
        return _need_personal_details(request)
    try:
        row = _own_row_or_gone(candidate, kind, public_id) if public_id else None
    except RowGone:
        return _row_gone(request, kind)
    if kind.model is ExternalCursus and ExternalCursusForm.DEPARTMENT_STEP in request.POST:
        # "Validate the department" (no JavaScript): the page again, with that département's cities; nothing saved.
        form = ExternalCursusForm.department_step(request.POST, instance=row)
        return render(
            request,
            kind.template,
            {"kind": kind, "form": form, "row": row, "candidate": candidate, **_urls(kind)},
        )
    # An add form is read at the version of the list (``services.add_row``: a double tap adds one row); a posted
    # form carries its own.
    version = rows_version(candidate.pk, kind.model) if row is None and request.method != "POST" else None
    form = kind.form_class(data=request.POST or None, instance=row, version=version)
    if request.method == "POST" and form.is_valid():
        try:
            if row is None:
                services.add_row(
                    model=kind.model,
                    candidate=candidate,
                    data=form.changes(),
                    actor=request.user,
                    read_at=form.read_version(),
                )
            else:
                services.update_row(row=row, data=form.changes(), actor=request.user, read_at=form.read_version())
        except services.RowAlreadyAdded as exc:
            messages.info(request, str(exc))
            return redirect(f"applications:{kind.url_prefix}_list")
        except EditConflict as exc:
            if exc.current is None:
                return _row_gone(request, kind)
            _show_conflict(request, form, exc)
        else:
            messages.success(request, kind.saved)
            return redirect(f"applications:{kind.url_prefix}_list")
    return render(
        request,
        kind.template,
        {"kind": kind, "form": form, "row": row, "candidate": candidate, **_urls(kind)},
    )


@candidate_required
@require_http_methods(["GET", "POST"])
def row_delete(request, kind_name, public_id):
    """GET asks for confirmation, POST deletes: no JavaScript needed."""
    kind = ROW_KINDS[kind_name]
    candidate = _load_candidate(request)
    try:
        row = _own_row_or_gone(candidate, kind, public_id)
    except RowGone:
        return _row_gone(request, kind)
    conflict_message = ""
    if request.method == "POST":
        try:
            services.delete_row(row=row, actor=request.user, read_at=request.POST.get("read_at"))
        except EditConflict as exc:
            if exc.current is None:
                return _row_gone(request, kind)
            # Changed since the confirmation was read: confirm again, the line as it is now.
            row, conflict_message = exc.current, exc.message_for(request.user, owner=request.user)
        else:
            messages.success(request, kind.deleted)
            return redirect(f"applications:{kind.url_prefix}_list")
    return render(
        request,
        "applications/row_delete.html",
        {
            "kind": kind,
            "row": row,
            "read_at": version_of(row),
            "conflict_message": conflict_message,
            **_urls(kind),
        },
    )


# --- Mes données -------------------------------------------------------------------------------------------------


@candidate_required
def my_data(request):
    return render(request, "applications/my_data.html", {})


@candidate_required
def my_data_download(request):
    """The ZIP of everything we hold about the candidate (``applications.personal_data``)."""
    candidate = Candidate.objects.for_user(request.user).select_related("address", "baccalaureate").first()
    archive = personal_data.build_archive(user=request.user, candidate=candidate)
    response = FileResponse(
        archive,
        as_attachment=True,
        filename=f"mes-donnees-{request.user.username}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response
