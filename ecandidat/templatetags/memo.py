"""Template tags that remember what cannot change between requests (issue 14: template cost).

Installed by ``TEMPLATES["OPTIONS"]`` in the settings, so templates do not change:
- ``builtins``: ``{% url %}`` of a literal name (the layout's and menu's two dozen links on every page, the pieces
  table's links on each row, ~20-30 µs each) is reversed once per (name, namespace, urlconf, script prefix) and
  process. Without arguments the URL itself is remembered. With positional arguments that are all UUIDs or
  non-negative integers, the URL is reversed once with sentinel values of those types and remembered as a pattern
  whose holes take ``str(value)``: exactly what Django's built-in converters (uuid, int, str, slug, path) produce for
  such values, and a sentinel that a converter refuses (a UUID for an ``int``) makes that shape go through Django's
  tag, which raises as before. While a custom path converter is registered, arguments always go through Django's
  tag (its ``to_url`` or its pattern could differ). Keyword arguments, variable names and other values: Django's
  tag unchanged;
- ``libraries``: this module is also the ``i18n`` library, Django's own with ``{% translate "literal" %}`` (about a
  hundred per page, ~20 µs each) remembered per node, language and autoescape; a variable, a filter or ``noop``
  goes through Django's node unchanged. It is also the ``static`` library: ``{% static "literal" %}`` (the manifest's
  hashed name, ~25 µs) remembered per path;
- ``builtins`` again: ``{% extends %}`` finds the layout's blocks once per compiled template, where Django walks the
  layout's whole node tree on every page.

The caches are emptied when URL, translation or static settings change (tests), and are bounded by the templates'
text.
"""

import uuid

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Library
from django.template import loader_tags as django_loader_tags
from django.template.base import TextNode
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.template.loader_tags import BLOCK_CONTEXT_KEY, BlockContext, BlockNode, ExtendsNode
from django.templatetags import i18n as django_i18n
from django.templatetags import static as django_static
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.urls.converters import DEFAULT_CONVERTERS, get_converters
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = Library()
register.tags.update(django_i18n.register.tags)
register.filters.update(django_i18n.register.filters)
register.tags.update(django_static.register.tags)

_urls: dict[tuple, tuple[str, str]] = {}
_patterns: dict[tuple, tuple[str | int, ...] | None] = {}  # None: this shape goes through Django's tag
_statics: dict[str, str] = {}
_generation = [0]  # bumped to forget every remembered translation


@receiver(setting_changed)
def _forget(*, setting, **kwargs):
    if setting in ("ROOT_URLCONF", "FORCE_SCRIPT_NAME"):
        _urls.clear()
        _patterns.clear()
    if setting in ("LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "USE_I18N", "INSTALLED_APPS"):
        _generation[0] += 1
    if setting in ("STATIC_URL", "STATIC_ROOT", "STORAGES", "INSTALLED_APPS"):
        _statics.clear()


def _literal(expression) -> str | None:
    """The text of a quoted constant without filters ({% url 'home' %}, context "table"); None otherwise."""
    if expression.filters:
        return None
    var = expression.var
    if isinstance(var, str):  # a constant, resolved when the template was compiled
        return var
    return var.literal if isinstance(var.literal, str) else None


# Sentinels: a UUID or an integer that no URL prefix contains, each one found exactly once in the reversed URL.
_SENTINEL_UUID = 0x5E471E1_0000_4000_8000_000000000000
_SENTINEL_INT = 9_876_543_210


def _shape(values: list) -> tuple[str, ...] | None:
    """ "u" for a UUID, "i" for a non-negative int (not a bool), per argument; None when any other value is there."""
    shape = []
    for value in values:
        if type(value) is uuid.UUID:
            shape.append("u")
        elif type(value) is int and value >= 0:
            shape.append("i")
        else:
            return None
    return tuple(shape)


def _only_default_converters() -> bool:
    return all(type(converter) is type(DEFAULT_CONVERTERS.get(name)) for name, converter in get_converters().items())


def _pattern(name: str, shape: tuple[str, ...], current_app, urlconf) -> tuple[str | int, ...] | None:
    """The URL as literal pieces and argument positions, from one reversal with sentinels; None when it cannot be."""
    if not _only_default_converters():
        return None
    sentinels = [
        str(uuid.UUID(int=_SENTINEL_UUID + n) if kind == "u" else _SENTINEL_INT + n) for n, kind in enumerate(shape)
    ]
    values = [uuid.UUID(text) if kind == "u" else int(text) for text, kind in zip(sentinels, shape, strict=True)]
    try:
        raw = reverse(name, args=values, current_app=current_app, urlconf=urlconf)
    except NoReverseMatch:
        return None  # Django's tag raises it, with its message
    if any(raw.count(text) != 1 for text in sentinels):
        return None
    holes = sorted((raw.index(text), n, len(text)) for n, text in enumerate(sentinels))
    pieces: list[str | int] = []
    start = 0
    for at, n, length in holes:
        pieces += [raw[start:at], n]
        start = at + length
    pieces.append(raw[start:])
    return tuple(pieces)


class FixedURLNode(URLNode):
    def render(self, context):
        name = _literal(self.view_name)
        if self.kwargs or name is None:
            return super().render(context)
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        # No language in the key: the project has no i18n_patterns. A request's own urlconf (request.urlconf) is
        # what Django's handler passes to set_urlconf, read here without its thread-local.
        key = (name, current_app, getattr(request, "urlconf", None), get_script_prefix())
        if self.args:
            return self._render_with_arguments(context, key)
        urls = _urls.get(key)
        if urls is None:
            try:
                raw = reverse(name, current_app=current_app, urlconf=key[2])
            except NoReverseMatch:
                if self.asvar is None:
                    raise
                context[self.asvar] = ""  # Django's tag with "as": nothing (not remembered)
                return ""
            urls = _urls[key] = (raw, conditional_escape(raw))
        return self._output(context, *urls)

    def _render_with_arguments(self, context, key):
        values = [argument.resolve(context) for argument in self.args]
        shape = _shape(values)
        if shape is None:
            return super().render(context)
        pattern_key = (*key, shape)
        if pattern_key not in _patterns:
            _patterns[pattern_key] = _pattern(key[0], shape, key[1], key[2])
        pattern = _patterns[pattern_key]
        if pattern is None:
            return super().render(context)
        raw = "".join(piece if isinstance(piece, str) else str(values[piece]) for piece in pattern)
        return self._output(context, raw, conditional_escape(raw))

    def _output(self, context, raw, escaped):
        if self.asvar:
            context[self.asvar] = raw
            return ""
        return escaped if context.autoescape else raw


@register.tag
def url(parser, token):
    node = django_url(parser, token)
    return FixedURLNode(node.view_name, node.args, node.kwargs, node.asvar)


class RememberedTranslateNode(django_i18n.TranslateNode):
    def render(self, context):
        expression = self.filter_expression
        if (
            self.noop
            or self.asvar
            or _literal(expression) is None
            or (self.message_context is not None and _literal(self.message_context) is None)
        ):
            return super().render(context)
        key = (get_language(), context.autoescape, _generation[0])
        memo = self.__dict__.setdefault("_memo", {})
        value = memo.get(key)
        if value is None:
            value = memo[key] = super().render(context)
        return value


def _remembered(parser, token):
    node = django_i18n.do_translate(parser, token)
    return RememberedTranslateNode(node.filter_expression, node.noop, node.asvar, node.message_context)


register.tag("translate", _remembered)
register.tag("trans", _remembered)


class RememberedStaticNode(django_static.StaticNode):
    def render(self, context):
        path = _literal(self.path)
        if path is None:
            return super().render(context)
        url = _statics.get(path)
        if url is None:
            url = _statics[path] = self.handle_simple(path)
        if context.autoescape:
            url = conditional_escape(url)
        if self.varname is None:
            return url
        context[self.varname] = url
        return ""


@register.tag("static")
def static(parser, token):
    return RememberedStaticNode.handle_token(parser, token)


_ROOT_BLOCKS = "_ecandidat_root_blocks"  # the attribute of a compiled template that keeps its root blocks


class RememberedExtendsNode(ExtendsNode):
    """Django's ``{% extends %}``, without walking the whole layout on every page: Django looks for the root
    template's ``{% block %}`` nodes in its entire node tree (``get_nodes_by_type``) at each render; they are found
    once per compiled template (kept on it, so a template compiled again is walked again)."""

    def render(self, context):
        compiled_parent = self.get_parent(context)
        if BLOCK_CONTEXT_KEY not in context.render_context:
            context.render_context[BLOCK_CONTEXT_KEY] = BlockContext()
        block_context = context.render_context[BLOCK_CONTEXT_KEY]
        block_context.add_blocks(self.blocks)
        root_blocks = _root_blocks(compiled_parent)
        if root_blocks is not None:
            block_context.add_blocks(root_blocks)
        with context.render_context.push_state(compiled_parent, isolated_context=False):
            return compiled_parent._render(context)  # type: ignore[attr-defined]  # as Django does


def _root_blocks(template) -> dict | None:
    """The block nodes of ``template`` by name when it is the root of the chain (extends nothing), else None: what
    Django's ``ExtendsNode.render`` computes, remembered on the compiled template (only read by ``add_blocks``)."""
    try:
        return template.__dict__[_ROOT_BLOCKS]
    except KeyError:
        pass
    blocks = None
    for node in template.nodelist:
        if not isinstance(node, TextNode):  # the extends node has to be the first non-text node
            if not isinstance(node, ExtendsNode):
                blocks = {block.name: block for block in template.nodelist.get_nodes_by_type(BlockNode)}
            break
    template.__dict__[_ROOT_BLOCKS] = blocks
    return blocks


@register.tag("extends")
def extends(parser, token):
    node = django_loader_tags.do_extends(parser, token)
    return RememberedExtendsNode(node.nodelist, node.parent_name, node.template_dirs)
