"""The commission pack (issue 11): N dossiers × 6 pieces (3 scanned PDFs, 3 photos) zipped, or merged into one PDF
with a table of contents (``--pdf``), by the Celery task's builder; time, peak Python allocations and peak RSS,
for 20 then 200 dossiers (memory must stay flat).

Usage: ``.venv/bin/python -m bench.bench_commission_pack [--pdf] [--tracemalloc] [--freeze] [N ...]`` (default 20
200). ``--freeze`` freezes every object made before the build (``gc.freeze()``), as a Celery pool process does with
what it inherited (ecandidat/celery.py): the builder's full collection after each dossier then walks only the
build's own objects. The
peak of Python allocations is measured only with ``--tracemalloc`` (it slows the build severalfold: the time printed
then includes that overhead; a second build would double a 200-dossier run). Files live on a
``FileSystemStorage`` in a temporary directory (the test settings' in-memory storage would count the ZIP itself
as memory); the pieces of every dossier point at the same two stored files, so the set-up is fast while each
dossier PDF still copies six real pieces.
"""

import gc
import resource
import sys
import tempfile
import threading
import time
import tracemalloc

from bench._harness import test_database

PIECES = 6


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _seed(count: int, stored_pdf: str, stored_jpeg: str, pdf_size: int, jpeg_size: int):
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from accounts.tests.factories import CandidateUserFactory, StaffMembershipFactory  # noqa: PLC0415
    from applications.enums import DossierStatus, PieceStatus  # noqa: PLC0415
    from applications.models import Application, PieceSubmission  # noqa: PLC0415
    from applications.tests.factories import CandidateFactory  # noqa: PLC0415
    from documents.enums import ScanStatus  # noqa: PLC0415
    from documents.models import Document  # noqa: PLC0415
    from offers.tests.factories import CampaignFactory, FormationFactory, PieceTypeFactory  # noqa: PLC0415

    campaign = CampaignFactory(is_active=True)
    formation = FormationFactory()
    pieces = [PieceTypeFactory(order=n) for n in range(PIECES)]
    formation.piece_types.add(*pieces)
    manager = StaffMembershipFactory(centre=formation.centre).user
    ids = []
    for _ in range(count):
        user = CandidateUserFactory(campaign=campaign)
        application = Application.objects.create(
            candidate=CandidateFactory(user=user),
            formation=formation,
            campaign=campaign,
            created_by=user,
            dossier_status=DossierStatus.RECEIVED,
        )
        for index, piece in enumerate(pieces):
            is_pdf = index % 2 == 0
            document = Document.objects.create(
                campaign_code=campaign.code,
                file=stored_pdf if is_pdf else stored_jpeg,
                original_name="scan.pdf" if is_pdf else "photo.jpg",
                size=pdf_size if is_pdf else jpeg_size,
                content_type="application/pdf" if is_pdf else "image/jpeg",
                sha256="0" * 64,
                uploaded_by=user,
                scan_status=ScanStatus.CLEAN,
            )
            PieceSubmission.objects.create(
                candidate=application.candidate,
                application=application,
                piece_type=piece,
                status=PieceStatus.SUBMITTED,
                document=document,
            )
        ids.append(application.pk)
    return manager, ids


def run(count: int, kind: str = "ZIP", *, trace: bool = False, freeze: bool = False) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.core.files.base import ContentFile  # noqa: PLC0415
    from django.core.files.storage import default_storage  # noqa: PLC0415
    from django.test import override_settings  # noqa: PLC0415

    from applications import packs  # noqa: PLC0415
    from applications.models import CommissionPack  # noqa: PLC0415
    from bench._documents_setup import noise_jpeg, scanned_pdf  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as root:
        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with override_settings(STORAGES=storages), test_database():
            pdf, jpeg = scanned_pdf(), noise_jpeg()
            stored_pdf = default_storage.save("bench/scan.pdf", ContentFile(pdf))
            stored_jpeg = default_storage.save("bench/photo.jpg", ContentFile(jpeg))
            manager, ids = _seed(count, stored_pdf, stored_jpeg, len(pdf), len(jpeg))
            pack = CommissionPack.objects.create(requested_by=manager, application_ids=ids, total=len(ids), kind=kind)
            gc.collect()
            if freeze:
                gc.freeze()
            base = _rss_mib()
            peak_rss = [base]
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.05):
                    peak_rss[0] = max(peak_rss[0], _rss_mib())

            sampler = threading.Thread(target=sample)
            sampler.start()
            if trace:
                tracemalloc.start()
            start = time.perf_counter()
            packs.build_pack(pack.pk)
            elapsed = time.perf_counter() - start
            peak = f"{tracemalloc.get_traced_memory()[1] / 2**20:.1f}" if trace else "not traced"
            tracemalloc.stop()
            done.set()
            sampler.join()
            gc.unfreeze()
            pack.refresh_from_db()
            print(
                f"commission pack ({kind}), {count} dossiers x {PIECES} pieces ({len(pdf) / 2**20:.1f} MB PDF, "
                f"{len(jpeg) / 2**20:.1f} MB JPEG){' frozen' if freeze else ''} | status={pack.status} | "
                f"s={elapsed:.1f} | "
                f"per_dossier_ms={elapsed / count * 1000:.0f} | file_mib={pack.size / 2**20:.0f} | "
                f"peak_python_mib={peak} | rss_mib before={base:.0f} peak={peak_rss[0]:.0f} "
                f"(+{peak_rss[0] - base:.0f})",
                flush=True,
            )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    pack_kind = "PDF" if "--pdf" in arguments else "ZIP"
    for n in [int(a) for a in arguments if not a.startswith("--")] or [20, 200]:
        run(n, pack_kind, trace="--tracemalloc" in arguments, freeze="--freeze" in arguments)
