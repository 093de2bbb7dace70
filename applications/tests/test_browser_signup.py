"""The guide's two ways into eCandidat, in Chromium: "Je ne suis pas étudiant…" (an e-mail account) and "Je suis
étudiant…" (the ENT), each up to the validation mail read from a real SMTP server and the candidate's dossier.

The mail leaves through the outbox either in the live server itself (eager Celery, any database: ``make test``
on SQLite) or through Redis and a real Celery worker process (``integration``: PostgreSQL and Redis). The ENT path
talks to the development ENT process over real OpenID Connect, so it is an integration test too.

Locators use the guide's French labels: the page must say what the guide says.
"""

import io
import re
import runpy
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings as django_settings
from django.contrib.sites.models import Site
from django.core.cache import cache
from django.core.management import call_command

from accounts.models import User
from applications.models import Candidate
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from ecandidat.tests.plugins.services import ENT_CLIENT_ID, ENT_CLIENT_SECRET, ENT_PASSWORD, wait_until

pytestmark = pytest.mark.browser

SIS_DEMO_CSV = django_settings.BASE_DIR / "devtools" / "sis" / "demo-students.csv"
BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
MAIL_TIMEOUT = 30  # seconds: a worker picks a task up in well under a second; this only bounds a failure
SIGNUP_SUBJECT = "Création de votre compte eCandidat"
PASSWORD = "une-phrase-de-passe-solide"


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    """As in accounts/tests/conftest.py: signup and login are rate limited per address."""
    cache.clear()
    Site.objects.clear_cache()
    yield
    cache.clear()


def _app_url(live_server) -> str:
    """The live server reached through 127.0.0.1: the ENT admits loopback redirect URIs on any port, not
    ``localhost`` ones."""
    return f"http://127.0.0.1:{urlsplit(live_server.url).port}"


@pytest.fixture(
    params=[
        pytest.param("live-server", id="sent-by-live-server"),
        pytest.param("worker", id="sent-by-celery-worker", marks=pytest.mark.integration),
    ]
)
def mail_server(request, settings, smtp_server):
    """The SMTP server on loopback that receives the mails, sent after the commit either by the live server's own
    thread (eager Celery) or by a real Celery worker on Redis."""
    if request.param == "worker":
        request.getfixturevalue("celery_worker_process")
    else:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": smtp_server.host, "port": smtp_server.port, "timeout": 5},
            }
        }
    return smtp_server


ENT_SETTINGS = (
    "ENT_SERVER_URL",
    "ENT_CLIENT_ID",
    "ENT_CLIENT_SECRET",
    "ENT_ORIGIN",
    "SOCIALACCOUNT_PROVIDERS",
    "SECURE_CSP",
)


def _configure_ent(settings, monkeypatch, *, server_url: str, secret: str) -> None:
    """Configure the running app for an ENT as production does: settings.base run again with ENT_SERVER_URL,
    ENT_CLIENT_ID and ENT_CLIENT_SECRET in the environment (it derives the provider and the CSP from them at
    import), and its ENT settings copied over; allauth and the CSP middleware read them on each request."""
    monkeypatch.setenv("ENT_SERVER_URL", server_url)
    monkeypatch.setenv("ENT_CLIENT_ID", ENT_CLIENT_ID)
    monkeypatch.setenv("ENT_CLIENT_SECRET", secret)
    production = runpy.run_path(str(BASE_SETTINGS))
    for name in ENT_SETTINGS:
        setattr(settings, name, production[name])


@pytest.fixture
def app_on_ent(settings, monkeypatch, ent_server):
    """The app configured against the development ENT process."""
    _configure_ent(settings, monkeypatch, server_url=ent_server.base_url, secret=ENT_CLIENT_SECRET)
    return ent_server


def _mail_to(smtp_server, address: str):
    return wait_until(
        lambda: next((m for m in smtp_server.messages if m["To"] == address), None),
        timeout=MAIL_TIMEOUT,
        message=f"a mail to {address} on the SMTP server",
    )


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _validation_link(body: str) -> str:
    return re.search(r"https?://\S+/accounts/confirm-email/\S+/", body).group(0)


def _field(page, label: str):
    """The guide's field (``<label>`` text, with its " *"), and the block holding its errors."""
    control = page.get_by_label(label, exact=True)
    return control, page.locator("div.field", has=control)


def _assert_on_dossier_nav(page, full_name: str) -> None:
    page.locator(".whoami", has_text=full_name).wait_for()
    nav = page.locator("nav.site-nav")
    for label in ("Informations perso.", "Adresse", "Cursus interne", "Candidature"):
        assert nav.get_by_role("link", name=label, exact=True).is_visible()


def test_external_candidate_signs_up_validates_the_mailed_link_and_logs_in(
    live_server, transactional_db, browser_page, campaign, mail_server, request, settings
):
    page = browser_page
    app = settings.SITE_URL = _app_url(live_server)  # the mails' links lead to SITE_URL

    # "Créer un compte", top right of the home page.
    page.goto(app + "/")
    page.locator("header").get_by_role("link", name="Créer un compte", exact=True).click()
    # The guide first splits the two situations: not a student of the university → the e-mail form.
    page.wait_for_url(app + "/creer-un-compte/")
    assert_no_serious_axe_violations(page)
    page.get_by_role("link", name="Créer un compte avec mon adresse mail", exact=True).click()
    page.wait_for_url(app + "/accounts/signup/")
    assert_no_serious_axe_violations(page)
    last_name, _ = _field(page, "Nom *")
    first_name, _ = _field(page, "Prénom *")
    email, _ = _field(page, "Adresse mail *")
    email2, email2_block = _field(page, "Confirmation Adresse Mail *")
    last_name.fill("Durand")
    first_name.fill("Camille")
    email.fill("camille.durand@example.org")
    email2.fill("camile.durand@example.org")  # a typo
    page.get_by_role("button", name="Enregistrer", exact=True).click()

    # The mistake is shown at the confirmation field, in French; nothing typed is lost, nothing is created.
    email2_block.get_by_text("Les deux adresses mail sont différentes.").wait_for()
    assert page.url == app + "/accounts/signup/"
    assert (last_name.input_value(), first_name.input_value()) == ("Durand", "Camille")
    assert email.input_value() == "camille.durand@example.org"
    assert email2.input_value() == "camile.durand@example.org"
    assert_no_serious_axe_violations(page)
    assert not User.objects.exists()

    email2.fill("camille.durand@example.org")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.get_by_role("heading", name="Consultez vos courriels").wait_for()

    # The mail: the numéro de dossier and a validation link, no password.
    message = _mail_to(mail_server, "camille.durand@example.org")
    assert message["Subject"] == SIGNUP_SUBJECT
    body = _text(message)
    user = User.objects.get(email="camille.durand@example.org")
    numero = re.search(r"numéro de dossier\)\s*:\s*([A-Z0-9]{8})", body).group(1)
    assert numero == user.username
    assert user.campaign == campaign
    if "celery_worker_process" in request.fixturenames:
        assert (
            "mail CPT_MIN_CREATE sent to camille.durand@example.org"
            in request.getfixturevalue("celery_worker_process").log()
        )

    # The link, opened in the browser: validate the address, then choose the password.
    assert _validation_link(body).startswith(app + "/")
    page.goto(_validation_link(body))
    page.get_by_role("heading", name="Validez votre adresse mail").wait_for()
    page.get_by_role("button", name="Valider", exact=True).click()
    page.get_by_role("heading", name="Choisissez votre mot de passe").wait_for()
    assert EmailAddress.objects.get(user=user).verified
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.locator("main").get_by_role("link", name="Connexion", exact=True).click()

    # "Veuillez vous connecter avec votre compte eCandidat": Utilisateur = the numéro de dossier from the mail.
    page.wait_for_url(app + "/accounts/login/")
    assert_no_serious_axe_violations(page)
    _field(page, "Utilisateur *")[0].fill(numero)
    _field(page, "Mot de passe *")[0].fill(PASSWORD)
    page.locator("main form").get_by_role("button", name="Connexion", exact=True).click()
    # "Vous devrez alors compléter vos informations personnelles … Suivez les étapes": the login lands on step one.
    page.wait_for_url(app + "/candidat/informations-perso/")
    assert page.locator("main").get_by_text("Suivez les étapes", exact=False).first.is_visible()
    _assert_on_dossier_nav(page, "Camille Durand")

    # The dossier: "compléter vos informations personnelles", starting from the names given at signup.
    page.locator("nav.site-nav").get_by_role("link", name="Informations perso.", exact=True).click()
    page.get_by_role("heading", name="Informations perso.").wait_for()
    assert page.locator("input[name=first_name]").input_value() == "Camille"
    assert page.locator("input[name=birth_name]").input_value().upper() == "DURAND"
    assert not Candidate.objects.exists()  # nothing imported: an e-mail account is not in the SIS


@pytest.mark.integration
def test_ent_student_creates_the_account_validates_the_mail_and_finds_the_sis_data(
    live_server, transactional_db, browser_page, campaign, app_on_ent, smtp_server, celery_worker_process, settings
):
    call_command("import_sis", str(SIS_DEMO_CSV), stdout=io.StringIO())
    page = browser_page
    app = settings.SITE_URL = _app_url(live_server)  # the mails' links lead to SITE_URL
    ent = app_on_ent

    # "Je suis étudiant…": the ENT button of the login page leads to the ENT's own login form.
    page.goto(app + "/accounts/login/")
    page.get_by_role("button", name="Se connecter avec l'ENT", exact=True).click()
    page.wait_for_url(re.compile(re.escape(ent.base_url) + r"/accounts/login/"))
    page.locator("input[name=login]").fill("estelle.martin")
    page.locator("input[name=password]").fill(ENT_PASSWORD)
    page.locator("input[name=password]").press("Enter")

    # Back to the app: "Création de compte", pre-filled from the ENT's claims, with the guide's warning.
    page.wait_for_url(app + "/accounts/3rdparty/signup/")
    page.get_by_role("heading", name="Création de compte").wait_for()
    assert page.locator(".message--warning").inner_text() == (
        "Attention, lorsque vous aurez modifié votre compte, vous serez déconnecté. Vous devrez consulter vos "
        "courriels pour valider votre adresse, puis vous pourrez vous reconnecter."
    )
    assert _field(page, "Nom *")[0].input_value() == "MARTIN"
    assert _field(page, "Prénom *")[0].input_value() == "Estelle"
    email, _ = _field(page, "Adresse mail *")
    assert email.input_value() == "estelle.martin@etudiant.univ-perp.fr"
    assert_no_serious_axe_violations(page)
    _field(page, "Confirmation Adresse Mail *")[0].fill("estelle.martin@etudiant.univ-perp.fr")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.get_by_role("heading", name="Consultez vos courriels").wait_for()
    user = User.objects.get()
    assert user.student_number == "21900001"
    assert SocialAccount.objects.get(user=user, provider="ent").uid == "estelle.martin"
    assert page.locator(".whoami").count() == 0  # logged out until the address is validated

    # The validation mail, sent by the worker; no numéro de dossier to remember: the ENT is the way in.
    message = _mail_to(smtp_server, "estelle.martin@etudiant.univ-perp.fr")
    assert message["Subject"] == SIGNUP_SUBJECT
    body = _text(message)
    assert "identifiants ENT" in body
    assert user.username not in body
    # The worker logs the delivery once the SMTP exchange is over: a moment after the peer holds the message.
    wait_until(
        lambda: "mail CPT_MIN_CREATE sent to estelle.martin@etudiant.univ-perp.fr" in celery_worker_process.log(),
        timeout=10,
        message="the worker's log of the delivery",
    )
    assert _validation_link(body).startswith(app + "/")
    page.goto(_validation_link(body))
    page.get_by_role("button", name="Valider", exact=True).click()
    page.wait_for_url(app + "/accounts/login/")  # no password to choose for an ENT student
    assert EmailAddress.objects.get(user=user).verified

    # "Une fois le compte activé, vous pouvez vous connecter … en utilisant vos identifiants ENT."
    page.get_by_role("button", name="Se connecter avec l'ENT", exact=True).click()
    page.wait_for_url(re.compile(re.escape(app) + r"/candidat/"))  # the dossier's next step (the SIS filled some)
    _assert_on_dossier_nav(page, "Estelle MARTIN")

    # "L'application eCandidat récupère vos données du logiciel de scolarité": read-only, with the notice.
    page.locator("nav.site-nav").get_by_role("link", name="Informations perso.", exact=True).click()
    page.get_by_role("heading", name="Informations perso.").wait_for()
    assert page.locator("main .message--warning", has_text="logiciel de scolarité").is_visible()
    assert page.locator("input[name=birth_name]").input_value() == "MARTIN"
    assert page.locator("input[name=ine]").input_value() == "0905012345W"
    page.locator("nav.site-nav").get_by_role("link", name="Cursus interne", exact=True).click()
    page.get_by_role("heading", name="Cursus interne").wait_for()
    for label in ("Licence 1 Sciences de la vie", "Licence 2 Sciences de la vie", "Licence 3 Sciences de la vie"):
        assert page.locator("main").get_by_text(label).is_visible()
    page.locator("nav.site-nav").get_by_role("link", name="Adresse", exact=True).click()
    page.get_by_role("heading", name="Adresse").wait_for()
    assert page.locator("input[name=line1]").input_value() == "12 rue des Lilas"
    candidate = Candidate.objects.get(user=user)
    assert candidate.sis_locked
    assert candidate.sis_student_number == "21900001"


def test_login_and_signup_pages_have_no_serious_accessibility_violation(
    live_server, transactional_db, browser_page, campaign, settings, monkeypatch
):
    # The ENT panel only needs a configured provider to render; nothing contacts this address.
    _configure_ent(settings, monkeypatch, server_url="http://127.0.0.1:9", secret="unused")
    page = browser_page
    app = _app_url(live_server)

    page.goto(app + "/accounts/login/")
    assert page.get_by_role("button", name="Se connecter avec l'ENT", exact=True).is_visible()
    assert_no_serious_axe_violations(page)
    page.locator("main form").get_by_role("button", name="Connexion", exact=True).click()  # empty: errors shown
    page.locator("main .errorlist").first.wait_for()
    assert_no_serious_axe_violations(page)

    page.goto(app + "/accounts/signup/")
    assert_no_serious_axe_violations(page)
    page.get_by_role("button", name="Enregistrer", exact=True).click()  # empty: "Ce champ est obligatoire."
    page.locator("main .errorlist").first.wait_for()
    assert_no_serious_axe_violations(page)
