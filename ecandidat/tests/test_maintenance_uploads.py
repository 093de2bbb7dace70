"""The piece uploads' maintenance switch (eCandidat TECH_IS_DEMAT_MAINTENANCE): read like the site's switch (memory,
then cache, then database), independent of it, and turned on by the central office from the back office."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.cache import caches
from django.urls import reverse

from ecandidat.maintenance import (
    SWITCH_CACHE_KEY,
    forget_switch,
    set_switch,
    set_uploads_switch,
    switch_state,
    uploads_state,
)
from ecandidat.models import MaintenanceSwitch

pytestmark = pytest.mark.django_db

ADD = "admin:ecandidat_maintenanceswitch_add"


def test_uploads_are_open_by_default_without_a_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert uploads_state() == (False, "")


def test_pausing_the_uploads_is_effective_at_once_and_leaves_the_site_open(admin_user, client):
    set_uploads_switch(paused=True, message="Stockage indisponible.", actor=admin_user)

    assert uploads_state() == (True, "Stockage indisponible.")
    assert switch_state() == (False, "")
    switch = MaintenanceSwitch.current()
    assert (switch.uploads_paused, switch.uploads_message, switch.is_on) == (True, "Stockage indisponible.", False)
    assert client.get(reverse("home")).status_code == 200


def test_each_switch_keeps_the_other(admin_user):
    set_uploads_switch(paused=True, message="Stockage indisponible.", actor=admin_user)
    set_switch(is_on=True, message="Migration.", actor=admin_user)
    forget_switch()
    caches["maintenance"].clear()

    assert (switch_state(), uploads_state()) == ((True, "Migration."), (True, "Stockage indisponible."))


def test_a_cold_read_takes_both_switches_in_one_query_then_none(django_assert_num_queries):
    MaintenanceSwitch.objects.create(uploads_paused=True, uploads_message="Coupure.")
    forget_switch()
    caches["maintenance"].clear()

    with django_assert_num_queries(1):
        assert uploads_state() == (True, "Coupure.")
        assert switch_state() == (False, "")
    forget_switch()
    with django_assert_num_queries(0):
        assert uploads_state() == (True, "Coupure.")  # from the shared cache


def test_the_pair_an_earlier_version_cached_reads_as_uploads_open(django_assert_num_queries):
    """During a rolling upgrade, a process of the previous version caches ``(is_on, message)`` only."""
    forget_switch()
    caches["maintenance"].set(SWITCH_CACHE_KEY, (True, "Pause"))

    with django_assert_num_queries(0):
        assert (switch_state(), uploads_state()) == ((True, "Pause"), (False, ""))


@pytest.fixture
def switch_keeper(central_manager):
    """A member of the central office given Django's permissions on the switch (as a group would give them)."""
    codenames = ["add_maintenanceswitch", "change_maintenanceswitch", "view_maintenanceswitch"]
    central_manager.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return central_manager


def test_the_central_office_pauses_the_uploads_from_the_back_office(client, switch_keeper):
    client.force_login(switch_keeper)

    response = client.post(reverse(ADD), {"message": "", "uploads_paused": "on", "uploads_message": "Retour à 14h."})

    assert response.status_code == 302
    assert uploads_state() == (True, "Retour à 14h.")
    assert switch_state() == (False, "")
    assert LogEntry.objects.get().user == switch_keeper  # the admin's history says who


@pytest.mark.parametrize("persona", ["central_manager", "centre_manager", "commission_member"])
def test_staff_without_the_permission_cannot_add_the_switch(request, client, persona):
    """Regression: "add" used to be offered to any member of staff while the row did not exist yet."""
    client.force_login(request.getfixturevalue(persona))

    response = client.post(reverse(ADD), {"uploads_paused": "on"})

    # A commission member writes none of the setup: the add page, never offered, is not found for them.
    assert response.status_code == (404 if persona == "commission_member" else 403)
    assert uploads_state() == (False, "")
    assert not MaintenanceSwitch.objects.exists()
