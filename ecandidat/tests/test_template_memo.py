"""{% url %} without arguments and {% translate "literal" %} remembered per process (ecandidat/templatetags/memo.py):
the same output as Django's tags, per language, escaping and urlconf; {% extends %} walking the layout once."""

import uuid
from unittest import mock

import pytest
from django.template import Context, Engine, engines
from django.template import engines as all_engines
from django.template.base import NodeList
from django.templatetags.static import static
from django.test import override_settings
from django.urls import NoReverseMatch, get_script_prefix, reverse, set_script_prefix
from django.utils import translation

from ecandidat.templatetags import memo


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

    backend = all_engines["django"]
    assert backend._check_for_template_tags_with_the_same_name() == []
    backend.engine.libraries["documents_tags"] = "ecandidat.templatetags.memo"
    try:
        warnings = backend._check_for_template_tags_with_the_same_name()
    finally:
        backend.engine.libraries.pop("documents_tags")
    assert [w.id for w in warnings] == ["templates.W003"]


IDS = ["1faefe1c-1fb5-44bf-a384-3ddf78fd9233", "8c2b7d0e-5a4f-4c1e-9a57-1d2e3f405162"]


@pytest.mark.parametrize("application", IDS)
@pytest.mark.parametrize("piece", [0, 7, 123456])
def test_url_with_uuid_and_int_arguments_is_djangos(application, piece):

    template = engines["django"].from_string(
        "{% url 'pieces:upload' a p %}|{% url 'pieces:pieces' a %}|{% url 'applications:apply' p %}"
        "|{% url 'pieces:upload' a p as u %}[{{ u }}]"
    )
    a = uuid.UUID(application)
    expected = [
        reverse("pieces:upload", args=[a, piece]),
        reverse("pieces:pieces", args=[a]),
        reverse("applications:apply", args=[piece]),
    ]
    expected.append(f"[{expected[0]}]")
    for _ in range(2):  # the second time from the remembered pattern
        assert template.render({"a": a, "p": piece}).split("|") == expected


def test_url_arguments_django_refuses_are_still_refused():

    with pytest.raises(NoReverseMatch):
        render("{% url 'applications:apply' a %}", {"a": uuid.UUID(IDS[0])})  # a UUID where an int is expected
    with pytest.raises(NoReverseMatch):
        render("{% url 'applications:apply' n %}", {"n": -3})
    assert render("{% url 'applications:apply' n as u %}[{{ u }}]", {"n": -3}) == "[]"


def test_other_argument_values_go_through_djangos_tag():
    # A string, a bool: Django's converters decide (True is not the int 1 in a URL).
    assert render("{% url 'applications:apply' n %}", {"n": "42"}) == reverse("applications:apply", args=["42"])
    with pytest.raises(NoReverseMatch):
        render("{% url 'applications:apply' n %}", {"n": True})


def test_the_script_prefix_is_part_of_the_remembered_url():

    before = get_script_prefix()
    set_script_prefix("/ecandidat/")
    try:
        assert render("{% url 'applications:apply' 5 %}").startswith("/ecandidat/")
    finally:
        set_script_prefix(before)
    assert render("{% url 'applications:apply' 5 %}") == reverse("applications:apply", args=[5])


def test_a_custom_path_converter_turns_the_pattern_off():

    memo._patterns.clear()
    custom = {**memo.get_converters(), "int": object()}  # a project's own converter replacing a default one
    with mock.patch.object(memo, "get_converters", return_value=custom):
        assert render("{% url 'applications:apply' 9 %}") == reverse("applications:apply", args=[9])
    assert list(memo._patterns.values()) == [None]
    memo._patterns.clear()


def test_static_is_djangos_and_remembered():

    source = "{% load static %}{% static 'css/app.css' %}|{% static path %}|{% static 'js/upload.js' as u %}[{{ u }}]"
    expected = f"{static('css/app.css')}|{static('js/session.js')}|[{static('js/upload.js')}]"
    for _ in range(2):
        assert render(source, {"path": "js/session.js"}) == expected


def test_static_follows_the_settings(settings):
    settings.STATIC_URL = "/assets/"
    assert render("{% load static %}{% static 'css/app.css' %}").startswith("/assets/")


def test_a_url_with_arguments_is_reversed_once_per_shape():

    memo._patterns.clear()
    template = engines["django"].from_string("{% url 'pieces:upload' a p %}")
    with (
        mock.patch.object(memo, "reverse", wraps=reverse) as remembered,
        mock.patch("django.urls.reverse", wraps=reverse) as djangos,
    ):
        urls = {template.render({"a": uuid.uuid4(), "p": n}) for n in range(5)}
    assert len(urls) == 5
    assert remembered.call_count == 1
    assert djangos.call_count == 0


LAYOUTS = {
    "root.html": "<title>{% block title %}Root{% endblock %}</title>{% if on %}{% block body %}[root body]"
    "{% endblock %}{% endif %}{% for n in numbers %}{% block row %}{{ n }}{% endblock %}{% endfor %}",
    "middle.html": "{% extends 'root.html' %}{% block body %}<m>{{ block.super }}{% block inner %}{% endblock %}</m>"
    "{% endblock %}",
    "page.html": "{% extends 'middle.html' %}{% block title %}Page · {{ block.super }}{% endblock %}"
    "{% block inner %}inner {{ on }}{% endblock %}",
    "direct.html": "{% extends 'root.html' %}{% block row %}<{{ n }}>{% endblock %}",
    "by_variable.html": "{% extends parent %}{% block title %}Variable{% endblock %}",
}


def _engine(*builtins: str) -> Engine:
    return Engine(
        loaders=[("django.template.loaders.cached.Loader", [("django.template.loaders.locmem.Loader", LAYOUTS)])],
        builtins=list(builtins),
    )


@pytest.mark.parametrize("name", ["page.html", "direct.html", "by_variable.html"])
@pytest.mark.parametrize("on", [True, False])
def test_extends_renders_as_djangos(name, on):
    djangos, ours = _engine(), _engine("ecandidat.templatetags.memo")
    for engine in (djangos, ours):
        engine.get_template("root.html")  # compiled, so that "parent" may be given as a template
    context = {"on": on, "numbers": [1, 2], "parent": "root.html"}
    expected = djangos.get_template(name).render(Context(context))
    assert isinstance(ours.get_template(name).nodelist[0], memo.RememberedExtendsNode)
    assert ours.get_template(name).render(Context(context)) == expected
    assert ours.get_template(name).render(Context(context)) == expected  # the root's blocks remembered
    assert ours.get_template(name).render(Context({**context, "parent": ours.get_template("root.html")})) == expected


def test_extends_walks_the_layout_once_per_compiled_template():
    engine = _engine("ecandidat.templatetags.memo")
    page = engine.get_template("page.html")
    with mock.patch.object(
        NodeList, "get_nodes_by_type", autospec=True, side_effect=NodeList.get_nodes_by_type
    ) as walk:
        for _ in range(3):
            page.render(Context({"on": True, "numbers": [1]}))
    roots = [call for call in walk.call_args_list if call.args[0] is engine.get_template("root.html").nodelist]
    assert len(roots) == 1  # Django's tag walks it at each render: 3
