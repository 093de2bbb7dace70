"""Commission packs (review S46): a pack whose build was never queued (the broker unreachable when it was asked for)
is queued again by its page, then shown failed, never « en attente » for ever; a pack is no longer handed to its
requester once its dossiers have left their scope."""

import datetime
import io
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import StaffMembership
from applications import packs
from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tasks import build_commission_pack
from applications.tests.factories_candidature import make_application, stored_piece
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

REFRESH = 'data-job-state="running"'  # the page updates itself while the job runs (static/js/job_progress.js)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def dossiers(formation, campaign):
    applications = [make_application(formation, campaign=campaign) for _ in range(2)]
    for application in applications:
        stored_piece(application, "Relevé de notes")
    return applications


@pytest.fixture
def broker_down(monkeypatch):
    """Every publish fails as with Redis unreachable (kombu's OperationalError, which Celery raises); the calls."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OperationalError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(build_commission_pack, "apply_async", refuse)
    return calls


def page_url(pack):
    return reverse("admin:applications_application_pack", args=[pack.public_id])


def download_url(pack):
    return reverse("admin:applications_application_pack_download", args=[pack.public_id])


def asked_while_the_broker_was_down(actor, dossiers, broker_down, django_capture_on_commit_callbacks, *, ago):
    """The pack asked for ``ago`` ago, its publish refused (logged, « left for its sweeper »): PENDING."""
    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=actor, application_ids=[a.pk for a in dossiers])
    assert len(broker_down) == 1
    CommissionPack.objects.filter(pk=pack.pk).update(created_at=timezone.now() - ago)
    pack.refresh_from_db()
    assert (pack.status, pack.progress_at) == ("PENDING", None)
    return pack


def test_a_pack_never_queued_is_queued_again_by_its_page_and_built(
    client,
    centre_manager,
    dossiers,
    broker_down,
    monkeypatch,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    """Regression (review S46): the publish failed and nothing swept packs: the page said « en attente » and
    refreshed every 3 s for ever. Its page queues it again once it has waited PACK_REQUEUE_AFTER."""
    pack = asked_while_the_broker_was_down(
        centre_manager, dossiers, broker_down, django_capture_on_commit_callbacks, ago=datetime.timedelta(seconds=10)
    )
    client.force_login(centre_manager)

    # Just asked for: left to its task, no query more (session, user, staff checks, savepoints, the pack, the
    # scope's check, the other packs).
    with django_assert_num_queries(10), django_capture_on_commit_callbacks(execute=True):
        page = client.get(page_url(pack)).content.decode()
    assert REFRESH in page
    assert len(broker_down) == 1

    # Waited past PACK_REQUEUE_AFTER, the broker still down: queued again (refused), the page goes on refreshing.
    CommissionPack.objects.filter(pk=pack.pk).update(created_at=timezone.now() - packs.PACK_REQUEUE_AFTER * 2)
    with django_assert_num_queries(11), django_capture_on_commit_callbacks(execute=True):  # + the stamp's update
        page = client.get(page_url(pack)).content.decode()
    assert REFRESH in page
    assert len(broker_down) == 2
    # The refreshes that follow within PACK_REQUEUE_AFTER publish nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(page_url(pack))
    assert len(broker_down) == 2

    # The broker back (the tasks eager in the tests): the next queueing again builds the pack.
    monkeypatch.undo()
    CommissionPack.objects.filter(pk=pack.pk).update(progress_at=timezone.now() - packs.PACK_REQUEUE_AFTER * 2)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(page_url(pack))
    pack.refresh_from_db()
    assert (pack.status, pack.done) == ("DONE", 2)
    page = client.get(page_url(pack)).content.decode()
    assert REFRESH not in page
    assert download_url(pack) in page
    download = client.get(download_url(pack))
    assert len(zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()) == 2


def test_a_pack_never_started_is_shown_failed_not_waiting_for_ever(
    client, centre_manager, dossiers, broker_down, django_capture_on_commit_callbacks
):
    """The reviewer's case: asked for two days ago, never queued. The page says it could not be built (« relancez
    la demande ») and stops refreshing; it is not queued again behind that message."""
    pack = asked_while_the_broker_was_down(
        centre_manager, dossiers, broker_down, django_capture_on_commit_callbacks, ago=datetime.timedelta(days=2)
    )
    client.force_login(centre_manager)

    with django_capture_on_commit_callbacks(execute=True):
        page = client.get(page_url(pack)).content.decode()

    assert 'data-job-state="running"' not in page
    assert "— échec</h2>" in page
    assert "Les dossiers n’ont pas pu être constitués ; relancez la demande" in page
    assert len(broker_down) == 1
    pack.refresh_from_db()
    assert pack.status == "PENDING"  # only shown so: a late delivery may still build it


def test_a_pack_waiting_less_than_the_longer_delay_still_refreshes():
    now = timezone.now()
    waiting = CommissionPack(status="PENDING", created_at=now - packs.PACK_NEVER_STARTED_AFTER / 2)
    lost = CommissionPack(status="PENDING", created_at=now - packs.PACK_NEVER_STARTED_AFTER * 2)

    assert (packs.is_stalled(waiting, now=now), packs.is_stalled(lost, now=now)) == (False, True)


@pytest.fixture
def built(client, commission_member, dossiers, django_capture_on_commit_callbacks):
    """The commission member's ZIP of the two dossiers, built."""
    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=commission_member, application_ids=[a.pk for a in dossiers])
    pack.refresh_from_db()
    assert pack.status == "DONE"
    client.force_login(commission_member)
    return pack


def test_a_pack_is_no_longer_handed_out_once_its_dossiers_left_the_scope(
    client, commission_member, centre, dossiers, built, django_assert_num_queries
):
    """Regression (review S46): moved to another commission, the member could no longer open the dossiers but still
    downloaded the pack they had built of them (only the requester was checked)."""
    with django_assert_num_queries(7):  # session, user, staff checks, savepoints, the pack, the scope's check
        assert client.get(download_url(built)).status_code == 200

    StaffMembership.objects.filter(user=commission_member).update(commission=CommissionFactory(centre=centre))

    assert client.get(reverse("admin:applications_application_change", args=[dossiers[0].pk])).status_code == 404
    with django_assert_num_queries(8):  # the same, the savepoint rolled back for the 404
        assert client.get(download_url(built)).status_code == 404
    assert client.get(page_url(built)).status_code == 404


def test_a_deleted_dossier_withdraws_the_pack(client, dossiers, built):
    """A dossier deleted since the build (its campaign destroyed, its candidate erased) withdraws the pack: it held
    that dossier whole (``applications/tests/test_packs_end_of_life.py``)."""
    gone = max(a.pk for a in dossiers) + 1000  # a dossier erased since the build (no row any more)
    CommissionPack.objects.filter(pk=built.pk).update(application_ids=[*built.application_ids, gone])

    assert client.get(download_url(built)).status_code == 404
    assert client.get(page_url(built)).status_code == 404
