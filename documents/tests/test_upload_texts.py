"""``{% upload_texts %}``: the pieces table's upload help, rendered once per language and settings and kept in the
process (issue 14); the same HTML as a fresh render, never another language's nor another limit's."""

import pytest
from django.template import engines
from django.template.loader import render_to_string
from django.utils import translation

from documents.templatetags import documents_tags


@pytest.fixture(autouse=True)
def _empty_memo():
    documents_tags._UPLOAD_TEXTS.clear()
    yield
    documents_tags._UPLOAD_TEXTS.clear()


def fresh(max_bytes: int) -> str:
    return render_to_string("includes/upload_texts.html", {"upload_max_bytes": max_bytes})


def test_each_language_gets_its_own_texts_and_the_second_call_is_the_kept_one(settings):
    settings.UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    with translation.override("fr"):
        french = documents_tags.upload_texts()
        assert documents_tags.upload_texts() is french
        assert french == fresh(2 * 1024 * 1024)
    with translation.override("en"):
        english = documents_tags.upload_texts()
        assert english == fresh(2 * 1024 * 1024)

    assert "(ou PNG) ne dépassant pas 2 Mo par pièce" in french
    assert 'data-max-bytes="2097152"' in french
    assert "files of at most 2 MB per piece" in english
    assert english != french


def test_another_size_limit_is_not_served_the_kept_texts(settings):
    settings.UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    with translation.override("fr"):
        documents_tags.upload_texts()
        settings.UPLOAD_MAX_BYTES = 5 * 1024 * 1024
        texts = documents_tags.upload_texts()

    assert "ne dépassant pas 5 Mo par pièce" in texts
    assert 'data-max-bytes="5242880"' in texts


def test_with_debug_on_the_template_is_read_every_time(settings, monkeypatch):
    settings.DEBUG = True
    rendered = []

    def render(name, context):
        rendered.append(name)
        return "x"

    monkeypatch.setattr(documents_tags, "render_to_string", render)

    with translation.override("fr"):
        documents_tags.upload_texts()
        documents_tags.upload_texts()

    assert len(rendered) == 2


def test_the_texts_are_html_the_tag_does_not_escape(rf):
    page = engines["django"].from_string("{% load documents_tags %}{% upload_texts %}").render({}, rf.get("/"))

    assert '<div id="upload-texts" hidden' in page
    assert "&lt;" not in page
