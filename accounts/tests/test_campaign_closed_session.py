"""A candidate's session opened before the campaign's « Date fin candidats » ends at the first request after it
(``accounts.middleware.ClosedCampaignLogoutMiddleware``), with the message the login gives: the login checked the
dates once, and such a session kept transmitting after the date (found by review: POST « Transmettre » answered 302
and the application became « Réceptionné »), while the nightly batches count on such a candidate not logging in.
The closing date itself is still open, in Paris's day; staff are untouched; the check costs no query (the account is
read with its campaign, ``accounts.backends``)."""

import datetime

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import override

from accounts.tests.factories import CandidateUserFactory
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

WAITING, RECEIVED = "AT", "RE"  # applications.enums.DossierStatus: « En attente », « Réceptionné »
# The application's page (« Ma candidature ») of a candidate whose campaign is open: the session, the account with
# its campaign (one query, joined), the application with its formation, the piece types, the submissions, the forms,
# the questions. The same number before the check: the account's query read no campaign, and no page read it.
QUERIES_DETAIL = 7
# The refused request: the session, the account with its campaign; then the logout (Django's store reads the
# session's row and deletes it). The view never runs: no transaction, nothing else written.
QUERIES_REFUSED = 4


@pytest.fixture
def client(client):
    client.language = "fr"
    return client


def _application(user):
    """A waiting application of ``user`` to an open formation, on a dossier complete enough to transmit it. The
    models are named through the app registry: accounts does not import applications (.importlinter's layers)."""
    candidate = apps.get_model("applications", "Candidate").objects.create(
        user=user,
        civility="Mme",
        birth_name="DUPONT",
        first_name="Camille",
        birth_date=datetime.date(2001, 2, 3),
        birth_country="FR",
        birth_department="66",
        birth_city="Perpignan",
        nationality="FR",
    )
    apps.get_model("applications", "Address").objects.create(
        candidate=candidate, line1="1 rue du Test", postal_code="66000", city="PERPIGNAN", country="FR"
    )
    apps.get_model("applications", "Baccalaureate").objects.create(
        candidate=candidate, has_bac=True, series="GEN", year=2020, country="FR"
    )
    return apps.get_model("applications", "Application").objects.create(
        candidate=candidate,
        formation=FormationFactory(title="MASTER 1 - ENERGIE"),
        campaign=user.campaign,
        created_by=user,
        dossier_status=WAITING,
    )


def _closes(campaign, ends_on):
    campaign.ends_on = ends_on
    campaign.save(update_fields=["ends_on"])


def _detail(application):
    return reverse("applications:detail", args=[application.public_id])


def _transmit(application):
    return reverse("applications:transmit", args=[application.public_id])


def _closed_message(ends_on):
    with override("fr"):
        day = date_format(ends_on, "SHORT_DATE_FORMAT")
    return (
        f"La campagne était ouverte aux candidats jusqu&#x27;au {day} : vous ne pouvez plus vous connecter. Pour une "
        "question sur votre candidature, écrivez au service de scolarité de votre formation."
    )


@pytest.fixture
def logged_in(client, campaign):
    """A candidate of the active campaign, logged in while it is open, with a waiting application."""
    user = CandidateUserFactory(campaign=campaign)
    application = _application(user)
    client.force_login(user)
    return user, application


def test_the_next_page_after_the_closing_date_logs_out_with_the_logins_message(
    client, campaign, logged_in, django_assert_num_queries
):
    user, application = logged_in
    ends_on = timezone.localdate() - datetime.timedelta(days=1)
    _closes(campaign, ends_on)

    with django_assert_num_queries(QUERIES_REFUSED):
        response = client.get(_detail(application))

    assert response.status_code == 302
    assert response.url == reverse("account_login")
    assert SESSION_KEY not in client.session
    page = client.get(response.url)
    assert page.status_code == 200
    assert _closed_message(ends_on) in page.content.decode()
    # Logged out for good: the next page asks for a login, without the message again.
    again = client.get(_detail(application))
    assert again.status_code == 302
    assert again.url.startswith(reverse("account_login") + "?next=")


def test_a_transmission_posted_after_the_closing_date_is_refused_and_writes_nothing(
    client, campaign, logged_in, django_assert_num_queries
):
    user, application = logged_in
    _closes(campaign, timezone.localdate() - datetime.timedelta(days=1))

    with django_assert_num_queries(QUERIES_REFUSED) as captured:
        response = client.post(_transmit(application))

    assert response.status_code == 302
    assert response.url == reverse("account_login")
    statements = [q["sql"].lstrip().upper() for q in captured.captured_queries]
    writes = [sql for sql in statements if sql.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) == 1  # the session's row, nothing else
    assert writes[0].lstrip().upper().startswith('DELETE FROM "DJANGO_SESSION"')
    application.refresh_from_db()
    assert application.dossier_status == WAITING
    assert application.transmitted_at is None
    assert SESSION_KEY not in client.session


def test_on_the_closing_date_itself_the_candidate_still_transmits(client, campaign, logged_in):
    user, application = logged_in
    _closes(campaign, timezone.localdate())

    assert client.get(_detail(application)).status_code == 200
    response = client.post(_transmit(application))

    assert response.status_code == 302
    assert response.url == _detail(application)
    application.refresh_from_db()
    assert application.dossier_status == RECEIVED
    assert client.session[SESSION_KEY] == str(user.pk)


# The closing date's last hour in Paris (23:30, UTC+1 in December) and the next day's first (00:30), while UTC still
# reads the closing date: the day is Paris's (TIME_ZONE), as at the login.
ENDS_ON = datetime.date(2026, 12, 10)
LAST_HOUR = datetime.datetime(2026, 12, 10, 22, 30, tzinfo=datetime.UTC)
NEXT_DAY = datetime.datetime(2026, 12, 10, 23, 30, tzinfo=datetime.UTC)


@pytest.mark.parametrize(("instant", "open_"), [(LAST_HOUR, True), (NEXT_DAY, False)])
def test_the_day_after_is_pariss(client, campaign, instant, open_):
    with time_machine.travel(instant, tick=False):
        user = CandidateUserFactory(campaign=campaign)
        application = _application(user)
        _closes(campaign, ENDS_ON)
        client.force_login(user)

        response = client.get(_detail(application))

    assert response.status_code == (200 if open_ else 302)
    assert (SESSION_KEY in client.session) is open_


def test_staff_are_not_concerned(client, campaign, central_manager):
    _closes(campaign, timezone.localdate() - datetime.timedelta(days=1))
    client.force_login(central_manager)

    assert client.get(reverse("admin:index")).status_code == 200
    assert client.session[SESSION_KEY] == str(central_manager.pk)


def test_logging_out_after_the_closing_date_is_the_ordinary_logout(client, campaign, logged_in):
    _closes(campaign, timezone.localdate() - datetime.timedelta(days=1))

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert SESSION_KEY not in client.session


def test_an_open_campaigns_candidate_page_costs_no_query_more(client, logged_in, django_assert_num_queries):
    user, application = logged_in

    with django_assert_num_queries(QUERIES_DETAIL):
        response = client.get(_detail(application))

    assert response.status_code == 200
    # The account came with its campaign (the check read it from there): no query of its own, now or later.
    with django_assert_num_queries(0):
        assert response.wsgi_request.user.campaign.pk == user.campaign_id
