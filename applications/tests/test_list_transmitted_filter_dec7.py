"""The applications list finds the dossiers transmitted today (review of 7 Dec 2026): the filter « Par date de
transmission » (Aujourd'hui, Les 7 derniers jours, Ce mois-ci, Non transmise) and the sortable column « Transmis le ».

The days are the institution's (Europe/Paris): at 00:20 on 7 December, 23:20 on the 6th in UTC, a dossier
transmitted at 00:10 is today's and one transmitted at 23:30 the evening before is not. A candidate who transmits
again after « Incomplet » is found on the day of that second transmission (``transmitted_at`` is stamped by each
one). The list costs the same queries with the filter and the column, whatever its length, and each persona still
reads only the applications of their scope."""

import datetime
import re
from urllib.parse import urlencode

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from accounts.tests.mfa import log_in_staff_browser
from applications.enums import DossierStatus, EventKind, SvaColour
from applications.models import Application, ApplicationEvent, SvaAlertLevel, Tag
from applications.services import candidature, review, staff
from applications.tests.factories_candidature import DecisionTypeFactory, complete_candidate, make_application
from applications.tests.helpers import paris
from offers.enums import Avis
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

CHANGELIST = "admin:applications_application_changelist"
NOW = paris(2026, 12, 7, 0, 20)  # 6 Dec 2026, 23:20 UTC
TRANSMITTED_COLUMN = 9  # the list's "o": after the action checkbox and the eight columns before it
# Each application's local transmission moment: the day before, just before midnight; today, just after it; the
# first day of the past seven, just after midnight (30 Nov in UTC); the day before those seven, just before midnight.
MOMENTS = {
    "yesterday_23_30": paris(2026, 12, 6, 23, 30),
    "today_00_10": paris(2026, 12, 7, 0, 10),
    "december_1st_00_15": paris(2026, 12, 1, 0, 15),
    "november_30_23_30": paris(2026, 11, 30, 23, 30),
}


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def formation(clock, centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def dated(formation, campaign):
    """One application per moment of ``MOMENTS``, and one never transmitted (a paper dossier « Réceptionné »)."""
    applications = {
        name: make_application(formation, campaign=campaign, transmitted_at=at) for name, at in MOMENTS.items()
    }
    applications["never"] = make_application(formation, campaign=campaign, transmitted_at=None)
    return applications


def listed(client, **query) -> list[int]:
    response = client.get(reverse(CHANGELIST) + "?" + urlencode(query))
    assert response.status_code == 200
    return [row.pk for row in response.context["cl"].result_list]


def names(applications, pks) -> set[str]:
    by_pk = {application.pk: name for name, application in applications.items()}
    return {by_pk[pk] for pk in pks}


def column_cells(html: str) -> list[str]:
    cells = re.findall(
        r'<td[^>]* class="field-transmitted_on"[^>]*>(?:<span class="nowrap">)?([^<]*)(?:</span>)?</td>', html
    )
    return [cell.strip() for cell in cells]


# --- the filter -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("today", {"today_00_10"}),
        ("past_7_days", {"today_00_10", "yesterday_23_30", "december_1st_00_15"}),
        ("this_month", {"today_00_10", "yesterday_23_30", "december_1st_00_15"}),
        ("no", {"never"}),
        ("", set(MOMENTS) | {"never"}),  # « Tout »
        ("forged", set(MOMENTS) | {"never"}),  # a value the list never offers: ignored, as the other filters do
    ],
)
def test_each_choice_selects_by_the_local_day(client, centre_manager, dated, choice, expected):
    """At 00:20 in Paris (23:20 UTC the day before): 00:10 is today, 23:30 yesterday is not; 1 December 00:15 (30
    November in UTC) is within the past seven days (1 to 7 December) and this month, 30 November 23:30 neither."""
    client.force_login(centre_manager)

    assert names(dated, listed(client, transmitted=choice)) == expected


def test_the_filter_is_offered_with_its_choices(client, centre_manager, dated):
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST) + "?transmitted=today&_facets=1")

    spec = next(spec for spec in response.context["cl"].filter_specs if spec.expected_parameters() == ["transmitted"])
    choices = [(choice["display"], choice["selected"]) for choice in spec.choices(response.context["cl"])]
    assert choices == [
        ("Tout", False),
        ("Aujourd'hui (1)", True),
        ("Les 7 derniers jours (3)", False),
        ("Ce mois-ci (3)", False),
        ("Non transmise (1)", False),
    ]
    assert "Par date de transmission" in response.text


def test_a_transmission_again_after_incomplete_is_found_on_its_day(
    client, clock, centre_manager, centre, commission, campaign
):
    """``transmitted_at`` is the latest transmission: « transmit » stamps it each time, from « En attente » or
    « Incomplet ». Transmitted on 3 December, set « Incomplet » on the 4th, transmitted again this morning at 00:05:
    today's, dated today in the list, as the history's latest « transmise » row says; one set « Incomplet » that
    was not transmitted again keeps its first transmission's day."""
    clock.move_to(paris(2026, 12, 3, 10, 0), tick=False)
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER")
    again, waits = (
        candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
        for candidate in (complete_candidate(user__campaign=campaign) for _ in range(2))
    )
    for application in (again, waits):
        candidature.transmit_application(application=application, actor=application.candidate.user)
    clock.move_to(paris(2026, 12, 4, 9, 0), tick=False)
    for application in (again, waits):
        staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)
    clock.move_to(paris(2026, 12, 7, 0, 5), tick=False)
    candidature.transmit_application(application=again, actor=again.candidate.user)
    clock.move_to(NOW, tick=False)
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST) + "?transmitted=today")
    past_week = listed(client, transmitted="past_7_days", o=f"-{TRANSMITTED_COLUMN}")

    assert [row.pk for row in response.context["cl"].result_list] == [again.pk]
    assert column_cells(response.text) == ["07/12/2026"]
    assert past_week == [again.pk, waits.pk]
    again.refresh_from_db()
    transmissions = ApplicationEvent.objects.filter(application=again, kind=EventKind.TRANSMITTED)
    assert transmissions.count() == 2
    assert again.transmitted_at == transmissions.latest("created_at").created_at == paris(2026, 12, 7, 0, 5)
    waits.refresh_from_db()
    assert (waits.dossier_status, waits.transmitted_at) == (DossierStatus.INCOMPLETE, paris(2026, 12, 3, 10, 0))


# --- the column -------------------------------------------------------------------------------------------------


def test_the_column_shows_the_local_day_as_a_short_date(client, centre_manager, dated):
    """Each transmission's Paris day, 00:10 on 7 December (6 December in UTC) included; « — » never transmitted."""
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST) + f"?o=-{TRANSMITTED_COLUMN}")

    assert response.context["cl"].list_display[TRANSMITTED_COLUMN] == "transmitted_on"
    assert '<a role="button" href="?o=9">Transmis le</a>' in response.text
    assert column_cells(response.text) == ["07/12/2026", "06/12/2026", "01/12/2026", "30/11/2026", "—"]


def test_the_column_in_english(client, centre_manager, dated):
    client.language = "en"
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST) + f"?transmitted=today&o={TRANSMITTED_COLUMN}")

    assert column_cells(response.text) == ["7 Dec 2026"]
    assert "Transmitted on" in response.text
    assert "By transmission date" in response.text


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("", ["never", "november_30_23_30", "december_1st_00_15", "yesterday_23_30", "today_00_10"]),
        ("-", ["today_00_10", "yesterday_23_30", "december_1st_00_15", "november_30_23_30", "never"]),
    ],
)
def test_the_column_sorts_by_the_transmission_never_transmitted_first_then_last(
    client, centre_manager, dated, order, expected
):
    """Latest first, the dossiers never transmitted last (first when the oldest come first), on every database."""
    client.force_login(centre_manager)
    by_pk = {application.pk: name for name, application in dated.items()}

    assert [by_pk[pk] for pk in listed(client, o=f"{order}{TRANSMITTED_COLUMN}")] == expected


def test_with_sva_alerts_their_column_keeps_its_place_and_the_date_follows(client, settings, centre_manager, dated):
    """The SVA column stays the ninth (saved filters sorted by it say ``o=9``); « Transmis le » comes after it."""
    settings.SVA_ALERT_DATE = "REC"
    SvaAlertLevel.objects.create(days=15, colour=SvaColour.BLUE)
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST) + f"?o=-{TRANSMITTED_COLUMN + 1}")

    assert response.context["cl"].list_display[TRANSMITTED_COLUMN:] == ["sva_alert", "transmitted_on"]
    assert names(dated, [row.pk for row in response.context["cl"].result_list][:1]) == {"today_00_10"}


# --- the cost ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 12])
@pytest.mark.parametrize("query", ["", f"?transmitted=today&o=-{TRANSMITTED_COLUMN}"])
def test_the_list_costs_the_same_queries_whatever_its_length(
    client, django_assert_num_queries, centre_manager, formation, campaign, count, query
):
    """Session, user, scope, the campaigns, centres, formations and tags offered, the count, the rows, their tags,
    the status counters…: twenty queries, as the list had before the filter and the column (test_admin_listing);
    the filter's choices and the column's dates cost none."""
    tag = Tag.objects.create(label="Prioritaire")
    for _ in range(count):
        application = make_application(formation, campaign=campaign, transmitted_at=MOMENTS["today_00_10"])
        review.set_tags(application=application, actor=centre_manager, tags=[tag])
    client.force_login(centre_manager)

    with django_assert_num_queries(20):
        response = client.get(reverse(CHANGELIST) + query)

    assert len(response.context["cl"].result_list) == count
    assert column_cells(response.text) == ["07/12/2026"] * count


# --- the personas -----------------------------------------------------------------------------------------------


@pytest.fixture
def transmitted_today_everywhere(formation, campaign, centre, other_centre):
    """Applications transmitted this morning: in ``formation`` (``commission``'s, received and complete), in another
    commission of the same centre, and in another centre."""
    at = MOMENTS["today_00_10"]
    other_commission = CommissionFactory(centre=centre, code="COM-B", label="Commission B")
    return {
        "received": make_application(formation, campaign=campaign, transmitted_at=at),
        "complete": make_application(formation, campaign=campaign, transmitted_at=at, status=DossierStatus.COMPLETE),
        "other_commission": make_application(
            FormationFactory(centre=centre, commission=other_commission), campaign=campaign, transmitted_at=at
        ),
        "other_centre": make_application(FormationFactory(centre=other_centre), campaign=campaign, transmitted_at=at),
    }


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("centre_manager", {"received", "complete", "other_commission"}),
        ("other_centre_manager", {"other_centre"}),
        ("commission_member", {"complete"}),  # their commission shows « Complet » only
        ("central_manager", {"received", "complete", "other_commission", "other_centre"}),
    ],
)
def test_each_persona_finds_todays_dossiers_of_their_scope_only(
    request, client, commission, transmitted_today_everywhere, persona, expected
):
    commission.shows_waiting = commission.shows_received = commission.shows_incomplete = False
    commission.save()
    client.force_login(request.getfixturevalue(persona))

    found = names(transmitted_today_everywhere, listed(client, transmitted="today"))
    never = listed(client, transmitted="no")

    assert found == expected
    assert never == []


# --- the width --------------------------------------------------------------------------------------------------

LONG_NAMES = ["ARNAUD-DE-LA-CHAPELLE-ST-MARC", "BERTIN-LEFÈVRE-DUPONT", "CHEVALIER-MONTGOMERY"]
# How far the page, or the list inside its own box, scrolls sideways (0: it fits).
SIDEWAYS_JS = """
() => {
  const page = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  const box = document.querySelector('#changelist .results');
  return Math.max(page, box ? box.scrollWidth - box.clientWidth : 0);
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_list_with_the_date_and_the_sva_column_fits_1280_px(
    live_server, transactional_db, browser_page, settings, campaign, centre, commission, centre_manager, language
):
    """The widest the list gets: the SVA column on, long names, a decision to validate with its rank, two tags, and
    « Transmis le »; at 1,280 px neither the page nor the list's box scrolls sideways."""
    settings.SVA_ALERT_DATE = "REC"
    SvaAlertLevel.objects.create(days=1, colour=SvaColour.ORANGE)
    formation = FormationFactory(centre=centre, commission=commission, code="M2ISER-INTERNATIONAL")
    tags = [Tag.objects.create(label=label) for label in ("Prioritaire", "Entretien à prévoir")]
    waiting = DecisionTypeFactory(avis=Avis.COMPLEMENTARY_LIST, label="Liste complémentaire")
    for rank, name in enumerate(LONG_NAMES, start=1):
        candidate = complete_candidate(user__campaign=campaign, birth_name=name, first_name="Marie-Ségolène")
        application = candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
        candidature.transmit_application(application=application, actor=candidate.user)
        Application.objects.filter(pk=application.pk).update(received_on=datetime.date(2026, 11, 2))
        staff.record_decision(application, decision_type=waiting, actor=centre_manager, rank=rank)
        review.set_tags(application=application, actor=centre_manager, tags=tags)
    page = browser_page
    log_in_staff_browser(page, live_server, centre_manager)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(live_server.url + reverse(CHANGELIST) + "?o=1")

    assert page.locator("td.field-transmitted_on").count() == len(LONG_NAMES)
    assert page.locator("td.field-sva_alert").count() == len(LONG_NAMES)
    assert page.evaluate(SIDEWAYS_JS) <= 0
    page.locator("#changelist").screenshot(path=f"/tmp/transmitted-dec7-list-1280-{language}.png")
