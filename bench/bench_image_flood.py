"""Three parallel pixel-flood PNGs (170 KB each, 6300×6300) and one tiny JPEG declaring 6000×6600: wall time and
memory of ``validate_upload``, the check every upload goes through before anything is stored.

Usage: ``.venv/bin/python -m bench.bench_image_flood``. Runs without a database. Each PNG is validated in its own
thread, as three requests on one gunicorn worker with threads would be (Pillow releases the GIL while decoding).
"""

import io
import resource
import time
from concurrent.futures import ThreadPoolExecutor

import django
from PIL import Image


def flood_png(side: int = 6300) -> bytes:
    """A grey PNG of ``side``×``side`` pixels: it compresses to about 170 KB at 6300 px."""
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (128, 128, 128)).save(buffer, "PNG", compress_level=9)
    return buffer.getvalue()


def main() -> None:
    django.setup()
    # Deferred: they need the django.setup() above.
    from django.core.exceptions import ValidationError  # noqa: PLC0415
    from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: PLC0415

    from documents.tests.hostile_files import jpeg_claiming_size  # noqa: PLC0415
    from documents.validation import validate_upload  # noqa: PLC0415

    png = flood_png()

    def one(content: bytes, name: str) -> str:
        try:
            validate_upload(SimpleUploadedFile(name, content))
        except ValidationError as error:
            return error.code or "?"
        return "accepted"

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, [png] * 3, ["scan.png"] * 3))
    elapsed = time.perf_counter() - start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"3 parallel {len(png) // 1024} KB PNGs of 6300x6300 | {results} | ms={elapsed * 1000:.0f} | "
        f"maxrss_mib={rss_after / 1024:.0f} (grew {(rss_after - rss_before) / 1024:.0f})"
    )
    tiny = jpeg_claiming_size(6000, 6600)
    start = time.perf_counter()
    result = one(tiny, "photo.jpg")
    print(f"{len(tiny)}-byte JPEG declaring 6000x6600 | {result} | ms={(time.perf_counter() - start) * 1000:.0f}")


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecandidat.settings.test")
    main()
