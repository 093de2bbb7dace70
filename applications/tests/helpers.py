"""Helpers shared by applications' tests that are not builders (those are in factories*.py): addresses of pages,
requests made the way a person makes them, and reads of the outbox."""

import re
import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.urls import reverse

from accounts.tests.factories import DEFAULT_PASSWORD, StaffMembershipFactory
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations


def english_date(day) -> str:
    """A date as the English pages and mails write it (``ecandidat/formats/en``): "7 Jan 2027"; French: 07/01/2027."""
    return f"{day.day} {day:%b %Y}"


def mails(code):
    """The outbox rows of mail ``code``, oldest first."""
    return list(OutboundEmail.objects.filter(code=code).order_by("id"))


# --- the back office ------------------------------------------------------------------------------------------------


def change_url(application):
    return reverse("admin:applications_application_change", args=[application.pk])


def operation_url(application, name):
    return reverse("admin:applications_application_operation", args=[application.pk, name])


# --- the candidate's pieces -----------------------------------------------------------------------------------------


def upload_url(application, piece_type):
    return reverse("pieces:upload", args=[application.public_id, piece_type.pk])


def post_file(client, application, piece_type, uploaded_file):
    return client.post(upload_url(application, piece_type), {"file": uploaded_file})


# --- staff in a browser ---------------------------------------------------------------------------------------------


def staff_with_authenticator_app(**membership):
    """A staff member with an active authenticator app (allauth TOTP), as the back office requires; returns the user
    and the app's secret, from which the test computes the codes the phone would show."""
    membership = StaffMembershipFactory(**membership)
    secret = generate_totp_secret()
    TOTP.activate(membership.user, secret)
    return membership.user, secret


def staff_login(page, live_server, user, secret: str) -> None:
    """The back office's address, the login page it sends to, then the code of the authenticator app, as a member
    of staff does."""
    page.goto(f"{live_server.url}/gestion/")
    page.get_by_label("Utilisateur").fill(user.username)
    page.get_by_label("Mot de passe").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Connexion", exact=True).click()
    page.get_by_role("textbox", name="Code").fill(current_code(secret))
    page.get_by_role("button", name="Connexion", exact=True).click()
    page.get_by_role("heading", name="Gestion").wait_for()


def current_code(secret: str) -> str:
    """The code the phone shows now (allauth's own TOTP functions)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def admin_operation(
    page, link: str, choices: dict[str, str] | None = None, *, check_accessibility: bool = False
) -> None:
    """An object tool of the application page ("Statut du dossier", "Saisir un avis", "Valider les avis"): its
    drop-downs (label → option), "Confirmer", and the back office's report."""
    page.locator(".review-operations").get_by_role("link", name=link, exact=True).click()
    if check_accessibility:
        assert_no_serious_axe_violations(page)
    for label, option in (choices or {}).items():
        # Django's label_tag appends " :", hence a prefix match.
        page.get_by_role("combobox", name=re.compile(rf"^{re.escape(label)}\b")).select_option(label=option)
    confirm, cancel = (
        page.get_by_role("button", name="Confirmer", exact=True),
        page.get_by_role("link", name="Annuler"),
    )
    # "Annuler" is drawn as a button beside "Confirmer" (static/css/admin_a11y.css), not as a small underlined tag.
    assert cancel.evaluate("link => getComputedStyle(link).textDecorationLine") == "none"
    assert abs(cancel.bounding_box()["height"] - confirm.bounding_box()["height"]) <= 2
    confirm.click()
    page.locator(".messagelist .success", has_text=link).wait_for()
