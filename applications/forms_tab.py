"""The "Formulaires complémentaires" tab (ecandidat-features §1.9), read side: the LimeSurvey surveys that apply to
an application, with their links and their state for the candidate. Reads only: the candidate's declarations and
the staff reminder are in ``applications.services.complementary_forms``, the nightly import of the answers in
``applications.limesurvey_sync``.
"""

import dataclasses
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from applications.enums import PieceStatus
from applications.models import Application, FormAnswer
from applications.pieces import pieces_locked_reason
from ecandidat import parameters
from ecandidat.prepared import PreparedQuery
from ecandidat.staff_text import StaffText
from offers.models import ComplementaryForm, Formation, is_web_address

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclasses.dataclass(frozen=True)
class FormRow:
    form: ComplementaryForm
    label: StaffText  # in the page's language
    url: str
    status: str  # PieceStatus AT / TR / NC
    answer: FormAnswer | None
    can_declare_not_concerned: bool  # conditional and still waiting: "Non concerné par ce formulaire"
    can_declare_concerned: bool = False  # conditional and declared "Non concerné": "Concerné par ce formulaire"
    # False: a form no longer offered to the application (out of service, or off its formation, since), shown
    # for its answer on the staff page and in the dossier (``form_rows(..., unlisted=True)``).
    listed: bool = True

    @property
    def status_label(self) -> "StrOrPromise":
        return PieceStatus(self.status).label

    @property
    def answer_items(self) -> list[tuple[str, str]]:
        return sorted(self.answer.answers.items()) if self.answer and self.answer.answers else []


def forms_for(application: Application) -> QuerySet[ComplementaryForm]:
    """The forms in service that apply to this application: attached to its formation, or common to the
    institution or to its centre."""
    return _forms_of_formation(application.formation_id, application.formation.centre_id)


def _forms_of_formation(formation_id: int, centre_id: int) -> QuerySet[ComplementaryForm]:
    return (
        ComplementaryForm.objects.filter(in_service=True)
        .filter(
            Q(formations__pk=formation_id)
            | Q(is_common=True, centre__isnull=True)
            | Q(is_common=True, centre_id=centre_id)
        )
        .distinct()
        .order_by("label", "pk")
    )


# ``forms_for``, compiled once per process for the recap (ecandidat.prepared, issue 14).
_FORMS_OF_FORMATION = PreparedQuery(_forms_of_formation)


def survey_url(template: str, application: Application) -> str:
    """The form's URL with ${numDossier}, ${idCandidature}, ${nom} and ${prenom} replaced (URL-encoded).

    Only a web address is returned (``offers.models.is_web_address``, the rule staff's form checks when saving): a
    configured ``javascript:`` link is never shown."""
    candidate = application.candidate
    values = {
        "${numDossier}": candidate.user.username,
        "${idCandidature}": str(application.public_id),
        "${nom}": candidate.usual_name or candidate.birth_name,
        "${prenom}": candidate.first_name,
    }
    url = template
    for placeholder, value in values.items():
        url = url.replace(placeholder, quote(value, safe=""))
    return url if is_web_address(url) else ""


def form_concerns(form: ComplementaryForm, application: Application, *, attached: bool) -> bool:
    """Whether a form answered once for the candidate (``numDossier`` only) concerns ``application``: attached to its
    formation (``attached``, which the caller knows: the export from the prefetched ``formation.forms``,
    ``form_rows`` from its query), or common to the institution or to its formation's centre (``forms_for``, in
    service or not). Another centre's form is not this application's business. Reads ``application.formation``."""
    return (form.is_common and form.centre_id in (None, application.formation.centre_id)) or attached


def _dossier_forms(application: Application) -> tuple[list[ComplementaryForm], list[ComplementaryForm], set[int]]:
    """In one query: the forms listed for ``application`` (``forms_for``'s), the others it has a submitted answer to
    (its own, or the candidate's shared one), and which of them all are attached to its formation."""
    formation = application.formation
    listed = _forms_of_formation(formation.pk, formation.centre_id).filter(pk=OuterRef("pk"))
    attached = Formation.forms.through.objects.filter(formation_id=formation.pk, complementaryform_id=OuterRef("pk"))
    answered = FormAnswer.objects.filter(
        Q(application__isnull=True) | Q(application_id=application.pk),
        form_id=OuterRef("pk"),
        candidate_id=application.candidate_id,
        submitted_at__isnull=False,
    )
    forms = list(
        ComplementaryForm.objects.annotate(listed=Exists(listed), attached=Exists(attached))
        .filter(Q(listed=True) | Exists(answered))
        .order_by("label", "pk")
    )
    return (
        [form for form in forms if form.listed],
        [form for form in forms if not form.listed],
        {form.pk for form in forms if form.attached},
    )


def form_rows(application: Application, *, unlisted: bool = False) -> list[FormRow]:
    """The rows of the "Formulaires complémentaires" tab (two queries, one when no form applies).

    A form is "Transmise" once answered: the application's own answer wins over one given for the candidate
    (``numDossier`` only). Otherwise it is "Non concerné" when the candidate declared so for this application and
    the form is still conditional, else "En attente". An answer arriving after a "Non concerné" declaration makes the
    form "Transmise".

    With ``unlisted`` (the staff dossier page, the dossier PDF), the forms answered for this application that are no
    longer listed (taken out of service, or off its formation, since: their imported answers are kept) follow, as
    "Transmise" with their answers: the application's own answer, else the candidate's shared one when the form
    concerns the application (``form_concerns``, the export's rule). No link nor declaration for them. Still two
    queries, one when no form is listed nor answered."""
    formation = application.formation
    others: list[ComplementaryForm] = []
    attached: set[int] = set()
    if unlisted:
        forms, others, attached = _dossier_forms(application)
    else:
        forms = _FORMS_OF_FORMATION.all(formation_id=formation.pk, centre_id=formation.centre_id)
    if not forms and not others:  # most formations: no answer to read (and no query to build)
        return []
    answers = FormAnswer.objects.filter(
        form__in=[form.pk for form in (*forms, *others)], candidate_id=application.candidate_id
    )
    answers = answers.filter(Q(application__isnull=True) | Q(application_id=application.pk))
    own: dict[int, FormAnswer] = {}
    shared: dict[int, FormAnswer] = {}
    for answer in answers:
        (own if answer.application_id is not None else shared)[answer.form_id] = answer
    rows = []
    for form in forms:
        own_answer, shared_answer = own.get(form.pk), shared.get(form.pk)
        submitted = next((a for a in (own_answer, shared_answer) if a is not None and a.submitted_at), None)
        if submitted is not None:
            status = PieceStatus.SUBMITTED
        elif own_answer is not None and own_answer.not_concerned and form.is_conditional:
            # A declaration stands only while the form is conditional: made required since, it is waiting again.
            status = PieceStatus.NOT_CONCERNED
        else:
            status = PieceStatus.WAITING
        rows.append(
            FormRow(
                form=form,
                label=form.shown_label,
                url=survey_url(form.url, application),
                status=status,
                answer=submitted,
                can_declare_not_concerned=form.is_conditional and status == PieceStatus.WAITING,
                can_declare_concerned=form.is_conditional and status == PieceStatus.NOT_CONCERNED,
            )
        )
    for form in others:
        own_answer, shared_answer = own.get(form.pk), shared.get(form.pk)
        if shared_answer is not None and not form_concerns(form, application, attached=form.pk in attached):
            shared_answer = None  # another centre's form, or one attached to other formations only
        submitted = next((a for a in (own_answer, shared_answer) if a is not None and a.submitted_at), None)
        if submitted is not None:
            rows.append(
                FormRow(
                    form=form,
                    label=form.shown_label,
                    url="",
                    status=PieceStatus.SUBMITTED,
                    answer=submitted,
                    can_declare_not_concerned=False,
                    listed=False,
                )
            )
    return rows


def waiting_rows(rows: list[FormRow]) -> list[FormRow]:
    """Forms neither answered nor declared "Non concerné"."""
    return [row for row in rows if row.status == PieceStatus.WAITING]


def missing_forms(application: Application, *, rows: list[FormRow] | None = None) -> list[FormRow]:
    """The forms that keep "Transmettre ma candidature" inactive: with ``FORMS_BLOCK_TRANSMISSION`` on (eCandidat
    CANDIDATURE_IS_BLOC_TRANS_FORM), those neither answered nor declared "Non concerné"; none when it is off (and
    then no query). ``rows``: the application's form rows when the caller already has them."""
    if not parameters.get("FORMS_BLOCK_TRANSMISSION"):
        return []
    return waiting_rows(form_rows(application) if rows is None else rows)


def forms_locked_reason(application: Application) -> str:
    """Why the candidate cannot declare a form "Non concerné" or "Concerné" now ("" when they can).

    The rule is the pieces' one (``applications.pieces.pieces_locked_reason``: online dossier ``AT``/``IN``, not
    cancelled, before the effective date limite de retour); only the message names the forms."""
    reason = pieces_locked_reason(application)
    if not reason:
        return ""
    return _("The complementary forms of this application can no longer be changed. %(reason)s") % {"reason": reason}
