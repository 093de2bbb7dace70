"""The applications export with chosen columns (issue 12; eCandidat offers 78 columns with saved choices).

``COLUMNS`` lists every column, by group: identity, contact, address (whole or split, for a mail merge),
baccalaureate, cursus, last diploma, decision (with its reason, rank, who entered and validated it, preselection,
OPI), dates, answer, notes, tags and complementary-form answers. ``export_rows`` reads the
applications by chunks of ``CHUNK`` primary keys with a fixed number of queries per chunk (one for the rows with
their one-to-one relations and the decision annotations, one per prefetched relation), whatever the columns, so an
export of 10,000 rows runs in a few dozen queries and constant memory; ``stream_csv`` and ``write_xlsx`` write it
without holding the whole file in memory (CSV streamed line by line, XLSX through openpyxl's write-only mode into a
temporary file).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from applications.countries import country_name
from applications.departments import department_label
from applications.enums import WithdrawalReason
from applications.forms_tab import form_concerns
from applications.models import (
    Application,
    ApplicationNote,
    ApplicationTag,
    ExternalCursus,
    FormAnswer,
    InternalCursus,
    QuestionAnswer,
)
from applications.models.candidature import ApplicationQuerySet, answer_label, decision_author, latest_decision
from applications.models.sva import SvaAlertLevel, age_in_days
from applications.questions import BOOLEAN_LABELS, answers_of
from ecandidat import parameters
from ecandidat.exports import FORMULA_PREFIXES, stream_csv, write_xlsx
from offers.models import ComplementaryForm

CHUNK = 1000


def _local(value: datetime.datetime | None) -> datetime.datetime | None:
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def _address(obj: Application) -> Any:
    return getattr(obj.candidate, "address", None)


def _opi(obj: Application) -> Any:
    return getattr(obj, "opi", None)  # select_related: None when the application has no OPI


def _bac(obj: Application) -> Any:
    return getattr(obj.candidate, "baccalaureate", None)


def _grade(row: InternalCursus) -> str:
    return str(_("grade %(grade)s") % {"grade": row.grade_label}) if row.grade is not None else ""


def _last_external(obj: Application) -> ExternalCursus | None:
    rows = obj.candidate.external_cursus.all()  # prefetched, newest year first
    return rows[0] if rows else None


def _entered_by(obj: Application) -> str:
    """The latest decision's author, or its automatic origin (a promotion from the waiting list has no author)."""
    return decision_author(_annotation(obj, "entered_by"), _annotation(obj, "action"))


def _validated_by(obj: Application) -> str:
    """Who validated the latest decision, or its automatic origin; "" while it is not validated."""
    if _annotation(obj, "validated_at") is None:
        return ""
    return decision_author(_annotation(obj, "validated_by"), _annotation(obj, "action"))


def _validated_flag(obj: Application) -> str:
    """« Yes » once the latest decision is validated, « No » while it is not, "" without a decision: the plain
    export's column (``applications.admin.exports.export_rows``). A decision always has an action, so none annotated
    means no decision (as no avis does there: a decision's type always has one)."""
    if _annotation(obj, "validated_at"):
        return str(_("Yes"))
    return "" if _annotation(obj, "action") is None else str(_("No"))


def _sva(obj: Application, value: Callable[[Application], Any]) -> Any:
    """An SVA column's value: empty when the export was made without SVA alerts (``SVA_ALERT_DATE`` = ``NO``) or
    the application is not in alert."""
    return value(obj) if getattr(obj, "sva_threshold", None) is not None else ""


def _question_answers(obj: Application) -> str:
    lines = []
    # Prefetched: the candidate's answers with their questions; this application's own and the shared ones it asks.
    for answer in answers_of(obj, obj.candidate.question_answers.all()):
        question = answer.question
        if answer.not_concerned:
            value = str(_("not concerned"))
        elif question.kind == question.Kind.BOOLEAN:
            value = str(BOOLEAN_LABELS.get(answer.answer, answer.answer))
        else:
            value = answer.answer
        if value:
            lines.append(f"{question.label} : {value}")
    return "\n".join(lines)


def _form_concerns(form: ComplementaryForm, application: Application) -> bool:
    """``forms_tab.form_concerns``, whether the form is attached to the formation read from the prefetched
    ``formation.forms`` (in service or not)."""
    attached = any(form.pk == other.pk for other in application.formation.forms.all())
    return form_concerns(form, application, attached=attached)


def _form_answers(obj: Application) -> str:
    lines = []
    for answer in obj.candidate.form_answers.all():  # prefetched: the candidate's and this application's answers
        if answer.application_id != obj.pk and (
            answer.application_id is not None or not _form_concerns(answer.form, obj)
        ):
            continue
        label = answer.form.label
        # A candidate who declared « Non concerné » and then filled the survey anyway has answers: they win, as on
        # the candidate's tab and the staff page (``forms_tab.form_rows``). The declaration stands only while the form
        # is conditional: made required since, the form is waiting again there, and nothing is written for it here,
        # as for any form not answered (a declaration has no answers).
        if answer.not_concerned and answer.submitted_at is None and answer.form.is_conditional:
            lines.append(f"{label} : {_('not concerned')}")
            continue
        for question, value in (answer.answers or {}).items():
            lines.append(f"{label} / {question} : {value}")
    return "\n".join(lines)


def _annotation(obj: Application, name: str) -> Any:
    """A field of the latest decision, annotated by ``_rows_queryset`` as ``export_decision_<name>``."""
    return getattr(obj, f"export_decision_{name}")


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    group: Promise
    value: Callable[[Application], Any]


IDENTITY, CONTACT, ADDRESS, BAC, CURSUS, DECISION, DATES, REVIEW = (
    _("Identity"),
    _("Contact"),
    _("Address"),
    _("Baccalaureate"),
    _("Cursus"),
    _("Decision"),
    _("Dates"),
    _("Notes, tags and forms"),
)

COLUMNS: dict[str, Column] = {
    column.key: column
    for column in [
        Column("numero", _("Dossier number"), IDENTITY, lambda o: o.candidate.user.username),
        Column("civility", _("Civility"), IDENTITY, lambda o: o.candidate.get_civility_display()),
        Column("birth_name", _("Birth name"), IDENTITY, lambda o: o.candidate.birth_name),
        Column("usual_name", _("Usual name"), IDENTITY, lambda o: o.candidate.usual_name),
        Column("first_name", _("First name"), IDENTITY, lambda o: o.candidate.first_name),
        Column("birth_date", _("Date of birth"), IDENTITY, lambda o: o.candidate.birth_date),
        Column("birth_city", _("City of birth"), IDENTITY, lambda o: o.candidate.birth_city),
        Column("birth_country", _("Country of birth"), IDENTITY, lambda o: country_name(o.candidate.birth_country)),
        Column("nationality", _("Nationality"), IDENTITY, lambda o: country_name(o.candidate.nationality)),
        Column("ine", _("INE"), IDENTITY, lambda o: o.candidate.ine),
        Column("student_number", _("Student number"), IDENTITY, lambda o: o.candidate.sis_student_number),
        Column("email", _("E-mail"), CONTACT, lambda o: o.candidate.user.email),
        Column("phone", _("Phone"), CONTACT, lambda o: o.candidate.phone),
        Column("mobile", _("Mobile phone"), CONTACT, lambda o: o.candidate.mobile),
        Column(
            "address",
            _("Address"),
            ADDRESS,
            lambda o: " ".join(
                part
                for part in (
                    getattr(_address(o), "line1", ""),
                    getattr(_address(o), "line2", ""),
                    getattr(_address(o), "line3", ""),
                )
                if part
            ),
        ),
        Column("postal_code", _("Postal code"), ADDRESS, lambda o: getattr(_address(o), "postal_code", "")),
        Column(
            "city",
            _("City"),
            ADDRESS,
            lambda o: getattr(_address(o), "city", "") or getattr(_address(o), "foreign_city", ""),
        ),
        Column("country", _("Country"), ADDRESS, lambda o: country_name(getattr(_address(o), "country", ""))),
        # The address split, one column per line, for a mail merge (eCandidat's "adresse découpée").
        Column("address_line1", _("Address line 1"), ADDRESS, lambda o: getattr(_address(o), "line1", "")),
        Column("address_line2", _("Address line 2"), ADDRESS, lambda o: getattr(_address(o), "line2", "")),
        Column("address_line3", _("Address line 3"), ADDRESS, lambda o: getattr(_address(o), "line3", "")),
        Column("address_city", _("City (France)"), ADDRESS, lambda o: getattr(_address(o), "city", "")),
        Column("address_cedex", _("Cedex"), ADDRESS, lambda o: getattr(_address(o), "cedex", "")),
        Column("address_foreign_city", _("City abroad"), ADDRESS, lambda o: getattr(_address(o), "foreign_city", "")),
        Column("bac_series", _("Baccalaureate series"), BAC, lambda o: getattr(_bac(o), "series_label", "")),
        Column("bac_year", _("Baccalaureate year"), BAC, lambda o: getattr(_bac(o), "year", None)),
        Column(
            "bac_mention", _("Baccalaureate honours"), BAC, lambda o: _bac(o).get_mention_display() if _bac(o) else ""
        ),
        Column("bac_school", _("Baccalaureate school"), BAC, lambda o: getattr(_bac(o), "school", "")),
        Column(
            "bac_country", _("Baccalaureate country"), BAC, lambda o: country_name(getattr(_bac(o), "country", ""))
        ),
        Column(
            "bac_department",
            _("Baccalaureate department"),
            BAC,
            lambda o: department_label(getattr(_bac(o), "department", "")),
        ),
        Column("bac_city", _("Baccalaureate city"), BAC, lambda o: getattr(_bac(o), "city", "")),
        Column("bac_school_uai", _("Baccalaureate school UAI"), BAC, lambda o: getattr(_bac(o), "school_uai", "")),
        # eCandidat's "Bac Spé. 1", "Bac Spé. 2", "Bac Spé. 1ère" and "Bac Option 1-4" (one column for the options).
        Column(
            "bac_speciality_1",
            _("Baccalaureate speciality 1"),
            BAC,
            lambda o: getattr(_bac(o), "speciality_1_label", ""),
        ),
        Column(
            "bac_speciality_2",
            _("Baccalaureate speciality 2"),
            BAC,
            lambda o: getattr(_bac(o), "speciality_2_label", ""),
        ),
        Column(
            "bac_dropped_speciality",
            _("Baccalaureate dropped première speciality"),
            BAC,
            lambda o: getattr(_bac(o), "dropped_speciality_label", ""),
        ),
        Column(
            "bac_options", _("Baccalaureate options"), BAC, lambda o: ", ".join(_bac(o).options) if _bac(o) else ""
        ),
        Column(
            "internal_cursus",
            _("Internal cursus"),
            CURSUS,
            lambda o: "\n".join(
                " ".join(
                    part
                    for part in (row.academic_year_label, row.code, row.label, row.result, row.mention, _grade(row))
                    if part
                )
                for row in o.candidate.internal_cursus.all()
            ),
        ),
        Column(
            "external_cursus",
            _("External cursus"),
            CURSUS,
            lambda o: "\n".join(f"{row.year} {row.label} ({row.school})" for row in o.candidate.external_cursus.all()),
        ),
        Column("last_diploma", _("Last diploma"), CURSUS, lambda o: getattr(_last_external(o), "label", "")),
        Column(
            "last_diploma_year",
            _("Year of the last diploma"),
            CURSUS,
            lambda o: getattr(_last_external(o), "year", None),
        ),
        Column(
            "last_diploma_type",
            _("Diploma type of the last cursus"),
            CURSUS,
            lambda o: getattr(_last_external(o), "diploma_label", ""),
        ),
        Column(
            "last_diploma_department",
            _("Department of the last cursus"),
            CURSUS,
            lambda o: getattr(_last_external(o), "department_label", ""),
        ),
        Column(
            "last_diploma_city", _("City of the last cursus"), CURSUS, lambda o: getattr(_last_external(o), "city", "")
        ),
        Column(
            "last_diploma_school",
            _("School of the last cursus"),
            CURSUS,
            lambda o: getattr(_last_external(o), "school", ""),
        ),
        Column("centre", _("Centre"), DECISION, lambda o: o.formation.centre.label),
        Column("commission", _("Commission"), DECISION, lambda o: o.formation.commission.label),
        Column("formation_code", _("Formation code"), DECISION, lambda o: o.formation.code),
        Column("formation", _("Formation"), DECISION, lambda o: o.formation.title),
        Column("treatment_type", _("Processing type"), DECISION, lambda o: o.get_treatment_type_display()),
        # Régime and situation des droits (SIS_REGIME_ENTRY): the codes as the Apogée OPI sends them, and labels.
        Column("regime", _("Registration regime"), DECISION, lambda o: o.regime.label if o.regime else ""),
        Column("regime_code", _("Registration regime (code)"), DECISION, lambda o: o.regime_id or ""),
        Column(
            "fee_exemption",
            _("Fee exemption category"),
            DECISION,
            lambda o: o.fee_exemption.label if o.fee_exemption else "",
        ),
        Column("fee_exemption_code", _("Fee exemption category (code)"), DECISION, lambda o: o.fee_exemption_id or ""),
        Column("fee_exemption_comment", _("Fee exemption complement"), DECISION, lambda o: o.fee_exemption_comment),
        Column("fee_amount", _("Amount payable (euros)"), DECISION, lambda o: o.fee_amount),
        Column("dossier_status", _("Dossier status"), DECISION, lambda o: o.get_dossier_status_display()),
        Column("decision", _("Decision"), DECISION, lambda o: _annotation(o, "label") or ""),
        Column(
            "decision_validated",
            _("Decision validated on"),
            DECISION,
            lambda o: _local(_annotation(o, "validated_at")),
        ),
        # Yes, No or empty, as the list's plain export writes it (« Exporter »): its jobs ask for this column.
        Column("decision_validated_flag", _("Decision validated"), DECISION, _validated_flag),
        Column("decision_reason", _("Reason of the decision"), DECISION, lambda o: _annotation(o, "reason") or ""),
        Column("decision_comment", _("Comment of the decision"), DECISION, lambda o: _annotation(o, "comment") or ""),
        Column("decision_rank", _("Rank entered"), DECISION, lambda o: _annotation(o, "rank")),
        Column(
            "sva_threshold",
            _("SVA alert: threshold reached (days)"),
            DECISION,
            lambda o: _sva(o, lambda row: row.sva_threshold),
        ),
        Column(
            "sva_age",
            _("SVA alert: days since the reference date"),
            DECISION,
            lambda o: _sva(o, lambda row: age_in_days(row.sva_since, timezone.localdate())),
        ),
        Column(
            "decision_after_appeal",
            _("Decision after an appeal"),
            DECISION,
            lambda o: str(_("yes")) if _annotation(o, "after_appeal") else "",
        ),
        Column("decision_entered_by", _("Decision entered by"), DECISION, _entered_by),
        Column("decision_validated_by", _("Decision validated by"), DECISION, _validated_by),
        Column(
            "preselection_at",
            _("Preselection date and time"),
            DECISION,
            lambda o: _local(_annotation(o, "preselection_at")),
        ),
        Column(
            "preselection_place",
            _("Preselection place"),
            DECISION,
            lambda o: _annotation(o, "preselection_place") or "",
        ),
        Column(
            "waiting_list_rank", _("Actual rank on the complementary list"), DECISION, lambda o: o.waiting_list_rank
        ),
        Column("answer", _("Answer"), DECISION, lambda o: answer_label(o.accepted)),
        Column(
            "withdrawal_reason",
            _("Reason for withdrawal"),
            DECISION,
            lambda o: WithdrawalReason(o.withdrawal_reason).label if o.withdrawal_reason else "",
        ),
        Column(
            "opi_code", pgettext_lazy("export column", "OPI code"), DECISION, lambda o: getattr(_opi(o), "code", "")
        ),
        Column(
            "opi_passed_at", _("OPI transferred at"), DECISION, lambda o: _local(getattr(_opi(o), "passed_at", None))
        ),
        Column("created_at", _("Created at"), DATES, lambda o: _local(o.created_at)),
        Column("transmitted_at", _("Transmitted at"), DATES, lambda o: _local(o.transmitted_at)),
        Column("received_on", _("Received on"), DATES, lambda o: o.received_on),
        Column("complete_on", _("Complete on"), DATES, lambda o: o.complete_on),
        Column("incomplete_on", _("Incomplete on"), DATES, lambda o: o.incomplete_on),
        Column("answered_at", _("Answered at"), DATES, lambda o: _local(o.answered_at)),
        Column("cancelled_at", _("Cancelled at"), DATES, lambda o: _local(o.cancelled_at)),
        Column("tags", _("Tags"), REVIEW, lambda o: ", ".join(link.tag.label for link in o.tag_links.all())),
        Column(
            "notes",
            _("Internal notes"),
            REVIEW,
            lambda o: "\n".join(
                f"{timezone.localtime(note.created_at):%d/%m/%Y %H:%M} {note.author.get_username()} : {note.text}"
                for note in o.notes.all()
            ),
        ),
        Column("form_answers", _("Complementary-form answers"), REVIEW, _form_answers),
        Column("question_answers", _("Answers to the complementary questions"), REVIEW, _question_answers),
    ]
}

DEFAULT_COLUMNS = [
    "numero",
    "birth_name",
    "first_name",
    "email",
    "formation_code",
    "formation",
    "dossier_status",
    "decision",
    "decision_validated",
    "waiting_list_rank",
    "answer",
    "created_at",
]


SVA_KEYS = frozenset({"sva_threshold", "sva_age"})
# Offered only with SIS_REGIME_ENTRY (eCandidat GEST_IS_UTILISE_REG_STU), as the régime and fees themselves.
REGIME_KEYS = frozenset(
    {"regime", "regime_code", "fee_exemption", "fee_exemption_code", "fee_exemption_comment", "fee_amount"}
)


# Offered only with EXPORT_NOTES (eCandidat GEST_IS_EXPORT_BLOC_NOTE, off by default): the internal notes and their
# authors stay in the back office unless « Paramètres » says otherwise.
NOTES_KEYS = frozenset({"notes"})


def available_columns() -> dict[str, Column]:
    """The columns offered (in the chooser's order): every one, less the régime and fees when not in use, and less
    the internal notes unless they are exported. A saved choice, or a background export asked for before, holding
    a column left out is read without it (``export_columns_view``, ``export_jobs``)."""
    hidden = (frozenset() if parameters.get("SIS_REGIME_ENTRY") else REGIME_KEYS) | (
        frozenset() if parameters.get("EXPORT_NOTES") else NOTES_KEYS
    )
    if not hidden:
        return COLUMNS
    return {key: column for key, column in COLUMNS.items() if key not in hidden}


def grouped_columns() -> list[tuple[Promise, list[Column]]]:
    groups: dict[str, tuple[Promise, list[Column]]] = {}
    for column in available_columns().values():
        groups.setdefault(str(column.group), (column.group, []))[1].append(column)
    return list(groups.values())


def _rows_queryset(pks: Sequence[int]) -> ApplicationQuerySet:
    return (
        Application.objects.filter(pk__in=pks)
        .select_related(
            "candidate__user",
            "candidate__address",
            "candidate__baccalaureate",
            "formation__centre",
            "formation__commission",
            "opi",
            "regime",
            "fee_exemption",
        )
        .annotate(
            export_decision_label=latest_decision("decision_type__label"),
            export_decision_validated_at=latest_decision("validated_at"),
            export_decision_reason=latest_decision("refusal_reason__label"),
            export_decision_comment=latest_decision("comment"),
            export_decision_rank=latest_decision("rank"),
            export_decision_after_appeal=latest_decision("after_appeal"),
            export_decision_entered_by=latest_decision("created_by__username"),
            export_decision_validated_by=latest_decision("validated_by__username"),
            export_decision_action=latest_decision("action"),
            export_decision_preselection_at=latest_decision("preselection_at"),
            export_decision_preselection_place=latest_decision("preselection_place"),
        )
        .prefetch_related(
            # In the list's order (``ApplicationChangeList``), as its plain export writes them.
            Prefetch("tag_links", queryset=ApplicationTag.objects.order_by("tag__label")),
            "tag_links__tag",
            Prefetch("notes", queryset=ApplicationNote.objects.select_related("author").order_by("created_at", "id")),
            Prefetch("candidate__internal_cursus", queryset=InternalCursus.objects.order_by("-academic_year")),
            Prefetch("candidate__external_cursus", queryset=ExternalCursus.objects.order_by("-year", "-created_at")),
            Prefetch(
                "candidate__form_answers", queryset=FormAnswer.objects.select_related("form").order_by("form_id")
            ),
            Prefetch("candidate__question_answers", queryset=QuestionAnswer.objects.select_related("question")),
            Prefetch("formation__forms", queryset=ComplementaryForm.objects.only("pk")),
        )
        .order_by("pk")
    )


def export_rows(
    queryset: QuerySet[Application], keys: Sequence[str], *, list_order: bool = False
) -> Iterator[list[Any]]:
    """The rows of ``queryset`` (any filters) for the columns ``keys``, chunk by chunk: in pk order, or with
    ``list_order`` in the queryset's own (the admin list's sort, which the staff read the file in; the ids are read
    in that order in one query, each chunk's rows then loaded by id and given back in it). The SVA columns need the
    alert levels: read once per export, and only when such a column is asked for and ``SVA_ALERT_DATE`` is set."""
    columns = [COLUMNS[key] for key in keys]
    alert = SvaAlertLevel.objects.alert() if SVA_KEYS & set(keys) else None
    ordered = queryset if list_order else queryset.order_by("pk")
    # dict.fromkeys: an id once, should a sort on a many-valued relation repeat it.
    pks = list(dict.fromkeys(ordered.values_list("pk", flat=True)))
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        rows = _rows_queryset(chunk)
        if alert is not None:
            rows = rows.with_sva_alert(alert)
        loaded = {obj.pk: obj for obj in rows}
        for pk in chunk:
            obj = loaded.get(pk)
            if obj is not None:  # deleted since its id was read
                yield [column.value(obj) for column in columns]


def headers(keys: Sequence[str]) -> list[str]:
    return [str(COLUMNS[key].label) for key in keys]


__all__ = ["COLUMNS", "DEFAULT_COLUMNS", "FORMULA_PREFIXES", "export_rows", "stream_csv", "write_xlsx"]
