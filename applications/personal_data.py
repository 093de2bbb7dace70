""" "Mes données": everything we hold about a candidate, as one ZIP (RGPD right of access, CNIL).

The archive holds ``donnees.json`` (account with its former e-mail addresses and its ENT identities, dossier,
applications with their history, validated decisions and answers to the complementary questions, the answers shared by
all the applications, pieces, decision letters, complementary-form answers, and the mails written to the account:
``erasure.mails_sent_to``), ``pieces/``, the candidate's uploaded files under readable names, and ``lettres/``, the
decision letters the candidate may obtain now from their recap (``letters.candidate_letters``: the letter of each
application's latest validated decision, never an admission letter withheld after a désistement or until the
confirmation). A letter not built yet (the worker builds it just after the release, the recap's download if need be) is
left out, not built here (its text may be gone: ``letters.letter_obtainable``); a built one whose values changed since
(a new date de confirmation, a corrected name) is built again first, as its download would
(``letters.rebuild_changed_letters``: two queries whatever the number of letters, a build per letter changed). A file
the antivirus quarantined is listed (name, size, checksum, upload date) but not handed back, whether a piece still
holds it or the piece let go of it (``services.pieces.take_off_quarantined_piece``: the file is kept under
``quarantine/``, owned by the account), with the date of its quarantine (the antivirus signature is in the history row
that tells it). An ENT identity is listed with the claims the ENT sent, never a token (``_without_tokens``). Decisions
not yet validated are commission work in progress: the candidate sees them here once validated, as on their pages. The
history likewise holds only the rows the candidate may read (``workflow.candidate_visible_events``): neither a
decision's entry nor its deletion (they name the avis of a decision not released, or of a draft deleted), nor the row
of a default favourable decision waiting for someone else's validation (the two-person rule); a validated decision's
own row tells its release. The staff's internal notes and tags are not the candidate's to read: neither they nor the
history rows about them (``workflow.STAFF_ONLY_EVENTS``: « note de X du … supprimée », « étiquettes modifiées ») are in
the archive.

The archive is written to a spooled temporary file (in memory up to ``SPOOL_BYTES``, then on disk) and each stored
file is copied into it by chunks, so memory stays bounded whatever the number of pieces. The queries do not grow
with the number of applications, pieces or letters.
"""

import json
import shutil
import tempfile
import zipfile

from allauth.socialaccount.models import SocialAccount
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone

from accounts.models import PreviousEmailAddress
from applications.dossier_pdf import ascii_name
from applications.letters import CANDIDATE_DOWNLOAD, candidate_letters, rebuild_changed_letters
from applications.models import (
    Application,
    ApplicationEvent,
    Candidate,
    Decision,
    DecisionLetter,
    FormAnswer,
    PieceSubmission,
    QuestionAnswer,
)
from applications.services.dossier import export_personal_data
from applications.services.erasure import mails_sent_to
from applications.workflow import candidate_visible_events
from documents.enums import ScanStatus
from documents.models import Document
from ecandidat.downloads import storage_errors

SPOOL_BYTES = 8 * 2**20
CHUNK_BYTES = 256 * 2**10


def _iso(value):
    return value.isoformat() if value is not None else None


def _actor(event: ApplicationEvent, user) -> str:
    if event.batch:
        return "nightly"
    return "candidate" if event.actor_id == user.pk else "staff"


def _question_answers(candidate: Candidate) -> list[QuestionAnswer]:
    """Every answer of the candidate to the complementary questions: their applications' and the shared ones (one
    query), in the questions' order."""
    answers = QuestionAnswer.objects.filter(candidate=candidate).select_related("question")
    return list(answers.order_by("question__order", "question_id", "id"))


def _answer(answer: QuestionAnswer) -> dict:
    return {
        "question": answer.question.candidate_label or answer.question.label,
        "answer": answer.answer,
        "not_concerned": answer.not_concerned,
        "answered_at": _iso(answer.answered_at),
    }


def _applications(
    candidate: Candidate, user
) -> tuple[list[dict], list[dict], list[tuple[Application, DecisionLetter]]]:
    """The candidate's applications, the answers shared by all of them (a common question that is not "unique"), and
    the built letters the candidate may obtain now, in the applications' order (one query, none without a validated
    decision). Answers are only ever given through an application, and kept with it: without one, none is read."""
    applications = list(
        Application.objects.filter(candidate=candidate)
        .select_related("formation", "campaign")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=ApplicationEvent.objects.filter(candidate_visible_events()).order_by("created_at", "id"),
            ),
            Prefetch(
                "decisions",
                queryset=Decision.objects.validated()
                .select_related("decision_type", "refusal_reason")
                .order_by("validated_at", "id"),
                to_attr="validated_decisions",
            ),
        )
        .order_by("created_at", "id")
    )
    answers = _question_answers(candidate) if applications else []
    # A letter is only ever made for a validated decision: without one, no query.
    letters = candidate_letters([application for application in applications if application.validated_decisions])
    result = []
    for application in applications:
        result.append(
            {
                "id": str(application.public_id),
                "campaign": application.campaign.code,
                "formation": {"code": application.formation.code, "title": application.formation.title},
                "dossier_status": application.dossier_status,
                "created_at": _iso(application.created_at),
                "transmitted_at": _iso(application.transmitted_at),
                "received_on": _iso(application.received_on),
                "complete_on": _iso(application.complete_on),
                "incomplete_on": _iso(application.incomplete_on),
                "cancelled_at": _iso(application.cancelled_at),
                "return_deadline_override": _iso(application.return_deadline_override),
                "confirmation_date_override": _iso(application.confirmation_date_override),
                "confirmed": application.accepted,
                "answered_at": _iso(application.answered_at),
                "waiting_list_rank": application.waiting_list_rank,
                # Entered by staff (SIS_REGIME_ENTRY); the exemption category may reveal a situation (a refugee,
                # a scholarship): the candidate has a right to read it. Codes, as sent to Apogée: no query more.
                "registration_regime": application.regime_id,
                "fee_exemption_category": application.fee_exemption_id,
                "fee_exemption_complement": application.fee_exemption_comment,
                "amount_payable": str(application.fee_amount) if application.fee_amount is not None else None,
                "decisions": [
                    {
                        "decision": decision.decision_type.candidate_label or decision.decision_type.label,
                        "refusal_reason": decision.refusal_reason.label if decision.refusal_reason else None,
                        "comment": decision.comment if decision.decision_type.show_comment else "",
                        "rank": decision.rank,
                        "preselection_at": _iso(decision.preselection_at),
                        "preselection_place": decision.preselection_place,
                        "after_appeal": decision.after_appeal,  # given after the candidate's appeal, as mailed
                        "validated_at": _iso(decision.validated_at),
                    }
                    for decision in application.validated_decisions
                ],
                "questions": [_answer(answer) for answer in answers if answer.application_id == application.pk],
                "history": [
                    {
                        "date": _iso(event.created_at),
                        "event": event.kind,
                        "from": event.from_status,
                        "to": event.to_status,
                        "comment": event.comment,
                        "by": _actor(event, user),
                    }
                    for event in application.events.all()
                ],
            }
        )
    shared = [_answer(answer) for answer in answers if answer.application_id is None]
    built: list[tuple[Application, DecisionLetter]] = [
        (application, letter)
        for application in applications
        if (letter := letters.get(application.pk)) is not None and letter.file
    ]
    # The archive hands out what the download would: a letter whose values changed since is built again first.
    current = rebuild_changed_letters([letter for _application, letter in built], batch=CANDIDATE_DOWNLOAD)
    return result, shared, [(application, current.get(letter.pk, letter)) for application, letter in built]


def _file(document: Document) -> dict:
    """A stored file's metadata; ``in_archive`` is set by the caller when the file itself is in the ZIP."""
    quarantined = document.scan_status == ScanStatus.INFECTED
    return {
        "original_name": document.original_name,
        "size": document.size,
        "content_type": document.content_type,
        "sha256": document.sha256,
        "uploaded_at": _iso(document.uploaded_at),
        "quarantined": quarantined,
        "quarantined_at": _iso(document.scanned_at) if quarantined else None,
        "in_archive": None,
    }


def _files_without_piece(user, held: list[int]) -> list[dict]:
    """The account's files that no piece holds (one query): a quarantined file the piece let go of, kept for the
    investigation with the account as its owner. Listed as pieces without a piece; the file is not handed back."""
    documents = Document.objects.filter(owner=user).exclude(pk__in=held).order_by("uploaded_at", "id")
    return [
        {
            "piece": None,
            "application": None,
            "status": None,
            "comment": "",
            "status_changed_at": None,
            "file": _file(document),
        }
        for document in documents
    ]


# The keys under which a provider may keep a token (allauth's OpenID Connect, OAuth): the token string is a credential,
# not a claim about the candidate. allauth keeps the ID token *decoded* under "id_token" (its claims, no signature):
# those claims are listed, as "id_token_claims".
TOKEN_KEYS = frozenset({"id_token", "access_token", "refresh_token", "token", "token_secret"})


def _without_tokens(value):
    """``value`` (an identity's ``extra_data``) without the token strings, at any level."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if str(key).lower() in TOKEN_KEYS or str(key).lower().endswith("_token"):
                if isinstance(item, dict):
                    result[f"{key}_claims"] = _without_tokens(item)
                continue
            result[key] = _without_tokens(item)
        return result
    if isinstance(value, list):
        return [_without_tokens(item) for item in value]
    return value


def _ent_identities(user) -> list[dict]:
    """The account's ENT identities (allauth's ``SocialAccount``, one query), with the claims the ENT sent."""
    return [
        {
            "provider": identity.provider,
            "uid": identity.uid,
            "date_joined": _iso(identity.date_joined),
            "last_login": _iso(identity.last_login),
            "claims": _without_tokens(identity.extra_data or {}),
        }
        for identity in SocialAccount.objects.filter(user=user).order_by("date_joined", "id")
    ]


def _submissions(candidate: Candidate):
    return (
        PieceSubmission.objects.filter(candidate=candidate)
        .select_related("piece_type", "document", "application__formation")
        .order_by("piece_type__order", "id")
    )


def _archive_name(submission: PieceSubmission, index: int) -> str:
    document = submission.document
    assert document is not None  # called for submissions that have a file only
    owner = submission.application.formation.code if submission.application is not None else "commun"
    # ASCII, as the commission packs' names (an unzip tool that ignores the UTF-8 flag shows mojibake), the extension
    # kept: « Лист.pdf » or « مهرناز.pdf » was « pdf », a file without an extension that nothing opens.
    stem, dot, extension = document.original_name.rpartition(".")
    original = f"{ascii_name(stem)}.{ascii_name(extension)}" if dot else ascii_name(document.original_name)
    return f"pieces/{index:02d}-{owner}-{submission.piece_type.code}-{original}"[:200]


def _letter_name(application: Application, letter: DecisionLetter, index: int) -> str:
    """``lettres/NN-<formation code>-<kind>.pdf``, as the pieces' names (ASCII)."""
    return f"lettres/{index:02d}-{ascii_name(application.formation.code)}-{letter.kind}.pdf"[:200]


def build_archive(*, user, candidate: Candidate | None):
    """Return an open, rewound file holding the ZIP of everything we hold about ``user``."""
    data = export_personal_data(candidate=candidate, user=user)
    data["applications"] = []
    data["pieces"] = []
    data["letters"] = []
    data["complementary_forms"] = []
    data["shared_questions"] = []
    files: list[tuple[str, str]] = []  # (name in the archive, storage name)
    held: list[int] = []  # the documents the listed pieces hold
    if candidate is not None:
        data["applications"], data["shared_questions"], letters = _applications(candidate, user)
        for index, submission in enumerate(_submissions(candidate), start=1):
            document = submission.document
            entry = {
                "piece": submission.piece_type.label,
                "application": submission.application.formation.code if submission.application_id else None,
                "status": submission.status,
                "comment": submission.comment,
                "status_changed_at": _iso(submission.status_changed_at),
                "file": None,
            }
            if document is not None:
                held.append(document.pk)
                entry["file"] = _file(document)
                # A quarantined file is not handed back: the candidate was told to upload another one.
                if not entry["file"]["quarantined"]:
                    entry["file"]["in_archive"] = _archive_name(submission, index)
                    files.append((entry["file"]["in_archive"], document.file.name))
            data["pieces"].append(entry)
        for index, (application, letter) in enumerate(letters, start=1):
            name = _letter_name(application, letter, index)
            data["letters"].append(
                {
                    "formation": application.formation.code,
                    "kind": letter.kind,
                    "decision_validated_at": _iso(letter.decision.validated_at),
                    "generated_at": _iso(letter.generated_at),
                    "size": letter.size,
                    "in_archive": name,
                }
            )
            files.append((name, str(letter.file.name)))  # a built letter (``_applications``): a file name
        answers = FormAnswer.objects.filter(Q(candidate=candidate) | Q(application__candidate=candidate))
        answers = answers.select_related("form", "application__formation")
        data["complementary_forms"] = [
            {
                "form": answer.form.candidate_label or answer.form.label,
                "application": answer.application.formation.code if answer.application is not None else None,
                "not_concerned": answer.not_concerned,
                "answers": answer.answers,
                "submitted_at": _iso(answer.submitted_at),
            }
            for answer in answers.order_by("id")
        ]
    # A quarantined file the piece let go of is still kept, owned by the account (whether there is a dossier or not).
    data["pieces"] += _files_without_piece(user, held)
    # The addresses the account had before (accounts.services.change_email), and the mails written to the account
    # (the erasure's rule): to each address while it was the candidate's, never one before the account existed nor
    # to an address someone else holds (a member of staff's, typed by mistake), unless the mail is about this account.
    former = list(PreviousEmailAddress.objects.filter(user=user).order_by("replaced_at", "id"))
    data["account"]["previous_email_addresses"] = [
        {
            "email": address.email,
            "replaced_at": _iso(address.replaced_at),
            "replaced_by": "candidate" if address.replaced_by_id == user.pk else "staff",
        }
        for address in former
    ]
    data["account"]["ent_identities"] = _ent_identities(user)
    mails = mails_sent_to(user, former=[(address.email, address.replaced_at) for address in former])
    data["mails"] = [
        {
            "date": _iso(mail.created_at),
            "sent_at": _iso(mail.sent_at),
            "to": mail.to,
            "subject": mail.subject,
            "body": mail.body,
        }
        for mail in mails.order_by("created_at", "id")
    ]
    data["generated_at"] = timezone.now().isoformat()

    # Returned open: the FileResponse streams it, then closes it (which deletes it when it went to disk).
    archive = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("donnees.json", json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
        for name, stored in files:
            try:
                # The storage failing (an I/O error, the bucket down) is StorageUnavailable: the 503 page.
                with storage_errors(), default_storage.open(stored, "rb") as source, zf.open(name, "w") as target:
                    shutil.copyfileobj(source, target, CHUNK_BYTES)
            except Http404:
                # Listed in donnees.json (a piece with its checksum); the file itself is gone (removed by a cleanup).
                continue
    archive.seek(0)
    return archive
