"""Issue 12: the candidate sees their rank on the complementary list, with its date, on the recap, and receives one
mail when they moved up (the nightly batch), not one per step."""

import importlib
import io

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import EventKind
from applications.services import candidature as candidature_services
from applications.services import nightly
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails
from ecandidat import parameters
from ecandidat.models import BatchRun
from ecandidat.parameters import set_parameters
from ecandidat.settings import base
from ecandidat.tests.parameters import hide_the_overrides_table
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        auto_waiting_list=True,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


@pytest.fixture
def listed(formation, campaign, central_manager):
    """Three candidates on the list (ranks 1, 2, 3) and one admitted candidate."""
    rows = []
    for rank in (1, 2, 3):
        application = make_application(formation, campaign=campaign)
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
        rows.append(application)
    admitted = make_application(formation, campaign=campaign)
    decide(admitted, Avis.FAVOURABLE, actor=central_manager)
    return admitted, rows


def run(command):
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_entering_the_list_sets_the_rank_and_its_date_without_a_progress_mail(listed):
    _admitted, rows = listed
    for position, application in enumerate(rows, start=1):
        application.refresh_from_db()
        assert application.waiting_list_rank == position
        assert application.waiting_list_rank_mailed == position
        assert application.waiting_list_rank_at is not None

    assert "nothing to do" in run("mail_waiting_list_progress")
    assert mails("LISTE_COMP_PROGRESSION") == []


def test_one_mail_per_candidate_however_many_steps(listed, formation, campaign, central_manager):
    admitted, rows = listed
    # Two places freed the same day: the third candidate moves from 3 to 1 in two steps.
    candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")
    promoted = rows[0]
    candidature_services.withdraw_application(application=promoted, actor=promoted.candidate.user, reason="ADM")

    output = run("mail_waiting_list_progress")

    assert "progress mails sent: 1" in output
    [mail] = mails("LISTE_COMP_PROGRESSION")
    third = rows[2]
    third.refresh_from_db()
    assert mail.to == third.candidate.user.email
    assert "rang est maintenant 1 (il était 3)" in mail.body
    # The recap that shows the rank, linked (it was only named).
    recap = settings.SITE_URL + reverse("applications:detail", args=[third.public_id])
    assert f"Votre candidature sur eCandidat : {recap}\n" in mail.body
    assert third.waiting_list_rank_mailed == 1
    event = third.events.get(kind=EventKind.RANK_PROGRESS_MAILED)
    assert (event.actor, event.batch, event.comment) == (None, "mail_waiting_list_progress", "3 → 1")
    # The second of the list was promoted (favourable decision): no rank, no progress mail.
    assert rows[1].decisions.validated().newest_first().first().decision_type.avis == Avis.FAVOURABLE
    # Rerun: nothing more.
    assert "nothing to do" in run("mail_waiting_list_progress")
    assert len(mails("LISTE_COMP_PROGRESSION")) == 1


def test_a_progress_mail_that_fails_stops_none_of_the_others(listed, mocker):
    admitted, rows = listed
    candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")
    second, third = rows[1], rows[2]  # ranks 2 and 3 became 1 and 2: two mails
    real = nightly.notify_candidate

    def notify(**kwargs):
        if kwargs["application"].pk == second.pk:
            raise RuntimeError("could not write the mail")
        return real(**kwargs)

    mocker.patch.object(nightly, "notify_candidate", side_effect=notify)

    output = run("mail_waiting_list_progress")

    assert "progress mails sent: 1" in output
    [mail] = mails("LISTE_COMP_PROGRESSION")
    assert mail.to == third.candidate.user.email
    second.refresh_from_db()
    assert second.waiting_list_rank_mailed == 2  # still unclaimed: mailed next night
    batch = BatchRun.objects.get(name="mail_waiting_list_progress")
    assert batch.status == BatchRun.Status.ERROR
    assert f"application {second.pk}: RuntimeError: could not write the mail" in batch.errors


def test_a_formation_whose_ranking_fails_stops_none_of_the_others(
    listed, formation, campaign, central_manager, mocker
):
    other = FormationFactory(centre=formation.centre, commission=formation.commission, auto_waiting_list=True)
    decide(make_application(other, campaign=campaign), Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    real = nightly.recompute_waiting_list_ranks

    def recompute(*, formation):
        if formation.pk == listed[1][0].formation_id:
            raise RuntimeError("deadlock detected")
        return real(formation=formation)

    mocker.patch.object(nightly, "recompute_waiting_list_ranks", side_effect=recompute)

    output = run("recompute_waiting_list_ranks")

    assert "formations ranked: 1" in output
    batch = BatchRun.objects.get(name="recompute_waiting_list_ranks")
    assert batch.status == BatchRun.Status.ERROR
    assert f"formation {formation.code}: RuntimeError: deadlock detected" in batch.errors


def test_dry_run_only_counts(listed):
    admitted, rows = listed
    candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")

    out = io.StringIO()
    call_command("mail_waiting_list_progress", "--dry-run", stdout=out)

    assert "progress mails to send: 2" in out.getvalue()  # ranks 2 and 3 became 1 and 2
    assert mails("LISTE_COMP_PROGRESSION") == []


# --- the recap --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("others", [0, 5])
def test_recap_shows_the_rank_and_its_date(
    client, formation, campaign, central_manager, others, django_assert_num_queries
):
    for rank in range(1, others + 1):
        decide(
            make_application(formation, campaign=campaign), Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank
        )
    mine = make_application(formation, campaign=campaign)
    decide(mine, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=others + 1)
    mine.refresh_from_db()
    client.force_login(mine.candidate.user)

    with django_assert_num_queries(8):
        response = client.get(reverse("applications:detail", args=[mine.public_id]), language="fr")

    assertContains(response, "Rang sur la liste complémentaire")
    assertContains(response, f"{others + 1} (au {mine.waiting_list_rank_at.astimezone().strftime('%d/%m/%Y')})")


def test_no_rank_without_a_complementary_list_decision(client, listed):
    admitted, _rows = listed
    client.force_login(admitted.candidate.user)

    response = client.get(reverse("applications:detail", args=[admitted.public_id]), language="fr")

    assertNotContains(response, "Rang sur la liste complémentaire")


# --- WAITING_LIST_RANK_DISPLAY (eCandidat LC_MODE_AFFICHAGE_RANG) -------------------------------------------------


@pytest.fixture
def moved_up(listed, central_manager):
    """The third of the list (entered rank 3) is now second: the admitted candidate withdrew, the first of the list
    was promoted."""
    admitted, rows = listed
    candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")
    third = rows[2]
    third.refresh_from_db()
    assert third.waiting_list_rank == 2
    return third


def _recap(client, application):
    return client.get(reverse("applications:detail", args=[application.public_id]), language="fr")


def test_display_r_shows_the_rang_reel(settings, client, moved_up):
    settings.WAITING_LIST_RANK_DISPLAY = "R"
    client.force_login(moved_up.candidate.user)

    response = _recap(client, moved_up)

    assertContains(response, f"2 (au {moved_up.waiting_list_rank_at.astimezone().strftime('%d/%m/%Y')})")


def test_display_s_shows_the_rank_the_commission_entered(settings, client, moved_up, django_assert_num_queries):
    settings.WAITING_LIST_RANK_DISPLAY = "S"
    decision = moved_up.decisions.validated().newest_first().first()
    client.force_login(moved_up.candidate.user)

    with django_assert_num_queries(8):  # as with R: the rank comes with the application, in the same query
        response = _recap(client, moved_up)

    assertContains(response, "Rang sur la liste complémentaire")
    assertContains(response, f"3 (au {decision.validated_at.astimezone().strftime('%d/%m/%Y')})")


def test_display_n_shows_no_rank_and_mails_no_progress(settings, client, moved_up):
    settings.WAITING_LIST_RANK_DISPLAY = "N"
    client.force_login(moved_up.candidate.user)

    response = _recap(client, moved_up)
    output = run("mail_waiting_list_progress")

    assertNotContains(response, "Rang sur la liste complémentaire")
    assert "progress mails not sent (WAITING_LIST_RANK_DISPLAY=N): 2" in output
    assert mails("LISTE_COMP_PROGRESSION") == []


def test_display_s_mails_no_progress_of_a_rank_it_does_not_show(settings, moved_up):
    settings.WAITING_LIST_RANK_DISPLAY = "S"

    assert "progress mails not sent (WAITING_LIST_RANK_DISPLAY=S): 2" in run("mail_waiting_list_progress")
    assert mails("LISTE_COMP_PROGRESSION") == []


def test_an_unknown_rank_display_stops_the_start(monkeypatch):

    monkeypatch.setenv("WAITING_LIST_RANK_DISPLAY", "Rang")
    with pytest.raises(ImproperlyConfigured, match="WAITING_LIST_RANK_DISPLAY must be N, S or R"):
        importlib.reload(base)
    monkeypatch.setenv("WAITING_LIST_RANK_DISPLAY", "s")
    assert importlib.reload(base).WAITING_LIST_RANK_DISPLAY == "S"
    monkeypatch.delenv("WAITING_LIST_RANK_DISPLAY")
    importlib.reload(base)


def test_display_changed_in_the_back_office_applies_to_the_next_recap(
    settings, client, moved_up, admin_user, django_capture_on_commit_callbacks
):
    # A live change (ecandidat.parameters): the environment says R (rang réel); the central office chooses N.
    settings.WAITING_LIST_RANK_DISPLAY = "R"
    client.force_login(moved_up.candidate.user)
    assertContains(_recap(client, moved_up), "Rang sur la liste complémentaire")

    with django_capture_on_commit_callbacks(execute=True):
        set_parameters(actor=admin_user, values={"WAITING_LIST_RANK_DISPLAY": "N"})

    assertNotContains(_recap(client, moved_up), "Rang sur la liste complémentaire")
    assert "progress mails not sent (WAITING_LIST_RANK_DISPLAY=N): 2" in run("mail_waiting_list_progress")


def test_the_recap_answers_with_the_environment_value_when_the_parameters_cannot_be_read(
    settings, client, moved_up, monkeypatch
):
    # As between a deployment and its migration: the overrides' table is missing (on PostgreSQL the failed read
    # must not abort the request's transaction: the page still reads the application after it).
    settings.WAITING_LIST_RANK_DISPLAY = "R"
    client.force_login(moved_up.candidate.user)
    parameters.forget()
    hide_the_overrides_table()

    response = _recap(client, moved_up)

    assertContains(response, f"2 (au {moved_up.waiting_list_rank_at.astimezone().strftime('%d/%m/%Y')})")


# --- the complementary-list decision's mail gives the rank the recap shows -------------------------------------------


@pytest.mark.parametrize(
    ("display", "sentence"),
    [
        ("R", "est sur liste complémentaire, au rang 3."),  # the rang réel: two ahead of them since the withdrawal
        ("S", "est sur liste complémentaire, au rang 7."),  # the rank the commission entered
        ("N", "est sur liste complémentaire.\n"),  # no rank, as on the recap
    ],
)
def test_the_list_decision_mail_gives_the_rank_of_the_recap(
    settings, client, moved_up, formation, campaign, central_manager, display, sentence
):
    settings.WAITING_LIST_RANK_DISPLAY = display
    newcomer = make_application(formation, campaign=campaign)

    decide(newcomer, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=7)

    mail = mails("AVIS_LISTE_COMP")[-1]
    assert mail.to == newcomer.candidate.user.email
    assert sentence in mail.body
    newcomer.refresh_from_db()
    assert newcomer.waiting_list_rank == 3
    client.force_login(newcomer.candidate.user)
    response = _recap(client, newcomer)
    if display == "N":
        assertNotContains(response, "Rang sur la liste complémentaire")
    else:
        assertContains(response, sentence.split("au rang ")[1].rstrip(".") + " (au ")
