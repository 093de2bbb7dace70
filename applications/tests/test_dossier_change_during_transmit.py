"""A change of the dossier while an application is being transmitted (PostgreSQL).

In one tab the candidate transmits an application, in another they save their address. When the save comes after
the transmission it is written to the history of the transmitted application (« Dossier modifié par le candidat
après transmission »): the commission received the dossier, and sees what changed after. Before, a save that took
the dossier's lock while the transmission had not committed yet, and committed after it, read "no application
transmitted" and wrote nothing: the change left no trace. The transmission now locks the dossier first, as the
dossier's writers do, and they read whether an application is transmitted once they hold that lock.

The interleaving is forced: the transmission stops inside its transaction, after the status change, while the save
runs, until the save is done or waits for a row lock the transmission holds.
"""

import threading

import pytest
from django.db import connection

from applications import services
from applications.enums import DossierStatus, EventKind
from applications.models import Address, Application, ApplicationEvent
from applications.services import candidature
from applications.tests.factories import AddressFactory
from applications.tests.helpers import backend_pid, run_both, stay_stopped

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_an_address_saved_while_the_application_is_transmitted_is_in_its_history(two_applications, monkeypatch):
    """The transmission has changed the status and stops before it commits; the address is saved meanwhile: the
    save waits for the transmission, then sees the application transmitted and writes the change to its history."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    application, _other = two_applications
    candidate = application.candidate
    AddressFactory(candidate=candidate, city="PERPIGNAN", postal_code="66000")
    changed, saved = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = candidature._notify

    def notify(*args, **kwargs):
        if threading.current_thread().name == "transmit":
            changed.set()
            seen_waiting.append(stay_stopped(saved, pids, "save"))
        return original(*args, **kwargs)

    monkeypatch.setattr(candidature, "_notify", notify)

    def save_meanwhile():
        pids["save"] = backend_pid()
        assert changed.wait(timeout=15)
        try:
            services.save_address(
                candidate=candidate, data={"city": "CANET", "postal_code": "66140"}, actor=candidate.user
            )
        finally:
            saved.set()

    outcomes = run_both(
        {
            "transmit": lambda: candidature.transmit_application(application=application, actor=candidate.user),
            "save": save_meanwhile,
        }
    )

    assert outcomes == {"transmit": "ok", "save": "ok"}
    assert Application.objects.get(pk=application.pk).dossier_status == DossierStatus.RECEIVED
    assert Address.objects.get(candidate=candidate).city == "CANET"
    assert list(
        ApplicationEvent.objects.filter(kind=EventKind.DOSSIER_CHANGED_BY_CANDIDATE).values_list(
            "application_id", "comment"
        )
    ) == [(application.pk, "Adresse : code postal : 66000 → 66140, commune : PERPIGNAN → CANET")]
    assert seen_waiting == [True], "the save did not wait for the transmission"
