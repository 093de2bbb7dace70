"""The central office's OPI screen: persona matrix (centre managers: 403 on the screen and its actions; readers:
404, as outsiders; everyone but the central office: 404 on a day's files), counts, the day's ZIP, re-queue /
cancel / produce now, with query counts that do not grow with the number of OPIs."""

import html
import io
import re
import socket
import zipfile

import pytest
from django.urls import reverse
from django.utils.timezone import localtime

from applications.enums import EventKind, OpiState
from applications.models import Opi, OpiExport
from applications.opi.services import transfer_opis
from applications.tests.opi.helpers import QUERIES_SCREEN, admit, confirm, make_candidate
from ecandidat.batches import Report
from ecandidat.models import BatchRun
from offers.tests.factories import CampaignFactory

STAFF_PERSONAS = ["centre_manager", "other_centre_manager", "commission_member", "read_only_staff"]
# A page or an action refused as a whole: the managers keep Django's 403; the readers (commission members, read-only
# staff), never offered the screen, do not find it, as an outsider (ecandidat.admin_base.not_found_for_readers).
REFUSED = {"centre_manager": 403, "other_centre_manager": 403, "commission_member": 404, "read_only_staff": 404}
REFUSED_HISTORY = REFUSED


pytestmark = pytest.mark.usefixtures("back_office_in_french")


def confirmed_candidates(campaign, formation, manager, decision_type, count):
    applications = []
    for n in range(count):
        candidate = make_candidate(campaign, username=f"AB{n:06d}", ine="")
        applications.append(confirm(admit(candidate, formation, manager=manager, decision_type=decision_type)))
    return applications


@pytest.fixture
def export(campaign, formation, centre_manager, opi_type):
    confirmed_candidates(campaign, formation, centre_manager, opi_type, 1)
    return transfer_opis(Report())


def login(client, request, persona):
    if persona == "anonymous":
        return
    client.force_login(request.getfixturevalue("candidate_user" if persona == "candidate" else persona))


URLS = {
    "screen": lambda export: ("get", reverse("admin:applications_opi_changelist")),
    "zip": lambda export: ("get", reverse("admin:applications_opi_export_zip", args=[export.pk])),
    "transfer": lambda export: ("post", reverse("admin:applications_opi_transfer")),
}


@pytest.mark.parametrize("page", sorted(URLS))
@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("central_manager", None),
        *[(persona, "refused") for persona in STAFF_PERSONAS],
        ("candidate", 302),  # the back office sends candidates to its login page
        ("anonymous", 302),
    ],
)
def test_persona_matrix(request, client, export, page, persona, expected):
    login(client, request, persona)
    method, url = URLS[page](export)

    response = getattr(client, method)(url)

    if expected is None:
        expected = {"screen": 200, "zip": 200, "transfer": 302}[page]
    elif expected == "refused":  # the central office's screen and action: refused; a day's files: not found
        expected = {"screen": REFUSED[persona], "zip": 404, "transfer": REFUSED[persona]}[page]
    assert response.status_code == expected
    if expected == 302 and persona in {"candidate", "anonymous"}:
        assert "login" in response["Location"]


def test_zip_of_unknown_day_is_404(client, central_manager, db):
    client.force_login(central_manager)
    assert client.get(reverse("admin:applications_opi_export_zip", args=[999])).status_code == 404


@pytest.mark.parametrize("count", [1, 4])
def test_screen_shows_counts_and_files_in_constant_queries(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type, count
):
    applications = confirmed_candidates(campaign, formation, centre_manager, opi_type, count)
    transfer_opis(Report())
    extra = confirmed_candidates(campaign, formation, centre_manager, opi_type, 0)
    assert not extra
    Opi.objects.filter(application=applications[0]).update(state=OpiState.PENDING)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        response = client.get(reverse("admin:applications_opi_changelist"))

    assert response.status_code == 200
    assert response.context["opi_counts"] == {
        "pending": 1,
        "pending_withdrawals": 0,
        "passed": count - 1,
        "cancelled": 0,
        "pegase_removals": 0,
        "pending_archived": 0,
    }
    html = response.content.decode()
    assert "Télécharger opi-pegase-" in html
    assert "Produire les fichiers du jour maintenant" in html


def test_zip_download_holds_the_reference_files(client, central_manager, export, django_assert_num_queries):
    client.force_login(central_manager)

    with django_assert_num_queries(7):  # its first download is marked collected (prune_opi_files)
        response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]))

    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{export.zip_name}"'
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert sorted(name.split("-")[0] for name in names) == ["candidat", "candidature", "inscription"]


def test_produce_now_writes_the_files_with_the_actor(
    client, central_manager, campaign, formation, centre_manager, opi_type
):
    (application,) = confirmed_candidates(campaign, formation, centre_manager, opi_type, 1)
    client.force_login(central_manager)

    response = client.post(reverse("admin:applications_opi_transfer"), follow=True)
    again = client.post(reverse("admin:applications_opi_transfer"), follow=True)

    assert response.status_code == 200
    assert "1 candidat dans les fichiers du jour (1 OPI déversée par cette exécution)." in response.content.decode()
    # The day's files are rewritten whole: the same candidate again, no OPI transferred twice.
    assert "1 candidat dans les fichiers du jour (0 OPI déversée par cette exécution)." in again.content.decode()
    assert OpiExport.objects.get().candidates == 1
    event = application.events.get(kind=EventKind.OPI_PASSED)
    assert (event.actor, event.batch) == (central_manager, "")
    assert set(BatchRun.objects.values_list("name", flat=True)) == {"transfer_opi"}


def test_produce_now_names_the_folder_and_the_server_it_wrote_to(
    client, central_manager, campaign, formation, centre_manager, opi_type, settings, tmp_path
):
    """Found by review (several web servers): the run writes the folder of the server that served the click, which
    the import job reads only if it is the shared folder; the message names both, so staff can tell."""
    settings.OPI_EXPORT_DIR = str(tmp_path)
    confirmed_candidates(campaign, formation, centre_manager, opi_type, 1)
    client.force_login(central_manager)

    response = client.post(reverse("admin:applications_opi_transfer"), follow=True)

    expected = f"Les fichiers du jour ont été écrits dans {tmp_path} sur le serveur {socket.gethostname()}."
    assert html.escape(expected) in response.content.decode()
    assert [path.name for path in tmp_path.iterdir()]  # written there


def test_produce_now_says_why_a_wish_stays_pending(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type
):
    """A formation without its code in the student records system: the confirmed wish waits, and the page says
    why (it said « 0 OPI déversée » and the OPI stayed « En attente » with no reason given)."""
    formation.pegase_code = ""
    formation.save()
    confirmed_candidates(campaign, formation, centre_manager, opi_type, 1)
    client.force_login(central_manager)

    with django_assert_num_queries(18):
        response = client.post(reverse("admin:applications_opi_transfer"))

    page = client.get(response["Location"]).content.decode()
    assert "1 vœu confirmé reste en attente : sa formation n'a pas encore de code" in page.replace("&#x27;", "'")
    assert Opi.objects.get().state == OpiState.PENDING


def test_produce_now_names_who_was_not_transferred_and_why(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type
):
    """A candidate refused by the run (here a baccalaureate year after this one) keeps their OPI pending. The page
    said only « Des candidats n'ont pas été déversés : voir l'historique des batchs », whose line read
    « candidate AB123456: l'année du baccalauréat … » (English, then French); now the page names the dossier and
    the reason, in French, and so does the history."""
    (application,) = confirmed_candidates(campaign, formation, centre_manager, opi_type, 1)
    bac = application.candidate.baccalaureate
    bac.year = localtime().year + 1
    bac.save()
    client.force_login(central_manager)

    with django_assert_num_queries(18):
        response = client.post(reverse("admin:applications_opi_transfer"))

    page = html.unescape(client.get(response["Location"]).content.decode())
    reason = "l'année du baccalauréat est postérieure à l'année en cours"
    number = application.candidate.user.username
    assert f"Non déversés, leurs OPI restent en attente : dossier {number} : {reason}." in page
    assert BatchRun.objects.get().errors == f"dossier {number} : {reason}"
    assert Opi.objects.get().state == OpiState.PENDING


def test_produce_now_refuses_get(client, central_manager, db):
    client.force_login(central_manager)
    assert client.get(reverse("admin:applications_opi_transfer")).status_code == 405


@pytest.mark.parametrize("count", [1, 3])
def test_cancel_and_requeue_actions(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type, count
):
    applications = confirmed_candidates(campaign, formation, centre_manager, opi_type, count)
    ids = [str(pk) for pk in Opi.objects.values_list("pk", flat=True)]
    client.force_login(central_manager)
    url = reverse("admin:applications_opi_changelist")

    with django_assert_num_queries(15):
        response = client.post(url, {"action": "cancel", "_selected_action": ids})
    assert response.status_code == 302
    assert set(Opi.objects.values_list("state", flat=True)) == {OpiState.CANCELLED}

    with django_assert_num_queries(16):  # one more than cancel: their PJ-OPI go back to pending too, one update
        client.post(url, {"action": "requeue", "_selected_action": ids})
    assert set(Opi.objects.values_list("state", flat=True)) == {OpiState.PENDING}
    kinds = list(applications[0].events.filter(kind__startswith="opi_").values_list("kind", "actor"))
    assert kinds == [
        (EventKind.OPI_CREATED, applications[0].candidate.user.pk),
        (EventKind.OPI_CANCELLED, central_manager.pk),
        (EventKind.OPI_REQUEUED, central_manager.pk),
    ]


@pytest.mark.parametrize("persona", STAFF_PERSONAS)
def test_other_staff_cannot_run_the_actions(request, client, export, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.post(
        reverse("admin:applications_opi_changelist"),
        {"action": "requeue", "_selected_action": [str(Opi.objects.get().pk)]},
    )

    assert response.status_code == REFUSED[persona]
    assert Opi.objects.get().state == OpiState.PASSED


def test_the_opi_screen_is_not_in_other_staffs_menu(client, centre_manager):
    client.force_login(centre_manager)
    assert "applications/opi/" not in client.get(reverse("admin:index")).content.decode()


def test_produce_now_failure_is_a_message_not_a_500(client, central_manager, export, mocker):
    mocker.patch("applications.opi.admin.transfer_opis", side_effect=OSError("disk full"))
    client.force_login(central_manager)

    response = client.post(reverse("admin:applications_opi_transfer"), follow=True)

    assert response.status_code == 200
    assert "Le déversement des OPI a échoué" in response.content.decode()
    assert BatchRun.objects.get(name="transfer_opi").status == BatchRun.Status.ERROR


def test_the_screen_names_the_backend_as_staff_know_it(client, django_assert_num_queries, central_manager, export):
    """The list, its filter and the day's files read "pegase", the code stored, on a French page: now "Pégase"."""
    client.force_login(central_manager)
    opi = Opi.objects.get()

    with django_assert_num_queries(QUERIES_SCREEN):
        screen = client.get(reverse("admin:applications_opi_changelist"))
    filtered = client.get(reverse("admin:applications_opi_changelist"), {"backend": "pegase"})
    row = client.get(reverse("admin:applications_opi_change", args=[opi.pk]))

    assert [spec.title for spec in screen.context["cl"].filter_specs][-1] == "déversée vers"
    html = screen.content.decode()
    assert ">pegase<" not in html
    assert '<span class="quiet">vers Pégase</span></span></td>' in html  # under the state
    assert re.search(r"\(Pégase\) :\s+1 candidat,\s+1 vœu\b", html)  # "1 candidat(s)" before
    assert list(filtered.context["cl"].result_list) == [opi]
    assert '<div class="readonly">Pégase</div>' in row.content.decode()


def test_an_opi_names_its_application_and_links_to_its_dossier(
    client, django_assert_num_queries, central_manager, export
):
    """An OPI's page said "Candidature : 5 → 3" (the candidate's and the formation's ids)."""
    client.force_login(central_manager)
    opi = Opi.objects.select_related("application__candidate__user", "application__formation").get()
    application = opi.application

    # The OPI with its application, candidate and formation: one query; its PJ-OPI (none here): one (test_pieces_page).
    with django_assert_num_queries(10):
        page = client.get(reverse("admin:applications_opi_change", args=[opi.pk])).content.decode()

    dossier = reverse("admin:applications_application_change", args=[application.pk])
    assert (
        f'<a href="{dossier}">{application.candidate.staff_name} ({application.candidate.user.username}) – '
        f"{application.formation.code} {application.formation.title}</a>"
    ) in page
    assert f"{application.candidate_id} → {application.formation_id}" not in page


def test_the_list_reads_as_the_rest_of_the_back_office(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type
):
    """The states said "en attente" and the dates "1 décembre 2026 18:47", where the rest of the back office
    capitalises and writes short dates; eight columns of one fact each made a table of 949 px in the 631 px of
    1,280 px with the side menu open (test_browser_opi_list): five, of two short lines each, say the same."""
    [application] = confirmed_candidates(campaign, formation, centre_manager, opi_type, 1)
    opi = Opi.objects.get(application=application)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        response = client.get(reverse("admin:applications_opi_changelist"))

    html = response.content.decode()
    assert 'class="field-state_shown"><span class="card-value">En attente</span></td>' in html
    assert (
        f'class="field-dates"><span class="card-value">Mise en attente : '
        f'<span class="nowrap">{localtime(opi.queued_at):%d/%m/%Y %H:%M}</span></span></td>'
    ) in html
    assert (
        f'class="field-formation"><span class="card-value">{formation.code}<br><span class="quiet" lang="fr">' in html
    )
    candidate = application.candidate
    assert f'{candidate}<br><span class="quiet">{candidate.user.username}</span></span>' in html
    assert [column for column in response.context["cl"].list_display if column != "action_checkbox"] == [
        "code",
        "candidate",
        "formation",
        "state_shown",
        "dates",
    ]


def test_a_withdrawal_and_its_transfer_read_under_the_state(
    client, django_assert_num_queries, central_manager, export
):
    """The withdrawal, the backend and the transfer's date, formerly three columns of their own, under the state and
    the queueing date."""
    opi = Opi.objects.get()
    Opi.objects.filter(pk=opi.pk).update(withdrawn=True)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        html = client.get(reverse("admin:applications_opi_changelist")).content.decode()

    assert (
        'class="field-state_shown"><span class="card-value">Déversée<br><strong>Désistement</strong><br>'
        '<span class="quiet">vers Pégase</span></span></td>'
    ) in html
    assert f'<br>Déversée : <span class="nowrap">{localtime(opi.passed_at):%d/%m/%Y %H:%M}</span></span></td>' in html


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", ["Pending", "Transferred", "Cancelled"]), ("fr", ["En attente", "Déversée", "Annulée"])],
)
def test_the_state_filter_is_capitalised(
    client,
    django_assert_num_queries,
    central_manager,
    campaign,
    formation,
    centre_manager,
    opi_type,
    language,
    expected,
):
    """« Par état » offered « en attente », « déversée », « annulée », where every other filter capitalises."""
    confirmed_candidates(campaign, formation, centre_manager, opi_type, 1)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        page = client.get(reverse("admin:applications_opi_changelist"), language=language).content.decode()

    choices = re.findall(r'<a href="\?state__exact=[^"]*"[^>]*>([^<]*)</a>', page)
    assert [html.unescape(choice).strip() for choice in choices] == expected


def test_an_opis_history_is_its_applications(client, django_assert_num_queries, central_manager, export):
    """The OPI's « Historique » said « Cet objet n'a pas d'historique de modification », though its application's
    history holds « OPI créée », « OPI déversée » with their actor: it now opens that history."""
    opi = Opi.objects.get()
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_OPI_HISTORY):
        response = client.get(reverse("admin:applications_opi_history", args=[opi.pk]))

    dossier = reverse("admin:applications_application_change", args=[opi.application_id])
    assert response.status_code == 302
    assert response["Location"] == f"{dossier}#history"
    page = client.get(response["Location"]).content.decode()
    assert "OPI créée" in page
    assert "OPI déversée" in page


QUERIES_OPI_HISTORY = 6  # session, user, the staff scope, the OPI, and the savepoint around it (two statements)


def test_an_unknown_opis_history_is_404(client, central_manager, db):
    client.force_login(central_manager)

    assert client.get(reverse("admin:applications_opi_history", args=[999])).status_code == 404


@pytest.mark.parametrize("persona", STAFF_PERSONAS)
def test_other_staff_get_no_opi_history(request, client, export, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse("admin:applications_opi_history", args=[Opi.objects.get().pk]))

    assert response.status_code == REFUSED_HISTORY[persona]


@pytest.mark.parametrize("count", [1, 3])
def test_opis_left_pending_in_an_archived_campaign_are_shown_and_listed(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type, count
):
    """The transfer takes the active campaign's OPIs only: those an archived campaign left pending would never be
    written, and the screen said nothing of them (its counters are the active campaign's)."""
    left = confirmed_candidates(campaign, formation, centre_manager, opi_type, count)
    campaign.is_active = False
    campaign.save()
    new = CampaignFactory(is_active=True)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        screen = client.get(reverse("admin:applications_opi_changelist"))
    listed = client.get(screen.context["pending_archived_url"])
    active_only = client.get(reverse("admin:applications_opi_changelist"), {"campaign": "active"})

    assert screen.context["opi_campaign"] == new
    assert screen.context["opi_counts"]["pending_archived"] == count
    warning = html.unescape(re.sub(r"\s+", " ", screen.content.decode()))
    assert (
        "dans une campagne archivée" in warning
        if count == 1
        else f"{count} OPI sont encore en attente dans des campagnes archivées" in warning
    )
    assert {opi.application for opi in listed.context["cl"].result_list} == set(left)
    assert list(active_only.context["cl"].result_list) == []
    Opi.objects.update(state=OpiState.CANCELLED)
    assert 'id="opi-pending-archived"' not in client.get(reverse("admin:applications_opi_changelist")).content.decode()
