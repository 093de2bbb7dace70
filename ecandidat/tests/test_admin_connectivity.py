"""The superusers' "Tests de connexion" page (ecandidat/admin_connectivity.py): who reaches it, what a run shows and
records, the test mail through the outbox, and no secret on the page nor in the history."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertNotContains

from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.services import free_port

pytestmark = pytest.mark.django_db

PAGE = "admin:ecandidat_connectivity"
MAIL = "admin:ecandidat_connectivity_mail"


@pytest.mark.parametrize("persona", ["central_manager", "centre_manager", "commission_member", "candidate_user"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anyone_but_a_superuser_gets_404(request, client, persona, method):
    client.force_login(request.getfixturevalue(persona))

    response = getattr(client, method)(reverse(PAGE))
    mail = client.post(reverse(MAIL), {"address": "dsi@univ.example"})

    assert (response.status_code, mail.status_code) == (404, 404)
    assert not LogEntry.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(reverse(PAGE))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_page_lists_every_service_without_testing_it(admin_client, django_assert_num_queries):
    # session, user; the maintenance switch's "add" permission (the sidebar); the history. No transaction.
    with django_assert_num_queries(4):
        response = admin_client.get(reverse(PAGE))

    assert response.status_code == 200
    assertContains(response, 'id="connectivity-database" data-outcome="not_run"')
    assertContains(response, 'id="connectivity-smtp" data-outcome="not_configured"')
    assertContains(response, 'id="connectivity-pegase" data-outcome="not_configured"')
    assertContains(response, "Aucun test pour l'instant.")
    assert not LogEntry.objects.exists()


def test_testing_runs_every_check_and_records_the_run(admin_client, admin_user, django_assert_num_queries):
    # session, user; the run's history row; the sidebar's "add" permission; the history. No transaction; the checks
    # talk to the database on connections of their own.
    with django_assert_num_queries(5):
        response = admin_client.post(reverse(PAGE))

    assert response.status_code == 200
    assertContains(response, 'id="connectivity-database" data-outcome="ok"')
    assertContains(response, 'id="connectivity-storage" data-outcome="ok"')
    assertContains(response, 'id="connectivity-smtp" data-outcome="not_configured"')
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id, entry.content_type) == (admin_user, "connectivity", None)
    assert "OK" in entry.change_message
    assertContains(response, escape(entry.change_message))  # the history on the page


def test_failures_are_shown_with_their_message_and_never_a_password(admin_client, settings):
    closed = free_port()
    settings.REDIS_URL = f"redis://:redis-Secret-1@127.0.0.1:{closed}/0"
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": closed, "username": "ecandidat", "password": "smtp-Secret-2"},
        }
    }
    settings.LIMESURVEY_URL = f"http://127.0.0.1:{closed}/index.php/admin/remotecontrol"
    settings.LIMESURVEY_USER, settings.LIMESURVEY_PASSWORD = "admin", "lime-Secret-3"

    response = admin_client.post(reverse(PAGE))

    for key in ("redis", "smtp", "limesurvey"):
        assertContains(response, f'id="connectivity-{key}" data-outcome="failed"')
    assertContains(response, "Connexion refusée : aucun service ne répond à cette adresse.")
    assertContains(response, f"redis://:••••@127.0.0.1:{closed}/0")
    assertContains(response, f"smtp://ecandidat:••••@127.0.0.1:{closed}")
    history = LogEntry.objects.get().change_message
    for secret in ("redis-Secret-1", "smtp-Secret-2", "lime-Secret-3"):
        assertNotContains(response, secret)
        assert secret not in history


def test_the_test_mail_goes_through_the_outbox(
    admin_client, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse(MAIL), {"address": "dsi@univ.example"})

    assert response.status_code == 302
    assert response["Location"] == reverse(PAGE)
    email = OutboundEmail.objects.get()
    assert (email.to, email.code, email.status) == ("dsi@univ.example", "OUTBOX_CHECK", OutboundEmail.Status.SENT)
    assert [message.to for message in mailoutbox] == [["dsi@univ.example"]]
    entry = LogEntry.objects.get()
    assert (entry.user, entry.change_message) == (
        admin_user,
        "Mail de test pour dsi@univ.example mis dans la file d'envoi.",
    )


def test_a_test_mail_needs_a_valid_address(admin_client):
    response = admin_client.post(reverse(MAIL), {"address": "not an address"})

    assert response.status_code == 400
    assertContains(response, "errorlist", status_code=400)
    assert not OutboundEmail.objects.exists()
    assert not LogEntry.objects.exists()


def test_the_switch_list_links_the_page_for_superusers_only(admin_client, client, central_manager):
    central_manager.user_permissions.add(Permission.objects.get(codename="view_maintenanceswitch"))
    client.force_login(central_manager)
    url = reverse("admin:ecandidat_maintenanceswitch_changelist")

    assertContains(admin_client.get(url), f'href="{reverse(PAGE)}"')
    assertNotContains(client.get(url), f'href="{reverse(PAGE)}"')


def test_the_test_mail_field_is_named_in_full(admin_client, django_assert_num_queries):
    """The test mail's field read « adresse : » (lower case, the msgid of a sentence's word); the central office's
    fields are named « Adresse mail »."""
    with django_assert_num_queries(4):
        response = admin_client.get(reverse(PAGE))

    assertContains(response, '<label for="id_address">Adresse mail\N{NO-BREAK SPACE}:</label>', html=True)


def test_a_run_is_recorded_in_the_institutions_language_whatever_the_superusers(
    admin_client, django_assert_num_queries, settings
):
    """QA: the history line of a run was written in the language of the superuser who ran it (English words in a
    French history); it is in ``LANGUAGE_CODE``, as every history line, and the page stays in the reader's."""
    closed = free_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{closed}/0"

    with django_assert_num_queries(5):  # as in French
        response = admin_client.post(reverse(PAGE), language="en")
    admin_client.post(reverse(MAIL), {"address": "dsi@univ.example"}, language="en")

    assertContains(response, "Connection refused: nothing answers at this address.")
    run, mail = LogEntry.objects.order_by("pk")
    assert "Base de données : OK" in run.change_message
    assert (
        "Redis (file de tâches Celery et cache) : échec — Connexion refusée : aucun service ne répond à cette adresse."
        in run.change_message
    )
    assert "nothing answers" not in run.change_message  # the detail stays the technician's (English)
    assert run.object_repr == mail.object_repr == "Tests de connexion"
    assert mail.change_message == "Mail de test pour dsi@univ.example mis dans la file d'envoi."
