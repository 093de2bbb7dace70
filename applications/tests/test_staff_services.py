"""The back office's services (applications.services.staff): statuses, decisions, waiting list, deadlines."""

import datetime
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from accounts.tests.factories import StaffMembershipFactory
from applications.enums import DecisionAction, DossierStatus
from applications.models import Application, ApplicationEvent, Decision, PieceSubmission
from applications.notifications import commission_recipients
from applications.services import staff
from applications.services.pieces import set_piece_status
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails
from documents.models import Document
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory, PieceTypeFactory


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign, email="estelle@example.org")


# --- dossier status ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "stamp", "code"),
    [
        (DossierStatus.COMPLETE, "complete_on", "STATUT_CO"),
        (DossierStatus.INCOMPLETE, "incomplete_on", "STATUT_IN"),
        (DossierStatus.WAITING, None, "STATUT_AT"),
    ],
)
def test_set_dossier_status_stamps_logs_and_mails(application, centre_manager, target, stamp, code):
    staff.set_dossier_status(application, target=target, actor=centre_manager, comment="vu")

    application.refresh_from_db()
    assert application.dossier_status == target
    if stamp:
        assert getattr(application, stamp) == timezone.localdate()
    event = ApplicationEvent.objects.get(application=application)
    assert (event.kind, event.actor, event.from_status, event.to_status, event.comment) == (
        "dossier_status",
        centre_manager,
        "RE",
        target,
        "vu",
    )
    [mail] = mails(code)
    assert mail.to == "estelle@example.org"


def test_incomplete_mail_lists_refused_pieces_with_comments(application, centre_manager):
    for label, status, comment in [("Relevé de notes", "RE", "scan illisible"), ("CV", "VA", "")]:
        document = Document.objects.create(
            campaign_code="C",
            file="C/x.pdf",
            original_name="x.pdf",
            size=1,
            content_type="application/pdf",
            sha256="0" * 64,
            uploaded_by=application.candidate.user,
        )
        PieceSubmission.objects.create(
            candidate=application.candidate,
            application=application,
            piece_type=PieceTypeFactory(label=label),
            status=status,
            document=document,
            comment=comment,
        )

    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)

    [mail] = mails("STATUT_IN")
    assert mail.subject == "Candidature - dossier incomplet"  # the guide's subject, in the candidate's language
    assert "Relevé de notes : scan illisible" in mail.body
    assert "CV" not in mail.body


def test_incomplete_mail_gives_a_refused_pieces_own_deadline(application, centre_manager):
    document = Document.objects.create(
        campaign_code="C",
        file="C/x.pdf",
        original_name="x.pdf",
        size=1,
        content_type="application/pdf",
        sha256="0" * 64,
        uploaded_by=application.candidate.user,
    )
    submission = PieceSubmission.objects.create(
        candidate=application.candidate,
        application=application,
        piece_type=PieceTypeFactory(label="Relevé de notes"),
        status="TR",
        document=document,
    )
    day = timezone.localdate() + datetime.timedelta(days=12)
    set_piece_status(
        submission=submission, status="RE", comment="scan illisible", actor=centre_manager, replace_by=day
    )

    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)

    [mail] = mails("STATUT_IN")
    assert f"Relevé de notes : scan illisible (à remplacer au plus tard le {day:%d/%m/%Y})" in mail.body


def test_same_status_twice_is_a_clear_invalid_transition(application, centre_manager):
    """The stale page case: a colleague already set it; the second click changes nothing and says why."""
    stale_copy = Application.objects.get(pk=application.pk)
    staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=centre_manager)

    with pytest.raises(InvalidTransition, match="already “Complete”"):
        staff.set_dossier_status(stale_copy, target=DossierStatus.COMPLETE, actor=centre_manager)
    assert ApplicationEvent.objects.count() == 1
    assert len(mails("STATUT_CO")) == 1


def test_cancelled_application_cannot_change(application, centre_manager):
    Application.objects.filter(pk=application.pk).update(
        dossier_status=DossierStatus.WAITING, cancelled_at=timezone.now(), cancelled_by=application.created_by
    )
    with pytest.raises(InvalidTransition):
        staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=centre_manager)


# --- decisions --------------------------------------------------------------------------------------------------


def test_record_decision_is_append_only_and_keeps_the_answer_until_validated(application, commission_member):
    answered_at = timezone.now()
    Application.objects.filter(pk=application.pk).update(accepted=True, answered_at=answered_at)
    first = staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=commission_member)
    second = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)

    assert list(application.decisions.values_list("pk", flat=True)) == [first.pk, second.pk]
    application.refresh_from_db()
    assert (application.accepted, application.answered_at) == (True, answered_at)  # reset by the validation only
    assert second.validated_at is None
    assert OutboundEmail.objects.count() == 0  # nothing is mailed before validation


@pytest.mark.parametrize(
    ("avis", "kwargs", "message"),
    [
        (Avis.UNFAVOURABLE, {}, "needs a reason"),
        (Avis.COMPLEMENTARY_LIST, {}, "needs a rank"),
        (Avis.PRESELECTION, {"preselection_place": "Amphi A"}, "date, a time and a place"),
    ],
)
def test_record_decision_requires_its_details(application, centre_manager, avis, kwargs, message):
    with pytest.raises(BusinessRuleError, match=message):
        staff.record_decision(application, decision_type=decision_type(avis), actor=centre_manager, **kwargs)
    assert not Decision.objects.exists()


def test_validate_favourable_mails_the_confirmation_date(application, centre_manager):
    decision = staff.record_decision(
        application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager, comment="Bravo"
    )
    staff.validate_decision(decision, actor=centre_manager)

    decision.refresh_from_db()
    assert decision.validated_by == centre_manager
    assert decision.validated_at is not None
    [mail] = mails("AVIS_FAVORABLE")
    assert "pour confirmer ou vous désister de votre candidature au plus tard le" in mail.body
    assert application.formation.confirmation_date.strftime("%d/%m/%Y") in mail.body
    assert "Bravo" not in mail.body  # the decision type does not show comments


def test_a_favourable_decision_whose_confirmation_date_has_passed_waits_for_a_new_date(
    application, commission_member, centre_manager
):
    """A candidate promoted from the list (their own date de confirmation) let it pass and was withdrawn; on appeal
    the commission admits them again. Validated as is, the mail would ask to answer by a date gone and the candidate
    could not confirm (nor would the nightly batch withdraw it). Refused, with what to do; once staff set a new
    date, it is validated and the mail gives that date."""
    decide(application, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)  # released: there is an appeal
    Application.objects.filter(pk=application.pk).update(
        confirmation_date_override=timezone.localdate() - datetime.timedelta(days=1)
    )
    decision = staff.record_decision(
        application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member, after_appeal=True
    )

    with pytest.raises(BusinessRuleError, match="Set a new confirmation date first"):
        staff.validate_decision(decision, actor=centre_manager)

    decision.refresh_from_db()
    assert decision.validated_at is None
    assert mails("AVIS_FAVORABLE") == []
    new_date = timezone.localdate() + datetime.timedelta(days=7)
    staff.extend_deadlines(application, actor=centre_manager, confirmation_date=new_date)
    staff.validate_decision(decision, actor=centre_manager)
    [mail] = mails("AVIS_FAVORABLE")
    assert f"au plus tard le {new_date:%d/%m/%Y}, ce jour compris" in mail.body


def test_validate_unfavourable_preselection_and_list_mails(formation, campaign, centre_manager):
    reason = RefusalReason.objects.create(code="CAP", label="Capacité d'accueil atteinte")
    refused = make_application(formation, campaign=campaign)
    decide(refused, Avis.UNFAVOURABLE, actor=centre_manager, refusal_reason=reason)
    listed = make_application(formation, campaign=campaign)
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=3)
    invited = make_application(formation, campaign=campaign)
    at = timezone.make_aware(datetime.datetime(2026, 6, 2, 9, 30))
    decide(invited, Avis.PRESELECTION, actor=centre_manager, preselection_at=at, preselection_place="Salle B12")

    assert "Motif : Capacité d'accueil atteinte" in mails("AVIS_DEFAVORABLE")[0].body
    assert "au rang 1" in mails("AVIS_LISTE_COMP")[0].body  # the rang réel the recap shows: alone on the list
    assert "le 02/06/2026 à 09:30 à Salle B12" in mails("AVIS_PRESELECTION")[0].body
    listed.refresh_from_db()
    assert listed.waiting_list_rank == 1


def test_validating_twice_or_an_older_decision_is_refused(application, centre_manager):
    old = staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=centre_manager)
    new = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    with pytest.raises(InvalidTransition, match="no longer the application's latest"):
        staff.validate_decision(old, actor=centre_manager)
    staff.validate_decision(new, actor=centre_manager)
    with pytest.raises(InvalidTransition, match="already been validated"):
        staff.validate_decision(new, actor=centre_manager)
    assert len(mails("AVIS_FAVORABLE")) == 1


def test_delete_only_the_last_unvalidated_decision(application, centre_manager):
    validated = decide(application, Avis.WAITING_LIST, actor=centre_manager)
    with pytest.raises(InvalidTransition, match="validated decision cannot be deleted"):
        staff.delete_last_decision(application, actor=centre_manager)
    pending = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)

    staff.delete_last_decision(application, actor=centre_manager)

    assert list(application.decisions.all()) == [validated]
    assert not Decision.objects.filter(pk=pending.pk).exists()
    assert ApplicationEvent.objects.filter(kind="decision_deleted", actor=centre_manager).count() == 1


# --- waiting list -----------------------------------------------------------------------------------------------


@pytest.fixture
def waiting_list_formation(formation):
    formation.auto_waiting_list = True
    formation.waiting_list_decision_type = decision_type(Avis.FAVOURABLE)
    formation.waiting_list_confirmation_delay_days = 5
    formation.save()
    formation.commission.alert_mode = "M"
    formation.commission.alert_on_promotion = True
    formation.commission.save()
    return formation


def withdraw(application):
    """What the candidature engineer's withdraw service records (the answer itself is theirs)."""
    Application.objects.filter(pk=application.pk).update(accepted=False, answered_at=timezone.now())


def test_waiting_list_chain_with_two_withdrawals(waiting_list_formation, campaign, centre_manager):
    formation = waiting_list_formation
    admitted = make_application(formation, campaign=campaign)
    decide(admitted, Avis.FAVOURABLE, actor=centre_manager)
    # Ranks entered out of order; the rank then the creation order decide.
    third = make_application(formation, campaign=campaign)
    decide(third, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=3)
    first = make_application(formation, campaign=campaign, email="first@example.org")
    decide(first, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)
    second = make_application(formation, campaign=campaign, email="second@example.org")
    decide(second, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=2)
    cancelled = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    decide(cancelled, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)
    Application.objects.filter(pk=cancelled.pk).update(cancelled_at=timezone.now(), cancelled_by=centre_manager)
    staff.recompute_waiting_list_ranks(formation=formation)
    assert [
        a.waiting_list_rank
        for a in Application.objects.filter(pk__in=[first.pk, second.pk, third.pk]).order_by("waiting_list_rank")
    ] == [1, 2, 3]

    withdraw(admitted)
    promoted = staff.promote_from_waiting_list(formation=formation, actor=None, batch="desist_auto")

    assert promoted.pk == first.pk
    first.refresh_from_db()
    assert first.confirmation_date_override == timezone.localdate() + datetime.timedelta(days=5)
    assert first.waiting_list_rank is None
    latest = first.decisions.latest()
    assert (latest.action, latest.validated_at is not None, latest.decision_type.avis) == (
        DecisionAction.WAITING_LIST_PROMOTION,
        True,
        Avis.FAVOURABLE,
    )
    event = first.events.get(kind="waiting_list_promotion")
    assert (event.actor, event.batch) == (None, "desist_auto")
    second.refresh_from_db()
    third.refresh_from_db()
    assert (second.waiting_list_rank, third.waiting_list_rank) == (1, 2)

    withdraw(first)
    assert staff.promote_from_waiting_list(formation=formation, actor=centre_manager).pk == second.pk
    third.refresh_from_db()
    assert third.waiting_list_rank == 1

    favourable = mails("AVIS_FAVORABLE")
    assert [m.to for m in favourable[-2:]] == ["first@example.org", "second@example.org"]
    alerts = mails("COMMISSION_ALERT_LISTE_PRINC")
    assert [m.to for m in alerts] == [formation.commission.email] * 2
    assert "est passé de la liste complémentaire à la liste principale" in alerts[0].body


def test_promotion_does_nothing_without_automatic_management(formation, campaign, centre_manager):
    listed = make_application(formation, campaign=campaign)
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)
    assert staff.promote_from_waiting_list(formation=formation, actor=centre_manager) is None
    assert listed.decisions.count() == 1


def test_promotion_skips_a_list_candidate_with_a_newer_decision(waiting_list_formation, campaign, centre_manager):
    formation = waiting_list_formation
    moved_on = make_application(formation, campaign=campaign)
    decide(moved_on, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)
    decide(
        moved_on,
        Avis.UNFAVOURABLE,
        actor=centre_manager,
        refusal_reason=RefusalReason.objects.create(code="X", label="X"),
    )
    listed = make_application(formation, campaign=campaign)
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=2)

    assert staff.promote_from_waiting_list(formation=formation, actor=None).pk == listed.pk
    assert staff.promote_from_waiting_list(formation=formation, actor=None) is None  # nobody left: a rerun is harmless


def test_promotion_with_stale_ranks_still_admits_the_first_of_the_list(
    waiting_list_formation, campaign, centre_manager
):
    # The rang réel is the fast path; when it is stale (a crash before the ranks were written, a manual edit), the
    # list computed from the decisions decides, and a stale rank never admits someone who left the list.
    formation = waiting_list_formation
    first = make_application(formation, campaign=campaign)
    decide(first, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)
    second = make_application(formation, campaign=campaign)
    decide(second, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=2)
    Application.objects.filter(formation=formation).update(waiting_list_rank=None)
    assert staff.promote_from_waiting_list(formation=formation, actor=None).pk == first.pk

    left = make_application(formation, campaign=campaign)
    Application.objects.filter(pk=left.pk).update(waiting_list_rank=1)  # ranked, but never on the list
    assert staff.promote_from_waiting_list(formation=formation, actor=None).pk == second.pk
    assert not left.decisions.exists()


# --- deadlines --------------------------------------------------------------------------------------------------


def test_extend_deadlines_is_audited(application, centre_manager):
    later = timezone.localdate() + datetime.timedelta(days=40)
    staff.extend_deadlines(application, actor=centre_manager, return_deadline=later, comment="courrier")

    application.refresh_from_db()
    assert application.return_deadline_override == later
    event = application.events.get(kind="deadlines_extended")
    assert f"date limite de retour : {later:%d/%m/%Y}" in event.comment  # the institution's language, whoever acts
    assert "courrier" in event.comment


def test_extend_deadlines_refuses_the_past(application, centre_manager):
    with pytest.raises(BusinessRuleError, match="today or later"):
        staff.extend_deadlines(
            application, actor=centre_manager, confirmation_date=timezone.localdate() - datetime.timedelta(days=1)
        )
    assert not application.events.exists()


# --- concurrency ------------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_managers_validate_the_same_decision_at_once(
    centre, commission, campaign, centre_manager, central_manager
):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    barrier = threading.Barrier(2)
    outcomes = []

    def run(actor):
        try:
            barrier.wait()
            staff.validate_decision(decision, actor=actor)
            outcomes.append("ok")
        except InvalidTransition as error:
            outcomes.append(str(error))
        except Exception as error:  # shown by the assertion below, not an unhandled exception in the thread
            outcomes.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(user,)) for user in (centre_manager, central_manager)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["Cet avis a déjà été validé.", "ok"]
    assert len(mails("AVIS_FAVORABLE")) == 1
    assert ApplicationEvent.objects.filter(kind="decision_validated").count() == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_promotions_at_once_admit_two_different_candidates(centre, commission, campaign, centre_manager):
    formation = FormationFactory(
        centre=centre,
        commission=commission,
        auto_waiting_list=True,
        waiting_list_decision_type=decision_type(Avis.FAVOURABLE),
    )
    listed = [make_application(formation, campaign=campaign) for _ in range(3)]
    for rank, application in enumerate(listed, start=1):
        decide(application, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=rank)
    barrier = threading.Barrier(2)
    promoted = []

    def run():
        try:
            barrier.wait()
            promoted.append(staff.promote_from_waiting_list(formation=formation, actor=None, batch="desist_auto").pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(promoted) == sorted([listed[0].pk, listed[1].pk])
    assert Decision.objects.filter(action=DecisionAction.WAITING_LIST_PROMOTION).count() == 2
    listed[2].refresh_from_db()
    assert listed[2].waiting_list_rank == 1


def test_commission_alerts_go_to_active_members_only(formation, commission_member):
    gone = StaffMembershipFactory(
        commission_member=True, commission=formation.commission, user__email="parti@example.org"
    ).user
    gone.is_active = False
    gone.save()
    formation.commission.alert_mode = "L"  # the members
    formation.commission.alert_on_promotion = True
    formation.commission.save()

    recipients = commission_recipients(formation.commission, "COMMISSION_ALERT_LISTE_PRINC")

    assert commission_member.email in recipients
    assert "parti@example.org" not in recipients
