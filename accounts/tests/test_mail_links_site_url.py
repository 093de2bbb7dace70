"""Review finding: the links of the account mails were built from the Host of the request that sent them (allauth's
``build_absolute_uri``), not from ``SITE_URL``. Any name of ``ALLOWED_HOSTS`` would do: an anonymous « J'ai oublié
mes identifiants » posted with ``Host: 10.0.0.5`` mailed the candidate a reset link to https://10.0.0.5/..., a
helpdesk agent on the back office's intranet name sent the validation links to that name (with a wildcard
``ALLOWED_HOSTS``, a reset link to the attacker's own host: the account taken over). Outside a request (the helpdesk's
services, a shell, a task) they fell back on the sites framework's row: http://example.com/...

Every link of these mails is now on SITE_URL (``ecandidat.absolute_urls.absolute_url``), whatever the Host.
"""

import re

import pytest
from django.urls import reverse

from accounts import services
from accounts.staff_enrolment import mail_enrolment_link
from accounts.tests.factories import CandidateUserFactory
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

SITE = "https://ecandidat.example.org"
NODE = "10.0.0.5"  # a name of ALLOWED_HOSTS that is not the public one (a node's address)
INTRANET = "gestion.intranet.univ.example"  # the back office's intranet name
SIGNUP = {"last_name": "Durand", "first_name": "Estelle"}


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["ecandidat.example.org", NODE, INTRANET, "testserver"]


def _links(mail: OutboundEmail) -> list[str]:
    return re.findall(r"https?://\S+", mail.body)


def _only_on_site(mail: OutboundEmail) -> list[str]:
    """The mail's links, each on SITE_URL (none on the request's host, nor the sites framework's example.com); their
    paths."""
    links = _links(mail)
    assert links, mail.body
    assert all(link.startswith(SITE + "/") for link in links), links
    for host in (NODE, INTRANET, "example.com"):
        assert host not in mail.body
    return [link.removeprefix(SITE) for link in links]


def _path_before(urlname: str, *args: str) -> str:
    """The path of ``urlname`` up to its arguments (a key changes at every mail)."""
    return reverse(urlname, args=args).removesuffix("/".join(args) + "/")


# --- from a request, on another name of ALLOWED_HOSTS ---------------------------------------------------------------


def test_the_forgotten_credentials_link_is_on_site_url_whatever_the_host_posted(
    client, candidate_user, django_assert_num_queries
):
    # savepoint, the accounts of the address, its EmailAddress rows (2, allauth), the campaign (may they log in?),
    # the mail's text in the back office?, outbox row, release: as from the public name (no query builds the link)
    with django_assert_num_queries(8):
        response = client.post(reverse("account_reset_password"), {"email": candidate_user.email}, HTTP_HOST=NODE)

    assert response.status_code == 302
    mail = OutboundEmail.objects.get()
    assert mail.code == "CPT_MIN_ID_OUBLIE"
    [path] = _only_on_site(mail)
    assert path.startswith("/accounts/password/reset/key/")
    # The link still works: allauth's key (the account in base 36, then the token) where its page reads it.
    assert client.get(path).status_code == 302


def test_the_unknown_address_mail_sends_to_the_signup_on_site_url(client, db, django_assert_num_queries):
    # savepoint, the accounts of the address (none), the mail's text in the back office?, outbox row, release
    with django_assert_num_queries(5):
        response = client.post(reverse("account_reset_password"), {"email": "inconnu@example.org"}, HTTP_HOST=NODE)

    assert response.status_code == 302
    mail = OutboundEmail.objects.get()
    assert mail.code == "CPT_MIN_INCONNU"
    assert _only_on_site(mail) == [reverse("account_signup")]


def test_an_ent_account_is_mailed_the_login_page_on_site_url(client, ent_candidate, settings):
    settings.ENT_ACCOUNTS_PASSWORD = False  # ENT students have no password: the way in, not a link

    client.post(reverse("account_reset_password"), {"email": ent_candidate.email}, HTTP_HOST=NODE)

    mail = OutboundEmail.objects.get()
    assert mail.code == "CPT_MIN_ID_OUBLIE_ENT"
    assert _only_on_site(mail) == [reverse("account_login")]


def test_the_signup_validation_link_is_on_site_url(client, campaign, django_assert_num_queries):
    email = "estelle.durand@example.org"

    # savepoint, the campaign (3: signup open?, the form's, the account's), address taken?, the numéro de dossier
    # (free?, recorded, 3 with its savepoint), the account, allauth's checks and the address (4), savepoint and
    # release, allauth's look at the address (2) and the account, the mail (text, outbox row), the session (exists?,
    # written, 3 with its savepoint), release
    with django_assert_num_queries(26):
        response = client.post(reverse("account_signup"), {**SIGNUP, "email": email, "email2": email}, HTTP_HOST=NODE)

    assert response.status_code == 302
    mail = OutboundEmail.objects.get()
    assert mail.code == "CPT_MIN_CREATE"
    [path] = _only_on_site(mail)
    assert path.startswith(_path_before("account_confirm_email", "KEY"))
    assert "Validate" in client.get(path).content.decode()


def test_a_signup_with_a_taken_address_tells_its_owner_on_site_url(client, candidate_user):
    email = candidate_user.email

    client.post(reverse("account_signup"), {**SIGNUP, "email": email, "email2": email}, HTTP_HOST=NODE)

    mail = OutboundEmail.objects.get()
    assert (mail.code, mail.to) == ("CPT_MIN_EXISTE", email)
    assert _only_on_site(mail) == [reverse("account_reset_password")]


def test_a_signup_with_a_staff_address_tells_its_owner_on_site_url(client, campaign, central_manager):
    email = central_manager.email

    client.post(reverse("account_signup"), {**SIGNUP, "email": email, "email2": email}, HTTP_HOST=NODE)

    mail = OutboundEmail.objects.get()
    assert (mail.code, mail.to) == ("CPT_MIN_EXISTE", email)
    assert _only_on_site(mail) == [reverse("account_reset_password")]


def test_the_helpdesk_on_the_intranet_name_resends_a_validation_link_on_site_url(
    client, candidates_manager, campaign, django_assert_num_queries
):
    account = CandidateUserFactory(campaign=campaign, email="lea.nouvelle@example.org", verified_email=False)
    client.force_login(candidates_manager)
    url = reverse("admin:accounts_candidateaccount_resend_validation", args=[account.pk])

    # session, user, savepoint, scope, the account, savepoint, the locked account, its address, the account's
    # language, the account (allauth), the mail's text, outbox row, release, history (content type, row), release
    with django_assert_num_queries(16):
        response = client.post(url, HTTP_HOST=INTRANET)

    assert response.status_code == 302
    mail = OutboundEmail.objects.get()
    assert mail.code == "CPT_MIN_CREATE"
    [path] = _only_on_site(mail)
    assert path.startswith(_path_before("account_confirm_email", "KEY"))


# --- outside a request (the services, a shell, a task) --------------------------------------------------------------


def test_a_validation_link_sent_again_outside_a_request_is_on_site_url(campaign, candidates_manager):
    account = CandidateUserFactory(campaign=campaign, verified_email=False)

    services.resend_email_validation(user=account, actor=candidates_manager)

    [path] = _only_on_site(OutboundEmail.objects.get(code="CPT_MIN_CREATE"))
    assert path.startswith(_path_before("account_confirm_email", "KEY"))


def test_an_address_changed_outside_a_request_is_validated_on_site_url(candidate_user, candidates_manager):
    services.change_email(user=candidate_user, new_email="estelle.nouvelle@example.org", actor=candidates_manager)

    [path] = _only_on_site(OutboundEmail.objects.get(code="CPT_MIN_MODIF_MAIL"))
    assert path.startswith(_path_before("account_confirm_email", "KEY"))


def test_an_address_change_refused_outside_a_request_tells_its_owner_on_site_url(
    campaign, candidate_user, other_candidate_user, candidates_manager
):
    changed = services.change_email(
        user=candidate_user, new_email=other_candidate_user.email, actor=candidates_manager
    )

    assert changed is False
    assert _only_on_site(OutboundEmail.objects.get(code="CPT_MIN_MODIF_MAIL_EXISTE")) == [
        reverse("account_reset_password")
    ]


def test_a_staff_enrolment_link_mailed_outside_a_request_is_on_site_url(centre_manager, central_manager):
    mail_enrolment_link(user=centre_manager, actor=central_manager)

    [path] = _only_on_site(OutboundEmail.objects.get(code="STAFF_ENROLMENT"))
    assert path.startswith(_path_before("accounts:staff_enrolment_link", "SECRET"))
