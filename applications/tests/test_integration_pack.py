"""The commission pack end to end (issue 11): the request commits, the task goes through Redis to a real Celery
worker (PostgreSQL), which builds the ZIP from the stored pieces and stores it; the requester downloads it."""

import io
import zipfile

import pytest
from django.db import transaction
from django.urls import reverse
from pypdf import PdfReader

from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tests import shared_media
from applications.tests.factories_candidature import make_application, stored_piece
from ecandidat.tests.plugins.services import wait_until
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.integration

# The worker and this process share the files through one directory.
media_root, worker_env, shared_storage = shared_media.media_root, shared_media.worker_env, shared_media.shared_storage


def test_the_worker_builds_the_pack(client, shared_storage, celery_worker_process, centre_manager, centre, campaign):
    formation = FormationFactory(centre=centre, code="M1ENER")
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    for application in applications:
        stored_piece(application, "Relevé de notes")

    with transaction.atomic():
        pack = request_pack(actor=centre_manager, application_ids=[a.pk for a in applications])
        assert CommissionPack.objects.get(pk=pack.pk).status == CommissionPack.Status.PENDING  # nothing before commit

    wait_until(
        lambda: CommissionPack.objects.get(pk=pack.pk).status == CommissionPack.Status.DONE,
        timeout=60,
        message="the pack to be built by the worker",
    )
    pack.refresh_from_db()
    assert pack.done == 3
    client.force_login(centre_manager)
    download = client.get(reverse("admin:applications_application_pack_download", args=[pack.public_id]))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert len(archive.namelist()) == 3
    for name in archive.namelist():
        assert len(PdfReader(io.BytesIO(archive.read(name))).pages) == 3  # the summary's two pages, the transcript
    assert "build_commission_pack" in celery_worker_process.log()
