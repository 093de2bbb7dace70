""" "Télécharger mon dossier" for a 10-piece dossier (~1.5 MB scanned PDFs and photos): time and peak memory.

Usage: ``.venv/bin/python -m bench.bench_dossier_pdf [PIECES]`` (default 10).
"""

import resource
import sys
import time
import tracemalloc

from bench._harness import test_database


def main(count: int) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from bench._documents_setup import application_with_pieces, noise_jpeg, scanned_pdf
    from documents.dossier_pdf import build_dossier_pdf
    from documents.services import upload_piece

    with test_database():
        user, application, pieces = application_with_pieces(count)
        for index, piece_type in enumerate(pieces):
            if index % 2:
                uploaded = SimpleUploadedFile("photo.jpg", noise_jpeg(), "image/jpeg")
            else:
                uploaded = SimpleUploadedFile("scan.pdf", scanned_pdf(), "application/pdf")
            upload_piece(application=application, piece_type=piece_type, uploaded_file=uploaded, actor=user)
        build_dossier_pdf(application).close()  # warm-up
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        start = time.perf_counter()
        output = build_dossier_pdf(application)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = output.seek(0, 2)
        output.close()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"dossier PDF, {count} pieces | ms={elapsed * 1000:.0f} | output_mib={size / 2**20:.1f} | "
            f"peak_python_mib={peak / 2**20:.1f} | maxrss_mib={rss_after / 1024:.0f} "
            f"(grew {max(0, rss_after - rss_before) / 1024:.0f})"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
