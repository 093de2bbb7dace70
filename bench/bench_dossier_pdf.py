""" "Télécharger mon dossier" for a 10-piece dossier (~1.5 MB scanned PDFs and photos): time and peak memory.

The first (cold) and second builds are timed without tracemalloc (it slows allocation-heavy code severalfold); a
third build, traced, gives the peak of Python allocations.

Usage: ``.venv/bin/python -m bench.bench_dossier_pdf [PIECES] [--large] [--cjk] [--arabic]`` (default 10).
``--large``: every piece is a 6000×6600 JPEG (39.6 Mpx in a few hundred KB), as stored before the 16 Mpx upload
budget, so that the dossier's downsampling is measured on the worst pieces it may still meet. ``--cjk``: the
candidate's usual name and birth city, and the first piece's file name, are Chinese, drawn with the fallback fonts of
``PDF_FALLBACK_FONTS`` (the test settings the benchmark runs with ignore that variable; default: fonts-noto-cjk's
Simplified Chinese face), so that both the summary and the pieces' headers read the fallback font. ``--arabic``: the
same in Arabic (default font: fonts-noto-core's Noto Naskh Arabic), so that those texts are also shaped (uharfbuzz).
"""

import gc
import io
import resource
import sys
import threading
import time
import tracemalloc
from unittest import mock

from PIL import Image

from bench._harness import test_database

NOTO_CJK_SC = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2)
NOTO_NASKH_ARABIC = ("/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf", 0)


def main(count: int, *, large: bool = False, cjk: bool = False, arabic: bool = False) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.conf import settings  # noqa: PLC0415
    from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: PLC0415

    from applications.services.pieces import upload_piece  # noqa: PLC0415
    from bench._documents_setup import application_with_pieces, noise_jpeg, scanned_pdf  # noqa: PLC0415
    from ecandidat.env import env_font_files  # noqa: PLC0415

    with test_database():
        user, application, pieces = application_with_pieces(count)
        if cjk:
            settings.PDF_FALLBACK_FONTS = env_font_files("PDF_FALLBACK_FONTS") or [NOTO_CJK_SC]
            application.candidate.usual_name = "王"
            application.candidate.birth_city = "北京"
            application.candidate.save(update_fields=["usual_name", "birth_city"])
        if arabic:
            settings.PDF_FALLBACK_FONTS = env_font_files("PDF_FALLBACK_FONTS") or [NOTO_NASKH_ARABIC]
            application.candidate.usual_name = "بن علي"
            application.candidate.birth_city = "الرباط"
            application.candidate.save(update_fields=["usual_name", "birth_city"])
        for index, piece_type in enumerate(pieces):
            if large:
                uploaded = (
                    SimpleUploadedFile("scan.png", _legacy_large_png(), "image/png")
                    if index % 2
                    else SimpleUploadedFile("photo.jpg", _legacy_large_jpeg(), "image/jpeg")
                )
                with mock.patch("documents.validation.MAX_IMAGE_PIXELS", 50_000_000):
                    upload_piece(application=application, piece_type=piece_type, uploaded_file=uploaded, actor=user)
                continue
            if index % 2:
                uploaded = SimpleUploadedFile("photo.jpg", noise_jpeg(), "image/jpeg")
            else:
                name = (
                    "成绩单.pdf" if cjk and index == 0 else "كشف النقاط.pdf" if arabic and index == 0 else "scan.pdf"
                )
                uploaded = SimpleUploadedFile(name, scanned_pdf(), "application/pdf")
            upload_piece(application=application, piece_type=piece_type, uploaded_file=uploaded, actor=user)
        gc.collect()
        first = _measured(application)  # cold: the first build of a fresh worker
        second = _measured(application)
        peak = _traced_peak(application)
        kind = ("6000x6600 JPEG/PNG " if large else "") + ("CJK " if cjk else "") + ("Arabic " if arabic else "")
        for label, (elapsed, size, rss_peak, rss_base, rss_end) in (("first", first), ("second", second)):
            print(
                f"dossier PDF, {count} {kind}pieces, {label} build | ms={elapsed * 1000:.0f} | "
                f"output_mib={size / 2**20:.1f} | rss_mib before={rss_base:.0f} peak={rss_peak:.0f} "
                f"(+{rss_peak - rss_base:.0f}) after={rss_end:.0f}"
            )
        print(f"dossier PDF, {count} {kind}pieces, third build (traced) | peak_python_mib={peak / 2**20:.1f}")


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _measured(application) -> tuple[float, int, float, float, float]:
    """Build once, untraced; return seconds, output bytes, and RSS (MiB: peak sampled every 20 ms, before, after)."""
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from applications.dossier_pdf import build_dossier_pdf  # noqa: PLC0415

    base = _rss_mib()
    peak_rss = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak_rss[0] = max(peak_rss[0], _rss_mib())

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    output = build_dossier_pdf(application)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    size = output.seek(0, 2)
    output.close()
    return elapsed, size, max(peak_rss[0], _rss_mib()), base, _rss_mib()


def _traced_peak(application) -> int:
    """Build once under tracemalloc; return the peak of Python allocations (bytes)."""
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from applications.dossier_pdf import build_dossier_pdf  # noqa: PLC0415

    gc.collect()
    tracemalloc.start()
    try:
        build_dossier_pdf(application).close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _legacy_large_jpeg() -> bytes:
    """A 6000×6600 JPEG of a smooth gradient: a few hundred KB, 39.6 Mpx once decoded."""

    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((6000, 6600)).convert("RGB").save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _legacy_large_png() -> bytes:
    """A 6300×6300 grey PNG of about 130 KB: the issue's pixel flood, 39.7 Mpx once decoded."""
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from bench.bench_image_flood import flood_png  # noqa: PLC0415

    return flood_png()


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a not in {"--large", "--cjk", "--arabic"}]
    main(
        int(arguments[0]) if arguments else 10,
        large="--large" in sys.argv,
        cjk="--cjk" in sys.argv,
        arabic="--arabic" in sys.argv,
    )
