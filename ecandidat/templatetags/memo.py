"""Template tags that remember what cannot change between requests (issue 14: template cost).

Installed by ``TEMPLATES["OPTIONS"]`` in the settings, so templates do not change:
- ``builtins``: ``{% url %}`` without arguments (the layout's and menu's two dozen links on every page, ~30 µs
  each) is reversed once per (name, namespace, urlconf, script prefix) and process; with arguments it is Django's
  tag unchanged;
- ``libraries``: this module is also the ``i18n`` library, Django's own with ``{% translate "literal" %}`` (about a
  hundred per page, ~20 µs each) remembered per node, language and autoescape; a variable, a filter or ``noop``
  goes through Django's node unchanged.

Both caches are emptied when URL or translation settings change (tests), and are bounded by the templates' text.
"""

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Library
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.templatetags import i18n as django_i18n
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = Library()
register.tags.update(django_i18n.register.tags)
register.filters.update(django_i18n.register.filters)

_urls: dict[tuple, tuple[str, str]] = {}
_generation = [0]  # bumped to forget every remembered translation


@receiver(setting_changed)
def _forget(*, setting, **kwargs):
    if setting in ("ROOT_URLCONF", "FORCE_SCRIPT_NAME"):
        _urls.clear()
    if setting in ("LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "USE_I18N", "INSTALLED_APPS"):
        _generation[0] += 1


def _literal(expression) -> str | None:
    """The text of a quoted constant without filters ({% url 'home' %}, context "table"); None otherwise."""
    if expression.filters:
        return None
    var = expression.var
    if isinstance(var, str):  # a constant, resolved when the template was compiled
        return var
    return var.literal if isinstance(var.literal, str) else None


class FixedURLNode(URLNode):
    def render(self, context):
        name = _literal(self.view_name)
        if self.args or self.kwargs or name is None:
            return super().render(context)
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        # No language in the key: the project has no i18n_patterns. A request's own urlconf (request.urlconf) is
        # what Django's handler passes to set_urlconf, read here without its thread-local.
        key = (name, current_app, getattr(request, "urlconf", None), get_script_prefix())
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
        if self.asvar:
            context[self.asvar] = urls[0]
            return ""
        return urls[1] if context.autoescape else urls[0]


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
