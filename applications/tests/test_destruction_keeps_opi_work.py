"""The destruction of an archived campaign keeps the candidates whose OPI work is not done (an OPI still pending, a
withdrawal to remove by hand in Pégase): it deleted their applications, whose OPI rows went with them, silently,
and the central office lost the only trace of what was still to do in the student records system."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from applications.enums import OpiState, PegaseRemoval
from applications.models import Application, Opi, PieceSubmission
from applications.opi.services import cancel_opis, mark_removed_in_pegase
from applications.services import nightly
from applications.tests.factories_candidature import make_application
from documents.models import Document
from ecandidat.batches import Report
from ecandidat.models import DestroyedCampaignCount
from offers.tests.factories import CampaignFactory, FormationFactory, PieceTypeFactory

TODAY = datetime.date(2027, 9, 1)
KEPT = "accounts kept, OPI work to do (pending OPI or removal in Pégase)"


def run(**kwargs):
    report = Report()
    nightly.destroy_archived_campaigns(
        report, dry_run=kwargs.pop("dry_run", False), limit=kwargs.pop("limit", None), today=TODAY
    )
    return report


def _document(campaign, *, uploaded_by, owner=None):
    name = default_storage.save(f"{campaign.code}/piece.pdf", ContentFile(b"%PDF-1.4"))
    return Document.objects.create(
        campaign_code=campaign.code,
        file=name,
        original_name="piece.pdf",
        size=8,
        content_type="application/pdf",
        sha256="0" * 64,
        uploaded_by=uploaded_by,
        owner=owner,
    )


@pytest.fixture
def old(settings, campaign, centre, commission, central_manager):
    """An archived campaign past its retention: a candidate with a pending OPI (and a piece), one whose withdrawal
    is still to remove in Pégase, one whose OPI was transferred, one without OPI; a file of the campaign that no
    candidate holds any more (uploaded by staff, its owner gone)."""
    settings.ARCHIVE_RETENTION_DAYS = 365
    old = CampaignFactory(archive_on=TODAY - datetime.timedelta(days=400))
    formation = FormationFactory(centre=centre, commission=commission)
    pending, removal, passed, plain = (make_application(formation, campaign=old) for _ in range(4))
    Opi.objects.create(application=pending, code="X1", state=OpiState.PENDING)
    Opi.objects.create(
        application=removal,
        code="X2",
        state=OpiState.PASSED,
        passed_at=timezone.now(),
        withdrawn=True,
        pegase_removal=PegaseRemoval.TO_DO,
    )
    Opi.objects.create(application=passed, code="X3", state=OpiState.PASSED, passed_at=timezone.now())
    held = _document(old, uploaded_by=pending.candidate.user)
    PieceSubmission.objects.create(
        candidate=pending.candidate, application=pending, piece_type=PieceTypeFactory(), document=held, status="TR"
    )
    stray = _document(old, uploaded_by=central_manager)
    return old, pending, removal, held, stray


def test_candidates_with_opi_work_are_kept_named_and_destroyed_once_it_is_done(
    old, central_manager, django_capture_on_commit_callbacks
):
    campaign, pending, removal, held, stray = old

    with django_capture_on_commit_callbacks(execute=True):
        report = run()

    assert report.counts == {"accounts deleted": 2, KEPT: 2}  # not « campaigns destroyed »
    assert len(report.errors) == 1
    assert f"campaign {campaign.code}: 2 candidates kept, OPI work still to do" in report.errors[0]
    assert pending.candidate.user.username in report.errors[0]
    assert removal.candidate.user.username in report.errors[0]
    assert set(Opi.objects.values_list("code", flat=True)) == {"X1", "X2"}
    assert set(Application.objects.filter(campaign=campaign)) == {pending, removal}
    assert Document.objects.get() == held  # the kept candidate's piece stays; the campaign's stray file goes
    assert default_storage.exists(held.file.name)
    assert not default_storage.exists(stray.file.name)

    # Each night says so again, and destroys nothing more while the work is not done.
    again = run()
    assert again.counts == {KEPT: 2}
    assert len(again.errors) == 1
    assert User.objects.filter(campaign=campaign).count() == 2
    # The campaign is not said destroyed while some of its candidates remain (the back office: « en cours »).
    assert DestroyedCampaignCount.objects.get().destroyed_at is None

    cancel_opis(opi_ids=[pending.opi.pk], actor=central_manager)
    mark_removed_in_pegase(opi_ids=[removal.opi.pk], actor=central_manager)
    with django_capture_on_commit_callbacks(execute=True):
        done = run()

    assert done.counts == {"accounts deleted": 2, "campaigns destroyed": 1}
    assert not done.errors
    assert not User.objects.filter(campaign=campaign).exists()
    assert not Opi.objects.exists()
    assert not Document.objects.exists()
    assert not default_storage.exists(held.file.name)
    assert DestroyedCampaignCount.objects.get().accounts == 4  # counted once, before anything went
    assert DestroyedCampaignCount.objects.get().destroyed_at is not None  # with its last account
    assert run().counts == {}


def test_one_candidate_kept_is_said_in_the_singular(old, central_manager):
    campaign, pending, removal, _held, _stray = old
    mark_removed_in_pegase(opi_ids=[removal.opi.pk], actor=central_manager)

    report = run()

    assert report.counts == {"accounts deleted": 3, KEPT: 1}
    expected = (
        f"campaign {campaign.code}: 1 candidate kept, OPI work still to do (a pending OPI, or a withdrawal to remove "
        "in Pégase). On the OPI screen, cancel the pending OPI or mark the withdrawal removed in Pégase: the "
        f"candidate is destroyed the night after. Dossier: {pending.candidate.user.username}"
    )
    assert report.errors == [expected]


def test_dry_run_counts_the_candidates_kept(old):
    report = run(dry_run=True)

    assert report.counts == {
        "campaigns to destroy": 1,
        "accounts to delete": 2,
        "applications to delete": 2,
        KEPT: 2,
    }
    assert Opi.objects.count() == 3


def test_an_opi_requeued_after_the_chunk_was_read_keeps_its_candidate(old):
    """The chunk's accounts are read before its transaction: an OPI re-queued meanwhile is seen under the lock."""
    campaign, *_ = old
    passed = Opi.objects.get(code="X3")
    users = list(User.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
    Opi.objects.filter(pk=passed.pk).update(state=OpiState.PENDING, passed_at=None)

    with transaction.atomic():
        left = nightly._lock_without_opi_work(users)

    assert passed.application.candidate.user_id not in left
    assert len(left) == 1  # the candidate without OPI
