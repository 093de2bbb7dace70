"""The candidates' accounts of the active campaign ("Comptes candidats", eCandidat's "Chercher candidat" on
accounts): the helpdesk finds the account of a candidate who has no dossier yet, and, for the central office and the
write role (GCA), changes its address or sends its validation link again."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import services as accounts_services
from accounts.models import CandidateAccount, User
from accounts.tests.factories import CandidateUserFactory, StaffMembershipFactory
from applications.enums import EventKind
from applications.models import ApplicationEvent, SavedFilter
from applications.services.dossier import staff_change_account_email
from applications.tests.factories import CandidateFactory
from applications.tests.factories_candidature import make_application
from ecandidat.batches import Report
from ecandidat.models import OutboundEmail
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:accounts_candidateaccount_changelist")
READERS = ["central_manager", "candidates_manager", "candidates_reader"]
OUTSIDERS = ["centre_manager", "other_centre_manager", "read_only_staff", "commission_member"]


@pytest.fixture(autouse=True)
def _no_rate_limit_history():
    cache.clear()  # allauth's limits live in the cache, per address
    yield
    cache.clear()


def _page(account):
    return reverse("admin:accounts_candidateaccount_change", args=[account.pk])


def _email_page(account):
    return reverse("admin:accounts_candidateaccount_account_email", args=[account.pk])


def _resend(account):
    return reverse("admin:accounts_candidateaccount_resend_validation", args=[account.pk])


@pytest.fixture
def newcomer(campaign):
    """An account whose état civil is not filled in: no dossier, the address not validated yet."""
    return CandidateUserFactory(
        campaign=campaign,
        first_name="Léa",
        last_name="Nouvelle",
        email="lea.nouvelle@example.org",
        verified_email=False,
    )


@pytest.fixture
def applicant(campaign, centre, commission):
    """An account with a dossier and an application, its address validated."""
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign).candidate


# --- the list --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", READERS)
@pytest.mark.parametrize("extra", [0, 4])
def test_the_list_shows_every_account_of_the_active_campaign_with_flat_queries(
    client, request, persona, extra, newcomer, applicant, campaign, django_assert_num_queries
):
    CandidateUserFactory(campaign=CampaignFactory(is_active=False), last_name="Ancien")
    for _index in range(extra):
        CandidateFactory(user=CandidateUserFactory(campaign=campaign, verified_email=False))
    client.force_login(request.getfixturevalue(persona))
    client.get(LIST)  # per-process memos warm

    # Session, user, scope, Django's permissions (2: the sidebar), the count, the page of rows, the savepoint pair.
    with django_assert_num_queries(9):
        response = client.get(LIST)

    assert response.status_code == 200
    rows = {account.pk: account for account in response.context["cl"].result_list}
    assert set(rows) == set(CandidateAccount.objects.filter(campaign=campaign).values_list("pk", flat=True))
    assert len(rows) == 2 + extra  # not the past campaign's, nor staff
    assert (rows[newcomer.pk].email_validated, rows[newcomer.pk].dossier_id) == (False, None)
    assert (rows[applicant.user_id].email_validated, rows[applicant.user_id].dossier_id) == (True, applicant.pk)
    html = response.content.decode()
    assert reverse("admin:applications_candidate_change", args=[applicant.pk]) in html
    assert newcomer.username in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "nouvelle"}, {"newcomer"}),  # the name typed at signup
        ({"q": "LEA.NOUVELLE@example"}, {"newcomer"}),  # the e-mail address
        ({"validated": "no"}, {"newcomer"}),
        ({"validated": "yes"}, {"applicant"}),
        ({"dossier": "no"}, {"newcomer"}),
        ({"dossier": "yes"}, {"applicant"}),
    ],
)
def test_search_and_filters(client, candidates_reader, newcomer, applicant, query, expected):
    accounts = {"newcomer": newcomer.pk, "applicant": applicant.user_id}
    client.force_login(candidates_reader)

    response = client.get(LIST, query)

    assert {account.pk for account in response.context["cl"].result_list} == {accounts[name] for name in expected}


def test_search_by_numero_de_dossier(client, candidates_manager, newcomer, applicant):
    client.force_login(candidates_manager)

    response = client.get(LIST, {"q": newcomer.username.lower()})

    assert [account.pk for account in response.context["cl"].result_list] == [newcomer.pk]


def test_a_filter_value_the_list_does_not_offer_shows_everything(client, candidates_reader, newcomer, applicant):
    client.force_login(candidates_reader)

    response = client.get(LIST, {"validated": "maybe", "dossier": "x"})

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 2


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_every_other_member_of_staff_gets_404(client, request, persona, newcomer):
    client.force_login(request.getfixturevalue(persona))
    pages = [LIST, _page(newcomer), reverse("admin:accounts_candidateaccount_history", args=[newcomer.pk])]

    answers = [client.get(url).status_code for url in pages]
    posts = [client.post(url).status_code for url in (_email_page(newcomer), _resend(newcomer))]

    assert answers + posts == [404] * 5
    index = client.get(reverse("admin:index"))
    assert "CandidateAccount" not in {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize("persona", READERS)
def test_the_readers_find_it_on_the_home(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse("admin:index"))

    assert "CandidateAccount" in {m["object_name"] for app in response.context["app_list"] for m in app["models"]}


def test_no_adding_nor_deleting_here(client, central_manager, newcomer):
    client.force_login(central_manager)

    add = client.get(reverse("admin:accounts_candidateaccount_add"))
    delete = client.post(reverse("admin:accounts_candidateaccount_delete", args=[newcomer.pk]), {"post": "yes"})

    assert (add.status_code, delete.status_code) == (404, 404)
    assert User.objects.filter(pk=newcomer.pk).exists()


def test_an_account_of_a_past_campaign_is_not_found(client, candidates_manager):
    past = CandidateUserFactory(campaign=CampaignFactory(is_active=False), verified_email=False)
    client.force_login(candidates_manager)

    assert (client.get(_page(past)).status_code, client.post(_resend(past)).status_code) == (404, 404)


# --- the account's page ----------------------------------------------------------------------------------------


def test_the_write_role_gets_the_two_helps_on_an_account_without_dossier(
    client, candidates_manager, newcomer, django_assert_num_queries
):
    client.force_login(candidates_manager)
    client.get(_page(newcomer))

    # Session, user, scope, the account, Django's permissions (2: the sidebar), the savepoint pair.
    with django_assert_num_queries(8):
        response = client.get(_page(newcomer))

    html = response.content.decode()
    assert response.status_code == 200
    assert _email_page(newcomer) in html
    assert _resend(newcomer) in html
    assert "None (personal details not filled in)" in html


def test_with_a_dossier_the_address_is_changed_from_the_dossier(client, candidates_manager, applicant):
    EmailAddress.objects.filter(user=applicant.user).update(verified=False)  # changed by staff, not validated yet
    client.force_login(candidates_manager)

    html = client.get(_page(applicant.user)).content.decode()

    assert reverse("admin:applications_candidate_account_email", args=[applicant.pk]) in html
    assert _resend(applicant.user) in html
    assert client.get(_email_page(applicant.user)).status_code == 404


def test_the_read_only_role_reads_it_and_acts_on_nothing(client, candidates_reader, newcomer):
    client.force_login(candidates_reader)

    html = client.get(_page(newcomer)).content.decode()
    answers = (
        client.post(_email_page(newcomer), {"email": "x@example.org", "email2": "x@example.org"}).status_code,
        client.post(_resend(newcomer)).status_code,
    )

    assert _email_page(newcomer) not in html
    assert _resend(newcomer) not in html
    assert answers == (404, 404)
    assert User.objects.get(pk=newcomer.pk).email == "lea.nouvelle@example.org"
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize("persona", ["central_manager", "candidates_manager"])
def test_the_address_of_an_account_without_dossier_is_changed_and_recorded(
    client, request, persona, newcomer, django_capture_on_commit_callbacks
):
    actor = request.getfixturevalue(persona)
    client.force_login(actor)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _email_page(newcomer), {"email": "lea.bonne@example.org", "email2": "lea.bonne@example.org"}
        )

    assert response.status_code == 302
    assert response["Location"] == _page(newcomer)
    address = EmailAddress.objects.get(user=newcomer)
    assert (address.email, address.verified) == ("lea.bonne@example.org", False)
    assert OutboundEmail.objects.filter(to="lea.bonne@example.org").exists()  # the validation link
    entry = LogEntry.objects.get(object_id=str(newcomer.pk))
    assert entry.content_type == ContentType.objects.get_for_model(CandidateAccount, for_concrete_model=False)
    assert entry.user_id == actor.pk
    assert "lea.nouvelle@example.org → lea.bonne@example.org" in entry.get_change_message()
    history = client.get(reverse("admin:accounts_candidateaccount_history", args=[newcomer.pk]))
    assert "lea.bonne@example.org" in history.content.decode()


TAKEN_REFUSAL = (
    "Another account of this campaign uses this address: nothing was changed, and its owner was not mailed."
)
STAFF_REFUSAL = (
    "This e-mail address belongs to a staff account: the candidate needs another one. Nothing was changed, and its "
    "owner was not mailed."
)


def test_an_address_used_by_another_account_is_refused_next_to_the_field(
    client, candidates_manager, newcomer, applicant, django_capture_on_commit_callbacks
):
    taken = applicant.user.email
    client.force_login(candidates_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_email_page(newcomer), {"email": taken, "email2": taken})

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [TAKEN_REFUSAL]}
    assert not LogEntry.objects.exists()
    assert not OutboundEmail.objects.exists()  # as the field says: its owner tried nothing, and hears nothing


def test_the_helpdesk_trying_an_address_again_and_again_mails_its_owner_nothing(
    client, candidates_manager, newcomer, campaign, django_capture_on_commit_callbacks
):
    """The finding: four attempts at an address another account uses (its spelling changed between two) mailed its
    owner four « CPT_MIN_MODIF_MAIL_EXISTE », without limit, while the agent read « rien n'a été modifié »."""
    CandidateUserFactory(campaign=campaign, email="thomas.lefevre@example.org")
    client.force_login(candidates_manager)

    for typed in ["thomas.lefevre@example.org", "Thomas.Lefevre@example.org"] * 2:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(_email_page(newcomer), {"email": typed, "email2": typed})
        assert response.context["form"].errors == {"email": [TAKEN_REFUSAL]}

    assert not OutboundEmail.objects.exists()
    newcomer.refresh_from_db()
    assert newcomer.email == "lea.nouvelle@example.org"


def test_a_staff_address_is_refused_with_its_reason_next_to_the_field(
    client, candidates_manager, central_manager, newcomer, django_assert_num_queries
):
    """The helpdesk is told why (staff, no enumeration to fear): the candidate needs another address, not « another
    account of this campaign »; and that the staff member was not mailed (they were, at each attempt)."""
    client.force_login(candidates_manager)

    # The refused page, with whose address it is: the account's campaign, then the owners (one query, a union); the
    # account locked and its address read before the change (a double submit records it once). No mail to the
    # owner: neither its text (the back office's) nor its outbox row (19 queries when it went).
    with django_assert_num_queries(17):
        response = client.post(
            _email_page(newcomer), {"email": central_manager.email.upper(), "email2": central_manager.email.upper()}
        )

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [STAFF_REFUSAL]}
    newcomer.refresh_from_db()
    assert newcomer.email == "lea.nouvelle@example.org"
    assert not LogEntry.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_an_address_taken_at_the_same_moment_is_refused_next_to_the_field(
    client, candidates_manager, newcomer, campaign, mocker, django_capture_on_commit_callbacks
):
    """Another account took the address between the check and the save: the campaign's unique constraint refuses
    it, and the helpdesk reads why beside the field (its owner is not mailed, as when the check sees it), not a
    500."""
    CandidateUserFactory(campaign=campaign, email="double@example.org")
    mocker.patch.object(accounts_services, "email_taken_in_campaign", return_value=False)  # ran before the save
    client.raise_request_exception = False  # a 500 is answered, as in production
    client.force_login(candidates_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_email_page(newcomer), {"email": "double@example.org", "email2": "double@example.org"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [TAKEN_REFUSAL]}
    newcomer.refresh_from_db()
    assert newcomer.email == "lea.nouvelle@example.org"
    assert not LogEntry.objects.exists()
    assert not OutboundEmail.objects.exists()


# --- the nightly purge of unvalidated accounts -----------------------------------------------------------------


def test_the_purge_keeps_a_paper_account_whose_address_was_corrected_and_deletes_the_others(
    campaign, time_machine, django_capture_on_commit_callbacks
):
    """A paper application's account (created by staff, its dossier protects it) whose address the helpdesk
    corrected, never validated: the purge keeps it, and deletes the other unvalidated accounts of the same run."""
    helpdesk = StaffMembershipFactory(candidates_manager=True).user
    with django_capture_on_commit_callbacks(execute=True):
        account = accounts_services.create_candidate_account(
            email="papier@example.org", first_name="Paul", last_name="Papier", actor=helpdesk
        )
    CandidateFactory(user=account)
    with django_capture_on_commit_callbacks(execute=True):
        staff_change_account_email(account=account, new_email="corrigee@example.org", actor=helpdesk)
    forgotten = CandidateUserFactory(campaign=campaign, verified_email=False)
    time_machine.move_to(timezone.now() + datetime.timedelta(days=6))

    assert accounts_services.purge_unvalidated_accounts(dry_run=True) == 1
    assert accounts_services.purge_unvalidated_accounts() == 1

    assert User.objects.filter(pk=account.pk).exists()
    assert not User.objects.filter(pk=forgotten.pk).exists()


def test_an_account_another_row_protects_is_kept_and_reported_the_others_go(campaign, time_machine):
    """Whatever row protects an account (here a saved filter, which only staff have), that account is kept and
    named in the batch's report; the purge goes on with the others instead of failing whole every night."""
    protected, _forgotten, _also_forgotten = (
        CandidateUserFactory(campaign=campaign, verified_email=False) for _ in range(3)
    )
    SavedFilter.objects.create(user=protected, label="Mes candidatures")
    time_machine.move_to(timezone.now() + datetime.timedelta(days=6))
    report = Report()

    assert accounts_services.purge_unvalidated_accounts(report=report) == 2

    assert list(User.objects.filter(campaign=campaign)) == [protected]
    assert report.counts["accounts kept"] == 1
    assert report.errors == [f"unvalidated account {protected.pk} kept: still referenced (SavedFilter)"]


# --- the validation link, again --------------------------------------------------------------------------------


def test_the_write_role_resends_the_validation_link_through_the_outbox(
    client, candidates_manager, newcomer, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(candidates_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_resend(newcomer))

    assert response.status_code == 302
    assert response["Location"] == _page(newcomer)
    (email,) = OutboundEmail.objects.all()
    assert (email.code, email.to) == ("CPT_MIN_CREATE", "lea.nouvelle@example.org")  # never logged in: the first mail
    assert newcomer.username in mailoutbox[0].body  # the numéro de dossier, and the link
    entry = LogEntry.objects.get(object_id=str(newcomer.pk))
    with translation.override(settings.LANGUAGE_CODE):  # in the institution's language, as the dossiers' history
        said = gettext("Validation link sent again to %(email)s") % {"email": "lea.nouvelle@example.org"}
    assert (entry.user_id, entry.get_change_message()) == (candidates_manager.pk, said)
    assert not EmailAddress.objects.get(user=newcomer).verified


def test_an_account_that_logged_in_before_gets_the_address_change_mail(
    client, central_manager, applicant, django_capture_on_commit_callbacks
):
    account = applicant.user
    User.objects.filter(pk=account.pk).update(last_login="2026-11-02T10:00:00Z")
    EmailAddress.objects.filter(user=account).update(verified=False)
    client.force_login(central_manager)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(_resend(account))

    assert list(OutboundEmail.objects.values_list("code", "to")) == [("CPT_MIN_MODIF_MAIL", account.email)]
    assert not ApplicationEvent.objects.filter(kind=EventKind.DOSSIER_CHANGED_BY_STAFF).exists()  # no dossier change


def test_the_link_is_limited_as_allauth_limits_it(
    client, candidates_manager, newcomer, django_capture_on_commit_callbacks
):
    client.force_login(candidates_manager)

    with django_capture_on_commit_callbacks(execute=True):
        for _attempt in range(4):
            response = client.post(_resend(newcomer), follow=True)

    assert OutboundEmail.objects.count() == 3  # ACCOUNT_RATE_LIMITS["confirm_email"]: 3 per address in 10 minutes
    assert LogEntry.objects.count() == 3
    assert "several times" in [str(m) for m in response.context["messages"]][-1]


def test_a_validated_address_gets_no_link(client, candidates_manager, applicant):
    client.force_login(candidates_manager)

    html = client.get(_page(applicant.user)).content.decode()
    response = client.post(_resend(applicant.user), follow=True)

    assert _resend(applicant.user) not in html
    assert [str(m) for m in response.context["messages"]] == ["The address of this account is already validated."]
    assert not OutboundEmail.objects.exists()
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(("persona", "offered"), [("candidates_reader", True), ("centre_manager", False)])
def test_the_candidates_list_leads_to_the_accounts(client, request, persona, offered, applicant):
    client.force_login(request.getfixturevalue(persona))

    html = client.get(reverse("admin:applications_candidate_changelist")).content.decode()

    assert (LIST in html) is offered
