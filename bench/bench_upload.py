"""Upload throughput through the view: 1.5 MB PDFs, validated, stored, rows committed, then removed.

Usage: ``.venv/bin/python -m bench.bench_upload [COUNT]`` (default 20 uploads). Storage: the test settings'
InMemoryStorage (no disk I/O; with FileSystemStorage add the fsync of each file). The fair-use limits are lifted
for the timed run (they would refuse the 31st upload in ten minutes); a last run with the default limits counts the
uploads accepted in a row before the first 429.
"""

import sys
import time

from bench._harness import test_database


def main(count: int) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415
    from django.urls import reverse  # noqa: PLC0415

    from bench._documents_setup import application_with_pieces, pdf_of_size  # noqa: PLC0415
    from documents.models import Document  # noqa: PLC0415

    content = pdf_of_size(1_500_000)
    with test_database():
        from django.test.utils import override_settings  # noqa: PLC0415

        unlimited = dict.fromkeys(("upload", "staff_upload", "dossier_pdf", "staff_dossier_pdf"), "")
        with override_settings(DOCUMENTS_RATE_LIMITS=unlimited):
            user, application, pieces = application_with_pieces(1)
            client = Client()
            client.force_login(user)
            upload = reverse("pieces:upload", args=[application.public_id, pieces[0].pk])
            remove = reverse("pieces:remove", args=[application.public_id, pieces[0].pk])
            durations = []
            for _ in range(count):
                start = time.perf_counter()
                response = client.post(upload, {"file": SimpleUploadedFile("scan.pdf", content, "application/pdf")})
                durations.append(time.perf_counter() - start)
                assert Document.objects.count() == 1, response
                client.post(remove)
            durations.sort()
            median = durations[len(durations) // 2]
            print(
                f"upload 1.5 MB PDF via the view | n={count} | median_ms={median * 1000:.1f} | "
                f"max_ms={durations[-1] * 1000:.1f} | throughput={1 / median:.1f} uploads/s "
                f"({1.5 / median:.1f} MB/s) per process"
            )
        accepted = 0
        while (status := client.post(upload, {"file": SimpleUploadedFile("s.pdf", content)}).status_code) == 302:
            accepted += 1
            client.post(remove)
        print(f"default fair-use limits | {accepted} uploads accepted in a row, then HTTP {status}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
