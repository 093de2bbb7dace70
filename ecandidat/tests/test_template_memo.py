"""{% url %} without arguments and {% translate "literal" %} remembered per process (ecandidat/templatetags/memo.py):
the same output as Django's tags, per language, escaping and urlconf."""

import pytest
from django.template import Context, Engine, engines
from django.test import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation


def render(source: str, context: dict | None = None) -> str:
    return engines["django"].from_string(source).render(context or {})


def test_url_without_arguments_is_djangos():
    template = engines["django"].from_string("{% url 'offers:catalogue' %}|{% url 'home' as h %}{{ h }}")
    assert template.render({}) == f"{reverse('offers:catalogue')}|{reverse('home')}"
    assert template.render({}) == f"{reverse('offers:catalogue')}|{reverse('home')}"  # remembered


def test_url_with_arguments_and_variables_is_resolved_each_time():
    template = engines["django"].from_string("{% url name %} {% url 'pieces:pieces' id %}")
    first = template.render({"name": "home", "id": "1faefe1c-1fb5-44bf-a384-3ddf78fd9233"})
    second = template.render({"name": "assistance", "id": "2faefe1c-1fb5-44bf-a384-3ddf78fd9233"})
    assert first.split() == [reverse("home"), reverse("pieces:pieces", args=["1faefe1c-1fb5-44bf-a384-3ddf78fd9233"])]
    assert second.split()[0] == reverse("assistance")


def test_unknown_url_raises_or_gives_nothing_with_as():
    with pytest.raises(NoReverseMatch):
        render("{% url 'no-such-page' %}")
    assert render("{% url 'no-such-page' as u %}[{{ u }}]") == "[]"


@override_settings(ROOT_URLCONF="bench.bare.urls")
def test_a_new_urlconf_is_not_answered_from_memory():
    with pytest.raises(NoReverseMatch):
        render("{% url 'offers:catalogue' %}")


def test_translation_follows_the_language():
    template = engines["django"].from_string('{% load i18n %}{% translate "Log in" %}')
    with translation.override("fr"):
        assert template.render({}) == "Connexion"
    with translation.override("en"):
        assert template.render({}) == "Log in"
    with translation.override("fr"):
        assert template.render({}) == "Connexion"


PARITY = [
    '{% load i18n %}{% translate "File" context "pieces table" %}',
    '{% load i18n %}{% translate "a < b" %}|{% autoescape off %}{% translate "a < b" %}{% endautoescape %}',
    '{% load i18n %}{% translate "Log in" as x %}[{{ x }}]',
    '{% load i18n %}{% translate "Log in" noop %}',
    "{% load i18n %}{% translate message %}{% translate message|upper %}",
    "{% load i18n %}{% blocktranslate %}Help{% endblocktranslate %}{% get_current_language as l %}{{ l }}",
]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("source", PARITY)
def test_same_output_as_djangos_tags(source, language):
    djangos = Engine(libraries={"i18n": "django.templatetags.i18n"}, autoescape=True)
    context = {"message": "Log in"}
    with translation.override(language):
        expected = djangos.from_string(source).render(Context(context))
        assert render(source, context) == expected
        assert render(source, context) == expected  # remembered


def test_the_i18n_override_is_not_reported_but_other_duplicates_are(settings):
    from django.template import engines as all_engines

    backend = all_engines["django"]
    assert backend._check_for_template_tags_with_the_same_name() == []
    backend.engine.libraries["documents_tags"] = "ecandidat.templatetags.memo"
    try:
        warnings = backend._check_for_template_tags_with_the_same_name()
    finally:
        backend.engine.libraries.pop("documents_tags")
    assert [w.id for w in warnings] == ["templates.W003"]
