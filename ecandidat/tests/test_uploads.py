"""ecandidat/uploads.py: part headers that are not UTF-8 re-encoded, everything else passed on byte for byte."""

import io
import random

import pytest
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http import HttpRequest, multipartparser

from ecandidat import uploads


class Trickle(io.BytesIO):
    """A body that arrives in pieces of random sizes, so that delimiters and headers are split between reads."""

    def __init__(self, data: bytes, seed: int):
        super().__init__(data)
        self._random = random.Random(seed)

    def read(self, size=-1):
        return super().read(self._random.randint(1, 3000) if size is None or size < 0 else min(size, 3000))


def body(name: bytes, content: bytes) -> bytes:
    return (
        b'--BND\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\nabc\r\n'
        b'--BND\r\nContent-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + content + b"\r\n"
        b'--BND\r\nContent-Disposition: form-data; name="file"; filename="b.pdf"\r\n\r\n--BN\r\n--BND--\r\n'
    )


def parse(data: bytes, seed: int = 0):
    meta = {"CONTENT_TYPE": "multipart/form-data; boundary=BND", "CONTENT_LENGTH": str(len(data))}
    request = HttpRequest()
    handlers = [MemoryFileUploadHandler(request), TemporaryFileUploadHandler(request)]
    return uploads.RepairedMultiPartParser(meta, Trickle(data, seed), handlers).parse()


def read_all(stream, seed: int) -> bytes:
    sizes = random.Random(seed)
    out = b""
    while chunk := stream.read(sizes.choice([1, 7, 100, 65536])):
        out += chunk
    return out


def test_the_header_limit_is_djangos():
    assert uploads.MAX_HEADER_SIZE == multipartparser.MAX_TOTAL_HEADER_SIZE


@pytest.mark.parametrize("size", [0, 1, 1000, 70_000, 300_000])
@pytest.mark.parametrize("seed", range(3))
def test_a_utf8_body_is_passed_on_byte_for_byte(size, seed):
    data = body("relevé.pdf".encode(), random.Random(seed).randbytes(size))

    assert read_all(uploads.RepairedHeaders(Trickle(data, seed), b"BND"), seed) == data


@pytest.mark.parametrize("size", [0, 1000, 70_000, 300_000])
@pytest.mark.parametrize(
    ("name", "kept"), [(b"relev\xe9.pdf", "relevé.pdf"), (b"\x93\x81.pdf", ".pdf"), (b"..", "document")]
)
def test_every_file_is_kept_with_its_content_and_a_name(size, name, kept):
    content = random.Random(size).randbytes(size)

    post, files = parse(body(name, content), seed=size)

    assert post["csrfmiddlewaretoken"] == "abc"
    first, second = files.getlist("file")
    assert (first.name, first.read()) == (kept, content)
    assert (second.name, second.read()) == ("b.pdf", b"--BN")


def test_an_empty_file_field_is_still_no_file():
    _post, files = parse(b'--BND\r\nContent-Disposition: form-data; name="file"; filename=""\r\n\r\n\r\n--BND--\r\n')

    assert not files
