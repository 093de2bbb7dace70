"""Deleting a candidate's account at their request (eCandidat "Supprimer" and "Suppression CNIL", §1.1; RGPD art. 17).

The central office does it, from the candidates' back office, once the candidate has asked (the guide sends them to
the institution's contact address). Two kinds, as in eCandidat:

- **the account** alone: refused while the account has applications (the commission's work would go with it);
- **everything** ("Suppression CNIL"): the account, its dossier, its applications with their history, decisions,
  letters and OPI rows, its pieces and every file it uploaded, its answers to the complementary questions (those
  shared by its applications included), the commission packs holding one of its dossiers, every background export
  still kept (``ExportJob``, two days at most: a job does not record whose rows it holds, and the staff member asks
  for it again), the mails written to its
  address since it was created and every mail about it (``OutboundEmail.about``: the centre's copies, the
  commission's alerts), and the back office's change history of those rows (the outbox's included) and of its
  addresses and ENT identities (allauth's pages).

Contract:

- One transaction. The account row is locked first, then its dossier (``Candidate``), then the formations it
  applied to (the lock order of the waiting lists, ``staff.lock_waiting_list``), then its applications, so a member
  of staff acting on one of them meanwhile waits and then finds nothing (404), and two deletions of the same account
  cannot both run. Any failure rolls everything back: nothing is half-deleted.
- The dossier is locked before the applications are read: applying (``candidature._create_application``, the
  candidate's or staff's on their behalf) locks that row, then inserts the application, and never locks the account
  after it (its rows only reference the account: a ``KEY SHARE`` lock, which the deletion's does not conflict with).
  So the deletion waits for an application being created and then sees it (the account alone is refused; everything
  deletes it too), or the application waits for the deletion. Read without that lock, the new application was not
  seen, and deleting the account then raised ``ProtectedError`` (``Application.created_by``): a 500, everything
  rolled back. The same order as the account's first dossier save (``dossier._save_personal_details``): the
  account, then its dossier. The dossier is locked ``FOR NO KEY UPDATE``, as the account: a candidate's action
  holding one of its applications may insert rows referencing the dossier (a shared piece, a shared answer), whose
  foreign key's check takes ``KEY SHARE`` on it, which ``FOR UPDATE`` refused while the deletion waited for that
  application. Applying and the dossier's writers lock it ``FOR UPDATE``, which waits for it (or is waited for).
- The account row is locked ``FOR NO KEY UPDATE``: the candidate's own action on one of its applications (holding
  it, the deletion waiting for it) commits history rows whose actor is this account, and the foreign key's check
  (at the commit) takes a ``KEY SHARE`` lock on the account's row, which ``FOR UPDATE`` refused: each waited for
  the other ("deadlock detected"). Its row is deleted last, once everything else is.
- The applications are locked as the staff's and the candidate's services lock them (``FOR NO KEY UPDATE``: the
  application, then its OPI), then their OPIs, in the transfer's order (``applications.opi.services._load``: the
  OPIs' ordering), then the applications again ``FOR UPDATE``, to delete them. An OPI run holds the OPIs, then
  writes a history row on each application (whose foreign key's check takes a ``KEY SHARE`` lock on it): with the
  applications locked ``FOR UPDATE`` first, each waited for the other and PostgreSQL aborted one ("deadlock
  detected"). Now the deletion waits for the run to commit, or the run for the deletion, and then finds nothing to
  send for the person. The kept OPI files (``OpiExport``) are locked after the OPIs, as the run writes them.
- The person is taken out of the OPI files kept in the database (``OpiExport.files`` not yet erased by
  ``prune_opi_files``, which the OPI screen's ZIP hands over): their rows go (``applications.opi.pegase`` and
  ``applications.opi.apogee``: ``without_candidate``), the other candidates' stay as written, the day's counts
  follow. Files that already left the database (collected: downloaded, or written to ``OPI_EXPORT_DIR``; erased
  since) are the student records system's: when a day's files that carried the person left, the record and the
  central office's message say so (``AccountDeletion.opi_sent``), to remove the person there by hand (RGPD art.
  19). A day is judged from its files as kept: a version collected before a rewrite of the same day is not seen.
- Stored files are removed only once the transaction has committed (``documents.storage.delete_files_on_commit``):
  from a bucket by one task of the worker, not in the request (each call to a bucket that stops answering costs up
  to 50 s); a removal that fails leaves an orphan for ``remove_orphan_files``, never a row pointing to a missing file.
- The deletion is recorded (``accounts.AccountDeletion``): the numéro de dossier, the campaign, what was deleted
  (counts), whether an OPI of the person had left for the student records system, and who did it. Nothing else
  of the person is kept. Numéros de dossier are never issued twice (``NumeroDossierHistory``), so the record
  points to one person only.
- The confirmation mail (``CPT_MIN_DELETE``, optional, eCandidat's "send mail" tick) is written after the old mails
  are deleted, in the same transaction, and leaves through the outbox once it commits.
- Waiting lists close up: the ranks of the formations where a deleted application held one are recomputed.
- A place the person held is freed as their withdrawal frees it (``candidature.withdraw_application``): an
  application holds one when its latest validated decision is favourable and the person has not refused it
  (confirmed, or not answered yet), not cancelled (``holds_place``), read once every lock is held (a decision
  validated while the deletion waited for the application is seen). Once everything is deleted, the first candidate
  of each such formation's complementary list is admitted (``staff.promote_from_waiting_list``, under the
  formation's lock already held: the same lock order), in the name of the member of staff who deletes (their
  decision and history row say who freed the place), their mails leaving through the outbox on commit; a promotion
  the campaign's closing left to staff is handed back to the page (``places_freed``), as a withdrawal's is. The
  commission's withdrawal alert (``COMMISSION_ALERT_DESISTEMENT``) is not sent: it names the person, whose mails
  this deletion removes; the promotion's own decision, history row and alert (``COMMISSION_ALERT_LISTE_PRINC``)
  say the place was given. Nothing is promoted in an archived campaign (its applications are never changed).
- Staff accounts are never deleted here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import CharField, Q, Subquery
from django.db.models.functions import Cast, Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import AccountDeletion, CandidateAccount, StaffMembership, User
from applications.enums import EventKind
from applications.models import (
    Application,
    ApplicationEvent,
    Candidate,
    CommissionPack,
    DecisionLetter,
    ExportJob,
    Opi,
    OpiExport,
    PieceSubmission,
)
from applications.models.candidature import latest_decision
from applications.opi import apogee, pegase
from applications.packs import packs_holding
from applications.services.staff import (
    PromotionLeftToStaff,
    lock_waiting_list,
    promote_from_waiting_list,
    promotion_left_to_staff,
    recompute_waiting_list_ranks,
)
from documents.models import Document
from documents.storage import delete_files_on_commit
from ecandidat.emails import enqueue_notification
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from ecandidat.staff import is_central
from offers.enums import Avis
from offers.models import Formation

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.db.models import QuerySet


@dataclass(frozen=True)
class PlaceHeld:
    """A place the candidate holds (``holds_place``), as the confirmation page shows it: the formation, whether the
    place is confirmed (else the favourable decision awaits their answer), and whether the formation then admits the
    first candidate of its complementary list itself (``staff.promote_from_waiting_list``)."""

    formation_code: str
    formation_title: str
    confirmed: bool
    automatic: bool


@dataclass(frozen=True)
class PlaceFreed:
    """A place the deletion freed: its ``formation``, the candidate admitted from the complementary list in it
    (None: nobody), and the promotion left to staff because the campaign had closed to candidates (as a withdrawal
    leaves it: ``staff.promotion_left_to_staff``)."""

    formation: Formation
    promoted: Application | None
    left_to_staff: PromotionLeftToStaff | None


# The attribute of the ``AccountDeletion`` returned on which ``delete_candidate_account`` leaves its ``PlaceFreed``s.
PLACES_FREED = "_places_freed"


def places_freed(record: AccountDeletion) -> tuple[PlaceFreed, ...]:
    """The places the deletion that returned ``record`` freed (none for a record read from the database)."""
    return getattr(record, PLACES_FREED, ())


def holds_place(*, accepted: bool | None, cancelled: bool, validated_avis: str | None) -> bool:
    """Whether an application holds a place: its latest validated decision is favourable and the candidate has not
    refused it (confirmed, or not answered yet), and it is not cancelled; those whose withdrawal frees a place
    (``candidature.withdraw_application``, ``AnswerTransition.frees_place``)."""
    return validated_avis == Avis.FAVOURABLE and accepted is not False and not cancelled


def _validated_avis() -> Subquery:
    """The avis of an application's latest validated decision (a subquery: no query more)."""
    return latest_decision("decision_type__avis", validated_only=True)


@dataclass(frozen=True)
class ErasureCounts:
    """What a deletion removes (shown before, recorded after), and the places it frees (shown before)."""

    applications: int
    files: int
    mails: int
    places: tuple[PlaceHeld, ...] = ()

    def describe(self) -> str:
        """In words, for the confirmation page and the message after it."""
        return ", ".join(
            [
                ngettext("%(n)d application", "%(n)d applications", self.applications) % {"n": self.applications},
                ngettext("%(n)d stored file", "%(n)d stored files", self.files) % {"n": self.files},
                ngettext("%(n)d mail", "%(n)d mails", self.mails) % {"n": self.mails},
            ]
        )


def candidate_account(numero: str) -> User | None:
    """The candidate account of this numéro de dossier (any campaign), or None (unknown number, or staff)."""
    user = (
        User.objects.select_related("campaign").filter(username=numero.strip().upper(), campaign__isnull=False).first()
    )
    if user is None or _is_staff_account(user):
        return None
    return user


def _is_staff_account(user: User) -> bool:
    return user.is_staff or user.is_superuser or StaffMembership.objects.filter(user=user).exists()


def _documents(user: User) -> QuerySet[Document]:
    """Its pieces' files, the files it uploaded, and the files it owns that no piece holds any more (quarantined)."""
    submissions = PieceSubmission.objects.filter(candidate__user=user).exclude(document=None)
    return Document.objects.filter(Q(pk__in=submissions.values("document_id")) | Q(uploaded_by=user) | Q(owner=user))


def mails_sent_to(
    user: User, *, former: Iterable[tuple[str, datetime.datetime]] | None = None
) -> QuerySet[OutboundEmail]:
    """The mails written to the account (:func:`_sent_to`): what "Mes données" hands back; the full deletion removes
    them and more (:func:`_mails`). ``former``: its ``PreviousEmailAddress`` (address, replaced at), when the caller
    has read them."""
    return OutboundEmail.objects.filter(_sent_to(user, former=former))


def _sent_to(user: User, *, former: Iterable[tuple[str, datetime.datetime]] | None = None) -> Q:
    """Those written to the account's addresses while it had them: its address since the account exists, and each
    address it had before a change (``PreviousEmailAddress``) from then until it was replaced. An address another
    account uses (the same person's account of another campaign, a member of staff, or whoever owns an address the
    candidate once mistyped) is left out: those mails cannot be told apart by their address, and the other account's
    are its own. Plus the mails about the account (``OutboundEmail.about``) written to one of its addresses: those
    are told apart. Two queries whatever the number of addresses: the former ones (unless given), and those other
    accounts use."""
    periods: list[tuple[str, datetime.datetime | None]] = [(user.email, None)]
    periods += user.previous_email_addresses.values_list("email", "replaced_at") if former is None else former
    wanted = {address.lower() for address, _until in periods if address}
    taken = set(
        User.objects.annotate(address=Lower("email"))
        .filter(address__in=wanted)
        .exclude(pk=user.pk)
        .values_list("address", flat=True)
    )
    written = Q(pk__in=[])
    for address, until in periods:
        if not address:
            continue
        written |= Q(about=user, to__iexact=address)
        if address.lower() not in taken:
            since = Q(to__iexact=address, created_at__gte=user.date_joined)
            written |= since if until is None else since & Q(created_at__lte=until)
    return written


def _mails(user: User) -> QuerySet[OutboundEmail]:
    """The mails the full deletion removes: those written to the account (:func:`mails_sent_to`) and every mail
    about it, whoever it went to (the centre's copies of its mails, the commission's alerts naming it)."""
    return OutboundEmail.objects.filter(_sent_to(user) | Q(about=user))


def erasure_counts(user: User) -> ErasureCounts:
    """What deleting everything of ``user`` would remove, and the places it would free (read only). The places come
    with the applications' ids, in the same query, whatever their number."""
    rows = list(
        Application.objects.filter(candidate__user=user)
        .annotate(validated_avis=_validated_avis())
        .order_by("pk")
        .values_list(
            "pk",
            "accepted",
            "cancelled_at",
            "validated_avis",
            "formation__code",
            "formation__title",
            "formation__auto_waiting_list",
            "formation__waiting_list_decision_type_id",
            "formation__favourable_decision_type_id",
        )
    )
    application_ids = [row[0] for row in rows]
    archived = user.campaign is not None and user.campaign.is_archived_on(timezone.localdate())
    places = tuple(
        PlaceHeld(
            formation_code=code,
            formation_title=title,
            confirmed=accepted is True,
            automatic=auto and (waiting_list_type is not None or favourable_type is not None),
        )
        for _pk, accepted, cancelled_at, avis, code, title, auto, waiting_list_type, favourable_type in rows
        if not archived and holds_place(accepted=accepted, cancelled=cancelled_at is not None, validated_avis=avis)
    )
    letters = DecisionLetter.objects.filter(application_id__in=application_ids)
    packs = packs_holding(application_ids)
    exports = ExportJob.objects.exclude(file="").count() if application_ids else 0
    return ErasureCounts(
        applications=len(application_ids),
        files=_documents(user).count() + letters.count() + sum(1 for pack in packs if pack.file) + exports,
        mails=_mails(user).count(),
        places=places,
    )


@transaction.atomic
def delete_candidate_account(*, user: User, actor: User, everything: bool, notify: bool) -> AccountDeletion:
    """Delete the candidate account ``user`` (see the module's contract). ``everything`` is the "Suppression CNIL";
    without it an account with applications is refused. ``notify`` writes ``CPT_MIN_DELETE`` to its address."""
    if not is_central(actor):
        raise BusinessRuleError(_("Only the central admissions office deletes candidate accounts."))
    # FOR NO KEY UPDATE (the contract): a candidate's action holding one of its applications commits its history row
    # (actor: this account) before the deletion takes that application.
    locked = (
        User.objects.select_for_update(of=("self",), no_key=True).filter(pk=user.pk, campaign__isnull=False).first()
    )
    if locked is None or _is_staff_account(locked):
        raise BusinessRuleError(_("This account no longer exists or is not a candidate account."))
    user = locked
    assert user.campaign is not None  # a candidate account (filtered above)
    # Its dossier, before its applications are read (the contract): an application being created holds it, so it is
    # seen here once committed; the account first, then the dossier.
    dossier = (
        Candidate.objects.select_for_update(of=("self",), no_key=True)
        .filter(user=user)
        .only("pk", "preferred_language")
        .first()
    )
    # The formations before the applications, the lock order of every path that changes a waiting list's ranks
    # (``staff.lock_waiting_list``): the ranks are recomputed below, and a validation or a promotion on the same
    # list, holding the formation and waiting for one of these applications, deadlocked with this deletion.
    for formation in Formation.objects.filter(applications__candidate__user=user).distinct().order_by("pk").only("pk"):
        lock_waiting_list(formation)
    # The staff's and the candidate's lock of an application (the application, then its OPI): see the contract.
    applications = list(
        Application.objects.select_for_update(of=("self",), no_key=True)
        .filter(candidate__user=user)
        .select_related("formation")
        .order_by("pk")
    )
    if applications and not everything:
        raise BusinessRuleError(
            ngettext(
                "This account has %(n)d application: only the complete deletion (CNIL) removes it with the account.",
                "This account has %(n)d applications: only the complete deletion (CNIL) removes them with the "
                "account.",
                len(applications),
            )
            % {"n": len(applications)}
        )
    application_ids = [application.pk for application in applications]
    opi_sent = False
    if application_ids:
        # Their OPIs in the order every path locks OPIs, by pk (``applications.opi.services``): a run that holds them
        # commits first, its history rows on these applications included.
        opis = list(
            Opi.objects.select_for_update(of=("self",)).filter(application_id__in=application_ids).order_by("pk")
        )
        list(Application.objects.select_for_update(of=("self",)).filter(pk__in=application_ids).order_by("pk"))
        opi_sent = _take_out_of_opi_files(user.username, opis) if opis else False
    # The places it holds, read once every lock is held: a decision validated while the deletion waited for one of
    # these applications is seen (its row's lock does not bring the decisions read with it up to date).
    holding = _holding_place(application_ids) if application_ids else set()
    ranked_formations = {a.formation_id: a.formation for a in applications if a.waiting_list_rank is not None}
    # The language the account keeps for its owner (``accounts.services.account_language``, read from what is loaded
    # here): the dossier's, else the signup page's, else the institution's.
    kept = [dossier.preferred_language if dossier is not None else "", user.language]
    language = next((value for value in kept if value in dict(settings.LANGUAGES)), settings.LANGUAGE_CODE)

    mails_of_user = _mails(user)
    _delete_history(user, application_ids, mails_of_user)
    files = _delete_rows(user, application_ids)
    mails = mails_of_user.delete()[1].get(OutboundEmail._meta.label, 0)
    record = AccountDeletion.objects.create(
        numero_dossier=user.username,
        campaign=user.campaign,
        everything=everything,
        applications=len(application_ids),
        files=len(files),
        mails=mails,
        notified=False,
        opi_sent=opi_sent,
        deleted_by=actor,
    )
    if notify and user.email:
        # None when the central office has put the mail out of service: the record then says nobody was told.
        mail = enqueue_notification("CPT_MIN_DELETE", user, to=user.email, language=language)
        if mail is not None:
            record.notified = True
            record.save(update_fields=["notified"])
    user.delete()
    for formation in ranked_formations.values():
        recompute_waiting_list_ranks(formation=formation)
    freed: list[PlaceFreed] = []
    if not user.campaign.is_archived_on(timezone.localdate()):
        for application in applications:
            if application.pk not in holding:
                continue
            # As a withdrawal frees it (``candidature.withdraw_application``): the formation, locked above, was read
            # under its lock; the list of the application's campaign moves up.
            formation = application.formation
            promoted = promote_from_waiting_list(formation=formation, actor=actor, campaign_id=application.campaign_id)
            freed.append(PlaceFreed(formation, promoted, promotion_left_to_staff(formation)))
    setattr(record, PLACES_FREED, tuple(freed))
    delete_files_on_commit(files)
    return record


def _holding_place(application_ids: list[int]) -> set[int]:
    """Those of ``application_ids`` that hold a place (``holds_place``): one query."""
    rows = (
        Application.objects.filter(pk__in=application_ids)
        .annotate(validated_avis=_validated_avis())
        .values_list("pk", "accepted", "cancelled_at", "validated_avis")
    )
    return {
        pk
        for pk, accepted, cancelled_at, avis in rows
        if holds_place(accepted=accepted, cancelled=cancelled_at is not None, validated_avis=avis)
    }


def _take_out_of_opi_files(numero: str, opis: list[Opi]) -> bool:
    """Take the candidate ``numero``, whose OPIs are ``opis`` (locked), out of the OPI files kept in the database
    (the kept days whose files name them, locked), and say whether files that carried them may have reached the
    student records system: a day they were transferred (``OPI_PASSED``) whose files were handed over (downloaded,
    or written to ``OPI_EXPORT_DIR``: ``OpiExport.handed_at``, never reset) at or after their first transfer that
    day, or whose files were erased after their retention. ``collected_at`` cannot tell: a run that rewrites the day
    later empties it, while the version handed over may already be imported. A day's files are rewritten only here
    and by the OPI run, which locks the OPIs first: none of this person's is written meanwhile; the days that still
    carry them are locked here, so a download waits and hands over the files without them.

    A Pégase withdrawal replayed on a day writes no row for the wish: alone, with no file that day or none handed
    since, it counts for nothing. On the safe side it still counts as a transfer when other candidates' files of that
    day were handed over after it: the candidate's remaining wishes are written again with a withdrawal, and which
    version carried what is not kept."""
    codes = {opi.code for opi in opis}
    named = Q(files__icontains=numero)
    for code in codes:
        named |= Q(files__icontains=code)
    exports = list(OpiExport.objects.with_files().filter(named).select_for_update(of=("self",)).order_by("pk"))
    transfers = ApplicationEvent.objects.filter(
        application_id__in=[opi.application_id for opi in opis], kind=EventKind.OPI_PASSED
    ).values_list("created_at", flat=True)
    first_transfer: dict[datetime.date, datetime.datetime] = {}
    for at in [*transfers, *(opi.passed_at for opi in opis if opi.passed_at is not None)]:
        day = timezone.localdate(at)
        first_transfer[day] = min(at, first_transfer.get(day, at))
    sent = False
    for export in exports:
        if export.backend == "pegase":
            without = pegase.without_candidate(export.files, numero)
        elif export.backend == "apogee":
            without = apogee.without_candidate(export.files, codes)
        else:
            continue
        if without.files == export.files:
            continue  # the text named them elsewhere (another candidate's value): not their rows
        # Files carrying them with no transfer of theirs known that day: any handing counts.
        sent = sent or (export.day not in first_transfer and export.handed_at is not None)
        export.files = without.files
        export.candidates = max(export.candidates - without.candidates, 0)
        export.wishes = max(export.wishes - without.wishes, 0)
        export.pieces = max(export.pieces - without.pieces, 0)
        export.save(update_fields=["files", "candidates", "wishes", "pieces", "updated_at"])
    if sent or not first_transfer:
        return sent
    handings = OpiExport.objects.filter(day__in=first_transfer).values_list("day", "handed_at", "files_erased_at")
    return any(
        erased_at is not None or (handed_at is not None and handed_at >= first_transfer[day])
        for day, handed_at, erased_at in handings
    )


def _delete_rows(user: User, application_ids: list[int]) -> list[str]:
    """Delete the dossier, the applications and the documents of ``user``; returns the stored files to remove."""
    documents = _documents(user)
    letters = DecisionLetter.objects.filter(application_id__in=application_ids)
    packs = packs_holding(application_ids)
    files = [name for name in documents.values_list("file", flat=True) if name]
    files += [name for name in letters.values_list("file", flat=True) if name]
    files += [pack.file.name for pack in packs if pack.file.name]
    # The background exports may hold the person's rows (a job records the list's filters, not the rows): all go. A
    # build running meanwhile finds its job gone at its next write and keeps nothing (``export_jobs.ExportTakenOver``).
    exports = list(ExportJob.objects.only("pk", "file")) if application_ids else []
    files += [job.file.name for job in exports if job.file.name]
    ExportJob.objects.filter(pk__in=[job.pk for job in exports]).delete()
    document_ids = list(documents.values_list("pk", flat=True))
    PieceSubmission.objects.filter(candidate__user=user).delete()
    Document.objects.filter(pk__in=document_ids).delete()
    CommissionPack.objects.filter(pk__in=[pack.pk for pack in packs]).delete()
    # History, decisions, letters, notes, OPI, tags, answers to the questions of one application.
    Application.objects.filter(pk__in=application_ids).delete()
    # Address, bac, cursus, internships, experience, form answers, the question answers shared by the applications.
    Candidate.objects.filter(user=user).delete()
    return files


def _delete_history(user: User, application_ids: list[int], mails: QuerySet[OutboundEmail]) -> None:
    """The back office's change history (admin ``LogEntry``) of the account (under the users and under "Comptes
    candidats"), its addresses and ENT identities (allauth's « Adresses e-mail » and « Comptes sociaux »), its
    dossier, its applications and its ``mails`` (the outbox's "resend": « GENERIC → address »): their titles hold
    the person's name or address, their messages addresses. Before the rows go: their ids are read from them, the
    mails' in a subquery."""
    candidate_ids = list(Candidate.objects.filter(user=user).values_list("pk", flat=True))
    rows = [
        (User, [user.pk]),
        (CandidateAccount, [user.pk]),
        (EmailAddress, list(EmailAddress.objects.filter(user=user).values_list("pk", flat=True))),
        (SocialAccount, list(SocialAccount.objects.filter(user=user).values_list("pk", flat=True))),
        (Candidate, candidate_ids),
        (Application, application_ids),
    ]
    condition = Q(pk__in=[])
    for model, ids in rows:
        if ids:
            content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
            condition |= Q(content_type=content_type, object_id__in=[str(pk) for pk in ids])
    mail_ids = mails.annotate(object_key=Cast("pk", output_field=CharField())).values("object_key")
    condition |= Q(content_type=ContentType.objects.get_for_model(OutboundEmail), object_id__in=mail_ids)
    LogEntry.objects.filter(condition).delete()
