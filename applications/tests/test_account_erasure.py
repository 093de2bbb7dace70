"""Deleting a candidate's account at their request (eCandidat "Supprimer" / "Suppression CNIL"): the service's
contract (``applications.services.erasure``) and its back-office page."""

from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import AccountDeletion, CandidateAccount, NumeroDossierHistory, User
from accounts.services import change_email
from accounts.tests.factories import CandidateUserFactory
from applications.enums import DossierStatus
from applications.models import (
    Application,
    Candidate,
    CommissionPack,
    Decision,
    DecisionLetter,
    ExportJob,
    PieceSubmission,
    QuestionAnswer,
)
from applications.notifications import notify_candidate, notify_commission
from applications.services import erasure
from applications.services.staff import recompute_waiting_list_ranks
from applications.tests.factories_candidature import (
    DocumentFactory,
    PieceSubmissionFactory,
    complete_candidate,
    decide,
    make_application,
)
from documents import scanning
from documents.models import Document
from ecandidat.emails import enqueue_email
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import MailTemplate, OutboundEmail
from offers.enums import Avis
from offers.models import Question
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

PAGE = "admin:applications_candidate_delete_account"
# « Comptes candidats supprimés » as the central office sees it, whatever the number of rows or the filter: session,
# user, the request's savepoint and its release, scope, the campaigns of its filter, the count, permissions (2), the
# rows (campaign and author joined).
DELETIONS_LIST_QUERIES = 10


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO")


def _stored(name: str, content: bytes = b"%PDF-1.4 piece") -> str:
    return default_storage.save(name, ContentFile(content))


@pytest.fixture
def rich_candidate(campaign, formation, central_manager, django_capture_on_commit_callbacks):
    """A candidate with everything an account can hold: a dossier, an application with a stored piece, a validated
    favourable decision with its letter file, a commission pack holding the dossier, mails, admin history."""
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    user = application.candidate.user
    piece, letter, pack = _stored(f"{campaign.code}/p.pdf"), _stored("letters/l.pdf"), _stored("packs/p.zip")
    user.stored_files = [piece, letter, pack]
    document = DocumentFactory(uploaded_by=user, campaign_code=campaign.code, file=piece)
    PieceSubmissionFactory(application=application, document=document)
    with django_capture_on_commit_callbacks(execute=False):
        decision = decide(application, Avis.FAVOURABLE, actor=central_manager)
        DecisionLetter.objects.create(
            decision=decision,
            application=application,
            kind="ADMISSION",
            file=letter,
            generated_at=decision.validated_at,
        )
        CommissionPack.objects.create(requested_by=central_manager, application_ids=[application.pk], file=pack)
    question = Question.objects.create(code="Q", label="Q", candidate_label="Q ?")
    formation.questions.add(question)
    QuestionAnswer.objects.create(
        application=application, candidate=application.candidate, question=question, answer="R", answered_by=user
    )
    LogEntry.objects.create(
        user=central_manager,
        content_type=ContentType.objects.get_for_model(Candidate),
        object_id=str(application.candidate.pk),
        object_repr=f"{application.candidate.birth_name} {application.candidate.first_name}",
        action_flag=CHANGE,
    )
    LogEntry.objects.create(  # "Comptes candidats": the helpdesk sent the validation link again
        user=central_manager,
        content_type=ContentType.objects.get_for_model(CandidateAccount, for_concrete_model=False),
        object_id=str(user.pk),
        object_repr=user.username,
        action_flag=CHANGE,
        change_message=f"Lien de validation renvoyé à {user.email}",
    )
    return user


# --- the service ------------------------------------------------------------------------------------------------


def test_complete_deletion_removes_everything_and_records_it(
    rich_candidate, campaign, central_manager, django_capture_on_commit_callbacks
):
    user = rich_candidate
    numero = user.username
    mails_before = OutboundEmail.objects.filter(to=user.email).count()
    assert mails_before > 0  # the decision's mail
    other = complete_candidate(user__campaign=campaign, user__email="other@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        record = erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=False)

    assert not User.objects.filter(pk=user.pk).exists()
    assert not Candidate.objects.filter(user_id=user.pk).exists()
    assert Application.objects.count() == 0
    assert Decision.objects.count() == 0
    assert PieceSubmission.objects.count() == 0
    assert Document.objects.count() == 0
    assert DecisionLetter.objects.count() == 0
    assert CommissionPack.objects.count() == 0
    assert QuestionAnswer.objects.count() == 0
    assert OutboundEmail.objects.filter(to=user.email).count() == 0
    assert not LogEntry.objects.filter(object_repr__contains=user.last_name or "-").exclude(object_repr="").exists()
    assert LogEntry.objects.count() == 0
    for name in user.stored_files:
        assert not default_storage.exists(name), name
    assert (record.numero_dossier, record.everything, record.applications, record.files, record.mails) == (
        numero,
        True,
        1,
        3,
        mails_before,
    )
    assert record.deleted_by == central_manager
    assert not record.notified
    assert NumeroDossierHistory.objects.filter(numero=numero).exists()  # never issued again
    assert Candidate.objects.filter(pk=other.pk).exists()  # nobody else's data


def test_the_confirmation_mail_is_written_after_the_old_ones_go(rich_candidate, central_manager):
    user = rich_candidate

    erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=True)

    mail = OutboundEmail.objects.get(to=user.email)
    assert mail.code == "CPT_MIN_DELETE"
    assert user.username in mail.body
    assert AccountDeletion.objects.get().notified


def test_a_failure_midway_deletes_nothing_and_keeps_every_file(
    rich_candidate, campaign, central_manager, django_capture_on_commit_callbacks
):
    """Fault injection: the record cannot be written (the last write before the account goes)."""
    user = rich_candidate
    mails = OutboundEmail.objects.filter(to=user.email).count()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        mock.patch.object(AccountDeletion.objects, "create", side_effect=IntegrityError("injected")),
        pytest.raises(IntegrityError),
    ):
        erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=True)

    assert callbacks == []
    assert User.objects.filter(pk=user.pk).exists()
    assert Application.objects.count() == 1
    assert Document.objects.count() == 1
    assert DecisionLetter.objects.count() == 1
    assert CommissionPack.objects.count() == 1
    assert OutboundEmail.objects.filter(to=user.email).count() == mails
    for name in user.stored_files:
        assert default_storage.exists(name), name


def test_a_file_that_cannot_be_removed_does_not_undo_the_deletion(
    rich_candidate, central_manager, django_capture_on_commit_callbacks
):
    user = rich_candidate

    with (
        django_capture_on_commit_callbacks(execute=True),
        mock.patch.object(default_storage, "delete", side_effect=OSError("disk")),
    ):
        erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=False)

    assert not User.objects.filter(pk=user.pk).exists()  # the files are orphans for remove_orphan_files


def test_the_account_alone_is_refused_while_it_has_applications(rich_candidate, central_manager):
    with pytest.raises(BusinessRuleError, match="only the complete deletion"):
        erasure.delete_candidate_account(user=rich_candidate, actor=central_manager, everything=False, notify=True)

    assert User.objects.filter(pk=rich_candidate.pk).exists()
    assert not OutboundEmail.objects.filter(code="CPT_MIN_DELETE").exists()


def test_the_account_alone_goes_with_its_dossier(campaign, central_manager):
    candidate = complete_candidate(user__campaign=campaign)

    record = erasure.delete_candidate_account(
        user=candidate.user, actor=central_manager, everything=False, notify=False
    )

    assert not User.objects.filter(pk=candidate.user_id).exists()
    assert not Candidate.objects.exists()
    assert (record.everything, record.applications, record.files) == (False, 0, 0)


@pytest.mark.parametrize(("signup_language", "expected"), [("en", "en"), ("", "fr")])
def test_the_deletion_mail_of_an_account_without_a_dossier_is_in_its_signup_language(
    campaign, central_manager, signup_language, expected
):
    """No dossier, so no preferred language: the account's own (``User.language``, its signup page's), else
    French. It went out in French to a candidate who signed up in English and never filled in a dossier."""
    user = CandidateUserFactory(campaign=campaign, language=signup_language)

    erasure.delete_candidate_account(user=user, actor=central_manager, everything=False, notify=True)

    assert OutboundEmail.objects.values_list("code", "language").get(to=user.email) == ("CPT_MIN_DELETE", expected)


@pytest.mark.parametrize("who", ["centre_manager", "commission_member", "read_only_staff"])
def test_only_the_central_office_deletes(rich_candidate, who, request):
    with pytest.raises(BusinessRuleError):
        erasure.delete_candidate_account(
            user=rich_candidate, actor=request.getfixturevalue(who), everything=True, notify=False
        )

    assert User.objects.filter(pk=rich_candidate.pk).exists()


def test_staff_accounts_are_never_deleted(centre_manager, central_manager):
    with pytest.raises(BusinessRuleError):
        erasure.delete_candidate_account(user=centre_manager, actor=central_manager, everything=True, notify=False)

    assert erasure.candidate_account(centre_manager.username) is None


def test_the_waiting_list_closes_up(campaign, formation, central_manager):
    first, second, third = (make_application(formation, campaign=campaign) for _ in range(3))
    for rank, application in enumerate((first, second, third), start=1):
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
    recompute_waiting_list_ranks(formation=formation)

    erasure.delete_candidate_account(user=first.candidate.user, actor=central_manager, everything=True, notify=False)

    ranks = dict(Application.objects.values_list("pk", "waiting_list_rank"))
    assert ranks == {second.pk: 1, third.pk: 2}


@pytest.mark.integration
def test_the_formation_is_locked_before_the_application(campaign, formation, central_manager):
    """The lock order of the waiting lists (``staff.lock_waiting_list``): a validation or a promotion holding the
    formation and waiting for the deleted application deadlocked with a deletion that locked them the other way."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    listed = make_application(formation, campaign=campaign)
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)

    with CaptureQueriesContext(connection) as queries:
        erasure.delete_candidate_account(
            user=listed.candidate.user, actor=central_manager, everything=True, notify=False
        )

    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    tables = [sql.split(" FROM ", 1)[1].split()[0].strip('"') for sql in locks]
    assert tables.index("offers_formation") < tables.index("applications_application")
    assert not Application.objects.filter(pk=listed.pk).exists()


def test_mails_to_the_address_before_the_account_existed_stay(rich_candidate, central_manager):
    """Another campaign's account of the same person is another account: its mails are not this one's."""
    user = rich_candidate
    old = enqueue_email(
        to=user.email, code="X", template_base="accounts/email/generic", context={"subject": "S", "body": "B"}
    )
    OutboundEmail.objects.filter(pk=old.pk).update(created_at=user.date_joined.replace(year=2000))

    erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=False)

    assert OutboundEmail.objects.filter(pk=old.pk).exists()


# --- the page ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 404),
        ("other_centre_manager", 404),
        ("commission_member", 404),
        ("read_only", 404),
        ("central_manager", 200),
    ],
    indirect=["persona"],
)
def test_persona_matrix(client, persona, expected, rich_candidate):
    client.force_login(persona)

    response = client.get(reverse(PAGE), {"numero": rich_candidate.username})

    assert response.status_code == expected
    if expected == 404:
        assertNotContains(response, rich_candidate.email, status_code=404)  # nothing of the account shows


def test_anonymous_goes_to_login(client):
    response = client.get(reverse(PAGE))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_outsiders_cannot_post(client, centre_manager, rich_candidate):
    client.force_login(centre_manager)

    response = client.post(
        reverse(PAGE),
        {"numero": rich_candidate.username, "what": "everything", "confirmation": rich_candidate.username},
    )

    assert response.status_code == 404
    assert User.objects.filter(pk=rich_candidate.pk).exists()


def test_lookup_of_an_unknown_number_says_so(client, central_manager, django_assert_num_queries):
    client.force_login(central_manager)

    with django_assert_num_queries(8):  # session, user, scope, permissions (2), the lookup, savepoint
        response = client.get(reverse(PAGE), {"numero": "ZZZZ9999"})

    assertContains(response, "No candidate account has this dossier number.")


@pytest.mark.parametrize("applications", [1, 4])
def test_summary_page_queries_do_not_grow(client, campaign, central_manager, applications, django_assert_num_queries):
    candidate = complete_candidate(user__campaign=campaign)
    for index in range(applications):
        make_application(FormationFactory(code=f"F{index}"), campaign=campaign)
        Application.objects.filter(pk=Application.objects.latest("pk").pk).update(candidate=candidate)
    client.force_login(central_manager)

    with django_assert_num_queries(
        18
    ):  # the mails: the previous addresses, then whether another account has one; the kept exports
        response = client.get(reverse(PAGE), {"numero": candidate.user.username.lower()})

    assertContains(response, candidate.user.email)
    assertContains(response, f"{applications} application")


def test_the_confirmation_must_repeat_the_number(client, central_manager, rich_candidate):
    client.force_login(central_manager)

    response = client.post(
        reverse(PAGE), {"numero": rich_candidate.username, "what": "everything", "confirmation": "WRONG"}
    )

    assertContains(response, "This is not the dossier number of the account shown above.")
    assert User.objects.filter(pk=rich_candidate.pk).exists()


def test_a_refusal_is_shown_on_the_form(client, central_manager, rich_candidate):
    client.force_login(central_manager)

    response = client.post(
        reverse(PAGE), {"numero": rich_candidate.username, "what": "account", "confirmation": rich_candidate.username}
    )

    assertContains(response, "only the complete deletion (CNIL) removes it with the account")
    assert User.objects.filter(pk=rich_candidate.pk).exists()


def test_complete_deletion_from_the_page(client, central_manager, rich_candidate):
    client.force_login(central_manager)
    numero = rich_candidate.username

    response = client.post(
        reverse(PAGE),
        {"numero": numero, "what": "everything", "notify": "on", "confirmation": numero.lower()},
        follow=True,
    )

    assertContains(response, f"Account {numero} deleted (1 application, 3 stored files")
    assert not User.objects.filter(pk=rich_candidate.pk).exists()
    assert OutboundEmail.objects.get(to=rich_candidate.email).code == "CPT_MIN_DELETE"
    assert AccountDeletion.objects.get().deleted_by == central_manager


def test_links_for_the_central_office_only(client, central_manager, centre_manager, rich_candidate):
    candidate = Candidate.objects.get(user=rich_candidate)
    change = reverse("admin:applications_candidate_change", args=[candidate.pk])
    client.force_login(central_manager)

    assertContains(client.get(change), f"?numero={rich_candidate.username}")
    assertContains(client.get(reverse("admin:applications_candidate_changelist")), reverse(PAGE))

    client.force_login(centre_manager)
    assertNotContains(client.get(reverse("admin:applications_candidate_changelist")), reverse(PAGE))


def test_the_record_is_read_only_for_the_central_office(
    client, central_manager, centre_manager, rich_candidate, django_assert_num_queries
):
    erasure.delete_candidate_account(user=rich_candidate, actor=central_manager, everything=True, notify=False)
    changelist = reverse("admin:accounts_accountdeletion_changelist")
    client.force_login(central_manager)

    with django_assert_num_queries(DELETIONS_LIST_QUERIES):
        response = client.get(changelist)

    assertContains(response, rich_candidate.username)
    assert client.get(reverse("admin:accounts_accountdeletion_add")).status_code == 403

    client.force_login(centre_manager)
    assert client.get(changelist).status_code in (403, 404)


def test_the_list_shows_and_filters_whether_an_opi_had_left(
    client, campaign, central_manager, django_assert_num_queries
):
    """« OPI déjà transmise »: the deletions whose person may be in Pégase or Apogée (to remove there by hand) are
    told apart, as a column and a filter; the queries do not grow with the rows."""
    for numero, opi_sent in [("AA000001", True), ("AB000002", False), ("AC000003", False)]:
        AccountDeletion.objects.create(
            numero_dossier=numero,
            campaign=campaign,
            everything=True,
            applications=1,
            files=0,
            mails=0,
            notified=False,
            opi_sent=opi_sent,
            deleted_by=central_manager,
        )
    changelist = reverse("admin:accounts_accountdeletion_changelist")
    client.force_login(central_manager)

    with django_assert_num_queries(DELETIONS_LIST_QUERIES):
        response = client.get(changelist)
    with django_assert_num_queries(DELETIONS_LIST_QUERIES):
        filtered = client.get(changelist, {"opi_sent__exact": "1"})

    assertContains(response, "column-opi_sent")
    assert [record.opi_sent for record in response.context["cl"].result_list] == [False, False, True]
    assertContains(response, "?opi_sent__exact=1")  # the filter's choices
    assert [record.numero_dossier for record in filtered.context["cl"].result_list] == ["AA000001"]


def test_mails_to_an_address_the_candidate_had_before_a_change_go_too(rich_candidate, central_manager):
    """« Modifier mon adresse mail »: the mails written to the old address while the account had it name the
    candidate as much as the others (the erasure kept them); a mail to that address after the change is not theirs."""
    user = rich_candidate
    old_address = user.email

    def mail(to):
        return enqueue_email(
            to=to, code="X", template_base="accounts/email/generic", context={"subject": "S", "body": "B"}
        )

    before = mail(old_address)
    change_email(user=user, new_email="nouvelle@example.org", actor=user)
    user.refresh_from_db()
    after_to_the_old = mail(old_address)  # someone else's now, say
    after = mail(user.email)

    record = erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=False)

    left = set(OutboundEmail.objects.values_list("pk", flat=True))
    assert before.pk not in left
    assert after.pk not in left
    assert after_to_the_old.pk in left
    assert record.mails >= 2


def test_mails_to_an_address_another_account_uses_stay(rich_candidate, central_manager, campaign):
    """The same person's account of another campaign (or a member of staff) at the same address: its mails cannot
    be told apart from this account's by their address, so none is deleted; those about this account
    (``OutboundEmail.about``: its decision's) are told apart and go."""
    other_campaign = CampaignFactory(code="C2025", is_active=False)
    CandidateUserFactory(email=rich_candidate.email.upper(), campaign=other_campaign)
    theirs = enqueue_email(
        to=rich_candidate.email,
        code="X",
        template_base="accounts/email/generic",
        context={"subject": "S", "body": "B"},
    )
    about = OutboundEmail.objects.filter(about=rich_candidate).count()
    assert about > 0

    record = erasure.delete_candidate_account(
        user=rich_candidate, actor=central_manager, everything=True, notify=False
    )

    assert list(OutboundEmail.objects.filter(to=rich_candidate.email)) == [theirs]
    assert record.mails == about


def test_a_confirmation_mail_out_of_service_is_not_recorded_as_sent(rich_candidate, central_manager):
    MailTemplate.objects.create(code="CPT_MIN_DELETE", language="fr", subject="s", body="b", in_service=False)
    rich_candidate.candidate.preferred_language = "fr"
    rich_candidate.candidate.save(update_fields=["preferred_language"])

    record = erasure.delete_candidate_account(user=rich_candidate, actor=central_manager, everything=True, notify=True)

    assert not record.notified
    assert not OutboundEmail.objects.filter(code="CPT_MIN_DELETE").exists()


# --- what names the candidate elsewhere (findings A2-A4) ---------------------------------------------------------


def test_the_commission_alerts_and_the_centre_copies_about_the_candidate_go_too(
    campaign, formation, centre, commission, central_manager
):
    """« Le candidat Camille DUPONT (dossier …) a transmis… », the withdrawal alert with its reason, the centre's copy
    of the candidate's mails: written to staff addresses, they name the candidate (``OutboundEmail.about``)."""
    commission.alert_mode, commission.email = "M", "commission-minfo@univ.example"
    commission.alert_on_transmission = commission.alert_on_withdrawal = True
    commission.save()
    centre.candidate_mail_copy, centre.email = "M", "scolarite-see@univ.example"
    centre.save()
    application = make_application(formation, campaign=campaign)
    other = make_application(formation, campaign=campaign)
    for each in (application, other):
        notify_commission(application=each, code="COMMISSION_ALERT_TRANSMISSION")
        notify_commission(application=each, code="COMMISSION_ALERT_DESISTEMENT", withdrawal_reason="Admis ailleurs")
        notify_candidate(application=each, code="CANDIDATURE_ANNULATION")
    user = application.candidate.user
    staff_addresses = {commission.email, centre.email}
    about_user = OutboundEmail.objects.filter(about=user)
    assert {mail.to for mail in about_user} == {user.email, *staff_addresses}
    assert any(user.username in mail.body for mail in about_user.filter(to=commission.email))
    count = about_user.count()

    record = erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=False)

    left = OutboundEmail.objects.all()
    assert {mail.about_id for mail in left} == {other.candidate.user.pk}
    assert not any(user.username in mail.body for mail in left)
    assert {mail.to for mail in left} == {other.candidate.user.email, *staff_addresses}
    assert record.mails == count


def test_the_outbox_history_of_the_candidates_mails_goes_too(rich_candidate, central_manager):
    """The outbox's "resend" writes an admin history row titled « GENERIC → jean.dupont@example.org »."""
    user = rich_candidate
    theirs = enqueue_email(
        to=user.email, code="GENERIC", template_base="accounts/email/generic", context={"subject": "S", "body": "B"}
    )
    someone_elses = enqueue_email(
        to="autre@example.org",
        code="GENERIC",
        template_base="accounts/email/generic",
        context={"subject": "S", "body": "B"},
    )
    outbox = ContentType.objects.get_for_model(OutboundEmail)
    for mail in (theirs, someone_elses):
        LogEntry.objects.create(
            user=central_manager,
            content_type=outbox,
            object_id=str(mail.pk),
            object_repr=f"GENERIC → {mail.to}",
            action_flag=CHANGE,
            change_message="Renvoyé",
        )

    erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=False)

    assert list(LogEntry.objects.values_list("object_repr", flat=True)) == ["GENERIC → autre@example.org"]


def test_a_quarantined_file_staff_uploaded_for_the_candidate_goes_too(
    campaign, formation, central_manager, django_capture_on_commit_callbacks
):
    """Quarantine lets the piece go of its file, which staff uploaded: the file keeps its owner, the candidate."""
    application = make_application(formation, campaign=campaign)
    stored = _stored(f"{campaign.code}/cni.pdf")
    document = DocumentFactory(
        uploaded_by=central_manager, campaign_code=campaign.code, file=stored, original_name="CNI DUPONT Camille.pdf"
    )
    PieceSubmissionFactory(application=application, document=document)
    with django_capture_on_commit_callbacks(execute=True):
        assert scanning._quarantine(
            document, signature="Eicar", recorded={"scanned_at": timezone.now()}, batch="rescan_documents"
        )
    document.refresh_from_db()
    quarantined = document.file.name
    assert quarantined.startswith("quarantine/")
    assert default_storage.exists(quarantined)
    assert not PieceSubmission.objects.filter(document=document).exists()

    with django_capture_on_commit_callbacks(execute=True):
        record = erasure.delete_candidate_account(
            user=application.candidate.user, actor=central_manager, everything=True, notify=False
        )

    assert not Document.objects.exists()
    assert not default_storage.exists(quarantined)
    assert record.files == 1


def test_complete_deletion_removes_the_background_exports_that_may_hold_the_person(
    rich_candidate, central_manager, django_capture_on_commit_callbacks
):
    """A background export (kept two days) records the list's filters, not its rows: any of them may hold the person,
    so the « Suppression CNIL » deletes them all, rows and files; the staff member asks for theirs again."""
    name = _stored("exports/e.xlsx", b"PK export")
    ExportJob.objects.create(requested_by=central_manager, status=ExportJob.Status.DONE, file=name, size=9)
    ExportJob.objects.create(requested_by=central_manager)  # waiting: its build will find itself gone
    assert erasure.erasure_counts(rich_candidate).files == len(rich_candidate.stored_files) + 1

    with django_capture_on_commit_callbacks(execute=True):
        erasure.delete_candidate_account(user=rich_candidate, actor=central_manager, everything=True, notify=False)

    assert ExportJob.objects.count() == 0
    assert not default_storage.exists(name)


# --- the account's own mails and allauth's rows ------------------------------------------------------------------


def test_the_signup_mail_goes_although_last_years_account_uses_the_address(client, campaign, central_manager):
    """Accounts are per campaign: the person's account of C2025 keeps the address, so the address cannot tell this
    account's mails from that one's. The signup mail (its name, dossier number and validation link) is about the
    account (``OutboundEmail.about``): it goes with the « Suppression CNIL » and is counted."""
    address = "marie.dupont@example.org"
    last_year = CandidateUserFactory(email=address, campaign=CampaignFactory(code="C2025", is_active=False))
    theirs = enqueue_email(
        to=address, code="X", template_base="accounts/email/generic", context={"subject": "S", "body": "B"}
    )
    data = {"last_name": "Dupont", "first_name": "Marie", "email": address, "email2": address}
    response = client.post(reverse("account_signup"), data)
    assert response.status_code == 302
    user = User.objects.get(email=address, campaign=campaign)
    signup_mail = OutboundEmail.objects.get(code="CPT_MIN_CREATE")
    assert user.username in signup_mail.body

    record = erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=False)

    assert not OutboundEmail.objects.filter(body__contains=user.username).exists()
    assert list(OutboundEmail.objects.all()) == [theirs]  # last year's account's mail stays
    assert record.mails == 1
    assert User.objects.filter(pk=last_year.pk).exists()


def test_the_mail_to_the_owner_of_a_taken_address_is_about_no_account(client, campaign):
    """A signup with an address an account of the campaign uses mails its owner (CPT_MIN_EXISTE), who is not told
    whose account tried: that mail is not about the account trying, nor linked to the owner's."""
    owner = CandidateUserFactory(email="deja.pris@example.org", campaign=campaign)
    data = {"last_name": "Autre", "first_name": "Personne", "email": owner.email, "email2": owner.email}
    client.post(reverse("account_signup"), data)

    mail = OutboundEmail.objects.get()
    assert (mail.code, mail.to, mail.about_id) == ("CPT_MIN_EXISTE", owner.email, None)


def test_the_history_of_the_accounts_addresses_and_ent_identities_goes_too(rich_candidate, central_manager):
    """allauth's « Adresses e-mail » and « Comptes sociaux » pages stay in the back office: their history rows are
    titled with the address or the identity of the person."""
    user = rich_candidate
    identity = SocialAccount.objects.create(user=user, provider="ent", uid="marie.dupont")
    others = CandidateUserFactory()
    rows = [
        (EmailAddress.objects.get(user=user), user.email),
        (identity, "ent: marie.dupont"),
        (EmailAddress.objects.get(user=others), others.email),
    ]
    for row, title in rows:
        LogEntry.objects.create(
            user=central_manager,
            content_type=ContentType.objects.get_for_model(row),
            object_id=str(row.pk),
            object_repr=title,
            action_flag=CHANGE,
            change_message="Vérifiée",
        )

    erasure.delete_candidate_account(user=user, actor=central_manager, everything=True, notify=False)

    assert list(LogEntry.objects.values_list("object_repr", flat=True)) == [others.email]
