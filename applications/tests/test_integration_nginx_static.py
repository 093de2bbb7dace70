"""The static files through the real nginx with the /static/ location of deploy/nginx.conf.example as written, on
what collectstatic writes with the production storage: a browser that accepts gzip gets the .gz written beside the
file (a phone on a slow line downloads a quarter of the stylesheet), any other gets the file itself, and both are
marked as varying with Accept-Encoding for shared caches."""

import gzip

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command

from applications.tests.nginx_peer import example_block, get, start_nginx
from ecandidat.settings import base

pytestmark = pytest.mark.integration


@pytest.fixture
def collected(tmp_path, settings):
    """collectstatic into a temporary folder with the production storage; the stylesheet's hashed name."""
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.STORAGES = {**settings.STORAGES, "staticfiles": base.STORAGES["staticfiles"]}
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", interactive=False, verbosity=0)
    return tmp_path / "static", staticfiles_storage.stored_name("css/app.css")


@pytest.fixture
def nginx(tmp_path, collected):
    static_root, _ = collected
    block = example_block(r"(?s)    location /static/ \{.*?\n    \}").group(0)
    assert "alias /srv/ecandidat/var/static/;" in block
    block = block.replace("alias /srv/ecandidat/var/static/;", f"alias {static_root}/;")
    with start_nginx(tmp_path / "nginx", block, upstream_url=None) as port:
        yield port


def test_a_browser_accepting_gzip_gets_the_compressed_copy(nginx, collected):
    static_root, name = collected
    plain = (static_root / name).read_bytes()
    compressed = (static_root / f"{name}.gz").read_bytes()

    status, headers, body = get(nginx, f"/static/{name}", headers={"Accept-Encoding": "gzip, deflate, br"})

    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert body == compressed
    assert gzip.decompress(body) == plain
    assert len(body) < len(plain) / 2
    assert headers["Vary"] == "Accept-Encoding"
    assert "immutable" in ", ".join(headers.get_all("Cache-Control"))


def test_a_client_without_gzip_gets_the_file_itself(nginx, collected):
    static_root, name = collected

    status, headers, body = get(nginx, f"/static/{name}")

    assert status == 200
    assert "Content-Encoding" not in headers
    assert body == (static_root / name).read_bytes()
