import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from ecandidat.env import env_bool, env_email_url, env_font_files, env_int, env_time


def test_malformed_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG", False)


def test_malformed_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "2MB")

    with pytest.raises(ImproperlyConfigured, match="UPLOAD_MAX_BYTES"):
        env_int("UPLOAD_MAX_BYTES", 1)


def test_integer_below_minimum_is_refused(monkeypatch):
    monkeypatch.setenv("MAX_WISHES", "0")

    with pytest.raises(ImproperlyConfigured, match="MAX_WISHES"):
        env_int("MAX_WISHES", 20, minimum=1)


def test_time_of_day(monkeypatch):
    monkeypatch.setenv("MAINTENANCE_START", "23:15")

    assert env_time("MAINTENANCE_START", "22:45") == datetime.time(23, 15)
    monkeypatch.setenv("MAINTENANCE_START", "25h")
    with pytest.raises(ImproperlyConfigured, match="MAINTENANCE_START"):
        env_time("MAINTENANCE_START", "22:45")


def test_email_url_parsing(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://user%40x:p%3Ass@mail.example:587?tls=1")

    parsed = env_email_url("EMAIL_URL")

    assert parsed["host"] == "mail.example"
    assert parsed["port"] == 587
    assert parsed["username"] == "user@x"
    assert parsed["password"] == "p:ss"
    assert parsed["use_tls"] is True


def test_email_url_with_wrong_scheme_is_refused(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "http://mail.example")

    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        env_email_url("EMAIL_URL")


def test_font_files_with_a_collections_face(monkeypatch):
    monkeypatch.setenv(
        "PDF_FALLBACK_FONTS",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:2, /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc,"
        " /opt/fonts/Font.TTF",
    )

    assert env_font_files("PDF_FALLBACK_FONTS") == [
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
        ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
        ("/opt/fonts/Font.TTF", 0),
    ]


@pytest.mark.parametrize("value", ["/fonts/font.pkl", "/fonts/font.ttf:2", "/fonts/font.ttc:SC"])
def test_something_else_than_font_files_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("PDF_FALLBACK_FONTS", value)

    with pytest.raises(ImproperlyConfigured, match="PDF_FALLBACK_FONTS"):
        env_font_files("PDF_FALLBACK_FONTS")


def test_no_font_files_by_default(monkeypatch):
    monkeypatch.delenv("PDF_FALLBACK_FONTS", raising=False)

    assert env_font_files("PDF_FALLBACK_FONTS") == []
