"""The staff preview draws PDFs in a child process under limits (``documents/pdf_raster.py``): a file that passes every
upload check but asks PDFium for minutes of CPU costs one child for ``PREVIEW_TIME_LIMIT`` seconds, never a web
worker, and is then refused in words without being drawn again. Faults of the child itself (cannot start, fails,
crashes) read as a French sentence too, and only the lasting ones are remembered."""

import hashlib
import io
import logging
import signal
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from pypdf import PdfWriter

from documents import pdf_raster
from documents import preview as preview_module
from documents.models import Document
from documents.preview import PreviewUnavailable, preview_infos, render_page
from documents.tests import hostile_files
from documents.validation import PDF, validate_upload

CHILD_SCRIPT = preview_module.CHILD[-1]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _stored(content: bytes, pk: int = 1) -> Document:
    name = default_storage.save("2026/piece.pdf", ContentFile(content))
    return Document(pk=pk, file=name, content_type=PDF, size=len(content), sha256=hashlib.sha256(content).hexdigest())


@pytest.fixture
def runs(monkeypatch):
    """The child processes started, as the list of their commands."""
    started = []
    real_run = subprocess.run

    def counting_run(command, *args, **kwargs):
        started.append(command)
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(preview_module.subprocess, "run", counting_run)
    return started


def test_the_costly_pdf_passes_every_upload_check():
    named = io.BytesIO(hostile_files.pdf_costly_to_draw())
    named.name = "releve.pdf"

    assert validate_upload(named).content_type == PDF  # what the upload accepts, the preview must survive
    assert len(named.getvalue()) < 4096


def test_a_pdf_costly_to_draw_is_stopped_at_the_time_limit_then_refused_without_drawing(
    settings, monkeypatch, runs, caplog
):
    settings.PREVIEW_TIME_LIMIT = 1
    monkeypatch.setattr(preview_module, "WALL_CLOCK_PER_CPU_SECOND", 30)  # the CPU limit, even on a loaded machine
    document = _stored(hostile_files.pdf_costly_to_draw())

    assert preview_infos([document])[1].pages == 1  # counting its pages is cheap
    with caplog.at_level(logging.WARNING, logger="documents.preview"), pytest.raises(PreviewUnavailable) as drawn:
        render_page(document, 1)

    assert drawn.value.code == "too_costly"
    assert "PDFium stopped" in caplog.text
    assert len(runs) == 2
    info = preview_infos([document])[1]
    assert (info.pages, info.code) == (0, "too_costly")
    assert info.message == "No preview: drawing this PDF takes too much time or memory; download it to read it."
    with pytest.raises(PreviewUnavailable):
        render_page(document, 1)
    assert len(runs) == 2  # remembered by content: nobody pays for this file twice


def test_an_ordinary_pdf_is_drawn_by_the_child_within_the_limits(settings, runs):
    settings.PREVIEW_TIME_LIMIT = 10
    document = _stored(hostile_files.pdf_bytes())

    png = render_page(document, 1)

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert runs[0][: len(preview_module.CHILD)] == preview_module.CHILD
    assert "--cpu-seconds=10" in runs[0]
    assert f"--memory-mb={settings.PREVIEW_MEMORY_LIMIT_MB}" in runs[0]


def test_the_kernel_stops_the_child_at_its_cpu_limit_whatever_the_parent_does():
    child = subprocess.run(
        [*preview_module.CHILD, "--cpu-seconds=1", "--memory-mb=512", "render", "1", "1600"],
        input=hostile_files.pdf_costly_to_draw(),
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert child.returncode == -signal.SIGXCPU
    assert child.stdout == b""


def test_the_child_is_refused_memory_beyond_its_limit():
    child = subprocess.run(
        [*preview_module.CHILD, "--cpu-seconds=10", "--memory-mb=128", "count", str(300 * 1024 * 1024)],
        input=bytes(300 * 1024 * 1024),  # 300 MiB to hold, under a 128 MiB address space
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert child.returncode == pdf_raster.TOO_COSTLY


def test_a_child_that_cannot_start_is_a_passing_failure_not_remembered(settings, monkeypatch, caplog):
    document = _stored(hostile_files.pdf_bytes())
    monkeypatch.setattr(preview_module, "CHILD", ["/nonexistent/python3"])

    with caplog.at_level(logging.ERROR, logger="documents.preview"):
        info = preview_infos([document])[1]

    assert info.code == "failed"
    assert info.message.startswith("No preview for now")
    assert "could not start" in caplog.text
    monkeypatch.setattr(preview_module, "CHILD", [sys.executable, "-I", CHILD_SCRIPT])
    assert preview_infos([document])[1].pages == 1  # not remembered: the next view tries again


def test_a_child_that_fails_is_logged_as_an_error_and_not_remembered(settings, monkeypatch, caplog):
    document = _stored(hostile_files.pdf_bytes())
    monkeypatch.setattr(preview_module, "CHILD", [sys.executable, "-c", "import sys; sys.exit('broken install')"])

    with caplog.at_level(logging.ERROR, logger="documents.preview"), pytest.raises(PreviewUnavailable) as drawn:
        render_page(document, 1)

    assert drawn.value.code == "failed"
    assert "broken install" in caplog.text
    assert cache.get(preview_module._cache_key(document)) is None


@pytest.mark.parametrize("signal_name", ["SIGSEGV", "SIGABRT", "SIGKILL"])
def test_a_child_that_crashes_or_is_killed_is_a_passing_failure_not_remembered(monkeypatch, signal_name):
    # PDFium refused an allocation (abort), crashed, or the out-of-memory killer struck: nothing says the file
    # itself is at fault, so nothing is remembered against it.
    document = _stored(hostile_files.pdf_bytes())
    crash = f"import os, signal; os.kill(os.getpid(), signal.{signal_name})"
    monkeypatch.setattr(preview_module, "CHILD", [sys.executable, "-c", crash])

    info = preview_infos([document])[1]

    assert (info.pages, info.code) == (0, "failed")
    assert cache.get(preview_module._cache_key(document)) is None


def test_a_child_out_of_wall_clock_time_is_a_passing_failure_not_remembered(settings, monkeypatch):
    # A busy machine can take long for an ordinary file: only the CPU limit (SIGXCPU) marks a file as costly.
    settings.PREVIEW_TIME_LIMIT = 1
    document = _stored(hostile_files.pdf_bytes())
    monkeypatch.setattr(preview_module, "CHILD", [sys.executable, "-c", "import time; time.sleep(60)"])

    with pytest.raises(PreviewUnavailable) as drawn:
        render_page(document, 1)

    assert drawn.value.code == "failed"
    assert cache.get(preview_module._cache_key(document)) is None


def test_one_child_counts_the_pages_of_every_new_pdf_of_a_reading_page(runs):
    documents = [_stored(_pdf_of_pages(pages), pk=pages) for pages in (1, 2, 3)]

    infos = preview_infos(documents)

    assert [infos[pk].pages for pk in (1, 2, 3)] == [1, 2, 3]
    assert len(runs) == 1
    assert runs[0][-4:] == ["count", *(str(document.size) for document in documents)]


def test_when_the_shared_count_stops_each_file_is_counted_alone(monkeypatch, runs):
    # A child that stops at its limit whenever it is given more than one file, as one costly file would make it.
    refuses_batches = (
        "import runpy, sys\n"
        "arguments = sys.argv[1:]\n"
        "if arguments.count('count') and len(arguments) - arguments.index('count') > 2:\n"
        f"    sys.exit({pdf_raster.TOO_COSTLY})\n"
        f"sys.argv = [{CHILD_SCRIPT!r}, *arguments]\n"
        f"runpy.run_path({CHILD_SCRIPT!r}, run_name='__main__')\n"
    )
    monkeypatch.setattr(preview_module, "CHILD", [sys.executable, "-c", refuses_batches])
    documents = [_stored(_pdf_of_pages(pages), pk=pages) for pages in (1, 2)]

    infos = preview_infos(documents)

    assert [infos[pk].pages for pk in (1, 2)] == [1, 2]
    assert len(runs) == 3  # the shared child, then one per file


def _pdf_of_pages(count: int) -> bytes:
    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(width=595, height=842)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def test_large_files_are_counted_in_several_children_never_all_held_at_once(monkeypatch, runs):
    monkeypatch.setattr(preview_module, "COUNT_BATCH_BYTES", 1)  # every file fills a batch on its own
    documents = [_stored(_pdf_of_pages(pages), pk=pages) for pages in (1, 2, 3)]

    infos = preview_infos(documents)

    assert [infos[pk].pages for pk in (1, 2, 3)] == [1, 2, 3]
    assert [command[-2:] for command in runs] == [["count", str(document.size)] for document in documents]
