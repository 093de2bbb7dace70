"""The override syntax: the text the central office writes instead of a mail's template files (ecandidat-features
§2.10 and §4).

Every mail starts as template files (``templates/<app>/email/<code>_subject.txt``, ``_body.txt``). The central
office may replace the subject and body of a registered notification (``ecandidat.notifications``), per code and
language, with a ``MailTemplate`` row. That text is **never** rendered by Django's template engine (it would give
whoever edits it access to every attribute of the objects in the context); it uses eCandidat's own small syntax
instead, over the variables the notification declares:

- ``${first_name}``: the value of a variable, as plain text (escaped in the HTML version);
- ``{if($paper)}…{endif($paper)}``: the text between the markers only when the variable is set (non-empty, true);
- ``{if(!$paper)}…{endif(!$paper)}``: only when it is not.

Blocks may nest, or cross on different variables: a passage is kept when every block around it is. A text is read a
few times whatever its blocks, and one longer than ``MAX_SOURCE_LENGTH`` is refused before it is read.

This module holds pure functions only: the database row is ``ecandidat.models.MailTemplate``, the lookup and the
rendering happen in ``ecandidat.emails``.
"""

import re
from bisect import bisect_right
from collections import deque
from typing import Any

from django.template import Context
from django.template.backends.django import Template as DjangoTemplate
from django.template.base import Node, NodeList
from django.template.defaulttags import AutoEscapeControlNode, ForNode, IfNode, TemplateLiteral
from django.template.loader import get_template
from django.utils import translation
from django.utils.html import escape, linebreaks, urlize
from django.utils.translation import gettext, pgettext

from ecandidat.notifications import Deferred, Kind, Notification

# --- syntax ---------------------------------------------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(rf"\$\{{\s*({_NAME})\s*\}}")
# A block's marker, {if($name)}, {if(!$name)}, {endif($name)} or {endif(!$name)}: a fixed shape, found in one pass.
_MARKER = re.compile(rf"\{{(end)?if\((!?)\$({_NAME})\)\}}")
_MARKER_START = re.compile(r"\{(?:end)?if\(")  # where anything that looks like a marker begins
_TESTED = re.compile(rf"\{{if\(!?\$({_NAME})\)\}}")
_MAX_TESTED_NAMES = 10  # always_printed tries 2**n combinations of the names the blocks test
# The longest text checked: a mail or a letter is a page or two; a text of megabytes is a mistake or an attack.
MAX_SOURCE_LENGTH = 50_000


def _kind(notification: Notification, name: str) -> Kind | None:
    variable = notification.variable(name)
    return variable.kind if variable is not None else None


class TemplateSyntaxProblem(ValueError):
    """A problem in a staff-edited text, with a French message meant for the field."""


class LetterType(Notification):
    """The variables of a kind of decision letter (``offers.letters``), not a mail: its texts are checked as a
    mail's (``check_source``), but a problem is told as the letter's, whose form lists the variables inside it."""


# Every scan below reads the text once (a handful of passes in all, whatever the number of blocks): a pattern with a
# lazy ``(.*?)`` and back-references, applied again until nothing changes, took seconds per thousand markers
# (quadratic), and a text is checked when a form is saved or previewed.


def _any_placeholders(source: str) -> list[tuple[str, str]]:
    """Every ``${…}`` as (the whole, what is inside), up to the first ``}`` after it, in one reading (a pattern
    ``${[^}]*}`` reads the rest of the text again from each unclosed ``${``)."""
    found, position = [], 0
    while (start := source.find("${", position)) != -1:
        end = source.find("}", start + 2)
        if end == -1:
            break  # no "}" after this one: none after the next ones either
        found.append((source[start : end + 1], source[start + 2 : end]))
        position = end + 1
    return found


def _first_marker(source: str) -> str | None:
    """The first text that looks like a marker, ``{if(…)}`` or ``{endif(…)}`` with anything but ")" inside, in one
    reading (a pattern ``{if([^)]*)}`` reads the rest of the text again from each unclosed ``{if(``)."""
    paren = -1
    for match in _MARKER_START.finditer(source):
        if paren < match.end():
            paren = source.find(")", match.end())
            if paren == -1:
                return None
        if source.startswith(")}", paren):
            return source[match.start() : paren + 2]
    return None


class _Blocks:
    """The block markers of a text, read once, and paired: each ``{endif($x)}`` closes the first ``{if($x)}`` still
    open (``{if(!$x)}`` is another block than ``{if($x)}``); blocks may nest or cross. A marker that pairs with none
    stays text (the check refuses it). Which passage is kept does not depend on how the markers of one variable are
    paired (it is inside a block on ``$x`` when more ``{if($x)}`` than ``{endif($x)}`` come before it); the pairs
    only say which marker a refusal names: as the former check (the first marker left once the blocks it could
    pair were taken out, an ``{if(…)}`` paired with the nearest ``{endif(…)}`` after it), but for texts with several
    errors."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.markers = list(_MARKER.finditer(source))
        self.partner: dict[int, int] = {}  # marker index -> the index of the marker it pairs with
        open_ones: dict[tuple[bool, str], deque[int]] = {}
        for index, marker in enumerate(self.markers):
            key = (bool(marker.group(2)), marker.group(3))
            if marker.group(1) is None:
                open_ones.setdefault(key, deque()).append(index)
            elif open_ones.get(key):
                opening = open_ones[key].popleft()
                self.partner[opening], self.partner[index] = index, opening

    def names(self) -> list[str]:
        """The variables the paired blocks test, outer blocks first (then in the text's order)."""
        depth, opened = 0, []  # (depth, start, name) of each paired {if(…)}
        for index, marker in enumerate(self.markers):
            partner = self.partner.get(index)
            if partner is None:
                continue
            if partner > index:
                depth += 1
                opened.append((depth, marker.start(), marker.group(3)))
            else:
                depth -= 1
        return [name for _depth, _start, name in sorted(opened)]

    def pieces(self) -> list[tuple[str, tuple[tuple[bool, str], ...]]]:
        """The text without the paired markers, in pieces, each with the blocks around it as (negated, name)."""
        pieces: list[tuple[str, tuple[tuple[bool, str], ...]]] = []
        active: dict[int, tuple[bool, str]] = {}  # the blocks open, by the index of their {if(…)}
        position = 0
        for index, marker in enumerate(self.markers):
            partner = self.partner.get(index)
            if partner is None:
                continue  # stays text: part of the next piece
            if marker.start() > position:
                pieces.append((self.source[position : marker.start()], tuple(active.values())))
            if partner > index:
                active[index] = (bool(marker.group(2)), marker.group(3))
            else:
                del active[partner]
            position = marker.end()
        if position < len(self.source):
            pieces.append((self.source[position:], ()))
        return pieces

    def unwrapped(self) -> str:
        """The text with every paired marker taken out, and what was between them kept."""
        return "".join(text for text, _blocks in self.pieces())

    def resolved(self, values: Any) -> str:
        """The text with every block kept or removed by the values (a name missing from them: not set): a passage
        is kept when every block around it is. Each value is asked once."""
        kept: dict[tuple[bool, str], bool] = {}
        parts = []
        for text, blocks in self.pieces():
            for block in blocks:
                if block not in kept:
                    negated, name = block
                    kept[block] = bool(values.get(name)) != negated
            if all(kept[block] for block in blocks):
                parts.append(text)
        return "".join(parts)


def check_source(source: str, notification: Notification) -> set[str]:
    """Return the variables ``source`` uses, or raise :class:`TemplateSyntaxProblem` naming what is wrong:
    a text too long, a variable this mail (or letter: a :class:`LetterType`) does not have, a yes/no variable used
    as text, a malformed placeholder or block. Reads the text a few times, whatever its blocks."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise TemplateSyntaxProblem(
            gettext("This text is too long: %(length)d characters, at most %(limit)d.")
            % {"length": len(source), "limit": MAX_SOURCE_LENGTH}
        )
    unknown, flags_as_text = [], []
    placeholders = _any_placeholders(source)
    if source.count("${") != len(placeholders):
        raise TemplateSyntaxProblem(gettext("A “${” is not closed: write ${name}, with a name from the list."))
    for placeholder, inner in placeholders:
        if not re.fullmatch(_NAME, inner.strip()):
            raise TemplateSyntaxProblem(
                gettext("“%(placeholder)s” is not a variable: write ${name}, with a name from the list.")
                % {"placeholder": placeholder}
            )
    used = set()
    for name in _PLACEHOLDER.findall(source):
        used.add(name)
        if name not in notification.names:
            unknown.append(name)
        elif _kind(notification, name) == Kind.FLAG:
            flags_as_text.append(name)
    blocks = _Blocks(source)
    for name in blocks.names():
        used.add(name)
        if name not in notification.names:
            unknown.append(name)
    if unknown:
        names = ", ".join(f"${{{name}}}" for name in dict.fromkeys(unknown))
        if isinstance(notification, LetterType):
            raise TemplateSyntaxProblem(
                gettext("Unknown variable in the letter: %(names)s. Use only the variables listed in the form.")
                % {"names": names}
            )
        raise TemplateSyntaxProblem(
            gettext("Unknown variable for the mail %(code)s: %(names)s. Use only the variables listed below the form.")
            % {"code": notification.code, "names": names}
        )
    if flags_as_text:
        name = flags_as_text[0]
        raise TemplateSyntaxProblem(
            gettext("${%(name)s} is a yes/no variable: use it in a block {if($%(name)s)}…{endif($%(name)s)}.")
            % {"name": name}
        )
    leftover = _first_marker(blocks.unwrapped())
    if leftover:
        raise TemplateSyntaxProblem(
            gettext("The block “%(marker)s” is not closed or not opened: write {if($name)}…{endif($name)}.")
            % {"marker": leftover}
        )
    return used


def always_printed(source: str) -> set[str]:
    """The variables a checked ``source`` prints whatever the values: those every recipient of the mail gets. A
    required variable (an account's link) must be among them: inside a block ``{if($x)}…{endif($x)}`` only, it
    would reach only the recipients for whom ``$x`` is set; in both ``{if($x)}`` and ``{if(!$x)}`` it reaches all.

    Every combination of the variables the blocks test is tried (``2**n`` for ``n`` names, a mail's few), all at
    once: a combination is a bit, a passage kept by a set of them a number; past ``_MAX_TESTED_NAMES`` names, a
    variable counts only outside every block."""
    tested = sorted(set(_TESTED.findall(source)))
    every_combination = len(tested) <= _MAX_TESTED_NAMES
    combinations = 1 << len(tested) if every_combination else 1
    every = (1 << combinations) - 1
    when_set = {
        name: sum(1 << combination for combination in range(combinations) if combination >> bit & 1)
        for bit, name in enumerate(tested)
        if every_combination
    }
    text: list[str] = []
    starts: list[int] = []
    masks: list[int] = []
    length = 0
    for piece, blocks in _Blocks(source).pieces():
        mask = every if every_combination or not blocks else 0  # past the limit: outside every block only
        for negated, name in blocks if every_combination else ():
            mask &= every ^ when_set[name] if negated else when_set[name]
        text.append(piece)
        starts.append(length)
        masks.append(mask)
        length += len(piece)
    reached: dict[str, int] = {}
    for match in _PLACEHOLDER.finditer("".join(text)):
        # The pieces the placeholder spans (one, but for a placeholder a removed marker joins).
        first = bisect_right(starts, match.start()) - 1
        last = bisect_right(starts, match.end() - 1) - 1
        mask = every
        for index in range(first, last + 1):
            mask &= masks[index]
        reached[match.group(1)] = reached.get(match.group(1), 0) | mask
    return {name for name, mask in reached.items() if mask == every}


def render_source(source: str, values: Any) -> str:
    """Substitute a checked text. Blocks are resolved on the staff text first, then placeholders in one pass, so
    a value that happens to contain ``${…}`` or ``{if(…)}`` is never interpreted."""
    source = _Blocks(source).resolved(values)
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), source)


class _Values:
    """The values of a notification's variables, each computed when the text first asks for it (a ``Deferred``
    value reads the database only for a text that prints it)."""

    def __init__(self, notification: Notification, context: dict) -> None:
        self._notification, self._context = notification, context
        self._values: dict[str, str | bool] = {}

    def get(self, name: str, default: str | bool = "") -> str | bool:
        if name not in self._values:
            variable = self._notification.variable(name)
            if variable is None:
                return default
            self._values[name] = variable.value(self._context)
        return self._values[name]


def values_for(notification: Notification, context: dict) -> dict[str, str | bool]:
    """Every variable's value at once (the decision letters, whose values are also printed around the text)."""
    return {variable.name: variable.value(context) for variable in notification.variables}


# A link of the mail, by its declaration: the variables named ``*_url`` hold an address the application builds
# (``absolute_url``) or a field that only takes one (a commission's web page), and a list's items their ``"url"``
# (a complementary form's link); the ``*_email`` ones an address of the institution (a commission's, the
# helpdesk's). Their value is linked only when it is that: one http(s) address, one e-mail address. A variable
# declared ``staff_text`` (the registration instructions, a staff comment) has its addresses linked as the office's
# own text has; what the candidate typed (a name, an answer) never.
_LINK_SUFFIX = "_url"
_ADDRESS_SUFFIX = "_email"
_ONE_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_ONE_ADDRESS = re.compile(r"[^\s<>\"'@:]+@[^\s<>\"'@:]+", re.IGNORECASE)
# The words ``urlize`` reads one by one (Django's ``Urlizer.word_split_re``) and the runs between them.
_WORDS = re.compile(r"""[\s<>"']+|[^\s<>"']+""")


def _is_link(name: str, value: str) -> bool:
    if name.endswith(_LINK_SUFFIX):
        return _ONE_LINK.fullmatch(value) is not None
    return name.endswith(_ADDRESS_SUFFIX) and _ONE_ADDRESS.fullmatch(value) is not None


def _value_pieces(notification: Notification, name: str, values: _Values, context: dict) -> list[tuple[str, bool]]:
    """The value of ``${name}`` as (text, may be linked) pieces: a link variable's value may, a value staff typed
    (``Variable.staff_text``) may, a list's item links may, nothing else (what the candidate typed: a name, an
    answer; a form's label)."""
    value = str(values.get(name, ""))
    if _is_link(name, value):
        return [(value, True)]
    variable = notification.variable(name)
    if variable is not None and variable.staff_text:
        return [(value, True)]
    if variable is None or variable.kind != Kind.LINES:
        return [(value, False)]
    raw: Any = context.get(name)
    if isinstance(raw, Deferred):
        raw = raw()  # computed once: ``values.get`` above has called it
    pieces: list[tuple[str, bool]] = []
    for index, item in enumerate(raw or ()):
        # The item's line as the variable writes it (``Variable.value`` of a list of one), then its link in it: the
        # item's "url", printed when it has no comment (``notifications._line``).
        line = str(variable.value({name: [item]}))
        url = str(item.get("url") or "") if isinstance(item, dict) and not item.get("comment") else ""
        at = line.rfind(url) if url and _is_link(_LINK_SUFFIX, url) else -1
        if index:
            pieces.append(("\n", False))
        if at == -1:
            pieces.append((line, False))
        else:
            pieces += [(line[:at], False), (url, True), (line[at + len(url) :], False)]
    if "".join(text for text, _linkable in pieces) != value:  # not the variable's own writing: no link
        return [(value, False)]
    return pieces


def _rendered_pieces(
    source: str, notification: Notification, values: _Values, context: dict
) -> list[tuple[str, bool]]:
    """``render_source`` of ``source``, as (text, may be linked) pieces: the staff's text may be, the values as
    ``_value_pieces`` says."""
    source = _Blocks(source).resolved(values)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(source):
        pieces.append((source[position : match.start()], True))
        pieces += _value_pieces(notification, match.group(1), values, context)
        position = match.end()
    pieces.append((source[position:], True))
    return pieces


def _linked_html(pieces: list[tuple[str, bool]]) -> str:
    """The pieces escaped, with ``urlize``'s links in the words made only of pieces that may be linked: a word
    with a character of a typed value (an address in a name, or glued to the staff's ``https://…/``) stays text."""
    text = "".join(piece for piece, _linkable in pieces)
    # unlinkable[i]: how many characters before i come from a piece that may not be linked.
    unlinkable = [0] * (len(text) + 1)
    position = 0
    for piece, linkable in pieces:
        for offset in range(len(piece)):
            unlinkable[position + offset + 1] = unlinkable[position + offset] + (not linkable)
        position += len(piece)
    html = []
    for match in _WORDS.finditer(text):
        word = match.group()
        if unlinkable[match.end()] == unlinkable[match.start()] and not word.isspace():
            html.append(urlize(word, nofollow=True, autoescape=True))
        else:
            html.append(escape(word))
    return "".join(html)


def render_override(subject: str, body: str, notification: Notification, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of an overridden mail. The HTML version is derived from the text: everything
    in it (staff text and values) is escaped, then paragraphs are added, and links: the addresses the staff wrote,
    in this text or in a value staff typed (``staff_text``), and the link variables' (``_is_link``), never one inside
    a value the candidate typed (a name chosen at signup)."""
    values = _Values(notification, context)
    subject = " ".join(render_source(subject, values).split())
    pieces = _rendered_pieces(body, notification, values, context)
    text = "".join(piece for piece, _linkable in pieces)
    html = linebreaks(_linked_html(pieces))
    return subject, text, html


def variable_rows(notification: Notification) -> list[dict]:
    """The variables of a mail as the admin's "Available variables" table shows them: placeholder, meaning and an
    example (the sample value, "yes"/"no" for a yes/no variable)."""
    rows = []
    for variable in notification.variables:
        if variable.kind == Kind.FLAG:
            example: str | bool = gettext("yes") if variable.sample else gettext("no")
        else:
            example = variable.value({variable.name: variable.sample})
        rows.append(
            {
                "name": variable.name,
                "placeholder": _placeholder(variable.name),
                "label": variable.label,
                "example": example,
            }
        )
    return rows


# --- the file version, in the override syntax -----------------------------------------------------------------------


def file_version(notification: Notification, language: str) -> tuple[str, str]:
    """The subject and body of the file templates, written in the override syntax: the starting text of a new
    override, which renders as the files do. Translations are rendered in ``language``; ``{% if x %}`` (or
    ``{% if not x %}``) becomes ``{if($x)}`` (``{if(!$x)}``) blocks, an ``{% elif y %}`` a block ``{if($y)}`` inside
    ``{if(!$x)}``, an ``{% else %}`` the opposite block; a loop over a list variable becomes its ``${name}``.

    Raises :class:`TemplateSyntaxProblem` (French message naming the construct) for what the override syntax cannot
    write (a comparison, an attribute, a filter in a condition, a loop over something else than a list variable, a
    block inside a block on the same variable): a starting text that says something else than the files would be
    worse than none."""
    placeholders = {name: _placeholder(name) for name in notification.names}
    with translation.override(language):
        subject = _convert(f"{notification.template_base}_subject.txt", placeholders, notification)
        body = _convert(f"{notification.template_base}_body.txt", placeholders, notification)
    return " ".join(subject.split()), body.strip() + "\n"


def _placeholder(name: str) -> str:
    return f"${{{name}}}"


class _Conversion:
    """One file template being converted: the notification, the context of placeholders, the variables of the
    blocks being written (a block inside a block on the same variable cannot be read back)."""

    def __init__(self, notification: Notification, context: Context) -> None:
        self.notification, self.context = notification, context
        self.open: frozenset[str] = frozenset()

    def refuse(self, node: Node) -> TemplateSyntaxProblem:
        token = getattr(node, "token", None)
        construct = f"{{% {token.contents} %}}" if token is not None else type(node).__name__
        return TemplateSyntaxProblem(
            gettext(
                "The file template of the mail %(code)s uses “%(construct)s”, which the syntax of edited texts "
                "cannot write: write this passage yourself."
            )
            % {"code": self.notification.code, "construct": construct}
        )


def _convert(template_name: str, placeholders: dict, notification: Notification) -> str:
    backend_template = get_template(template_name)
    assert isinstance(backend_template, DjangoTemplate)  # mail templates live in the Django template engine
    template = backend_template.template
    context = Context(placeholders, autoescape=False)
    with context.render_context.push_state(template), context.bind_template(template):
        return _walk(template.nodelist, _Conversion(notification, context))


def _simple_name(expression: object) -> str | None:
    """The name in ``{{ name }}`` / ``{% if name %}`` / ``{% for x in name %}`` when it is a plain variable."""
    var: Any = getattr(expression, "var", None)
    if getattr(expression, "filters", None) or not getattr(var, "lookups", None):
        return None
    return var.lookups[0] if len(var.lookups) == 1 else None


def _condition(condition: object, notification: Notification) -> tuple[str, str] | None:
    """(name, "" or "!") of ``{% if name %}`` / ``{% if not name %}`` on one of the mail's variables, else None."""
    negation = ""
    if getattr(condition, "id", None) == "not":
        condition, negation = getattr(condition, "first", None), "!"
    name = _simple_name(condition.value) if isinstance(condition, TemplateLiteral) else None
    return (name, negation) if name in notification.names else None


def _walk(nodelist: NodeList, conversion: _Conversion) -> str:
    return "".join(_node_source(node, conversion) for node in nodelist)


def _node_source(node: Node, conversion: _Conversion) -> str:
    if isinstance(node, AutoEscapeControlNode):
        return _walk(node.nodelist, conversion)
    if isinstance(node, ForNode):
        name = _simple_name(node.sequence)
        if name is None or _kind(conversion.notification, name) != Kind.LINES:
            raise conversion.refuse(node)
        return _placeholder(name)
    if isinstance(node, IfNode):
        return _branches(node, node.conditions_nodelists, conversion)
    return node.render(conversion.context)


def _branches(node: IfNode, branches: list, conversion: _Conversion) -> str:
    """``{% if a %}A{% elif b %}B{% else %}C{% endif %}`` as ``{if($a)}A{endif($a)}{if(!$a)}{if($b)}B{endif($b)}
    {if(!$b)}C{endif(!$b)}{endif(!$a)}`` (without the line break): each branch only when the ones before are not
    taken, as the files do."""
    (condition, nodelist), rest = branches[0], branches[1:]
    if condition is None:  # {% else %}
        return _walk(nodelist, conversion)
    tested = _condition(condition, conversion.notification)
    if tested is None or tested[0] in conversion.open:
        raise conversion.refuse(node)
    name, negation = tested
    outer, conversion.open = conversion.open, conversion.open | {name}
    try:
        text = f"{{if({negation}${name})}}{_walk(nodelist, conversion)}{{endif({negation}${name})}}"
        if rest:
            other = "" if negation else "!"
            text += f"{{if({other}${name})}}{_branches(node, rest, conversion)}{{endif({other}${name})}}"
    finally:
        conversion.open = outer
    return text


def language_in_sentence(language: str) -> str:
    """A mail's language named inside a sentence: « en français » (a language is lowercase in French; its label in
    the lists and column headings, « Français », is capitalised), "in French"."""
    names = {
        "fr": pgettext("language, inside a sentence", "French"),
        "en": pgettext("language, inside a sentence", "English"),
    }
    return names.get(language, language)
