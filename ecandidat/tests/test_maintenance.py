import datetime
import zoneinfo

import pytest
import time_machine
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import transaction
from django.urls import reverse

from ecandidat.maintenance import (
    forget_switch,
    in_window,
    minutes_until_window,
    seconds_until_window_ends,
    set_switch,
    switch_state,
)
from ecandidat.models import MaintenanceSwitch

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def paris(*args):
    return datetime.datetime(*args, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (paris(2026, 11, 28, 22, 44, 59), False),
        (paris(2026, 11, 28, 22, 45), True),
        (paris(2026, 11, 28, 23, 59, 59), True),
        (paris(2026, 11, 29, 0, 0), True),
        (paris(2026, 11, 29, 5, 59, 59), True),
        (paris(2026, 11, 29, 6, 0), False),
        # Night of the spring change (02:00 → 03:00) and of the autumn change (03:00 → 02:00).
        (paris(2027, 3, 28, 1, 59), True),
        (paris(2027, 3, 28, 3, 0), True),
        (paris(2027, 3, 28, 6, 0), False),
        (paris(2026, 10, 25, 2, 30), True),
        (paris(2026, 10, 25, 6, 0), False),
        (paris(2026, 10, 24, 22, 45), True),
    ],
)
def test_window_edges_on_the_local_wall_clock(moment, inside):
    assert in_window(moment) is inside


def test_retry_after_counts_to_the_end_of_the_window():
    assert seconds_until_window_ends(paris(2026, 11, 28, 23, 0)) == 7 * 3600
    # Spring change: from 01:00 to 06:00 is only four real hours.
    assert seconds_until_window_ends(paris(2027, 3, 28, 1, 0)) == 4 * 3600


@pytest.fixture
def enforced(settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = True


@pytest.mark.parametrize(
    ("moment", "minutes"),
    [
        (paris(2026, 11, 28, 21, 44, 59), None),  # more than an hour before
        (paris(2026, 11, 28, 21, 45), 60),
        (paris(2026, 11, 28, 22, 30, 30), 15),  # a started minute counts
        (paris(2026, 11, 28, 22, 44, 59), 1),
        (paris(2026, 11, 28, 22, 45), None),  # inside: the maintenance page says it
        (paris(2026, 11, 29, 6, 0), None),
        # Night of the autumn change: the wall clock is what counts, as for in_window.
        (paris(2026, 10, 24, 22, 0), 45),
    ],
)
def test_minutes_until_the_window_in_its_last_hour(settings, moment, minutes):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    assert minutes_until_window(moment) == minutes
    settings.MAINTENANCE_WINDOW_ENFORCED = False
    assert minutes_until_window(moment) is None


@pytest.mark.django_db
@pytest.mark.usefixtures("enforced")
def test_pages_warn_in_the_hour_before_the_window(client, admin_user, django_assert_num_queries):
    # The last evening of a campaign: what is not saved and transmitted by 22h45 waits until 06h, after the deadline.
    warning = "L'application ferme pour maintenance à 22h45, jusqu'à 06h"
    # The warning costs no query: the first page reads the catalogue, the second finds it in the cache.
    with time_machine.travel(paris(2026, 11, 28, 22, 15), tick=False), django_assert_num_queries(1):
        response = client.get(reverse("offers:catalogue"), language="fr")

    assert response.status_code == 200
    assert warning in response.content.decode()
    with time_machine.travel(paris(2026, 11, 28, 21, 30), tick=False), django_assert_num_queries(0):
        response = client.get(reverse("offers:catalogue"), language="fr")

    assert warning not in response.content.decode()
    # Staff keep working through the window: not for them.
    client.force_login(admin_user)
    with time_machine.travel(paris(2026, 11, 28, 22, 15), tick=False), django_assert_num_queries(5):
        response = client.get(reverse("offers:catalogue"), language="fr")

    assert response.status_code == 200
    assert warning not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("enforced")
def test_candidates_get_503_with_retry_after_during_the_window(client):
    with time_machine.travel(paris(2026, 11, 28, 23, 30), tick=False):
        response = client.get(reverse("offers:catalogue"), language="fr")

    assert response.status_code == 503
    assert response["Retry-After"] == str(int(6.5 * 3600))
    assert "tous les jours de 22h45 à 06h" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("enforced")
def test_pages_answer_outside_the_window(client):
    with time_machine.travel(paris(2026, 11, 28, 12, 0), tick=False):
        response = client.get(reverse("offers:catalogue"))

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("enforced")
def test_healthz_and_staff_keep_working_during_the_window(client, admin_user):
    with time_machine.travel(paris(2026, 11, 28, 23, 30), tick=False):
        assert client.get(reverse("healthz")).status_code == 200
        client.force_login(admin_user)
        assert client.get(reverse("offers:catalogue")).status_code == 200
        assert client.get("/gestion/").status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("enforced")
def test_a_post_during_the_window_saves_nothing(client, mocker):
    view = mocker.patch("django.views.i18n.set_language")

    with time_machine.travel(paris(2026, 11, 28, 22, 45), tick=False):
        response = client.post(reverse("account_signup"), {"last_name": "MARTIN", "email": "x@example.org"})

    assert response.status_code == 503
    view.assert_not_called()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_manual_switch_puts_candidates_in_maintenance_with_its_message(client, admin_user):
    set_switch(is_on=True, message="Migration en cours, retour à 14h.", actor=admin_user)

    response = client.get(reverse("home"))

    assert response.status_code == 503
    assert "Migration en cours, retour à 14h." in response.content.decode()
    set_switch(is_on=False, actor=admin_user)
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_switch_from_the_admin_takes_effect_at_once(admin_client, client):
    response = admin_client.post(
        "/gestion/ecandidat/maintenanceswitch/add/", {"is_on": "on", "message": "Intervention technique."}
    )

    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 503


@pytest.mark.django_db
@pytest.mark.usefixtures("enforced")
def test_the_institution_theme_is_served_during_the_window(client):
    """The maintenance page links /theme.css: it must keep the institution's colours (issue 14)."""
    with time_machine.travel(paris(2026, 11, 28, 23, 30), tick=False):
        page = client.get(reverse("offers:catalogue"))
        theme = client.get(reverse("theme_css"))

    assert page.status_code == 503
    assert 'href="/theme.css"' in page.content.decode()
    assert theme.status_code == 200
    assert theme["Content-Type"].startswith("text/css")
    assert b"--brand:" in theme.content


@pytest.mark.django_db
@pytest.mark.usefixtures("enforced")
def test_the_window_keeps_its_own_message_after_a_manual_maintenance(admin_client, client):
    """Regression: the switch's message, kept once the switch is off, was shown every night instead of the
    window's."""
    with time_machine.travel(paris(2026, 11, 28, 12, 0), tick=False):
        add = admin_client.post(
            reverse("admin:ecandidat_maintenanceswitch_add"),
            {"is_on": "on", "message": "Intervention technique, retour prévu à 14h."},
        )
        change = admin_client.post(
            reverse("admin:ecandidat_maintenanceswitch_change", args=[1]),
            {"message": "Intervention technique, retour prévu à 14h."},
        )
        assert (add.status_code, change.status_code) == (302, 302)
        assert client.get(reverse("offers:catalogue")).status_code == 200
    with time_machine.travel(paris(2026, 11, 28, 23, 30), tick=False):
        response = client.get(reverse("offers:catalogue"), language="fr")

    assert response.status_code == 503
    assert "tous les jours de 22h45 à 06h" in response.content.decode()
    assert "Intervention technique" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_switch_rolled_back_never_reaches_the_pages(admin_user):
    """Regression: the switch was cached before its transaction committed; rolled back, the pages still showed the
    maintenance (up to the cache's 30 s)."""

    def switch_on_then_fail():
        with transaction.atomic():
            set_switch(is_on=True, message="x", actor=admin_user)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        switch_on_then_fail()

    assert switch_state() == (False, "")  # this process's memory
    forget_switch()
    assert switch_state() == (False, "")  # the shared cache, read by every process
    assert not MaintenanceSwitch.current().is_on


@pytest.mark.django_db(transaction=True)
def test_a_committed_switch_is_published_when_its_transaction_commits(admin_user, django_assert_num_queries):
    with transaction.atomic():
        set_switch(is_on=True, message="Migration.", actor=admin_user)
    forget_switch()

    with django_assert_num_queries(0):  # from the shared cache
        assert switch_state() == (True, "Migration.")


@pytest.mark.django_db
def test_the_first_switch_from_the_admin_has_its_history_entry_on_the_row(admin_client):
    """Regression: the admin's "add" wrote a LogEntry with no object id (the service's row was not the form's)."""
    response = admin_client.post(
        reverse("admin:ecandidat_maintenanceswitch_add"), {"is_on": "on", "message": "Intervention technique."}
    )

    assert response.status_code == 302
    entry = LogEntry.objects.get()
    assert (entry.action_flag, entry.object_id) == (ADDITION, "1")
    assert response["Location"] == reverse("admin:ecandidat_maintenanceswitch_changelist")


@pytest.mark.django_db(transaction=True)
def test_a_reader_of_the_old_row_does_not_write_it_over_the_published_switch(admin_user, monkeypatch):
    """Found by review (several web nodes): node B's copy expired, it read the row from the database; node A's
    switch then committed and was published; B then stored the old row over it, and every process read that old row
    for the cache's 30 s instead of the documented 5. A reader only adds the row when the cache has none."""
    caches["maintenance"].clear()
    forget_switch()
    read_from_the_database = MaintenanceSwitch.current

    def node_b_reads_while_node_a_switches(cls):
        old = read_from_the_database()
        monkeypatch.setattr(MaintenanceSwitch, "current", read_from_the_database)
        set_switch(is_on=True, message="Fermé", actor=admin_user)  # node A: committed and published
        return old

    monkeypatch.setattr(MaintenanceSwitch, "current", classmethod(node_b_reads_while_node_a_switches))
    assert switch_state() == (False, "")  # node B answers this request with what it read

    forget_switch()  # node C, its copy expired: reads the shared cache
    assert switch_state() == (True, "Fermé")
