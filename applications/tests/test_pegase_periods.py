"""The campaign code against Pégase's periods (P2, eCandidat issue #108): the client pages through them, the campaign
form refuses a code Pégase does not list (a warning when Pégase is unreachable), and no OPI file is produced with a
code that is not a period or that nobody could check. Unit tests with a stand-in client; integration tests against
the local Pégase peer (devtools/pegase/server.py) over a real socket."""

import datetime
import html
import os

import pytest
import requests
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation

from accounts.tests.factories import UserFactory
from applications.enums import OpiState
from applications.models import Opi, OpiExport
from applications.opi.periods import Verdict, check_campaign_code
from applications.opi.services import transfer_opis
from applications.pegase import PegaseBackend, Period
from applications.sis import StudentRecordsUnavailable
from applications.tests.factories_candidature import DecisionTypeFactory
from applications.tests.helpers import configure_pegase, pegase_peer_stats, start_pegase_peer
from applications.tests.opi.helpers import admit, confirm, make_candidate
from ecandidat import connectivity
from ecandidat.batches import Report
from ecandidat.connectivity import Outcome, run_check
from offers import demo
from offers.enums import Avis
from offers.models import Campaign
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

# Session and user (and their savepoints), the active campaign, the message kept in the session: no batch run, no OPI.
QUERIES_REFUSED = 6


class PagedClient:
    """Answers P2 from ``pages`` (a list of item lists) and records the parameters asked."""

    def __init__(self, pages, total_pages=None):
        self.pages, self.total_pages, self.asked = pages, total_pages, []

    def get_json(self, url, *, params=None, scope=""):
        self.asked.append((url, dict(params or {})))
        page = params["page"]
        if page >= len(self.pages):
            return None
        return {"items": self.pages[page], "totalPages": self.total_pages or len(self.pages)}


def backend_with(client) -> PegaseBackend:
    return PegaseBackend(client=client, etablissement="ETAB00", ref_url="http://p/ref", idt_url="x", ins_url="y")


@pytest.fixture(autouse=True)
def _fresh_memory(fresh_pegase_memory):
    cache.clear()  # the periods Pégase confirmed are remembered in the cache
    yield
    cache.clear()


@pytest.fixture
def pegase_api(settings):
    """Pégase's API configured (the checks apply), at an address nothing listens on unless a test starts the peer."""
    settings.OPI_BACKEND = "pegase"
    configure_pegase(settings, "http://127.0.0.1:9")


def test_periods_follow_every_page_from_zero(db):
    client = PagedClient(
        [
            [{"code": "PER-2023", "libelle": "2023-2024", "libelleLong": "Année 2023-2024"}, {"code": " 2024 "}],
            [{"code": "", "libelle": "sans code"}, None, {"code": "2025", "libelle": "2025-2026", "libelleLong": ""}],
            [{"code": "2026", "libelle": "2026-2027", "champInconnu": 1}],
        ]
    )

    found = backend_with(client).periods()

    assert found == [
        Period("PER-2023", "Année 2023-2024"),
        Period("2024", "2024"),
        Period("2025", "2025-2026"),
        Period("2026", "2026-2027"),
    ]
    assert [params for _url, params in client.asked] == [
        {"type": "PERIODE", "page": page, "taille": 1000} for page in (0, 1, 2)
    ]
    assert client.asked[0][0] == "http://p/ref/etablissement/ETAB00/espaces"


def test_a_missing_page_is_an_outage_not_a_short_list(db):
    client = PagedClient([[{"code": "2024"}]], total_pages=2)  # says 2 pages, the second is a 404

    with pytest.raises(StudentRecordsUnavailable, match="page 1 missing"):
        backend_with(client).periods()


def test_a_code_pegase_does_not_list_is_refused_in_french(pegase_api):
    backend = backend_with(PagedClient([[{"code": "2024"}, {"code": "2025"}]]))

    check = check_campaign_code("C2026", backend=backend)

    assert check.verdict == Verdict.NOT_A_PERIOD
    assert check.blocks_files
    with translation.override("fr"):
        assert check.refusal() == (
            "« C2026 » n'est pas une période de Pégase : les fichiers OPI portent le code de la campagne comme "
            "période Pégase (code_periode) et Pégase les refuserait tous. Périodes de Pégase : 2024, 2025."
        )


def test_a_confirmed_code_is_trusted_a_day_while_pegase_is_unreachable(pegase_api):
    listed = backend_with(PagedClient([[{"code": "2026"}]]))
    assert check_campaign_code("2026", backend=listed).verdict == Verdict.PERIOD

    assert check_campaign_code("2026", fresh=False).verdict == Verdict.PERIOD  # memory: Pégase is not asked
    assert check_campaign_code("2026").verdict == Verdict.UNREACHABLE  # a typed code is always asked
    assert check_campaign_code("2027", fresh=False).verdict == Verdict.UNREACHABLE  # never confirmed


def test_without_pegase_api_nothing_is_checked(settings, db):
    settings.OPI_BACKEND, settings.PEGASE_AUTH_URL = "pegase", ""
    assert check_campaign_code("anything").verdict == Verdict.NOT_CHECKED
    settings.PEGASE_AUTH_URL, settings.OPI_BACKEND = "http://127.0.0.1:9/cas", "apogee"
    assert check_campaign_code("anything").verdict == Verdict.NOT_CHECKED


@pytest.fixture
def pending_opi(campaign, centre, commission, centre_manager):
    formation = FormationFactory(centre=centre, commission=commission, pegase_code="M1-PHYS")
    decision_type = DecisionTypeFactory(code="AVIS_FAV_OPI", avis=Avis.FAVOURABLE, opi_transfer=True)
    return confirm(admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=decision_type))


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ([Period("2024", "")], "is not a Pégase period"),
        (StudentRecordsUnavailable("down"), "Pégase could not be reached"),
    ],
)
def test_the_batch_produces_no_file_with_a_code_refused_or_unchecked(pegase_api, pending_opi, mocker, answer, says):
    if isinstance(answer, Exception):
        mocker.patch.object(PegaseBackend, "periods", side_effect=answer)
    else:
        mocker.patch.object(PegaseBackend, "periods", return_value=answer)
    report = Report()

    assert transfer_opis(report) is None

    (error,) = report.errors
    assert says in error
    assert not OpiExport.objects.exists()
    assert Opi.objects.get().state == OpiState.PENDING


# --- against the local peer ---------------------------------------------------------------------------------------


@pytest.fixture
def peer(settings):
    process, url = start_pegase_peer("--page-size", "2")  # P2's 8 periods (3 of the fixture, 5 years) over 4 pages
    try:
        settings.OPI_BACKEND = "pegase"
        configure_pegase(settings, url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.integration
def test_the_peer_pages_the_periods_and_the_client_reads_them_all(peer):
    found = PegaseBackend.from_settings().periods()

    # The fixture's irregular codes (padded, prefixed; the one without a code skipped), then one period per academic
    # year from three before the peer's (pinned: 2026-2027) to the next.
    assert [period.code for period in found] == ["PER-2023", "PER-2022", "2023", "2024", "2025", "2026", "2027"]
    assert [period.label for period in found[:4]] == [
        "Année universitaire 2023-2024",
        "2022-2023",  # no libelleLong
        "Année universitaire 2023-2024",
        "Année universitaire 2024-2025",
    ]
    assert pegase_peer_stats(peer)["calls_by_api"] == {"ref": 4}  # pages 0 to 3, then totalPages stops it


def peer_period_codes(*args: str, **kwargs) -> list[str]:
    process, url = start_pegase_peer(*args, **kwargs)
    try:
        token = requests.post(
            f"{url}/cas/v1/tickets", data={"username": "u", "password": "p", "token": "true"}, timeout=5
        ).text
        spaces = requests.get(
            f"{url}/api/v1/ref/etablissement/ETAB00/espaces",
            params={"type": "PERIODE"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
    finally:
        process.terminate()
        process.wait(timeout=10)
    return [space["code"] for space in spaces["items"] if space["code"].isdigit()]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("today", "years"),
    [
        (datetime.date(2027, 8, 31), ["2023", "2024", "2025", "2026", "2027"]),  # still 2026-2027
        (datetime.date(2027, 9, 1), ["2024", "2025", "2026", "2027", "2028"]),  # 2027-2028 begins
        (datetime.date(2031, 1, 15), ["2027", "2028", "2029", "2030", "2031"]),
    ],
)
def test_the_peers_periods_follow_the_calendar(today, years):
    assert peer_period_codes(today=today) == years


@pytest.mark.integration
def test_the_peers_today_comes_from_the_option_else_the_environment_else_the_day():
    env = os.environ | {"PEGASE_PEER_TODAY": "2030-10-02"}
    assert peer_period_codes(today=None, env=env) == ["2027", "2028", "2029", "2030", "2031"]
    assert peer_period_codes(today=datetime.date(2027, 10, 2), env=env)[-1] == "2028"

    env.pop("PEGASE_PEER_TODAY")
    today = timezone.localdate()  # Europe/Paris, as the peer's
    current = today.year if today.month >= 9 else today.year - 1
    assert peer_period_codes(today=None, env=env) == [f"{year}" for year in range(current - 3, current + 2)]


@pytest.mark.integration
@pytest.mark.parametrize("today", [datetime.date(2027, 9, 1), datetime.date(2029, 3, 20)])
def test_the_demo_campaign_is_a_period_of_the_peer_whatever_the_date(settings, today):
    # make run (STUDENT_RECORDS_BACKEND=pegase) starts the peer and seeds the demo on the same day: the campaign the
    # demo makes active must be one of the peer's periods, or the campaign form and the OPI files would refuse it.
    demo.seed(today=today)
    code = Campaign.objects.active().get().code
    process, url = start_pegase_peer(today=today)
    try:
        settings.OPI_BACKEND = "pegase"
        configure_pegase(settings, url)
        assert check_campaign_code(code).verdict == Verdict.PERIOD
    finally:
        process.terminate()
        process.wait(timeout=10)


ADD = reverse("admin:offers_campaign_add")


@pytest.fixture
def scolarite(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="scolarite"))
    return client


def campaign_form(code: str) -> dict:
    starts = timezone.localdate() + datetime.timedelta(days=400)
    return {"code": code, "label": f"Campagne {code}", "starts_on": starts, "ends_on": starts, "archive_on": ""}


@pytest.mark.integration
def test_the_campaign_form_refuses_a_code_that_is_not_a_pegase_period(peer, scolarite):
    # The installation's first campaign, made active in the form: its code must be a period now.
    refused = scolarite.post(ADD, campaign_form("2099") | {"is_active": "on"}, language="fr")

    assert refused.status_code == 200
    (error,) = refused.context["adminform"].form.errors["code"]
    assert error.startswith("« 2099 » n'est pas une période de Pégase")
    page = html.unescape(refused.content.decode())
    assert "Périodes de Pégase : PER-2023, PER-2022, 2023, 2024, 2025, 2026, 2027." in page
    assert not Campaign.objects.filter(code="2099").exists()

    accepted = scolarite.post(ADD, campaign_form("2027") | {"is_active": "on"}, language="fr")
    assert accepted.status_code == 302
    assert Campaign.objects.get(code="2027").is_active


@pytest.mark.integration
def test_the_next_campaign_is_saved_with_a_warning_when_pegase_does_not_list_its_period_yet(peer, scolarite):
    # Next year's campaign is often prepared before Pégase's administrator creates its period: saved, with a warning.
    CampaignFactory(code="2027", is_active=True)

    response = scolarite.post(ADD, campaign_form("2099"), language="fr", follow=True)

    assert Campaign.objects.get(code="2099").is_active is False
    page = html.unescape(response.content.decode())
    assert "« 2099 » n'est pas une période de Pégase" in page
    assert "La campagne est enregistrée, car elle n'est pas encore active" in page


def test_pegase_unreachable_saves_the_campaign_with_a_warning(pegase_api, scolarite):
    response = scolarite.post(ADD, campaign_form("2099"), language="fr", follow=True)

    assert Campaign.objects.filter(code="2099").exists()
    page = html.unescape(response.content.decode())
    assert "Pégase n'a pas pu être joint : le code de campagne « 2099 » n'a pas été vérifié" in page


def test_editing_the_dates_does_not_ask_pegase(pegase_api, scolarite, mocker):
    starts = timezone.localdate() + datetime.timedelta(days=400)
    campaign = CampaignFactory(code="2099", starts_on=starts, ends_on=starts)
    periods_read = mocker.patch.object(PegaseBackend, "periods", side_effect=AssertionError("asked"))
    data = campaign_form("2099") | {"label": "Nouveau libellé"}

    response = scolarite.post(reverse("admin:offers_campaign_change", args=[campaign.pk]), data, language="fr")

    assert response.status_code == 302
    periods_read.assert_not_called()


@pytest.mark.integration
@pytest.mark.usefixtures("back_office_in_french")
def test_the_opi_screen_refuses_to_produce_files_with_a_code_that_is_not_a_period(
    peer, client, central_manager, pending_opi, django_assert_num_queries
):
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_REFUSED):
        response = client.post(reverse("admin:applications_opi_transfer"))

    page = html.unescape(client.get(response["Location"]).content.decode())
    code = pending_opi.campaign.code
    assert f"Aucun fichier OPI produit, les OPI restent en attente. « {code} » n'est pas une période de Pégase" in page
    assert not OpiExport.objects.exists()
    assert Opi.objects.get().state == OpiState.PENDING

    Campaign.objects.filter(pk=pending_opi.campaign_id).update(code="2026")  # corrected
    produced = client.post(reverse("admin:applications_opi_transfer"), follow=True)
    assert "1 candidat dans les fichiers du jour" in produced.content.decode()
    assert "2026" in next(text for name, text in OpiExport.objects.get().files.items() if "candidature" in name)


@pytest.mark.integration
def test_the_connectivity_check_reads_the_periods(settings):
    # A password the page's masking cannot find in the detail (the peer's usual "p" is in "periods").
    process, url = start_pegase_peer("--password", "pegase-Secret-8")
    try:
        configure_pegase(settings, url)
        settings.PEGASE_PASSWORD = "pegase-Secret-8"
        result = run_check(connectivity.get("pegase"))
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert result.outcome == Outcome.OK, result
    assert result.detail.endswith("; periods: 8")  # the fixture's 3 (one without a code) and the calendar's 5
