"""SVA alerts ("silence vaut acceptation", eCandidat ``AlertSva``, ``SVA_ALERT_DAT``, ``SVA_ALERT_DEFINITIF``): the
level each application reaches, the levels' admin, the list's column and filter, and the setting's check."""

import datetime
import importlib
from urllib.parse import urlencode

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from applications.enums import DossierStatus, SvaColour, SvaReferenceDate
from applications.export_columns import export_rows
from applications.models import Application, SvaAlertLevel
from applications.models.sva import REFERENCE_FIELDS, SvaAlert
from applications.services import staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import change_url
from ecandidat import parameters
from ecandidat.settings import base
from offers.enums import Avis
from offers.models import DecisionType
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"
LEVELS_CHANGELIST = "admin:applications_svaalertlevel_changelist"
LEVELS_ADD = "admin:applications_svaalertlevel_add"
SVA_COLUMN = 9  # the list's "o" parameter: after the action checkbox and the eight usual columns


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def levels(db):
    """Three levels: 15 days blue, 30 days orange, 60 days red."""
    return [
        SvaAlertLevel.objects.create(days=15, colour=SvaColour.BLUE),
        SvaAlertLevel.objects.create(days=30, colour=SvaColour.ORANGE),
        SvaAlertLevel.objects.create(days=60, colour=SvaColour.RED),
    ]


@pytest.fixture
def received(settings):
    """Alerts counted from the reception date (REC), every validated decision ending them."""
    settings.SVA_ALERT_DATE = "REC"
    settings.SVA_ALERT_FINAL_ONLY = False


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def received_days_ago(formation, campaign, days: int) -> Application:
    return make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED, received_on=days_ago(days))


def alerts() -> dict[int, tuple[int | None, str | None]]:
    """Each application's (threshold, colour), computed by the queryset as the list does."""
    alert = SvaAlertLevel.objects.alert()
    assert alert is not None
    rows = Application.objects.with_sva_alert(alert).values_list("pk", "sva_threshold", "sva_colour")
    return {pk: (threshold, colour) for pk, threshold, colour in rows}


# --- the level reached ------------------------------------------------------------------------------------------


def _stamp(application: Application, field: str, days: int) -> None:
    """Put the reference date ``field`` ``days`` days back (a date, or 10:00 local time that day)."""
    day = days_ago(days)
    value: datetime.date | datetime.datetime = day
    if Application._meta.get_field(field).get_internal_type() == "DateTimeField":
        value = timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))
    extra: dict[str, object] = {}
    if field == "cancelled_at":  # a cancellation only while waiting (application_cancelled_only_while_waiting)
        extra = {"dossier_status": DossierStatus.WAITING}
    if field == "answered_at":  # an answer has its date and its date an answer (application_answer_has_date)
        extra = {"accepted": True}
    Application.objects.filter(pk=application.pk).update(**{field: value}, **extra)


@pytest.mark.parametrize(("code", "field"), sorted(REFERENCE_FIELDS.items()))
def test_each_reference_date_counts_from_its_own_field(settings, formation, campaign, levels, code, field):
    settings.SVA_ALERT_DATE = code
    old, recent, without = (make_application(formation, campaign=campaign) for _ in range(3))
    Application.objects.update(received_on=None, transmitted_at=None)  # only the field under test is set
    _stamp(old, field, 31)
    _stamp(recent, field, 14)

    result = alerts()

    assert result[old.pk] == (30, SvaColour.ORANGE)
    assert result[recent.pk] == (None, None)
    if field != "created_at":  # every application has a creation date
        assert result[without.pk] == (None, None)


def test_every_code_but_no_has_a_field():
    assert set(REFERENCE_FIELDS) == set(SvaReferenceDate.values) - {SvaReferenceDate.NONE}


def test_the_parameters_screen_offers_the_reference_dates_with_their_labels():
    # ecandidat.parameters declares them itself (a layer below): they must stay the enum's.
    assert list(parameters.REGISTRY["SVA_ALERT_DATE"].choices) == SvaReferenceDate.choices


def test_the_highest_threshold_reached_wins(received, formation, campaign, levels):
    ages = {days: received_days_ago(formation, campaign, days) for days in (14, 15, 45, 59, 60, 200)}

    result = alerts()

    assert {days: result[application.pk] for days, application in ages.items()} == {
        14: (None, None),
        15: (15, SvaColour.BLUE),  # reached on the day
        45: (30, SvaColour.ORANGE),
        59: (30, SvaColour.ORANGE),
        60: (60, SvaColour.RED),
        200: (60, SvaColour.RED),
    }


def test_a_date_time_counts_in_local_calendar_days(settings, formation, campaign, levels):
    settings.SVA_ALERT_DATE = "CRE"
    late, next_morning = (make_application(formation, campaign=campaign) for _ in range(2))
    day = days_ago(15)
    late_evening = timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 59)))
    Application.objects.filter(pk=late.pk).update(created_at=late_evening)
    Application.objects.filter(pk=next_morning.pk).update(created_at=late_evening + datetime.timedelta(minutes=2))

    result = alerts()

    assert result[late.pk] == (15, SvaColour.BLUE)
    assert result[next_morning.pk] == (None, None)


def test_without_levels_nobody_is_in_alert(received, formation, campaign):
    application = received_days_ago(formation, campaign, 400)

    assert alerts() == {application.pk: (None, None)}


def test_a_validated_decision_ends_the_alert_an_entered_one_does_not(
    received, formation, campaign, levels, centre_manager
):
    validated, entered = (received_days_ago(formation, campaign, 45) for _ in range(2))
    decide(validated, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)
    staff.record_decision(entered, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)

    result = alerts()

    assert result[validated.pk] == (None, None)
    assert result[entered.pk] == (30, SvaColour.ORANGE)


def test_final_only_a_validated_final_decision_ends_the_alert(
    received, settings, formation, campaign, levels, centre_manager
):
    settings.SVA_ALERT_FINAL_ONLY = True
    final, not_final = (received_days_ago(formation, campaign, 45) for _ in range(2))
    decide(final, Avis.FAVOURABLE, actor=centre_manager)
    decide(not_final, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)
    DecisionType.objects.filter(avis=Avis.FAVOURABLE).update(is_final=True)

    result = alerts()

    assert result[final.pk] == (None, None)
    assert result[not_final.pk] == (30, SvaColour.ORANGE)


def test_alerts_off_reads_nothing(settings, django_assert_num_queries, levels):
    settings.SVA_ALERT_DATE = "NO"

    with django_assert_num_queries(0):
        assert SvaAlertLevel.objects.alert() is None


def test_the_rule_reads_the_levels_most_days_first(received, django_assert_num_queries, levels):
    with django_assert_num_queries(1):
        alert = SvaAlertLevel.objects.alert(today=datetime.date(2026, 6, 1))

    assert alert == SvaAlert(
        reference="REC",
        final_only=False,
        levels=((60, SvaColour.RED), (30, SvaColour.ORANGE), (15, SvaColour.BLUE)),
        today=datetime.date(2026, 6, 1),
    )


# --- the setting ------------------------------------------------------------------------------------------------


def test_an_unknown_reference_date_stops_the_start(monkeypatch):
    monkeypatch.setenv("SVA_ALERT_DATE", "DAT")
    with pytest.raises(ImproperlyConfigured, match="SVA_ALERT_DATE must be NO, CRE, ANN, ACC, TRANS, REC, COM or INC"):
        importlib.reload(base)
    accepted = []
    for code in SvaReferenceDate.values:  # every code, in any case
        monkeypatch.setenv("SVA_ALERT_DATE", code.lower())
        accepted.append(importlib.reload(base).SVA_ALERT_DATE)
    assert accepted == SvaReferenceDate.values
    monkeypatch.setenv("SVA_ALERT_FINAL_ONLY", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SVA_ALERT_FINAL_ONLY must be a boolean"):
        importlib.reload(base)
    monkeypatch.delenv("SVA_ALERT_DATE")
    monkeypatch.delenv("SVA_ALERT_FINAL_ONLY")
    reloaded = importlib.reload(base)
    assert (reloaded.SVA_ALERT_DATE, reloaded.SVA_ALERT_FINAL_ONLY) == ("NO", False)


# --- the levels' admin (central office only) -------------------------------------------------------------------


def test_central_office_reads_adds_changes_and_deletes_levels(
    client, central_manager, django_assert_num_queries, levels
):
    client.force_login(central_manager)

    with django_assert_num_queries(9):
        listing = client.get(reverse(LEVELS_CHANGELIST))
    with django_assert_num_queries(17):
        added = client.post(reverse(LEVELS_ADD), {"days": "90", "colour": SvaColour.PURPLE})
    level = SvaAlertLevel.objects.get(days=90)
    with django_assert_num_queries(17):
        changed = client.post(
            reverse("admin:applications_svaalertlevel_change", args=[level.pk]), {"days": "120", "colour": "#ce0500"}
        )
    with django_assert_num_queries(10):
        deleted = client.post(reverse("admin:applications_svaalertlevel_delete", args=[levels[0].pk]), {"post": "yes"})

    assert listing.status_code == 200
    assert "Counted from: Reception date" not in listing.content.decode()  # SVA_ALERT_DATE is NO in the tests
    assert (
        "SVA alerts are off: the central office turns them on in Parameters (“Date the SVA alerts count from”)."
        in (listing.content.decode())
    )
    assert 'fill="#b34000"/></svg> orange' in listing.content.decode()
    assert (added.status_code, changed.status_code, deleted.status_code) == (302, 302, 302)
    assert list(SvaAlertLevel.objects.values_list("days", "colour")) == [
        (30, SvaColour.ORANGE),
        (60, SvaColour.RED),
        (120, SvaColour.RED),
    ]


def test_the_levels_page_says_what_alerts_count_from(
    client, received, settings, central_manager, django_assert_num_queries
):
    settings.SVA_ALERT_FINAL_ONLY = True
    client.force_login(central_manager)

    with django_assert_num_queries(9):
        response = client.get(reverse(LEVELS_CHANGELIST))

    assert "Counted from: Reception date; only a validated final decision ends an alert." in response.content.decode()


@pytest.mark.parametrize(
    ("days", "colour", "error"),
    [
        ("0", SvaColour.RED, "Ensure this value is greater than or equal to 1."),
        ("30", SvaColour.RED, "A level with this number of days already exists."),
        ("45", "#ffff00", "Select a valid choice."),
    ],
)
def test_a_level_needs_new_positive_days_and_a_palette_colour(
    client, central_manager, django_assert_num_queries, levels, days, colour, error
):
    client.force_login(central_manager)

    with django_assert_num_queries(13 if days == "0" else 14):  # 0 fails before the uniqueness query
        response = client.post(reverse(LEVELS_ADD), {"days": days, "colour": colour})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert SvaAlertLevel.objects.count() == 3


@pytest.mark.parametrize("persona", ["centre_manager", "other_centre_manager", "commission_member", "read_only_staff"])
def test_other_staff_cannot_read_or_write_levels(request, client, django_assert_num_queries, levels, persona):
    client.force_login(request.getfixturevalue(persona))
    delete = reverse("admin:applications_svaalertlevel_delete", args=[levels[0].pk])

    with django_assert_num_queries(6):
        listing = client.get(reverse(LEVELS_CHANGELIST))
    with django_assert_num_queries(9):  # add_view's and delete_view's transactions: two savepoints each
        added = client.post(reverse(LEVELS_ADD), {"days": "90", "colour": SvaColour.RED})
    with django_assert_num_queries(10):  # and delete_view reads the row first
        deleted = client.post(delete, {"post": "yes"})

    # Read-only staff and commission members write none of the setup: the list, its add and delete pages are not
    # found for them, as for an outsider; the managers keep Django's 403.
    refused = 404 if persona in ("commission_member", "read_only_staff") else 403
    assert (listing.status_code, added.status_code, deleted.status_code) == (refused, refused, refused)
    assert SvaAlertLevel.objects.count() == 3


def test_candidate_and_anonymous_are_sent_to_the_login(client, django_assert_num_queries, candidate):
    with django_assert_num_queries(0):
        anonymous = client.get(reverse(LEVELS_CHANGELIST))
    client.force_login(candidate.user)
    with django_assert_num_queries(4):
        listing = client.get(reverse(LEVELS_CHANGELIST))
    with django_assert_num_queries(4):
        added = client.post(reverse(LEVELS_ADD), {"days": "90", "colour": SvaColour.RED})

    assert (anonymous.status_code, listing.status_code, added.status_code) == (302, 302, 302)
    assert SvaAlertLevel.objects.count() == 0


# --- the applications list --------------------------------------------------------------------------------------


def test_the_list_says_the_alert_in_words(
    client, received, django_assert_num_queries, centre_manager, formation, campaign, levels
):
    application = received_days_ago(formation, campaign, 45)
    client.force_login(centre_manager)

    with django_assert_num_queries(21):
        response = client.get(reverse(CHANGELIST))

    html = response.content.decode()
    assert response.context["cl"].list_display[SVA_COLUMN] == "sva_alert"
    assert "SVA alert" in html
    assert f'fill="{SvaColour.ORANGE}"/></svg> 45 d (threshold of 30 d reached)' in html
    assert 'aria-hidden="true"' in html
    assert [row.pk for row in response.context["cl"].result_list] == [application.pk]
    # The row carries its level, inside the back office's scrolling results box (the shared results template), its
    # cells their column's name for the phone's cards.
    assert '<tr role="row" class="sva-row sva-row--orange">' in html
    assert '<td role="cell" data-label="SVA alert" class="field-sva_alert">' in html
    assert '<div class="results" role="region" tabindex="0"' in html


def test_alerts_off_no_column_no_filter(
    client, settings, django_assert_num_queries, centre_manager, formation, campaign, levels
):
    settings.SVA_ALERT_DATE = "NO"
    for n in range(10):
        received_days_ago(formation, campaign, 10 * n)
    client.force_login(centre_manager)

    with django_assert_num_queries(20):  # no query for the levels
        response = client.get(reverse(CHANGELIST))

    assert len(response.context["cl"].result_list) == 10
    assert "sva_alert" not in response.context["cl"].list_display
    assert "threshold of" not in response.content.decode()
    assert not any(spec.title == "SVA alert" for spec in response.context["cl"].filter_specs)


@pytest.mark.parametrize(
    ("value", "expected", "queries"),
    [("yes", {45, 90}, 21), ("no", {3}, 21), ("30", {45}, 21), ("60", {90}, 21), ("15", set(), 20)],
)
def test_the_filter(
    client, received, django_assert_num_queries, centre_manager, formation, campaign, levels, value, expected, queries
):
    by_age = {days: received_days_ago(formation, campaign, days) for days in (3, 45, 90)}
    client.force_login(centre_manager)

    with django_assert_num_queries(queries):  # an empty page prefetches no tags
        response = client.get(reverse(CHANGELIST) + f"?sva={value}")

    assert {row.pk for row in response.context["cl"].result_list} == {by_age[days].pk for days in expected}


@pytest.mark.parametrize(("order", "ages"), [("-", [90, 45, 3]), ("", [3, 45, 90])])
def test_the_list_sorts_by_alert_no_alert_lowest(
    client, received, django_assert_num_queries, centre_manager, formation, campaign, levels, order, ages
):
    by_age = {days: received_days_ago(formation, campaign, days) for days in (3, 90, 45)}
    client.force_login(centre_manager)

    with django_assert_num_queries(21):
        response = client.get(reverse(CHANGELIST) + f"?o={order}{SVA_COLUMN}")

    assert [row.pk for row in response.context["cl"].result_list] == [by_age[days].pk for days in ages]


def test_next_and_previous_follow_a_list_filtered_and_sorted_by_alert(
    client, received, django_assert_num_queries, centre_manager, formation, campaign, levels
):
    by_age = {days: received_days_ago(formation, campaign, days) for days in (3, 20, 90, 45)}
    filters = urlencode({"sva": "yes", "o": f"-{SVA_COLUMN}"})
    client.force_login(centre_manager)

    with django_assert_num_queries(35):  # the same page with alerts off (32), plus the levels for the neighbours
        response = client.get(change_url(by_age[45]) + "?" + urlencode({"_changelist_filters": filters}))

    nav = response.context["nav"]
    assert (nav["position"], nav["count"]) == (2, 3)  # 90, 45, 20 days; 3 days is not in alert
    assert nav["previous_url"] == change_url(by_age[90]) + "?" + urlencode({"_changelist_filters": filters})
    assert nav["next_url"] == change_url(by_age[20]) + "?" + urlencode({"_changelist_filters": filters})


@pytest.mark.parametrize(("rows", "level_count"), [(1, 0), (1, 3), (20, 0), (20, 3)])
def test_list_query_count_depends_on_neither_rows_nor_levels(
    client, received, django_assert_num_queries, centre_manager, formation, campaign, rows, level_count
):
    for days, colour in [(15, SvaColour.BLUE), (30, SvaColour.ORANGE), (60, SvaColour.RED)][:level_count]:
        SvaAlertLevel.objects.create(days=days, colour=colour)
    for n in range(rows):
        received_days_ago(formation, campaign, 5 * n)
    client.force_login(centre_manager)

    with django_assert_num_queries(21):  # the list without SVA alerts (20), plus the levels
        response = client.get(reverse(CHANGELIST) + f"?o=-{SVA_COLUMN}")

    assert len(response.context["cl"].result_list) == rows
    in_alert = [row for row in response.context["cl"].result_list if row.sva_threshold is not None]
    assert len(in_alert) == (max(rows - 3, 0) if level_count else 0)  # 15 days and more


@pytest.mark.parametrize(
    ("persona", "sees", "queries"),
    [
        ("centre_manager", True, 21),
        ("commission_member", True, 24),  # and the commission's shown statuses ("Dossiers affichés")
        ("read_only_staff", True, 21),
        ("central_manager", True, 21),
        ("other_centre_manager", False, 20),
    ],
)
def test_staff_see_the_alerts_of_their_scope(
    request, client, received, django_assert_num_queries, formation, campaign, levels, persona, sees, queries
):
    application = received_days_ago(formation, campaign, 45)
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(queries):
        response = client.get(reverse(CHANGELIST) + "?sva=yes")

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == ([application.pk] if sees else [])
    assert ("45 d (threshold of 30 d reached)" in response.content.decode()) is sees


def test_candidates_and_anonymous_do_not_reach_the_list(
    client, received, django_assert_num_queries, candidate, formation, campaign, levels
):
    received_days_ago(formation, campaign, 45)

    with django_assert_num_queries(0):
        anonymous = client.get(reverse(CHANGELIST) + "?sva=yes")
    client.force_login(candidate.user)
    with django_assert_num_queries(4):
        candidate_response = client.get(reverse(CHANGELIST) + "?sva=yes")

    assert (anonymous.status_code, candidate_response.status_code) == (302, 302)


# --- the export ---------------------------------------------------------------------------------------------------


def test_the_export_gives_the_threshold_and_the_age(received, formation, campaign, levels, django_assert_num_queries):
    in_alert, calm = received_days_ago(formation, campaign, 45), received_days_ago(formation, campaign, 3)
    queryset = Application.objects.filter(pk__in=[in_alert.pk, calm.pk])

    with django_assert_num_queries(2 + 8):  # the ids, the levels once, then one chunk (its queries and prefetches)
        rows = list(export_rows(queryset, ["numero", "sva_threshold", "sva_age"]))

    assert rows == [
        [in_alert.candidate.user.username, 30, 45],
        [calm.candidate.user.username, "", ""],
    ]


def test_the_export_without_sva_alerts_leaves_the_columns_empty_and_reads_no_level(
    settings, formation, campaign, levels
):
    settings.SVA_ALERT_DATE = "NO"
    application = received_days_ago(formation, campaign, 45)

    [row] = export_rows(Application.objects.filter(pk=application.pk), ["sva_threshold", "sva_age"])

    assert row == ["", ""]


@pytest.mark.parametrize("value", ["²", "9" * 30, "-1", "1e3"])
def test_a_forged_filter_value_filters_nothing_and_answers(
    client, received, centre_manager, formation, campaign, levels, value
):
    """``"²".isdigit()`` is true but ``int("²")`` fails; 30 digits overflow SQLite's integers."""
    received_days_ago(formation, campaign, 45)
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST), {"sva": value})

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1
