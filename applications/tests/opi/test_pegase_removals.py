"""Withdrawals after a Pégase file: nothing tells Pégase (siscol-pegase-apogee.md §2.4), so a wish an earlier day's
file carried is marked « à supprimer dans Pégase »; the OPI screen counts them, links to their list, and the central
office marks each « supprimée dans Pégase » (service, history row with the actor)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import translation

from applications.enums import EventKind, OpiState, PegaseRemoval
from applications.models import Application, Opi, OpiExport
from applications.opi.services import mark_removed_in_pegase, opi_counts, record_collection, transfer_opis
from applications.services import staff
from applications.tests.opi.helpers import DAY1, admit, confirm, make_candidate, withdraw_after_confirmation
from ecandidat.batches import Report

STAFF_PERSONAS = ["centre_manager", "other_centre_manager", "commission_member", "read_only_staff"]
QUERIES_SCREEN = 12  # as test_admin's: the alert's count is one more column of the counters' query
QUERIES_MARK = 16  # the selection, its lock, one update, the history rows: not one more per OPI
QUERIES_ZIP = 7  # as test_admin's: the day's row is locked by the read that loads it, no query more
# The day of DAY1 (23:00 in Paris, the nightly run), in Paris time.
MORNING = DAY1 - datetime.timedelta(hours=13)  # 10:00
NOON = DAY1 - datetime.timedelta(hours=11)  # 12:00
AFTERNOON = DAY1 - datetime.timedelta(hours=10)  # 13:00


def run():
    return transfer_opis(Report())


@pytest.fixture
def confirmed(opi_candidate, formation, centre_manager, opi_type):
    return confirm(admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type))


def removal(application) -> str:
    return Opi.objects.get(application=application).pegase_removal


def test_a_withdrawal_after_an_earlier_days_file_is_to_remove_in_pegase(confirmed, opi_candidate, time_machine):
    time_machine.move_to(DAY1)
    run()
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))

    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)

    assert removal(confirmed) == PegaseRemoval.TO_DO
    assert "supprimez-le à la main dans Pégase" in confirmed.events.filter(kind=EventKind.OPI_WITHDRAWN).get().comment
    run()  # the withdrawal is replayed (out of the files): still to remove in Pégase
    assert (Opi.objects.get().state, removal(confirmed)) == (OpiState.PASSED, PegaseRemoval.TO_DO)


def test_a_withdrawal_the_same_day_is_only_left_out_of_the_rewritten_files(confirmed, opi_candidate, time_machine):
    time_machine.move_to(DAY1)
    run()
    time_machine.move_to(DAY1 + datetime.timedelta(minutes=20))
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)

    assert removal(confirmed) == ""
    run()  # the same day: the day's files are rewritten without the wish
    assert removal(confirmed) == ""


def test_a_withdrawal_the_same_day_replayed_the_next_day_is_to_remove(confirmed, opi_candidate, time_machine):
    """The day's file kept the wish (no run after the withdrawal that day): the next day's run cannot rewrite it."""
    time_machine.move_to(DAY1)
    run()
    time_machine.move_to(DAY1 + datetime.timedelta(minutes=20))
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))

    run()

    assert removal(confirmed) == PegaseRemoval.TO_DO


# --- the same day: the day's files rewritten after a version of them left the database ------------------------


def download(client, django_assert_num_queries):
    """The central office downloads the day's ZIP from the OPI screen."""
    url = reverse("admin:applications_opi_export_zip", args=[OpiExport.objects.get().pk])
    with django_assert_num_queries(QUERIES_ZIP):
        response = client.get(url)
    assert response.status_code == 200
    b"".join(response.streaming_content)


@pytest.mark.usefixtures("back_office_in_french")
def test_a_withdrawal_after_the_days_zip_was_downloaded_is_to_remove(
    client, central_manager, confirmed, opi_candidate, time_machine, django_assert_num_queries
):
    """Produced at 10:00 by the button, downloaded (Pégase imports it), withdrawn at 13:00: the nightly run rewrites
    the day's files without the wish, which Pégase keeps: to remove by hand, on the OPI screen."""
    client.force_login(central_manager)
    time_machine.move_to(MORNING)
    client.post(reverse("admin:applications_opi_transfer"))
    assert OpiExport.objects.get().wishes == 1
    download(client, django_assert_num_queries)
    time_machine.move_to(AFTERNOON)

    with translation.override("en"):  # the client's requests left French active; the comment is written in it
        withdraw_after_confirmation(confirmed, actor=opi_candidate.user)

    assert removal(confirmed) == PegaseRemoval.TO_DO
    assert "supprimez-le à la main dans Pégase" in confirmed.events.filter(kind=EventKind.OPI_WITHDRAWN).get().comment
    time_machine.move_to(DAY1)
    run()
    assert (Opi.objects.get().state, removal(confirmed)) == (OpiState.PASSED, PegaseRemoval.TO_DO)
    assert OpiExport.objects.get().wishes == 0  # the day's files no longer carry it
    client.force_login(central_manager)  # the morning's session timed out
    page = client.get(reverse("admin:applications_opi_changelist")).content.decode()
    assert "1 désistement à supprimer à la main dans Pégase" in page


def test_a_download_between_the_withdrawal_and_the_run_makes_it_to_remove(
    confirmed, opi_candidate, central_manager, time_machine
):
    """Withdrawn before anyone collected the files, which still carry the wish when downloaded afterwards: the run
    that replays the withdrawal marks it."""
    time_machine.move_to(MORNING)
    run()
    time_machine.move_to(NOON)
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    assert removal(confirmed) == ""
    time_machine.move_to(AFTERNOON)
    assert record_collection(export=OpiExport.objects.get(), actor=central_manager)

    time_machine.move_to(DAY1)
    run()

    assert (Opi.objects.get().state, removal(confirmed)) == (OpiState.PASSED, PegaseRemoval.TO_DO)


def test_files_never_handed_over_are_only_rewritten(confirmed, opi_candidate, time_machine):
    """Produced at 10:00 but neither downloaded nor written to a folder: nobody imported them, the rewrite is
    enough."""
    time_machine.move_to(MORNING)
    run()
    time_machine.move_to(AFTERNOON)

    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    time_machine.move_to(DAY1)
    run()

    export = OpiExport.objects.get()
    assert (removal(confirmed), export.wishes, export.handed_at) == ("", 0, None)


def test_a_withdrawal_after_the_files_were_written_to_the_folder_is_to_remove(
    settings, tmp_path, confirmed, opi_candidate, time_machine, django_capture_on_commit_callbacks
):
    """``OPI_EXPORT_DIR``: each run puts the day's files in the import job's folder, which may take them at once."""
    settings.OPI_EXPORT_DIR = str(tmp_path)
    time_machine.move_to(MORNING)
    with django_capture_on_commit_callbacks(execute=True):
        run()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("candidature-")]
    time_machine.move_to(AFTERNOON)

    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)

    assert removal(confirmed) == PegaseRemoval.TO_DO
    time_machine.move_to(DAY1)
    with django_capture_on_commit_callbacks(execute=True):
        run()
    assert (removal(confirmed), OpiExport.objects.get().wishes) == (PegaseRemoval.TO_DO, 0)


def test_a_rewrite_after_the_download_keeps_the_handing(
    campaign, formation, centre_manager, central_manager, opi_type, confirmed, opi_candidate, time_machine
):
    """A later run rewrites the files (another candidate): they are to collect again, but the version downloaded
    may be in Pégase already, with the first wish."""
    time_machine.move_to(MORNING)
    run()
    time_machine.move_to(MORNING + datetime.timedelta(minutes=30))
    assert record_collection(export=OpiExport.objects.get(), actor=central_manager)
    handed = OpiExport.objects.get().handed_at
    confirm(
        admit(
            make_candidate(campaign, username="ZZ999999", ine=""),
            formation,
            manager=centre_manager,
            decision_type=opi_type,
        )
    )
    time_machine.move_to(NOON)
    run()

    export = OpiExport.objects.get()
    assert (export.collected_at, export.handed_at, export.candidates) == (None, handed, 2)
    time_machine.move_to(AFTERNOON)
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    assert removal(confirmed) == PegaseRemoval.TO_DO


def test_the_latest_handing_counts_and_a_wish_passed_after_it_is_only_rewritten(
    campaign, formation, centre_manager, central_manager, opi_type, confirmed, opi_candidate, time_machine
):
    """The files downloaded at 10:30 without the second wish, then at 12:30 with it: the second wish was handed
    over. A third wish passed after the last download is only rewritten."""
    time_machine.move_to(MORNING)
    run()
    time_machine.move_to(MORNING + datetime.timedelta(minutes=30))
    assert record_collection(export=OpiExport.objects.get(), actor=central_manager)
    second, third = (
        confirm(
            admit(
                make_candidate(campaign, username=username, ine=""),
                formation,
                manager=centre_manager,
                decision_type=opi_type,
            )
        )
        for username in ("ZZ999998", "ZZ999999")
    )
    Opi.objects.filter(application=third).update(state=OpiState.CANCELLED)  # out of the noon run
    time_machine.move_to(NOON)
    run()
    time_machine.move_to(NOON + datetime.timedelta(minutes=30))
    assert record_collection(export=OpiExport.objects.get(), actor=central_manager)
    Opi.objects.filter(application=third).update(state=OpiState.PENDING)
    time_machine.move_to(AFTERNOON)
    run()
    time_machine.move_to(AFTERNOON + datetime.timedelta(minutes=30))

    for application in (second, third):
        withdraw_after_confirmation(application, actor=application.candidate.user)

    assert (removal(second), removal(third)) == (PegaseRemoval.TO_DO, "")


def test_a_withdrawal_before_any_file_or_to_apogee_is_not_for_pegase(settings, confirmed, opi_candidate, time_machine):
    time_machine.move_to(DAY1)
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    assert removal(confirmed) == ""

    Opi.objects.update(withdrawn=False, state=OpiState.PASSED, passed_at=DAY1, backend="apogee")
    time_machine.move_to(DAY1 + datetime.timedelta(days=2))
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    assert removal(confirmed) == ""


def test_confirming_again_clears_the_removal(opi_candidate, formation, centre_manager, opi_type, time_machine):
    time_machine.move_to(
        DAY1 - datetime.timedelta(hours=1)
    )  # the decisions in the test's timeline, before the new one
    confirmed = confirm(admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type))
    time_machine.move_to(DAY1)
    run()
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    assert removal(confirmed) == PegaseRemoval.TO_DO

    application = Application.objects.get(pk=confirmed.pk)
    decision = staff.record_decision(application, decision_type=opi_type, actor=centre_manager)
    staff.validate_decision(decision, actor=centre_manager)
    # A withdrawal stands whatever decision follows (S45: it may have given the place away); only a correction by
    # hand clears it, after which the new favourable decision is confirmed: the wish is wanted again.
    Application.objects.filter(pk=confirmed.pk).update(accepted=None, answered_at=None, withdrawal_reason="")
    confirm(Application.objects.get(pk=confirmed.pk))

    assert (Opi.objects.get().withdrawn, removal(confirmed)) == (False, "")


def test_marking_records_the_actor_in_french_and_changes_only_withdrawals_to_remove(
    campaign, formation, centre_manager, central_manager, opi_type, confirmed, opi_candidate, time_machine
):
    other = confirm(
        admit(
            make_candidate(campaign, username="ZZ999999", ine=""),
            formation,
            manager=centre_manager,
            decision_type=opi_type,
        )
    )
    time_machine.move_to(DAY1)
    run()
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    assert opi_counts(campaign)["pegase_removals"] == 1

    done = mark_removed_in_pegase(opi_ids=Opi.objects.values_list("pk", flat=True), actor=central_manager)
    again = mark_removed_in_pegase(opi_ids=Opi.objects.values_list("pk", flat=True), actor=central_manager)

    assert (done, again) == (1, 0)
    assert (removal(confirmed), removal(other)) == (PegaseRemoval.DONE, "")
    event = confirmed.events.get(kind=EventKind.OPI_REMOVED_IN_PEGASE)
    assert event.actor == central_manager
    assert not other.events.filter(kind=EventKind.OPI_REMOVED_IN_PEGASE).exists()
    assert opi_counts(campaign)["pegase_removals"] == 0
    with translation.override("fr"):
        assert str(EventKind.OPI_REMOVED_IN_PEGASE.label) == "OPI supprimée dans Pégase"
        assert str(PegaseRemoval.TO_DO.label) == "à supprimer dans Pégase"


# --- the OPI screen ---------------------------------------------------------------------------------------------


def withdrawals_to_remove(campaign, formation, centre_manager, opi_type, time_machine, count):
    applications = [
        confirm(
            admit(
                make_candidate(campaign, username=f"WD{n:06d}", ine=""),
                formation,
                manager=centre_manager,
                decision_type=opi_type,
            )
        )
        for n in range(count)
    ]
    time_machine.move_to(DAY1)
    run()
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    for application in applications:
        withdraw_after_confirmation(application, actor=application.candidate.user)
    return applications


@pytest.mark.usefixtures("back_office_in_french")
@pytest.mark.parametrize("count", [1, 3])
def test_the_screen_counts_and_links_the_withdrawals_to_remove_in_constant_queries(
    client,
    django_assert_num_queries,
    central_manager,
    campaign,
    formation,
    centre_manager,
    opi_type,
    time_machine,
    count,
):
    withdrawals_to_remove(campaign, formation, centre_manager, opi_type, time_machine, count)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        response = client.get(reverse("admin:applications_opi_changelist"))

    page = response.content.decode()
    assert response.context["opi_counts"]["pegase_removals"] == count
    word = "désistement" if count == 1 else "désistements"
    assert f"{count} {word} à supprimer à la main dans Pégase" in page
    link = reverse("admin:applications_opi_changelist") + "?pegase_removal__exact=to_do"
    assert f'href="{link}"' in page

    with django_assert_num_queries(QUERIES_SCREEN):
        listed = client.get(link)
    assert len(listed.context["cl"].result_list) == count


@pytest.mark.usefixtures("back_office_in_french")
def test_no_alert_without_withdrawals_to_remove(client, central_manager, confirmed, django_assert_num_queries):
    run()
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        page = client.get(reverse("admin:applications_opi_changelist")).content.decode()

    assert 'id="pegase-removals"' not in page
    assert '<dd id="opi-pegase-removals">0</dd>' in page


@pytest.mark.usefixtures("back_office_in_french")
@pytest.mark.parametrize("count", [1, 3])
def test_the_action_marks_them_removed_with_the_actor(
    client,
    django_assert_num_queries,
    central_manager,
    campaign,
    formation,
    centre_manager,
    opi_type,
    time_machine,
    count,
):
    applications = withdrawals_to_remove(campaign, formation, centre_manager, opi_type, time_machine, count)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_MARK):
        response = client.post(
            reverse("admin:applications_opi_changelist"),
            {"action": "removed_in_pegase", "_selected_action": list(Opi.objects.values_list("pk", flat=True))},
            follow=False,
        )

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    word = "désistement marqué" if count == 1 else "désistements marqués"
    assert f"{count} {word} comme supprimé" in page
    assert 'id="pegase-removals"' not in page
    for application in applications:
        event = application.events.get(kind=EventKind.OPI_REMOVED_IN_PEGASE)
        assert event.actor == central_manager


def login(client, request, persona):
    client.force_login(request.getfixturevalue(persona))


@pytest.mark.parametrize("persona", STAFF_PERSONAS)
def test_other_staff_cannot_mark_a_removal(
    request, client, campaign, formation, centre_manager, opi_type, time_machine, persona
):
    withdrawals_to_remove(campaign, formation, centre_manager, opi_type, time_machine, 1)
    login(client, request, persona)

    response = client.post(
        reverse("admin:applications_opi_changelist"),
        {"action": "removed_in_pegase", "_selected_action": list(Opi.objects.values_list("pk", flat=True))},
    )

    # The managers keep Django's 403; the readers are never offered the screen: not found, as an outsider.
    assert response.status_code == (403 if persona.endswith("centre_manager") else 404)
    assert Opi.objects.get().pegase_removal == PegaseRemoval.TO_DO
