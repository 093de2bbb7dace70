"""The nightly import of the complementary forms' answers from LimeSurvey (BATCH_SYNCHRO_LIMESURVEY), through the
client in ``applications.limesurvey``: the latest completed response per candidate and per application is kept as
a ``FormAnswer``, which the tab (``applications.forms_tab``) reads.
"""

import datetime
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from applications.models import Application, Candidate, FormAnswer
from ecandidat.batches import Report
from offers.models import ComplementaryForm

# Columns of a LimeSurvey export that are not answers.
TECHNICAL_FIELDS = {
    "id",
    "token",
    "submitdate",
    "lastpage",
    "startlanguage",
    "seed",
    "startdate",
    "datestamp",
    "ipaddr",
    "refurl",
    "numDossier",
    "idCandidature",
}


def _submitted_at(row: dict) -> datetime.datetime | None:
    """The response's submit date, ``None`` when it has none (not completed) or when it cannot be read: LimeSurvey
    on MySQL may export ``0000-00-00 00:00:00``, or a date that does not exist."""
    try:
        value = parse_datetime(str(row.get("submitdate") or ""))
        if value is None:
            return None
        return timezone.make_aware(value) if timezone.is_naive(value) else value
    except (ValueError, OverflowError):
        return None


def _unreadable_date(row: dict) -> bool:
    """Whether the response has a submit date that cannot be read (rather than none)."""
    return bool(str(row.get("submitdate") or "").strip()) and _submitted_at(row) is None


def _application_key(value: str) -> str:
    """An ``idCandidature`` in one spelling (``str(uuid.UUID(value))``): upper case, braces or ``urn:uuid:`` name the
    same application, and were grouped apart, the one read last winning over a newer answer. Left as it is when it is
    no UUID (``store_responses`` counts it as naming an unknown application)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


def _latest_by(rows: list[dict], key: str) -> dict[str, tuple[datetime.datetime, dict]]:
    """The most recent completed response per value of ``key`` (submit date, then response id; an
    ``idCandidature`` in any spelling of its UUID); a response whose submit date cannot be read is left out
    (``store_responses`` counts them)."""
    latest: dict[str, tuple[tuple, datetime.datetime, dict]] = {}
    for row in rows:
        value = str(row.get(key) or "").strip()
        if key == "idCandidature":
            value = _application_key(value)
        submitted = _submitted_at(row)
        if not value or submitted is None:
            continue
        try:
            response_id = int(row.get("id") or 0)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an id of Infinity (json.loads reads it)
            response_id = 0
        order = (submitted, response_id)
        if value not in latest or order >= latest[value][0]:
            latest[value] = (order, submitted, row)
    return {value: (submitted, row) for value, (_order, submitted, row) in latest.items()}


def _queryable(value: str) -> bool:
    """Whether ``value`` may be looked up in the database: the candidate can edit the survey's URL, hence its
    ``numDossier``, and one holding NUL (PostgreSQL refuses it) or a lone surrogate (no UTF-8 for it) made the lookup
    raise, and the survey's whole import was lost. Such a value names no candidate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def _storable(text: str) -> str:
    """``text`` without what PostgreSQL refuses in a JSON document: NUL (``\\u0000``) and lone surrogates (from a
    ``\\ud800`` escape), replaced by « ? »."""
    return text.replace("\x00", "?").encode("utf-8", "replace").decode("utf-8")


def _storable_value(value: object) -> object:
    """``value`` with ``_storable`` applied to every text in it, however deep: the texts of a list, the keys and
    texts of a dict (a JSON export may nest them). Anything else is kept as it is."""
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, list):
        return [_storable_value(item) for item in value]
    if isinstance(value, dict):
        return {_storable(str(key)): _storable_value(item) for key, item in value.items()}
    return value


# How deep an answer may nest lists and dicts: LimeSurvey's own are flat or one level deep (a multiple choice's
# options). Deeper, the answer is left out: walking it (``_storable_value``) and writing it raised RecursionError
# from about 1,000 levels, and the survey's whole import was lost, every night.
MAX_ANSWER_DEPTH = 32


def _too_deep(value: object) -> bool:
    """Whether ``value`` nests lists or dicts more than ``MAX_ANSWER_DEPTH`` levels (walked without recursion)."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            if depth >= MAX_ANSWER_DEPTH:
                return True
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _answers(row: dict, report: Report) -> dict:
    """The answers of a response. A candidate types them in LimeSurvey: a NUL pasted into one text answer made
    PostgreSQL refuse the survey's whole import (a DataError), every night, for every candidate; a text nested in a
    list or a dict too. An answer nested deeper than ``MAX_ANSWER_DEPTH`` is left out, the others kept."""
    answers = {}
    for key, value in row.items():
        if key in TECHNICAL_FIELDS or value in (None, ""):
            continue
        if _too_deep(value):
            report.add("answers nested too deeply (left out)")
            continue
        if (storable := _storable_value(value)) != value:
            report.add("answers holding characters the database refuses (replaced by ?)")
            value = storable
        answers[_storable(str(key))] = value
    return answers


def store_responses(form: ComplementaryForm, rows: list[dict], report: Report) -> None:
    """Keep, per candidate (``numDossier`` without ``idCandidature``) and per application (``idCandidature``), the
    latest response of ``form``, in one transaction. Responses naming nobody we know, responses naming an
    application or an account of a past campaign (archived: its dossiers no longer change), and responses whose
    submit date cannot be read, are counted and ignored."""
    if unreadable := sum(1 for row in rows if _unreadable_date(row)):
        report.add("responses with an unreadable submit date (ignored)", unreadable)
    per_application = _latest_by(rows, "idCandidature")
    per_candidate = _latest_by([r for r in rows if not str(r.get("idCandidature") or "").strip()], "numDossier")
    public_ids = {}
    for value in per_application:
        try:
            public_ids[value] = uuid.UUID(value)
        except ValueError:
            report.add("responses naming an unknown application")
    # The active campaign's only: an archived application is frozen, and a response naming one (a candidate of last
    # year answering late, a survey shared across years) is counted and ignored, as is one naming a past account.
    applications: dict[str, tuple[int, int]] = {}
    past_applications: set[str] = set()
    found = Application.objects.filter(public_id__in=public_ids.values()).values_list(
        "public_id", "pk", "candidate_id", "campaign__is_active"
    )
    for public_id, pk, candidate_id, active in found:
        if active:
            applications[str(public_id)] = (pk, candidate_id)
        else:
            past_applications.add(str(public_id))
    candidates: dict[str, int] = {}
    past_candidates: set[str] = set()
    queryable = [value for value in per_candidate if _queryable(value)]  # the others: an unknown candidate, below
    found_candidates = Candidate.objects.filter(user__username__in=queryable).values_list(
        "user__username", "pk", "user__campaign__is_active"
    )
    for username, pk, active in found_candidates:
        if active:
            candidates[username] = pk
        else:
            past_candidates.add(username)
    now = timezone.now()
    # (candidate_id, application_id or None) -> (submitted, answers)
    wanted: dict[tuple[int, int | None], tuple[datetime.datetime, dict]] = {}
    for value, (submitted, row) in per_application.items():
        if str(public_ids.get(value)) in applications:
            pk, candidate_id = applications[str(public_ids[value])]
            wanted[(candidate_id, pk)] = (submitted, _answers(row, report))
        elif str(public_ids.get(value)) in past_applications:
            report.add("responses of a past campaign (ignored)")
        elif value in public_ids:
            report.add("responses naming an unknown application")
    for value, (submitted, row) in per_candidate.items():
        if value in candidates:
            wanted[(candidates[value], None)] = (submitted, _answers(row, report))
        elif value in past_candidates:
            report.add("responses of a past campaign (ignored)")
        else:
            report.add("responses naming an unknown candidate")
    with transaction.atomic():
        existing = {
            (answer.candidate_id, answer.application_id): answer
            for answer in FormAnswer.objects.select_for_update(of=("self",)).filter(
                form=form, candidate_id__in={candidate_id for candidate_id, _app in wanted}
            )
        }
        to_create, to_update = [], []
        for (candidate_id, application_id), (submitted, answers) in wanted.items():
            answer = existing.get((candidate_id, application_id))
            if answer is None:
                to_create.append(
                    FormAnswer(
                        form=form,
                        candidate_id=candidate_id,
                        application_id=application_id,
                        answers=answers,
                        submitted_at=submitted,
                        synchronised_at=now,
                    )
                )
            elif (answer.submitted_at is None or submitted >= answer.submitted_at) and (
                answer.submitted_at != submitted or answer.answers != answers
            ):
                answer.answers, answer.submitted_at = answers, submitted
                answer.synchronised_at = now
                to_update.append(answer)
        FormAnswer.objects.bulk_create(to_create, batch_size=500)
        FormAnswer.objects.bulk_update(to_update, ["answers", "submitted_at", "synchronised_at"], batch_size=500)
    report.add("answers stored", len(to_create))
    report.add("answers updated", len(to_update))


def sync_complementary_forms(
    report: Report,
    *,
    dry_run: bool,
    limit: int | None,
    client_factory: Callable[[str, str, str], LimeSurveyClient] = LimeSurveyClient,
) -> None:
    """Import the completed LimeSurvey responses of every survey in service (BATCH_SYNCHRO_LIMESURVEY).

    LimeSurvey down or answering garbage is logged in the batch history (status ERROR) and retried the next
    night; one survey failing does not stop the others, and the nightly chain goes on.
    """
    if not settings.LIMESURVEY_URL:
        report.add("LimeSurvey not configured (LIMESURVEY_URL): skipped")
        return
    forms = list(ComplementaryForm.objects.filter(in_service=True).order_by("survey_id"))
    if limit is not None:
        forms = forms[:limit]
    if not forms:
        return
    try:
        with client_factory(settings.LIMESURVEY_URL, settings.LIMESURVEY_USER, settings.LIMESURVEY_PASSWORD) as api:
            for form in forms:
                try:
                    rows = api.export_responses(form.survey_id)
                except LimeSurveyError as exc:
                    report.error(f"survey {form.survey_id} ({form.code}): {exc}")
                    continue
                report.add("surveys read")
                report.add("responses read", len(rows))
                if api.numbers_out_of_range:  # left empty in the answers: the page says so, not only the log
                    report.add("numbers out of range left empty", api.numbers_out_of_range)
                if not dry_run:
                    try:
                        store_responses(form, rows, report)
                    except DatabaseError as exc:  # its transaction rolled back: the other surveys are stored
                        report.error(f"survey {form.survey_id} ({form.code}): answers not stored: {exc}")
                    except Exception as exc:  # an export shaped unexpectedly: reported, the other surveys go on
                        report.error(
                            f"survey {form.survey_id} ({form.code}): answers not stored: {type(exc).__name__}: {exc}"
                        )
    except LimeSurveyError as exc:
        report.error(f"LimeSurvey unavailable, retried next night: {exc}")
