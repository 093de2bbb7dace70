"""Settings of a centre or a commission that the back office refuses at save, beside their field, rather than let them
block candidates or lose mails afterwards: a centre's maximum of applications of 0 (every candidate refused at every
formation of the centre), the copy of the candidates' mails to a contact e-mail left empty, and a commission's
alerts sent to its e-mail left empty (``applications.notifications`` then sends nothing, and says nothing)."""

import html

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from offers.enums import ApplicationMode
from offers.models import Centre, Commission
from offers.tests.factories import CentreFactory, CommissionFactory

pytestmark = pytest.mark.django_db

AT_LEAST_ONE = "Assurez-vous que cette valeur est supérieure ou égale à 1."
MAX_WISHES_HELP = "Vide : la limite de l'établissement s'applique. 0 n'est pas accepté."
CONTACT_EMAIL_NEEDED = (
    "Indiquez le mail de contact : la copie des mails envoyés aux candidats y est envoyée (ou choisissez une autre "
    "option dans « Copie des mails envoyés aux candidats »)."
)
COMMISSION_EMAIL_NEEDED = (
    "Indiquez le mail de la commission : ses alertes y sont envoyées (ou choisissez un autre destinataire dans "
    "« Alertes envoyées à »)."
)
ALERTS = ("alert_on_transmission", "alert_on_cancellation", "alert_on_withdrawal", "alert_on_promotion")


@pytest.fixture
def central_client(client, central_manager):
    # The centres' pages are the central office's by their Django permissions (offers.admin.CentreAdmin); the
    # commissions', by the central role itself.
    codenames = [f"{action}_centre" for action in ("view", "add", "change")]
    central_manager.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(central_manager)
    client.language = "fr"  # the back office's language
    return client


def error_beside(page, field: str) -> str:
    """The first error shown beside ``field``'s input in the admin page (its ``<ul id="id_<field>_error">``)."""
    text = page.content.decode()
    start = text.index(f'<ul class="errorlist" id="id_{field}_error"><li>') + len(
        f'<ul class="errorlist" id="id_{field}_error"><li>'
    )
    return html.unescape(text[start : text.index("</li>", start)])


def centre_data(**fields) -> dict:
    data = {
        "code": "IAE",
        "label": "IAE Perpignan",
        "email": "",
        "candidate_mail_copy": "N",
        "max_wishes": "",
        "in_service": "on",
        "default_mode": ApplicationMode.ONLINE,
        **fields,
    }
    return {name: value for name, value in data.items() if value != ""}


def centre_data_of(centre: Centre, **fields) -> dict:
    return centre_data(**{"code": centre.code, "label": centre.label, "email": centre.email, **fields})


def commission_data(centre: Centre, **fields) -> dict:
    data = {
        "code": "C-IAE",
        "label": "Commission IAE",
        "centre": centre.pk,
        "email": "",
        "alert_mode": "M",
        **dict.fromkeys(ALERTS, "on"),
        "alert_on_proposal": "on",
        "shown_statuses": ["shows_received", "shows_complete"],
        "in_service": "on",
        **fields,
    }
    return {name: value for name, value in data.items() if value != ""}


# --- F1: a centre's maximum of applications per candidate is at least 1 ----------------------------------------------


def test_a_centre_maximum_of_0_is_refused_beside_the_field(central_client, django_assert_num_queries):
    """Regression: 0 was saved, and every candidate was then refused at every formation of the centre (« Vous avez
    atteint le nombre maximum de candidatures pour … (0). »); the institution's own maximum is at least 1."""
    centre = CentreFactory()
    url = reverse("admin:offers_centre_change", args=[centre.pk])

    with django_assert_num_queries(14):  # the centre's page, rendered again with the form's errors
        response = central_client.post(url, centre_data_of(centre, max_wishes="0"))

    assert response.status_code == 200
    assert error_beside(response, "max_wishes") == AT_LEAST_ONE
    assert MAX_WISHES_HELP in html.unescape(response.content.decode())
    centre.refresh_from_db()
    assert centre.max_wishes is None


def test_a_centre_maximum_of_1_or_empty_is_saved(central_client, django_assert_num_queries):
    centre = CentreFactory()
    url = reverse("admin:offers_centre_change", args=[centre.pk])

    with django_assert_num_queries(14):
        response = central_client.post(url, centre_data_of(centre, max_wishes="1"))

    assert response.status_code == 302
    centre.refresh_from_db()
    assert centre.max_wishes == 1
    assert central_client.post(url, centre_data_of(centre)).status_code == 302
    centre.refresh_from_db()
    assert centre.max_wishes is None  # the institution's limit


# --- F3: the copy of the candidates' mails to the contact e-mail needs one ------------------------------------------


def test_a_copy_to_an_empty_contact_email_is_refused_beside_the_email(central_client, django_assert_num_queries):
    """Regression: saved, the centre's copy of every mail to its candidates then went nowhere, silently."""
    with django_assert_num_queries(13):  # the add page, rendered again with the form's errors
        response = central_client.post(reverse("admin:offers_centre_add"), centre_data(candidate_mail_copy="M"))

    assert response.status_code == 200
    assert error_beside(response, "email") == CONTACT_EMAIL_NEEDED
    assert not Centre.objects.filter(code="IAE").exists()


def test_emptying_the_contact_email_of_a_centre_copying_to_it_is_refused(central_client):
    centre = CentreFactory(candidate_mail_copy="M")
    url = reverse("admin:offers_centre_change", args=[centre.pk])

    response = central_client.post(url, centre_data_of(centre, candidate_mail_copy="M", email=""))

    assert response.status_code == 200
    assert error_beside(response, "email") == CONTACT_EMAIL_NEEDED
    centre.refresh_from_db()
    assert centre.email


@pytest.mark.parametrize(("copy", "email"), [("M", "scolarite.iae@univ.example"), ("N", ""), ("L", "")])
def test_a_copy_with_its_contact_email_or_no_copy_to_it_is_saved(
    central_client, django_assert_num_queries, copy, email
):
    with django_assert_num_queries(12):
        response = central_client.post(
            reverse("admin:offers_centre_add"), centre_data(candidate_mail_copy=copy, email=email)
        )

    assert response.status_code == 302
    assert Centre.objects.filter(code="IAE", candidate_mail_copy=copy, email=email).exists()


def test_a_centre_manager_still_sets_the_defaults_of_a_centre_saved_before_the_check(
    client, django_assert_num_queries, centre_manager, centre
):
    """The manager of a centre changes its default values only (the contact e-mail is read-only for them): a centre
    saved with the copy to an empty contact e-mail before this check does not stop them, nor breaks the page."""
    Centre.objects.filter(pk=centre.pk).update(candidate_mail_copy="M", email="")
    client.force_login(centre_manager)
    url = reverse("admin:offers_centre_change", args=[centre.pk])

    with django_assert_num_queries(13):
        response = client.post(url, {"default_mode": ApplicationMode.PAPER}, language="fr")

    assert response.status_code == 302
    centre.refresh_from_db()
    assert (centre.default_mode, centre.candidate_mail_copy, centre.email) == (ApplicationMode.PAPER, "M", "")


# --- F2: the alerts sent to the commission's e-mail need one --------------------------------------------------------


def test_alerts_to_an_empty_commission_email_are_refused_beside_the_email(
    central_client, django_assert_num_queries, centre
):
    """Regression: saved (the default recipient, every alert on), every alert of the commission then went nowhere,
    silently."""
    with django_assert_num_queries(14):  # the add page, rendered again with the form's errors
        response = central_client.post(reverse("admin:offers_commission_add"), commission_data(centre))

    assert response.status_code == 200
    assert error_beside(response, "email") == COMMISSION_EMAIL_NEEDED
    assert not Commission.objects.filter(code="C-IAE").exists()


def test_one_alert_on_to_an_empty_commission_email_is_refused(central_client, commission):
    url = reverse("admin:offers_commission_change", args=[commission.pk])
    alerts_off = dict.fromkeys(ALERTS, "")

    response = central_client.post(
        url, commission_data(commission.centre, code=commission.code, label=commission.label, **alerts_off)
    )

    assert response.status_code == 200
    assert error_beside(response, "email") == COMMISSION_EMAIL_NEEDED
    commission.refresh_from_db()
    assert commission.email


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "commission.iae@univ.example"},
        {"alert_mode": "N"},
        {"alert_mode": "L"},
        {**dict.fromkeys(ALERTS, ""), "alert_on_proposal": ""},  # no alert at all
    ],
)
def test_alerts_with_the_commission_email_or_sent_elsewhere_are_saved(
    central_client, django_assert_num_queries, centre, fields
):
    with django_assert_num_queries(15):
        response = central_client.post(reverse("admin:offers_commission_add"), commission_data(centre, **fields))

    assert response.status_code == 302
    assert Commission.objects.filter(code="C-IAE", email=fields.get("email", "")).exists()


def test_the_commission_factory_and_the_centre_factory_give_valid_rows(db):
    CommissionFactory(centre=CentreFactory(candidate_mail_copy="M")).full_clean()
