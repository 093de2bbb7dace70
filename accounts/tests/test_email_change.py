"""Issue 3: change of e-mail address, re-validated by a link; the candidate is logged out until then."""

import datetime
import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import CandidateAccount
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.personas import PASSWORD
from ecandidat.emails import resend_emails
from ecandidat.models import OutboundEmail
from offers.tests.factories import CampaignFactory

NEW = "nouvelle.adresse@example.org"
WARNING = (
    "Warning, once you have modified your account, you will be logged out. You will have to check your e-mail to "
    "validate your address, then you will be able to log in again."
)


def _link(body: str) -> str:
    return re.search(r"https?://\S+", body).group(0)


def test_page_shows_the_guide_warning_and_fields(client, candidate_user, django_assert_num_queries):
    client.force_login(candidate_user)
    # session, user, request savepoint ×2 (the session is not written: refreshed at login)
    with django_assert_num_queries(4):
        response = client.get(reverse("accounts:email_change"))
    assert response.status_code == 200
    html = response.content.decode()
    assert WARNING in html
    assert "E-mail address *" in html
    assert "E-mail address confirmation *" in html
    assert candidate_user.email in html
    assert "Cancel" in html
    assert "Save" in html


def test_anonymous_goes_to_login(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("accounts:email_change"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member", "central_manager"])
def test_staff_personas_are_refused(client, persona, request, django_assert_num_queries):
    client.force_login(request.getfixturevalue(persona))
    with django_assert_num_queries(5):  # session, user, request savepoint rolled back ×3, session save ×3
        response = client.post(reverse("accounts:email_change"), {"email": NEW, "email2": NEW})
    assert response.status_code == 403
    assert not OutboundEmail.objects.exists()


def test_change_replaces_address_mails_link_and_logs_out(
    client,
    candidate_user,
    other_candidate_user,
    mailoutbox,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    client.force_login(candidate_user)
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(27):
        # session, user, request savepoint, service savepoint, locked user + campaign, address taken?, the change's
        # savepoint, the former address kept, its unsent mails (address shared?, moved), addresses, confirmations and
        # address deleted, user updated, release, new address, back-office mail
        # text?, outbox row, the notice to the former address (back-office mail text?, outbox row), the account's
        # history (a dossier?, the content type, the line), release, logout (session read, deleted), release
        response = client.post(reverse("accounts:email_change"), {"email": NEW, "email2": NEW.upper()})
    assert response.status_code == 302
    assert response.url == reverse("accounts:email_change_done")
    assert "_auth_user_id" not in client.session

    candidate_user.refresh_from_db()
    assert candidate_user.email == NEW
    address = EmailAddress.objects.get(user=candidate_user)
    assert (address.email, address.primary, address.verified) == (NEW, True, False)
    other_candidate_user.refresh_from_db()
    assert EmailAddress.objects.get(user=other_candidate_user).verified  # nobody else touched

    row = OutboundEmail.objects.get(code="CPT_MIN_MODIF_MAIL")
    assert row.to == NEW
    assert len(mailoutbox) == 2  # and the notice to the former address (test_email_change_notice)
    assert mailoutbox[0].to == [NEW]
    assert candidate_user.username in mailoutbox[0].body

    response = client.get(response.url)
    assert response.status_code == 200
    assert "Check your e-mail" in response.content.decode()

    # Logged out until validated: the password alone no longer opens the account.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_login"), {"login": candidate_user.username, "password": PASSWORD})
    assert response.url == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session

    response = client.post(_link(mailoutbox[0].body))
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=candidate_user).verified
    response = client.post(reverse("account_login"), {"login": NEW, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(candidate_user.pk)


def test_address_of_the_campaign_is_refused_neutrally(
    client,
    candidate_user,
    other_candidate_user,
    mailoutbox,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    taken = other_candidate_user.email.upper()
    client.force_login(candidate_user)
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(13):
        # session, user, request savepoint, service savepoint, locked user + campaign, address taken?, its owner's
        # language, back-office mail text?, outbox row, release, logout (session read, deleted), release
        response = client.post(reverse("accounts:email_change"), {"email": taken, "email2": taken})
    # The same answer as a change: logged out, "check your e-mail".
    assert response.status_code == 302
    assert response.url == reverse("accounts:email_change_done")
    assert "_auth_user_id" not in client.session

    old = candidate_user.email
    candidate_user.refresh_from_db()
    assert candidate_user.email == old
    assert EmailAddress.objects.get(user=candidate_user).email == old
    assert EmailAddress.objects.get(user=candidate_user).verified
    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_MODIF_MAIL_EXISTE", taken.lower())  # as addresses are stored
    # In its owner's language (no dossier: the institution's), not the English of the candidate who typed it.
    assert (row.language, "l'utilise déjà" in mailoutbox[0].body) == ("fr", True)
    assert "/accounts/password/reset/" in mailoutbox[0].body


def test_address_taken_at_the_same_moment_is_refused_neutrally(
    client, campaign, candidate_user, mocker, mailoutbox, django_capture_on_commit_callbacks
):
    """Two candidates changing to the same address at once: the second checked it free before the first saved it;
    the campaign's unique constraint refuses the save, and the answer is the refusal's (its owner mailed), not a
    500."""
    CandidateUserFactory(campaign=campaign, email="double@example.org")
    mocker.patch.object(services, "email_taken_in_campaign", return_value=False)  # the check ran before the save
    client.raise_request_exception = False  # a 500 is answered, as in production
    client.force_login(candidate_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:email_change"), {"email": "double@example.org", "email2": "double@example.org"}
        )

    assert response.status_code == 302
    assert response.url == reverse("accounts:email_change_done")
    old = candidate_user.email
    candidate_user.refresh_from_db()
    assert candidate_user.email == old
    assert EmailAddress.objects.get(user=candidate_user).email == old
    assert EmailAddress.objects.get(user=candidate_user).verified
    assert not candidate_user.previous_email_addresses.exists()
    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_MODIF_MAIL_EXISTE", "double@example.org")
    assert mailoutbox[0].to == ["double@example.org"]


def test_the_owner_of_an_address_is_mailed_as_often_as_signup_mails_them(
    client, candidate_user, other_candidate_user, django_capture_on_commit_callbacks
):
    """A loop of log in / change to another candidate's address: the same answer every time, but its owner gets at
    most allauth's ``confirm_email`` limit of mails (3 per address in 10 minutes), as from signup."""
    taken = other_candidate_user.email
    responses = []
    with django_capture_on_commit_callbacks(execute=True):
        for _attempt in range(10):
            client.force_login(candidate_user)
            responses.append(client.post(reverse("accounts:email_change"), {"email": taken, "email2": taken}))

    assert {(response.status_code, response.url) for response in responses} == {
        (302, reverse("accounts:email_change_done"))
    }
    assert OutboundEmail.objects.filter(code="CPT_MIN_MODIF_MAIL_EXISTE", to=taken).count() == 3
    assert OutboundEmail.objects.count() == 3


def test_address_of_a_past_campaign_is_accepted_and_released_on_validation(
    client, candidate_user, mailoutbox, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    past = CampaignFactory(starts_on=today - datetime.timedelta(400), ends_on=today - datetime.timedelta(200))
    last_year = CandidateUserFactory(campaign=past, email=NEW)
    client.force_login(candidate_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:email_change"), {"email": NEW, "email2": NEW})
    candidate_user.refresh_from_db()
    assert candidate_user.email == NEW
    client.post(_link(mailoutbox[0].body))
    assert EmailAddress.objects.get(user=candidate_user).verified
    assert not EmailAddress.objects.get(user=last_year).verified


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": NEW, "email2": "autre@example.org"}, "email2", "The two e-mail addresses are different."),
        ({"email": "pas-une-adresse", "email2": "pas-une-adresse"}, "email", "Enter a valid email address."),
        ({"email": "", "email2": ""}, "email", "This field is required."),
    ],
)
def test_bad_input_is_shown_at_the_field(client, candidate_user, data, field, message, django_assert_num_queries):
    client.force_login(candidate_user)
    with django_assert_num_queries(4):  # as the page: nothing written
        response = client.post(reverse("accounts:email_change"), data)
    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    assert data["email"] in response.content.decode()  # nothing lost
    assert client.session["_auth_user_id"] == str(candidate_user.pk)
    assert not OutboundEmail.objects.exists()


def test_same_address_is_refused_at_the_field(client, candidate_user):
    client.force_login(candidate_user)
    response = client.post(
        reverse("accounts:email_change"), {"email": candidate_user.email, "email2": candidate_user.email}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["This is already the e-mail address of your account."]
    assert client.session["_auth_user_id"] == str(candidate_user.pk)


def test_service_returns_whether_the_address_changed(
    candidate_user, other_candidate_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert services.change_email(user=candidate_user, new_email=f" {NEW} ", actor=candidate_user) is True
        assert (
            services.change_email(user=candidate_user, new_email=other_candidate_user.email, actor=candidate_user)
            is False
        )
    candidate_user.refresh_from_db()
    assert candidate_user.email == NEW
    assert list(OutboundEmail.objects.order_by("pk").values_list("code", flat=True)) == [
        "CPT_MIN_MODIF_MAIL",
        "CPT_MIN_MODIF_MAIL_ANCIEN",  # the changed address's notice to the former one
        "CPT_MIN_MODIF_MAIL_EXISTE",
    ]


def _mail(to: str, status: str) -> OutboundEmail:
    sent_at = timezone.now() if status == OutboundEmail.Status.SENT else None
    return OutboundEmail.objects.create(
        code="CANDIDATURE_RELANCE_FAVO",
        language="fr",
        to=to,
        subject="Relance",
        body="Confirmez.",
        status=status,
        sent_at=sent_at,
    )


def test_the_mails_that_did_not_leave_follow_the_corrected_address(
    candidate_user, central_manager, mailoutbox, django_capture_on_commit_callbacks
):
    """The server refused the address for good; the helpdesk corrects it, then resends: the mail reaches the new
    address (the resend went to the wrong one again)."""
    old = candidate_user.email
    refused = _mail(old, OutboundEmail.Status.FAILED)
    retrying = _mail(old, OutboundEmail.Status.PENDING)
    sent = _mail(old, OutboundEmail.Status.SENT)

    services.change_email(user=candidate_user, new_email=NEW, actor=central_manager)

    assert [OutboundEmail.objects.get(pk=row.pk).to for row in (refused, retrying, sent)] == [NEW, NEW, old]
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        resend_emails(emails=[refused], actor=central_manager)
    assert [message.to for message in mailoutbox if message.subject == "Relance"] == [[NEW]]


def test_mails_to_an_address_another_active_account_has_stay(candidate_user, central_manager):
    """The outbox does not say whose mail a row is: with a staff member sharing the address, none is moved."""
    type(central_manager).objects.filter(pk=central_manager.pk).update(email=candidate_user.email)
    refused = _mail(candidate_user.email, OutboundEmail.Status.FAILED)

    services.change_email(user=candidate_user, new_email=NEW, actor=central_manager)

    assert OutboundEmail.objects.get(pk=refused.pk).to == refused.to


# --- the account's history -----------------------------------------------------------------------------------------

OWN_CHANGE = "Adresse mail du compte : {old} → {new} (modifiée par le candidat, à valider par le lien envoyé)"


def _history(account) -> list[tuple[int, str]]:
    """The lines of ``account``'s history in « Comptes candidats »: (their author, their words)."""
    rows = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(CandidateAccount, for_concrete_model=False),
        object_id=str(account.pk),
    )
    return [(row.user_id, row.get_change_message()) for row in rows.order_by("pk")]


def test_the_candidates_own_change_is_in_the_accounts_history(
    client, candidate_user, candidates_manager, django_capture_on_commit_callbacks
):
    """The finding: the helpdesk saw an address to validate and logins only, nothing saying that the candidate had
    just replaced a validated address, nor which. The line says it, by the candidate, in the institution's language
    (the candidate's page is in English), in the words of the helpdesk's own change."""
    old = candidate_user.email
    client.force_login(candidate_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:email_change"), {"email": NEW.upper(), "email2": NEW})

    assert response.status_code == 302
    assert _history(candidate_user) == [(candidate_user.pk, OWN_CHANGE.format(old=old, new=NEW))]
    helpdesk = type(client)()
    helpdesk.force_login(candidates_manager)
    page = helpdesk.get(reverse("admin:accounts_candidateaccount_history", args=[candidate_user.pk]))
    assert page.status_code == 200
    assert OWN_CHANGE.format(old=old, new=NEW) in page.content.decode()


def test_a_refused_or_repeated_own_change_writes_no_more(
    candidate_user, other_candidate_user, django_capture_on_commit_callbacks
):
    """A refused address changes nothing, so nothing is written; the same change submitted twice is written once."""
    old = candidate_user.email
    with django_capture_on_commit_callbacks(execute=True):
        services.change_email(user=candidate_user, new_email=other_candidate_user.email, actor=candidate_user)
        assert _history(candidate_user) == []
        for _submit in range(2):
            assert services.change_email(user=candidate_user, new_email=NEW, actor=candidate_user) is True

    assert _history(candidate_user) == [(candidate_user.pk, OWN_CHANGE.format(old=old, new=NEW))]


def test_the_helpdesks_change_is_written_by_its_page_not_twice(candidate_user, candidates_manager):
    """The service writes the candidate's own change only: the helpdesk's page writes staff's, in its own words."""
    services.change_email(user=candidate_user, new_email=NEW, actor=candidates_manager)

    assert _history(candidate_user) == []
