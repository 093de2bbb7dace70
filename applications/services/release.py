"""Releasing decisions (issue 12): validating the current decisions of a selection, with a preview first.

The preview runs the real validation of each application, one after the other in the release's order
(``release_order``), inside a savepoint that is then rolled back, and keeps the mails it wrote to the outbox: what
staff read is exactly what will be sent (same templates, same back-office overrides, same language, same dates, the
same rang réel), and every rule is checked the same way (a refused application shows its reason). Nothing of it
stays: the rows, the history and the mails roll back, the row locks are released with the savepoint, and the
outbox's after-commit dispatch registered inside it is discarded.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import Error as DatabaseLibraryError
from django.db import connection, transaction
from django.db.models import Exists, Q, QuerySet
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications import lost_tasks
from applications.models import Application, DecisionLetter, ReleaseJob
from applications.models.candidature import latest_decision
from applications.services import staff
from ecandidat.celery import Task, registered_task
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.models import Campaign

# The preview renders each mail by running the validation: bounded, the rest of a big selection is only counted.
PREVIEW_LIMIT = 50
# Above this many applications, a release runs in the background (a ReleaseJob) and shows its progress.
BACKGROUND_RELEASE_FROM = 50

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailPreview:
    to: str
    subject: str
    body: str
    attachments: tuple[str, ...] = ()  # the files' names (the letter, when the commission attaches it)


@dataclass
class ReleasePreview:
    application: Application
    mails: list[MailPreview] = field(default_factory=list)
    refusal: str = ""
    letter: bool = False  # the release makes a letter (the admin links its preview)
    letter_url: str = ""


def validate_current_decision(application: Application, *, actor: User, expected: set[int] | None = None) -> None:
    """Validate the application's latest decision (the release of one application). ``expected``: the decisions
    staff previewed (``current_decision_ids`` when the page was shown); a decision entered since (the commission
    changed its mind meanwhile) is refused, not validated and mailed unread. ``staff.validate_decision`` then checks,
    under the row's lock, that it is still the latest."""
    decision = application.decisions.current()
    if decision is None:
        raise InvalidTransition(_("This application has no decision to validate."))
    if expected is not None and decision.pk not in expected:
        raise InvalidTransition(
            _(
                "Another decision has been entered since this page was shown; nothing was validated for this "
                "application: read its mail again (“Validate the decisions”)."
            )
        )
    staff.validate_decision(decision, actor=actor)


def current_decision_ids(applications: Iterable[Application]) -> set[int]:
    """The current (latest) decision of each application, as ``validate_current_decision`` will read it: one query."""
    pks = [application.pk for application in applications]
    current = Application.objects.filter(pk__in=pks).annotate(current=latest_decision("pk"))
    return {pk for pk in current.values_list("current", flat=True) if pk is not None}


class _Rollback(Exception):
    pass


@contextmanager
def _captured_outbox() -> Iterator[list[OutboundEmail]]:
    """The outbox rows this thread writes inside the block (other threads of the process are ignored)."""
    captured: list[OutboundEmail] = []
    me = threading.get_ident()

    def keep(sender: type, instance: OutboundEmail, created: bool, **kwargs: object) -> None:
        if created and threading.get_ident() == me:
            captured.append(instance)

    post_save.connect(keep, sender=OutboundEmail, weak=False, dispatch_uid=f"release-preview-{me}")
    try:
        yield captured
    finally:
        post_save.disconnect(sender=OutboundEmail, dispatch_uid=f"release-preview-{me}")


def with_release_keys(applications: QuerySet[Application]) -> QuerySet[Any]:
    """``applications`` with what ``release_order`` reads of each one's latest decision, its avis and the rank the
    commission entered, annotated in the same query: no query more."""
    return applications.annotate(
        release_avis=latest_decision("decision_type__avis"), release_rank=latest_decision("rank")
    )


def release_order(
    applications: Iterable[Application], *, keys: dict[int, tuple[str | None, int | None]] | None = None
) -> list[Application]:
    """``applications`` in the order their release validates them: the page's (``operations.bulk_operation``), the
    preview's (``preview_release``) and the background job's (``run_release``).

    The complementary-list decisions of each formation (of each campaign) in their list's own order: by the rank the
    commission entered, then the application's creation, then its id (``staff.waiting_list_queryset``), in the
    places that formation's complementary-list decisions hold in the selection's pk order; every other application
    keeps its place in pk order. Each validation recomputes the rangs réels, and its mail gives the application's
    (``WAITING_LIST_RANK_DISPLAY=R``: the rank it was last told, ``waiting_list_rank_mailed``). In pk order, a
    candidate entered 2 validated before the one entered 1 was mailed « rang 1 », then became 2 while still told 1,
    which the nightly progress mail, counting from it, never corrected. In the list's order, the rank each
    validation gives is final: every decision of the selection validated after it comes after it on the list.

    Lock order: a selection validated in one transaction locks its formations first, in one order
    (``staff.lock_waiting_lists_to_validate``), then its applications in this order. Only complementary-list
    decisions leave pk order: two selections that both hold one of them both lock its formation first, and wait for
    each other there; two applications of neither list are locked in pk order by both.

    Read from the annotations of ``with_release_keys`` when every application has them, otherwise one query."""
    applications = sorted(applications, key=lambda application: application.pk)
    if len(applications) < 2:
        return applications
    if keys is None:
        keys = release_keys(applications)

    def listed(application: Application) -> bool:
        return keys.get(application.pk, (None, None))[0] == Avis.COMPLEMENTARY_LIST

    def entered_rank(application: Application) -> int | None:
        return keys.get(application.pk, (None, None))[1]

    lists: dict[tuple[int, int], list[Application]] = defaultdict(list)
    for application in applications:
        if listed(application):
            lists[application.formation_id, application.campaign_id].append(application)
    in_order = {
        key: iter(
            sorted(
                rows,
                # An entered rank first (a decision without one is on no list), as ``waiting_list_queryset``.
                key=lambda row: (entered_rank(row) is None, entered_rank(row) or 0, row.created_at, row.pk),
            )
        )
        for key, rows in lists.items()
    }
    return [
        next(in_order[application.formation_id, application.campaign_id]) if listed(application) else application
        for application in applications
    ]


def release_keys(applications: list[Application]) -> dict[int, tuple[str | None, int | None]]:
    """The avis and entered rank of each application's latest decision, by pk: read from the annotations of
    ``with_release_keys`` when every application has them, otherwise in one query."""
    if all(hasattr(application, "release_avis") for application in applications):
        return {
            application.pk: (getattr(application, "release_avis", None), getattr(application, "release_rank", None))
            for application in applications
        }
    return {
        pk: (avis, rank)
        for pk, avis, rank in with_release_keys(
            Application.objects.filter(pk__in=[application.pk for application in applications])
        ).values_list("pk", "release_avis", "release_rank")
    }


def _ranked(application: Application, keys: dict[int, tuple[str | None, int | None]]) -> bool:
    """Whether the validation of ``application`` locks its formation (``staff.validate_decision``), as
    ``release_order`` read it."""
    avis = keys.get(application.pk, (None, None))[0]
    return avis == Avis.COMPLEMENTARY_LIST or application.waiting_list_rank is not None


def _preview_one(preview: ReleasePreview, *, actor: User, undo: bool) -> None:
    """Validate ``preview``'s application in its own savepoint and keep the mails it wrote: the savepoint rolled
    back when ``undo`` (or refused), else kept for the validations after it. A refusal is ``preview.refusal``; a lock
    conflict is one, not a 500 of the page (``staff.lock_conflict_refused``)."""
    try:
        with _captured_outbox() as mails, staff.lock_conflict_refused(), transaction.atomic():
            validate_current_decision(preview.application, actor=actor)
            preview.mails = [
                MailPreview(mail.to, mail.subject, mail.body, tuple(mail.attachment_names)) for mail in mails
            ]
            current = preview.application.decisions.current()
            preview.letter = DecisionLetter.objects.filter(decision=current).exists()
            if undo:
                raise _Rollback
    except _Rollback:
        pass
    except BusinessRuleError as error:
        preview.refusal = str(error)


def preview_release(applications: Iterable[Application], *, actor: User) -> list[ReleasePreview]:
    """For each application (the first ``PREVIEW_LIMIT`` in ``release_order``, in that order), the mails its release
    would send, or why it would be refused. Writes nothing.

    A validation changes the mail of another only through the complementary lists: it recomputes the rangs réels,
    which the others' mails give. When one of the applications is on a list or enters one (``_ranked``), the
    validations run one after the other, in the order the release runs them, inside one savepoint rolled back at
    the end, each in its own savepoint within it, so that a refused one is undone alone: each sees those before it
    done, and its mail gives the rang réel the release will give (previewed each alone, as if none of the others
    were released, two candidates of one list were both shown « rang 1 », then mailed 1 and 2). Their locks are kept
    until that rollback: the formations the validations will lock are locked first, in one order, as the release
    does (``staff.lock_waiting_lists_to_validate``); a lock conflict there refuses every one. Otherwise each is
    previewed alone, its savepoint rolled back, and its locks released, at once."""
    applications = list(applications)
    keys = release_keys(applications) if len(applications) > 1 else {}
    previews = [ReleasePreview(application=application) for application in release_order(applications, keys=keys)]
    previews = previews[:PREVIEW_LIMIT]
    if len(previews) < 2 or not any(_ranked(preview.application, keys) for preview in previews):
        for preview in previews:
            _preview_one(preview, actor=actor, undo=True)
        return previews
    try:
        with staff.lock_conflict_refused(), transaction.atomic():
            staff.lock_waiting_lists_to_validate(preview.application for preview in previews)
            for preview in previews:
                _preview_one(preview, actor=actor, undo=False)
            raise _Rollback
    except _Rollback:
        pass
    except BusinessRuleError as error:  # the formations' lock (each validation's refusal is its preview's)
        for preview in previews:
            preview.refusal = str(error)
    return previews


def refused_unread(applications: Iterable[Application], *, actor: User) -> int:
    """How many of ``applications`` the release refuses for a reason the database answers alone, without running
    their validation: no decision to validate, its latest decision validated already, the application cancelled, its
    campaign past, or (``DECISION_TWO_PERSON_RULE``) its latest decision entered by ``actor``
    (``validate_current_decision``, ``staff.validate_decision``, ``_check_requester``). For the applications past the
    preview's limit, and for a whole selection at « Confirm »: one query, whatever their number (none without any)."""
    pks = [application.pk for application in applications]
    if not pks:
        return 0
    refused = (
        Q(current__isnull=True)
        | Q(validated__isnull=False)
        | Q(cancelled_at__isnull=False)
        | Q(campaign__is_active=False)
    )
    if settings.DECISION_TWO_PERSON_RULE:
        refused |= Q(entered_by=actor.pk)
    return (
        Application.objects.filter(pk__in=pks)
        .annotate(
            current=latest_decision("pk"),
            validated=latest_decision("validated_at"),
            entered_by=latest_decision("created_by"),
        )
        .filter(refused)
        .count()
    )


# --- big releases in the background -----------------------------------------------------------------------------


def _check_scope(actor: User, ids: list[int]) -> None:
    allowed = set(Application.objects.validatable_by(actor).filter(pk__in=ids).values_list("pk", flat=True))
    if allowed != set(ids):
        raise BusinessRuleError(_("Some of these applications are not in your scope."))


def _release_task() -> Task:
    # By name: applications.tasks imports this module to run the release (ecandidat.celery.registered_task).
    return registered_task("applications.tasks.run_release_job")


def _serialise_releases(actor: User) -> None:
    """Lock ``actor``'s row until the caller's transaction ends (the request's, ``ATOMIC_REQUESTS``): two releases
    of theirs (« Confirmer » clicked twice, two tabs) run one after the other, the second once the first has
    committed, and it then reads what the first wrote (its job, its validations). ``no_key``: the rows that refer to
    the account (a decision it validates, its history, a job it asks for) are still written meanwhile, by this
    release and by others; only another lock of the row waits (``saved_filters``, ``dossier``: the same kind)."""
    list(User.objects.select_for_update(of=("self",), no_key=True).filter(pk=actor.pk).values_list("pk", flat=True))


def released_by(actor: User, application_ids: Iterable[int]) -> bool:
    """Whether the latest decision of every one of ``application_ids`` is validated, by ``actor``: the same release
    confirmed again (a double click on « Confirmer », the page sent again), which would only refuse each application
    as « déjà validé ». Waits first for any release of theirs under way in another request (``_serialise_releases``:
    the second click of a double click reads the first's validations once it has committed, not before). Two
    queries, whatever the number (none without any)."""
    ids = sorted(set(application_ids))
    if not ids:
        return False
    with transaction.atomic(savepoint=False):  # the caller's transaction, where it has one (the request's)
        _serialise_releases(actor)
        mine = Application.objects.filter(pk__in=ids).annotate(validator=latest_decision("validated_by"))
        return mine.filter(validator=actor.pk).count() == len(ids)


def queue_release(
    *, actor: User, application_ids: list[int], decision_ids: Iterable[int] | None = None
) -> tuple[ReleaseJob, bool]:
    """``request_release``, and whether the job is a new one: False when a release of ``actor`` of the very same
    applications is already waiting or running (« Confirmer » clicked twice: the second request gets the first's
    job, not a second job that would only refuse each application as « déjà validé »). Their requests are serialised
    on their account's row (``_serialise_releases``), so that two clicks at once make one job; the scope is checked
    first. Three queries: the scope, the lock, their jobs under way."""
    ids = sorted(set(application_ids))
    _check_scope(actor, ids)
    with transaction.atomic(savepoint=False):  # no savepoint inside the request's transaction: held to its end
        _serialise_releases(actor)
        under_way = ReleaseJob.objects.filter(
            requested_by=actor,
            status__in=(ReleaseJob.Status.PENDING, ReleaseJob.Status.RUNNING),
            total=len(ids),
        ).order_by("created_at", "pk")
        for job in under_way:
            if job.application_ids == ids:
                logger.info("release job %s asked for again by user %s: the same one", job.public_id, actor.pk)
                return job, False
        job = ReleaseJob.objects.create(
            requested_by=actor,
            application_ids=ids,
            decision_ids=None if decision_ids is None else sorted(set(decision_ids)),
            total=len(ids),
        )
        _release_task().delay_on_commit(job.pk)
    return job, True


def request_release(
    *, actor: User, application_ids: list[int], decision_ids: Iterable[int] | None = None
) -> ReleaseJob:
    """Record a release of ``application_ids`` (each validatable by ``actor``) and queue it after commit;
    ``decision_ids``: the decisions staff previewed (``validate_current_decision``'s ``expected``). The same release
    of theirs already waiting or running is returned instead of a second one (``queue_release``)."""
    return queue_release(actor=actor, application_ids=application_ids, decision_ids=decision_ids)[0]


# A release whose task was lost (its publish refused while Redis was unreachable, ecandidat.celery.Task: "left for
# its sweeper"; or its message gone with a Redis restarted, which keeps nothing) stays PENDING: it is queued again
# once it has waited this long since it was asked for, then again every as long (``requeue_lost_release``: by its
# page, which refreshes itself, and by the sweeper ``requeue_lost_releases``). A few minutes: a release may wait
# behind commission packs (minutes each), and a message queued again for a job still waiting in the queue only
# costs a claim that finds nothing to do.
RELEASE_REQUEUE_AFTER = datetime.timedelta(minutes=3)
# A release still PENDING this long after it was asked for is shown failed (« La publication n'a pas démarré :
# relancez-la. »), with a button to launch it again (``retry_release``), and is no longer queued again: its page
# stops refreshing. Only shown so: a message that was merely waiting behind long tasks still runs it (its page then
# shows its progress). Nothing is half-done: a job that never started validated nothing.
RELEASE_NEVER_STARTED_AFTER = datetime.timedelta(minutes=30)


def requeue_lost_release(job: ReleaseJob, *, now: datetime.datetime | None = None) -> bool:
    """Queue again the task of ``job`` when it is still PENDING ``RELEASE_REQUEUE_AFTER`` after it was asked for, or
    after it was last queued again, and not yet shown failed; True when it was (``applications.lost_tasks``, shared
    with the commission packs). No query for a job not due. The task's claim runs it once however many messages."""
    return lost_tasks.requeue_if_lost(
        job,
        task=_release_task(),
        requeue_after=RELEASE_REQUEUE_AFTER,
        never_started_after=RELEASE_NEVER_STARTED_AFTER,
        now=now,
    )


def requeue_lost_releases(*, now: datetime.datetime | None = None) -> int:
    """The sweeper (``applications.tasks.requeue_lost_release_jobs``): queue again every release whose task was
    lost, also those whose page nobody watches; how many were. One query when none is due."""
    now = now or timezone.now()
    due = now - RELEASE_REQUEUE_AFTER
    lost = ReleaseJob.objects.filter(
        Q(progress_at__isnull=True) | Q(progress_at__lt=due),
        status=ReleaseJob.Status.PENDING,
        created_at__lt=due,
        created_at__gte=now - RELEASE_NEVER_STARTED_AFTER,
    ).only("pk", "public_id", "status", "created_at", "progress_at")
    return sum(requeue_lost_release(job, now=now) for job in lost)


def never_started(job: ReleaseJob, *, now: datetime.datetime | None = None) -> bool:
    """A PENDING job asked for more than ``RELEASE_NEVER_STARTED_AFTER`` ago: its task never came, nor came when
    queued again (the broker still unreachable). Its page says so and offers to launch it again, not "in progress"
    for ever."""
    return lost_tasks.never_started(job, after=RELEASE_NEVER_STARTED_AFTER, now=now)


def retry_release(job: ReleaseJob, *, actor: User) -> bool:
    """Launch again ``job`` that never started (``never_started``), for ``actor``, its requester: the same
    applications and previewed decisions, asked for again now, queued after commit. True when it was; False when
    there is nothing to do (it started meanwhile, or was launched again already: a second click). The conditional
    update claims it, so that it is queued once; the task's claim runs it once. The scope is checked again, as
    when it was asked for."""
    _check_scope(actor, job.application_ids)
    now = timezone.now()
    relaunched = ReleaseJob.objects.filter(
        pk=job.pk,
        requested_by=actor,
        status=ReleaseJob.Status.PENDING,
        created_at__lt=now - RELEASE_NEVER_STARTED_AFTER,
    ).update(created_at=now, progress_at=None)
    if not relaunched:
        return False
    job.created_at, job.progress_at = now, None
    logger.warning("release job %s never started: launched again by user %s", job.public_id, actor.pk)
    _release_task().delay_on_commit(job.pk)
    return True


# The task writes its progress after each application (a second or so each): a RUNNING job without any for this long
# has lost its worker, and the beat sweeper queues it again (``requeue_stalled_releases``). Well above one
# application's validation, so that a live run is never taken over.
RELEASE_STALE_AFTER = datetime.timedelta(minutes=15)


def requeue_stalled_releases(*, now: datetime.datetime | None = None) -> int:
    """Queue again the task of every RUNNING release without progress for ``RELEASE_STALE_AFTER`` (its worker was
    killed) asked for less than ``STALLED_RETAKEN_WITHIN`` ago; how many were (the beat sweeper,
    ``applications.lost_tasks.requeue_if_stalled``). Its claim takes it back and resumes it, counting the decisions
    already validated as done (``run_release``)."""
    return lost_tasks.requeue_if_stalled(ReleaseJob, task=_release_task(), stale_after=RELEASE_STALE_AFTER, now=now)


def _claim_release(job_id: int) -> tuple[datetime.datetime, bool] | None:
    """Claim the job: PENDING → RUNNING, or a RUNNING job stalled past ``RELEASE_STALE_AFTER`` taken back (its
    worker was killed). The delivery that follows the kill at once (the task is acknowledged late) finds the job's
    progress fresh and does nothing: the one that takes it back is the beat sweeper's
    (``requeue_stalled_releases``). Returns the claim's progress stamp and whether it resumes a run, None when there
    is nothing to do (finished, or being run)."""
    now = timezone.now()
    stalled = ReleaseJob.objects.filter(
        pk=job_id, status=ReleaseJob.Status.RUNNING, progress_at__lt=now - RELEASE_STALE_AFTER
    )
    if stalled.update(progress_at=now):
        return now, True
    if ReleaseJob.objects.filter(pk=job_id, status=ReleaseJob.Status.PENDING).update(
        status=ReleaseJob.Status.RUNNING, progress_at=now
    ):
        return now, False
    return None


def is_stalled(job: ReleaseJob, *, now: datetime.datetime | None = None) -> bool:
    """A RUNNING job without progress for ``RELEASE_STALE_AFTER`` and ``SWEEP_GRACE`` more: its worker stopped, and
    the sweeper did not take it back (asked for more than ``STALLED_RETAKEN_WITHIN`` ago, or no worker free); its
    page says so, not "in progress" for ever."""
    return lost_tasks.stopped(job, stale_after=RELEASE_STALE_AFTER, now=now)


class _RequesterDeactivated(BusinessRuleError):
    """The requester's account was deactivated since the release was asked for: the job stops (``run_release``)."""


def _check_requester(actor: User, application: Application) -> None:
    """The requester's right to validate ``application`` as it is now, inside the application's transaction
    (``run_release``): their memberships read again (``staff_scope``, dropped from the user object: one query, none
    for a superuser) and the check, the account still active and of the same kind in the same query. A membership
    removed, or moved to another centre, since the release was asked for refuses the application
    (``BusinessRuleError``); a deactivated account raises ``_RequesterDeactivated``. Why it is refused is read only
    when it is: first the application's campaign (one archived since the release was asked for is read only for
    everyone, which its refusal says, not a right lost), then the account again, then the check as the account now
    is."""
    actor.__dict__.pop("staff_scope", None)
    unchanged = User.objects.filter(pk=actor.pk, is_active=True, is_superuser=actor.is_superuser)
    if Application.objects.validatable_by(actor).filter(pk=application.pk).filter(Exists(unchanged)).exists():
        return
    past = Campaign.objects.filter(pk=application.campaign_id, is_active=False).values_list("label", flat=True)
    if (campaign := past.first()) is not None:
        raise BusinessRuleError(
            _("Application of a past campaign (%(campaign)s): it is read, exported and printed, no longer changed.")
            % {"campaign": campaign}
        )
    actor.refresh_from_db(fields=["is_active", "is_superuser"])
    actor.__dict__.pop("staff_scope", None)
    if not actor.is_active:
        raise _RequesterDeactivated(
            _("Your account has been deactivated since this release was asked for: this decision was not validated.")
        )
    if not Application.objects.validatable_by(actor).filter(pk=application.pk).exists():
        raise BusinessRuleError(_("This application is no longer in your scope: its decision was not validated."))


def _refusal(application: Application, reason: str) -> str:
    """One line of a job's refusals: « numéro – formation: reason »."""
    return f"{application.candidate.user.username} – {application.formation.code}: {reason}"


def _connection_lost(error: BaseException) -> bool:
    """Whether ``error`` is the database's and left its connection unusable (the server stopped or restarted, the
    network cut: an ``OperationalError`` or an ``InterfaceError``): an error of the whole job, not of one
    application, since every application left would fail the same way. One query (``SELECT 1``, none once Django
    closed the connection), only after an error of the database. A lock wait or a statement given up
    (``lock_timeout`` not mapped to a refusal, ``statement_timeout``) leaves the connection usable once its
    transaction rolled back: that application's error, not the job's."""
    return isinstance(error, DatabaseLibraryError) and not connection.is_usable()


def _not_reached(
    job: ReleaseJob, applications: list[Application] | None, handled: set[int], *, resumed: bool
) -> tuple[int, list[str]]:
    """What a run that stops on an error of the whole job (``run_release``, FAILED) did not get to: each
    application neither counted nor refused, in the release's order, refused with the reason that the release
    stopped before it (its requester selects it again), and the decisions a run that was stopped validated among
    them (a resumed run: one query), counted as done. By its number when the run stopped before reading the
    applications, or for one deleted since."""
    left = [pk for pk in job.application_ids if pk not in handled]
    validated: set[int] = set()
    if resumed and left:
        validated = set(
            Application.objects.filter(pk__in=left)
            .annotate(validated=latest_decision("validated_at"))
            .filter(validated__isnull=False)
            .values_list("pk", flat=True)
        )
    reason = _(
        "The release stopped before this application: its decision was not validated; select it again to release it."
    )
    read = {} if applications is None else {application.pk: application for application in applications}
    ordered = [application.pk for application in applications or ()] + sorted(set(left) - set(read))
    refusals = []
    for pk in ordered:
        if pk in handled or pk in validated:
            continue
        if pk in read:
            refusals.append(_refusal(read[pk], reason))
        elif applications is None:
            refusals.append(
                _("Application %(id)d: the release stopped before it, nothing was validated.") % {"id": pk}
            )
        else:
            refusals.append(
                _("Application %(id)d: deleted since this release was asked for, nothing was validated.") % {"id": pk}
            )
    return len(validated), refusals


def run_release(job_id: int) -> None:
    """Validate each application's current decision, each in its own transaction (a refusal does not stop the others;
    the mails and letters leave after each commit), in the page's order (``release_order``), recording the progress.
    Claimed once (PENDING → RUNNING), so a second delivery does nothing while the run lives; a run whose worker was
    killed is taken back, once its progress is older than ``RELEASE_STALE_AFTER``, by the task the beat sweeper queues
    again (``requeue_stalled_releases``, ``_claim_release``), which counts the decisions already validated as done
    instead of validating, and mailing, them twice. Each write checks the claim's stamp: a run taken over stops. The
    requester's right is read again for each application, in its transaction (``_check_requester``): one no longer in
    their scope is refused; once their account is deactivated, the job stops, that application and every one left
    refused with the same reason.

    An unexpected error of one application (a bug in its mail or its letter, a database error its statements caused)
    is that application's: its transaction rolls back (nothing of it is written, no mail leaves), it is logged and
    refused (« erreur inattendue »), and the others go on. An error of the whole job is raised: the database's
    connection lost (``_connection_lost``) leaves the job RUNNING, written no further, so that the beat sweeper takes
    it back once its progress is stale and resumes it; any other (the task's time limit, an error outside the
    applications' transactions) ends it FAILED, with every application it did not get to refused
    (``_not_reached``), so that its page says which to select again."""
    claim = _claim_release(job_id)
    if claim is None:
        return
    stamp, resumed = claim
    job = ReleaseJob.objects.select_related("requested_by").get(pk=job_id)
    actor = job.requested_by
    expected = None if job.decision_ids is None else set(job.decision_ids)
    done, refusals = 0, []
    deactivated = ""  # the refusal of every application left, once the requester's account is deactivated
    status = ReleaseJob.Status.FAILED  # unless the loop ends: an error of the whole job is recorded, then raised
    applications: list[Application] | None = None
    handled: set[int] = set()  # counted as done or refused, and written with the progress
    # Nothing more is written once the run was taken over by another, or lost the database's connection (the job
    # stays RUNNING, for the beat sweeper to take it back).
    stopped_short = False

    def mine() -> QuerySet[ReleaseJob]:
        return ReleaseJob.objects.filter(pk=job_id, status=ReleaseJob.Status.RUNNING, progress_at=stamp)

    try:
        # Every application of the job, not only those the requester may still validate: one out of their scope now
        # is refused by ``_check_requester`` with its reason, and one deleted since is refused after the loop, so that
        # a finished job accounts for each (``done + len(refusals) == total``), never « Terminé » with some left out.
        # In the order the page validates them (``release_order``): each mail gives the rang réel its candidate keeps.
        applications = release_order(
            with_release_keys(
                Application.objects.filter(pk__in=job.application_ids)
                .select_related("candidate__user", "formation__centre")
                .order_by("pk")
            )
        )
        found: set[int] = set()
        for application in applications:
            found.add(application.pk)
            current = application.decisions.current() if resumed else None
            if current is not None and current.validated_at is not None:
                done += 1  # validated by the run that was stopped (or by someone since): released already
            elif deactivated:
                refusals.append(_refusal(application, deactivated))
                handled.add(application.pk)
                continue  # nothing validated: the progress is written once, when the job finishes
            else:
                try:
                    # A lock conflict (another kind of work, a lock_timeout) refuses this application, not the job.
                    with staff.lock_conflict_refused(), transaction.atomic():
                        _check_requester(actor, application)
                        validate_current_decision(application, actor=actor, expected=expected)
                except _RequesterDeactivated as error:
                    deactivated = str(error)
                    logger.warning("release job %s: its requester was deactivated, the job stops", job_id)
                    refusals.append(_refusal(application, str(error)))
                except BusinessRuleError as error:
                    refusals.append(_refusal(application, str(error)))
                except Exception as error:
                    if isinstance(error, SoftTimeLimitExceeded) or _connection_lost(error):
                        raise  # the whole job's
                    # Rolled back with its transaction (its decision, history, mails and letter): this one only.
                    logger.exception(
                        "release job %s: application %s not validated (unexpected error)", job_id, application.pk
                    )
                    refusals.append(
                        _refusal(
                            application,
                            _(
                                "An unexpected error stopped the validation of this application: its decision was "
                                "not validated; try again for this application."
                            ),
                        )
                    )
                else:
                    done += 1
            handled.add(application.pk)
            now = timezone.now()
            if not mine().update(done=done, refusals=refusals, progress_at=now):
                logger.warning("release job %s: taken over by another run, this one stops", job_id)
                stopped_short = True
                return
            stamp = now
        refusals.extend(
            _("Application %(id)d: deleted since this release was asked for, nothing was validated.") % {"id": pk}
            for pk in sorted(set(job.application_ids) - found)
        )
        status = ReleaseJob.Status.DONE
    except BaseException as error:
        stopped_short = _connection_lost(error)
        if stopped_short:
            logger.warning("release job %s: the database's connection was lost, left to the sweeper", job_id)
        raise
    finally:
        if not stopped_short:
            if status == ReleaseJob.Status.FAILED:
                validated_before, left = _not_reached(job, applications, handled, resumed=resumed)
                done, refusals = done + validated_before, [*refusals, *left]
            mine().update(status=status, done=done, refusals=refusals, finished_at=timezone.now())
