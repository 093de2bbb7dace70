"""The maintenance page is no error in the log: Django logs each 5xx answer at ERROR (« ERROR django.request Service
Unavailable: /offre-de-formation/ »), so every candidate's request from 22:45 to 06:00 was an ERROR line, and the
alert rules on ERROR fired all night. The maintenance's 503 is marked as logged (ecandidat/maintenance.py); a real
500 is still an ERROR."""

import datetime
import logging
import zoneinfo

import pytest
import time_machine
from django.contrib.auth.decorators import login_not_required
from django.test import Client
from django.urls import path, reverse

from ecandidat import urls as root_urls
from ecandidat.maintenance import UPLOAD_SCRIPT_HEADER


@login_not_required
def boom(request):
    raise RuntimeError("a real error")


urlpatterns = [path("boom/", boom), *root_urls.urlpatterns]
pytestmark = pytest.mark.urls(__name__)

IN_THE_WINDOW = datetime.datetime(2026, 11, 28, 23, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))


@pytest.fixture
def window(settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    with time_machine.travel(IN_THE_WINDOW, tick=False):
        yield


def _warnings_and_errors(caplog) -> list[str]:
    return [
        f"{record.levelname} {record.name} {record.getMessage()}" for record in caplog.records if record.levelno >= 30
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("window")
@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("get", {}),  # a page
        ("post", {}),  # a form posted as the window opened
        ("post", {UPLOAD_SCRIPT_HEADER: "1"}),  # a file sent by the pieces table's script: JSON
    ],
)
def test_the_maintenance_503_writes_no_error_line(client, caplog, method, headers):
    caplog.set_level(logging.DEBUG)

    response = getattr(client, method)(reverse("offers:catalogue"), headers=headers)

    assert response.status_code == 503
    assert _warnings_and_errors(caplog) == []
    assert ("DEBUG", "ecandidat.maintenance", f"maintenance page (503) for {method.upper()} /offre-de-formation/") in [
        (record.levelname, record.name, record.getMessage()) for record in caplog.records
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("window")
def test_a_real_500_in_the_window_is_still_an_error(caplog, admin_user):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)  # staff pass the maintenance

    response = client.get("/boom/")

    assert response.status_code == 500
    assert _warnings_and_errors(caplog) == ["ERROR django.request Internal Server Error: /boom/"]
