"""The notifications registry: the mails the central office can override, declared by the app that sends them.

Each app declares its notifications in its own module (``accounts.notifications``, ``applications.notifications``)
and registers them from its ``AppConfig.ready()``: a code, a label, when it is sent and to whom, its template files
(``templates/<app>/email/<code>_subject.txt`` and ``_body.txt``), the variables an override may use and the context
builder that computes the common ones from the mail's subject (an application, an account). The core knows none of
them: it keeps the registry (this module), the override syntax (``ecandidat.mail_templates``) and the renderer
and outbox (``ecandidat.emails``). Nothing here reads the database.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Deferred:
    """A context value computed only if the mail's text uses it (a row more to read, say the commission's address,
    which most mails never print): the override syntax asks for it through ``Variable.value``, Django's template
    engine calls it like any callable. Computed once per context."""

    __slots__ = ("_compute", "_value", "_done")

    def __init__(self, compute: Callable[[], object]) -> None:
        self._compute = compute
        self._value: object = None
        self._done = False

    def __call__(self) -> object:
        if not self._done:
            self._value, self._done = self._compute(), True
        return self._value


class Kind(StrEnum):
    TEXT = "text"  # ${name} gives the value
    FLAG = "flag"  # yes/no: only usable in {if($name)} blocks
    LINES = "lines"  # a list in the context, given as one "- …" line per item


@dataclass(frozen=True)
class Variable:
    name: str
    label: Promise
    sample: object  # a realistic value, in the shape the context holds it (used by the preview)
    kind: Kind = Kind.TEXT
    # Typed by staff (an office, a centre, a commission: instructions, a comment, a refusal reason), never by the
    # candidate: an address in it is a link in the HTML version of an office's text (``mail_templates``).
    staff_text: bool = False

    def value(self, context: Mapping[str, Any]) -> str | bool:
        """The variable's value for the override syntax, from the context the mail is enqueued with."""
        raw: Any = context.get(self.name)
        if isinstance(raw, Deferred):
            raw = raw()
        if self.kind == Kind.FLAG:
            return bool(raw)
        if self.kind == Kind.LINES:
            return "\n".join(_line(item) for item in raw or ())
        return "" if raw is None else str(raw)


def _line(item: object) -> str:
    """One item of a list variable: ``- label: detail`` (refused pieces with their comment, forms with their link),
    in the language of the mail (``ecandidat.emails.render_email`` renders it there): « - label : detail » in
    French only."""
    if not isinstance(item, dict):
        return f"- {item}"
    label = item.get("label", "")
    detail = item.get("comment") or item.get("url") or ""
    line = "- " + (gettext("%(label)s: %(detail)s") % {"label": label, "detail": detail} if detail else str(label))
    if item.get("deadline"):  # a refused piece's own deadline (targeted correction)
        line += " (" + gettext("to replace by %(date)s") % {"date": item["deadline"]} + ")"
    return line


# Every mail has it: ``ecandidat.emails.enqueue_email`` adds it to every context.
INSTITUTION_NAME = Variable("institution_name", _("name of the institution"), "Université de Perpignan Via Domitia")

# A context builder computes, from the mail's subject, the variables common to the notifications about that kind
# of subject (plain values only: no model instance reaches a template); the sender adds the specific ones.
ContextBuilder = Callable[[Any], dict[str, object]]


@dataclass(frozen=True)
class Notification:
    code: str
    label: Promise
    sent_when: Promise
    recipient: Promise
    template_base: str  # "<app>/email/<code lower>": the files are <template_base>_subject.txt and _body.txt
    variables: tuple[Variable, ...]
    context: ContextBuilder
    # Security mails (account validation, password reset) cannot be switched off, and their text must keep these
    # variables: without them, nobody could get into their account.
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            raise ImproperlyConfigured(f"notification {self.code}: a variable is listed twice")
        if not set(self.required) <= set(names):
            raise ImproperlyConfigured(f"notification {self.code}: a required variable is not among its variables")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(variable.name for variable in self.variables)

    def variable(self, name: str) -> Variable | None:
        return next((variable for variable in self.variables if variable.name == name), None)

    @property
    def protected(self) -> bool:
        return bool(self.required)

    def sample_context(self) -> dict[str, object]:
        """A realistic context for the preview ("Tester" in eCandidat): nothing is read from the database."""
        context = {variable.name: variable.sample for variable in self.variables}
        context[INSTITUTION_NAME.name] = settings.INSTITUTION_NAME
        return context


# The mails the database refuses to switch off: MailTemplate's check constraint needs the list when the model class
# is built, before any app has registered anything, so the schema keeps its own copy of the codes (migration 0003).
# ``register`` refuses a notification whose ``required`` variables disagree with it.
ALWAYS_ON_CODES = (
    "CPT_MIN_CREATE",
    "CPT_MIN_DOUBLE_AUTH_RETIREE",
    "CPT_MIN_EXISTE",
    "CPT_MIN_ID_OUBLIE",
    "CPT_MIN_INCONNU",
    "CPT_MIN_MODIF_MAIL",
    "CPT_MIN_MODIF_MAIL_ANCIEN",
    "CPT_MIN_MODIF_MAIL_EXISTE",
)

_REGISTRY: dict[str, Notification] = {}


def register(*notifications: Notification) -> None:
    """Add notifications to the registry (from an ``AppConfig.ready()``), in the order they are listed there.

    Registering the same declaration again does nothing; another declaration under a registered code, or a
    notification that can be switched off while the database says it cannot (or the reverse), is refused."""
    for notification in notifications:
        known = _REGISTRY.get(notification.code)
        if known is not None and known != notification:
            raise ImproperlyConfigured(f"notification {notification.code} is declared twice")
        if notification.protected != (notification.code in ALWAYS_ON_CODES):
            raise ImproperlyConfigured(
                f"notification {notification.code}: required variables iff the code is in ALWAYS_ON_CODES"
            )
        _REGISTRY[notification.code] = notification


def get(code: str) -> Notification | None:
    """The registered notification ``code``; None for the mails that cannot be overridden (technical ones)."""
    return _REGISTRY.get(code)


def registered() -> Iterator[Notification]:
    """Every registered notification, in registration order (the apps' order in INSTALLED_APPS)."""
    return iter(list(_REGISTRY.values()))


def codes() -> list[str]:
    return list(_REGISTRY)


def code_choices() -> list[tuple[str, str]]:
    return [(notification.code, f"{notification.code} — {notification.label}") for notification in registered()]
