import datetime
import re
from html.parser import HTMLParser

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import NumeroDossierHistory, User
from accounts.tests.factories import CandidateUserFactory
from ecandidat.models import OutboundEmail
from ecandidat.parameters import set_parameters
from offers.tests.factories import CampaignFactory

SIGNUP = {
    "last_name": "Durand",
    "first_name": "Estelle",
    "email": "estelle.durand@example.org",
    "email2": "estelle.durand@example.org",
}


def _link(body: str) -> str:
    return re.search(r"https?://\S+", body).group(0)


def test_signup_page(client, campaign, django_assert_num_queries):
    with django_assert_num_queries(4):  # savepoint, active campaign, site, release
        response = client.get(reverse("account_signup"))
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Last name *", "First name *", "E-mail address *", "E-mail address confirmation *"):
        assert label in html
    assert "Cancel" in html
    assert "Save" in html
    assert "password" not in html.lower().replace("forgot", "")


def test_signup_creates_account_and_mails_numero_then_link_sets_password(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")

    user = User.objects.get(email="estelle.durand@example.org")
    assert user.campaign == campaign
    assert re.fullmatch(r"[A-Z0-9]{8}", user.username)
    assert NumeroDossierHistory.objects.filter(numero=user.username).exists()
    assert not user.has_usable_password()
    assert (user.first_name, user.last_name) == ("Estelle", "Durand")

    outbox_row = OutboundEmail.objects.get()
    assert outbox_row.code == "CPT_MIN_CREATE"
    assert outbox_row.to == "estelle.durand@example.org"
    assert outbox_row.status == OutboundEmail.Status.SENT
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject == "Creation of your eCandidat account"
    assert f"Your identifier (dossier number): {user.username}" in mail.body  # in English, no French term
    assert "numéro" not in mail.body
    assert "If this link is not clickable, copy/paste it into your browser." in mail.body
    assert "password" not in mail.body.split("http")[0].lower().replace("choose your password", "")

    # Before validation: no login possible (no password yet, address not validated).
    link = _link(mail.body)
    response = client.get(link)
    assert response.status_code == 200
    assert "Validate" in response.content.decode()
    response = client.post(link)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    # The validation leads to choosing the password (allauth's reset-from-key page, single-use token).
    response = client.get(response.url)
    assert response.status_code == 302
    response = client.post(response.url, {"password1": "court", "password2": "court"})
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    good = "une-phrase-de-passe-solide"
    response = client.post(response.request["PATH_INFO"], {"password1": good, "password2": good})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(good)

    # The link is single-use.
    response = client.get(link)
    assert response.status_code == 200
    assert "expired or has already been used" in response.content.decode()
    assert client.post(link).status_code == 404

    # Login with the numéro de dossier, then with the e-mail address.
    response = client.post(reverse("account_login"), {"login": user.username, "password": good})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    client.logout()
    response = client.post(reverse("account_login"), {"login": "Estelle.Durand@example.org", "password": good})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_signup_mismatched_addresses(client, campaign, mailoutbox):
    response = client.post(reverse("account_signup"), {**SIGNUP, "email2": "autre@example.org"})
    assert response.status_code == 200
    assert "The two e-mail addresses are different." in response.content.decode()
    assert 'value="Durand"' in response.content.decode()  # nothing lost
    assert not User.objects.exists()
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize("field", ["last_name", "first_name", "email", "email2"])
def test_signup_required_fields(client, campaign, field):
    response = client.post(reverse("account_signup"), {**SIGNUP, field: ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("last_name", "DURAND\u202eFDP"), ("first_name", "Estelle\r\nBcc: x")])
def test_signup_refuses_invisible_control_characters_in_names(
    client, campaign, field, value, django_assert_num_queries
):
    """Regression (hostile-input audit, 2026-12-03): a right-to-left override or a forged line break was stored in
    the account's name, then written into its mails."""
    with django_assert_num_queries(6):  # as a refused confirmation address (below): nothing written
        response = client.post(reverse("account_signup"), {**SIGNUP, field: value})

    assert response.status_code == 200
    (message,) = response.context["form"].errors[field]
    assert message.startswith("This text contains an invisible character")
    assert not User.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_signup_duplicate_address_in_campaign_reveals_nothing(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks
):
    existing = CandidateUserFactory(campaign=campaign, email="estelle.durand@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_signup"),
            {**SIGNUP, "email": "ESTELLE.durand@example.org"} | {"email2": "ESTELLE.durand@example.org"},
        )
    # The same neutral page as a real signup...
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert list(User.objects.all()) == [existing]
    # ...and the owner of the address is told.
    row = OutboundEmail.objects.get()
    assert row.code == "CPT_MIN_EXISTE"
    assert mailoutbox[0].to == ["estelle.durand@example.org"]


def test_signup_posted_twice_at_once_takes_the_path_of_an_address_already_used(
    client, campaign, mocker, mailoutbox, django_capture_on_commit_callbacks
):
    """A double click on « Créer un compte »: the second request checked the address free before the first saved its
    account; the campaign's unique constraint refuses the insert, and the answer is the neutral page, not a 500."""
    first = CandidateUserFactory(campaign=campaign, email="double@example.org", verified_email=False)
    mocker.patch.object(services, "email_taken_in_campaign", return_value=False)  # the check ran before the save
    client.raise_request_exception = False  # a 500 is answered, as in production

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_signup"), {**SIGNUP, "email": "double@example.org", "email2": "double@example.org"}
        )

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert list(User.objects.all()) == [first]
    assert not NumeroDossierHistory.objects.exclude(numero=first.username).exists()  # no number drawn for nothing
    assert [row.code for row in OutboundEmail.objects.all()] == ["CPT_MIN_EXISTE"]
    assert mailoutbox[0].to == ["double@example.org"]


def test_signup_same_address_allowed_in_new_campaign(db, client, mailoutbox, django_capture_on_commit_callbacks):
    old_campaign = CampaignFactory(
        is_active=False,
        starts_on=timezone.localdate() - datetime.timedelta(days=400),
        ends_on=timezone.localdate() - datetime.timedelta(days=200),
    )
    old = CandidateUserFactory(campaign=old_campaign, email="estelle.durand@example.org")
    campaign = CampaignFactory(is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == 302
    new = User.objects.get(campaign=campaign)
    assert new.username != old.username
    response = client.post(_link(mailoutbox[0].body))
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=new).verified
    # The old account's address is handed over: it could not log in anyway.
    assert not EmailAddress.objects.get(user=old).verified


@pytest.mark.parametrize(
    ("is_active", "starts", "ends", "message"),
    [
        (False, -10, 10, "No admissions campaign is open"),
        (True, -100, -1, "The campaign is closed to candidates"),
        (True, 3, 100, "The campaign opens to candidates on"),
    ],
)
def test_signup_refused_when_campaign_not_open(db, client, is_active, starts, ends, message):
    today = timezone.localdate()
    CampaignFactory(
        is_active=is_active,
        starts_on=today + datetime.timedelta(days=starts),
        ends_on=today + datetime.timedelta(ends),
    )
    response = client.get(reverse("account_signup"))
    assert response.status_code == 200
    assert message in response.content.decode()
    response = client.post(reverse("account_signup"), SIGNUP)
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_expired_validation_link(client, campaign, mailoutbox, django_capture_on_commit_callbacks, time_machine):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_signup"), SIGNUP)
    link = _link(mailoutbox[0].body)
    time_machine.move_to(datetime.datetime.now().astimezone() + datetime.timedelta(days=6))
    assert "expired or has already been used" in client.get(link).content.decode()
    assert client.post(link).status_code == 404
    assert not EmailAddress.objects.get().verified


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        if tag == "input" and named.get("name"):
            self.inputs[named["name"]] = named


def _inputs(html: str) -> dict[str, dict[str, str | None]]:
    parser = _Inputs()
    parser.feed(html)
    return parser.inputs


def test_signup_fields_name_their_purpose(client, campaign):
    # WCAG 1.3.5: autocomplete tokens on every personal field, e-mail fields typed as such.
    html = client.get(reverse("account_signup")).content.decode()
    inputs = _inputs(html)

    assert inputs["last_name"]["autocomplete"] == "family-name"
    assert inputs["first_name"]["autocomplete"] == "given-name"
    for name in ("email", "email2"):
        assert inputs[name]["type"] == "email"
        assert inputs[name]["autocomplete"] == "email"
        assert "placeholder" not in inputs[name]
        # Once: a duplicate attribute is invalid HTML (RGAA 8.2).
        [tag] = re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
        assert tag.count("type=") == 1


def test_password_choice_fields_are_new_passwords(client, campaign, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_signup"), SIGNUP)
    link = _link(mailoutbox[0].body)
    response = client.get(client.get(client.post(link).url).url)

    inputs = _inputs(response.content.decode())
    assert inputs["password1"]["autocomplete"] == "new-password"
    assert inputs["password2"]["autocomplete"] == "new-password"
    assert inputs["password1"]["type"] == "password"


# --- EMAIL_ACCOUNTS off: the university's students only (eCandidat CANDIDAT_IS_COMPTE_EXTERNE_AUT) ---------------


def test_without_email_accounts_the_signup_is_closed_and_says_why(client, campaign, settings):
    settings.EMAIL_ACCOUNTS = False

    page = client.get(reverse("account_signup"), language="fr")
    client.post(reverse("account_signup"), SIGNUP)
    choice = client.get(reverse("signup_choice"), language="fr").content.decode()

    assert "Les comptes se créent uniquement par l&#x27;ENT" in page.content.decode()
    assert not User.objects.filter(email=SIGNUP["email"]).exists()
    assert reverse("account_signup") not in choice
    assert "Seuls les étudiants de l'université candidatent ici" in choice


def test_the_central_office_closes_email_accounts_in_the_parameters(
    client, campaign, admin_user, django_capture_on_commit_callbacks
):
    """A live change (Paramètres): the next signup is refused, without a redeploy."""
    with django_capture_on_commit_callbacks(execute=True):
        set_parameters(actor=admin_user, values={"EMAIL_ACCOUNTS": False})

    client.post(reverse("account_signup"), SIGNUP)

    assert not User.objects.filter(email=SIGNUP["email"]).exists()
    assert reverse("account_signup") not in client.get(reverse("signup_choice")).content.decode()


def test_with_email_accounts_the_choice_offers_them(client, campaign):
    choice = client.get(reverse("signup_choice")).content.decode()

    assert reverse("account_signup") in choice


@pytest.mark.parametrize(
    ("email2", "message"),
    [("", "This field is required."), ("autre@example.org", "The two e-mail addresses are different.")],
)
def test_signup_confirmation_error_is_tied_to_its_field(client, campaign, django_assert_num_queries, email2, message):
    """The confirmation field's error list carries the id that its input's aria-describedby names (RGAA 11.10): our
    clean() rewrites allauth's list, which must keep the field's id."""
    # savepoint, active campaign (page, then address check), address taken in the campaign, site, release
    with django_assert_num_queries(6):
        response = client.post(reverse("account_signup"), {**SIGNUP, "email2": email2})
    html = response.content.decode()
    assert 'aria-describedby="id_email2_error"' in html
    assert f'<ul class="errorlist" id="id_email2_error"><li>{message}</li></ul>' in html
