"""Mail templates that the central office can override from the back office (ecandidat-features §2.10 and §4).

Every mail starts as template files (``templates/<app>/email/<code>_subject.txt``, ``_body.txt``). The central
office may replace the subject and body of a mail, per code and language, with a ``MailTemplate`` row. That text
is **never** rendered by Django's template engine (it would give whoever edits it access to every attribute of the
objects in the context); it uses eCandidat's own small syntax instead, over an allowlist of variables per code:

- ``${first_name}``: the value of a variable, as plain text (escaped in the HTML version);
- ``{if($paper)}…{endif($paper)}``: the text between the markers only when the variable is set (non-empty, true);
- ``{if(!$paper)}…{endif(!$paper)}``: only when it is not.

The catalogue below is the single list of the mails that can be overridden, with their variables: the variables
of a code are the keys of the context that code is enqueued with (``applications.notifications``,
``applications.services``, ``accounts.adapters``, ``accounts.services``), and ``test_mail_templates`` checks that
every variable the file templates use is listed here. This module holds data and pure functions only; the
database row is ``ecandidat.models.MailTemplate`` and the lookup happens in ``ecandidat.emails``.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.template import Context
from django.template.backends.django import Template as DjangoTemplate
from django.template.base import Node, NodeList
from django.template.defaulttags import AutoEscapeControlNode, ForNode, IfNode, TemplateLiteral
from django.template.loader import get_template
from django.utils import translation
from django.utils.functional import Promise
from django.utils.html import linebreaks, urlize
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


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

    def value(self, context: dict) -> str | bool:
        """The variable's value for the override syntax, from the context the mail is enqueued with."""
        raw = context.get(self.name)
        if self.kind == Kind.FLAG:
            return bool(raw)
        if self.kind == Kind.LINES:
            return "\n".join(_line(item) for item in raw or ())
        return "" if raw is None else str(raw)


def _line(item) -> str:
    """One item of a list variable: ``- label : detail`` (refused pieces with their comment, forms with their link)."""
    if not isinstance(item, dict):
        return f"- {item}"
    label = item.get("label", "")
    detail = item.get("comment") or item.get("url") or ""
    return f"- {label} : {detail}" if detail else f"- {label}"


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in [
        Variable("institution_name", _("name of the institution"), "Université de Perpignan Via Domitia"),
        Variable("site_url", _("address of eCandidat"), "https://ecandidat.univ.example"),
        Variable("first_name", _("first name of the candidate"), "Estelle"),
        Variable("last_name", _("last name of the candidate"), "Martin"),
        Variable("numero_dossier", _("numéro de dossier (the candidate's login)"), "K7M2P9QX"),
        Variable("formation_code", _("code of the formation"), "MINFO"),
        Variable("formation_title", _("title of the formation"), "Master Informatique"),
        Variable("return_deadline", _("date by which the dossier must be returned"), "15/06/2026"),
        Variable("paper", _("paper application (yes/no)"), False, Kind.FLAG),
        Variable("transmitted", _("sent because the candidate transmitted the application (yes/no)"), True, Kind.FLAG),
        Variable("comment", _("comment entered by staff with the status"), "Merci de joindre votre relevé du S2."),
        Variable(
            "refused_pieces",
            _("refused pieces with their comments, one per line"),
            [{"label": "Relevé de notes de licence", "comment": "illisible"}, {"label": "CV", "comment": ""}],
            Kind.LINES,
        ),
        Variable("decision_label", _("label of the decision"), "Avis favorable"),
        Variable("decision_comment", _("comment on the decision, when shown to the candidate"), "Bienvenue !"),
        Variable("confirmation_date", _("date by which the candidate must confirm"), "30/06/2026"),
        Variable("reason", _("reason for the refusal"), "Capacité d'accueil atteinte"),
        Variable("rank", _("rank on the complementary list"), "3"),
        Variable("preselection_date", _("date of the preselection interview"), "20/05/2026"),
        Variable("preselection_time", _("time of the preselection interview"), "14:30"),
        Variable("preselection_place", _("place of the preselection interview"), "Bâtiment B, salle 12"),
        Variable(
            "registration_instructions",
            _("instructions for the administrative registration"),
            "Inscription en ligne à partir du 1er juillet.",
        ),
        Variable(
            "forms",
            _("complementary forms still to fill in, with their links, one per line"),
            [{"label": "Questionnaire de motivation", "url": "https://enquetes.univ.example/123"}],
            Kind.LINES,
        ),
        Variable(
            "activate_url",
            _("link validating the e-mail address"),
            "https://ecandidat.univ.example/accounts/confirm-email/Mzc:1vExample/",
        ),
        Variable(
            "password_reset_url",
            _("link to choose a new password"),
            "https://ecandidat.univ.example/accounts/password/reset/key/1a-example/",
        ),
        Variable("signup_url", _("link to create an account"), "https://ecandidat.univ.example/accounts/signup/"),
        Variable("is_ent_student", _("student of the institution, logs in with the ENT (yes/no)"), False, Kind.FLAG),
        Variable("unvalidated_days", _("days left to validate the account before it is deleted"), 5),
    ]
}


@dataclass(frozen=True)
class MailType:
    code: str
    label: Promise
    sent_when: Promise
    recipient: Promise
    template_base: str
    variables: tuple[str, ...]
    # Security mails (account validation, password reset) cannot be switched off, and their text must keep these
    # variables: without them, nobody could get into their account.
    required: tuple[str, ...] = ()

    @property
    def protected(self) -> bool:
        return bool(self.required)

    def sample_context(self) -> dict:
        """A realistic context for the preview ("Tester" in eCandidat): nothing is read from the database."""
        context = {name: VARIABLES[name].sample for name in self.variables}
        context["institution_name"] = settings.INSTITUTION_NAME
        return context


_COMMON = ("institution_name",)
_ACCOUNT = (*_COMMON, "first_name", "last_name", "numero_dossier")
_APPLICATION = (*_COMMON, "site_url", "first_name", "last_name", "numero_dossier", "formation_code", "formation_title")
_DECISION = (*_APPLICATION, "decision_label", "decision_comment")
_CANDIDATE = _("the candidate")
_COMMISSION = _("the commission (alert address or members)")


def _account(code, label, sent_when, variables, required, recipient=_CANDIDATE):
    return MailType(code, label, sent_when, recipient, f"accounts/email/{code.lower()}", variables, required)


def _application(code, label, sent_when, variables, recipient=_CANDIDATE):
    return MailType(code, label, sent_when, recipient, f"applications/email/{code.lower()}", variables)


MAIL_TYPES: dict[str, MailType] = {
    m.code: m
    for m in [
        _account(
            "CPT_MIN_CREATE",
            _("account creation"),
            _("an account is created (validation link)"),
            (*_ACCOUNT, "activate_url", "is_ent_student", "unvalidated_days"),
            required=("activate_url",),
        ),
        _account(
            "CPT_MIN_MODIF_MAIL",
            _("e-mail address change"),
            _("the candidate changes their e-mail address (validation link)"),
            (*_ACCOUNT, "activate_url"),
            required=("activate_url",),
            recipient=_("the candidate, at the new address"),
        ),
        _account(
            "CPT_MIN_ID_OUBLIE",
            _("forgotten credentials"),
            _("someone asks for the credentials of an account (password reset link)"),
            (*_ACCOUNT, "password_reset_url"),
            required=("password_reset_url",),
        ),
        _account(
            "CPT_MIN_EXISTE",
            _("account already exists"),
            _("someone tries to create an account with an address already used in the campaign"),
            (*_COMMON, "password_reset_url"),
            required=("password_reset_url",),
            recipient=_("the owner of the address"),
        ),
        _account(
            "CPT_MIN_MODIF_MAIL_EXISTE",
            _("new address already used"),
            _("a candidate tries to change their address to one already used in the campaign"),
            (*_COMMON, "password_reset_url"),
            required=("password_reset_url",),
            recipient=_("the owner of the address"),
        ),
        _account(
            "CPT_MIN_INCONNU",
            _("unknown account"),
            _("someone asks for the credentials of an address no account of the campaign uses"),
            (*_COMMON, "signup_url"),
            required=("signup_url",),
            recipient=_("the owner of the address"),
        ),
        _application(
            "CANDIDATURE",
            _("application"),
            _("an application is created"),
            (*_APPLICATION, "return_deadline", "paper"),
        ),
        _application(
            "CANDIDATURE_ANNULATION", _("application cancelled"), _("an application is cancelled"), _APPLICATION
        ),
        _application(
            "STATUT_AT",
            _("dossier status waiting"),
            _("the dossier status is set to En attente"),
            (*_APPLICATION, "comment"),
        ),
        _application(
            "STATUT_RE",
            _("dossier status received"),
            _("the candidate transmits the application, or the status is set to Réceptionné"),
            (*_APPLICATION, "comment", "transmitted"),
        ),
        _application(
            "STATUT_IN",
            _("dossier status incomplete"),
            _("the dossier status is set to Incomplet"),
            (*_APPLICATION, "comment", "refused_pieces", "return_deadline"),
        ),
        _application(
            "STATUT_CO",
            _("dossier status complete"),
            _("the dossier status is set to Complet"),
            (*_APPLICATION, "comment"),
        ),
        _application(
            "AVIS_FAVORABLE",
            _("favourable decision"),
            _("a favourable decision is validated, or the candidate is promoted from the waiting list"),
            (*_DECISION, "confirmation_date"),
        ),
        _application(
            "AVIS_DEFAVORABLE",
            _("unfavourable decision"),
            _("an unfavourable decision is validated"),
            (*_DECISION, "reason"),
        ),
        _application(
            "AVIS_LISTE_ATT", _("waiting list decision"), _("a waiting-list decision is validated"), _DECISION
        ),
        _application(
            "AVIS_LISTE_COMP",
            _("complementary list decision"),
            _("a complementary-list decision is validated"),
            (*_DECISION, "rank"),
        ),
        _application(
            "AVIS_PRESELECTION",
            _("preselection decision"),
            _("a preselection decision is validated"),
            (*_DECISION, "preselection_date", "preselection_time", "preselection_place"),
        ),
        _application(
            "CANDIDATURE_CONFIRM",
            _("application confirmed"),
            _("the candidate (or staff) confirms a favourable decision"),
            (*_APPLICATION, "registration_instructions"),
        ),
        _application(
            "CANDIDATURE_DESIST",
            _("withdrawal"),
            _("the candidate (or staff) withdraws after a favourable decision"),
            _APPLICATION,
        ),
        _application(
            "CANDIDATURE_DESIST_AUTO",
            _("automatic withdrawal"),
            _("the nightly batch withdraws an application not confirmed in time"),
            (*_APPLICATION, "confirmation_date"),
        ),
        _application(
            "CANDIDATURE_RELANCE_FAVO",
            _("reminder to confirm"),
            _("the nightly batch reminds the candidate before the confirmation date"),
            (*_APPLICATION, "confirmation_date"),
        ),
        _application(
            "CANDIDATURE_RELANCE_FORMULAIRE",
            _("complementary forms reminder"),
            _("staff click “Relancer le candidat”"),
            (*_APPLICATION, "forms"),
        ),
        _application(
            "COMMISSION_ALERT_TRANSMISSION",
            _("commission alert: transmission"),
            _("a candidate transmits an application"),
            _APPLICATION,
            recipient=_COMMISSION,
        ),
        _application(
            "COMMISSION_ALERT_ANNULATION",
            _("commission alert: cancellation"),
            _("a candidate cancels an application"),
            _APPLICATION,
            recipient=_COMMISSION,
        ),
        _application(
            "COMMISSION_ALERT_DESISTEMENT",
            _("commission alert: withdrawal"),
            _("a candidate withdraws after a favourable decision"),
            _APPLICATION,
            recipient=_COMMISSION,
        ),
        _application(
            "COMMISSION_ALERT_LISTE_PRINC",
            _("commission alert: promotion to the main list"),
            _("a candidate is promoted from the waiting list"),
            (*_APPLICATION, "confirmation_date"),
            recipient=_COMMISSION,
        ),
    ]
}

# Mails that cannot be switched off (the database refuses it too: see MailTemplate's constraint).
PROTECTED_CODES = tuple(sorted(code for code, mail_type in MAIL_TYPES.items() if mail_type.protected))


def code_choices() -> list[tuple[str, str]]:
    return [(code, f"{code} — {mail_type.label}") for code, mail_type in MAIL_TYPES.items()]


# --- syntax ---------------------------------------------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ANY_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_PLACEHOLDER = re.compile(rf"\$\{{\s*({_NAME})\s*\}}")
_BLOCK = re.compile(rf"\{{if\((!?)\$({_NAME})\)\}}(.*?)\{{endif\(\1\$\2\)\}}", re.DOTALL)
_ANY_MARKER = re.compile(r"\{(?:end)?if\(([^)]*)\)\}")


class TemplateSyntaxProblem(ValueError):
    """A problem in a staff-edited text, with a French message meant for the field."""


def check_source(source: str, mail_type: MailType) -> set[str]:
    """Return the variables ``source`` uses, or raise :class:`TemplateSyntaxProblem` naming what is wrong:
    a variable this mail does not have, a yes/no variable used as text, a malformed placeholder or block."""
    unknown, flags_as_text = [], []
    if source.count("${") != len(_ANY_PLACEHOLDER.findall(source)):
        raise TemplateSyntaxProblem(gettext("A “${” is not closed: write ${name}, with a name from the list."))
    for match in _ANY_PLACEHOLDER.finditer(source):
        inner = match.group(1).strip()
        if not re.fullmatch(_NAME, inner):
            raise TemplateSyntaxProblem(
                gettext("“%(placeholder)s” is not a variable: write ${name}, with a name from the list.")
                % {"placeholder": match.group(0)}
            )
    used = set()
    for name in _PLACEHOLDER.findall(source):
        used.add(name)
        if name not in mail_type.variables:
            unknown.append(name)
        elif VARIABLES[name].kind == Kind.FLAG:
            flags_as_text.append(name)
    remaining = source
    while True:
        for _negated, name, _inner in _BLOCK.findall(remaining):
            used.add(name)
            if name not in mail_type.variables:
                unknown.append(name)
        reduced = _BLOCK.sub(lambda m: m.group(3), remaining)
        if reduced == remaining:
            break
        remaining = reduced
    if unknown:
        names = ", ".join(f"${{{name}}}" for name in dict.fromkeys(unknown))
        raise TemplateSyntaxProblem(
            gettext("Unknown variable for the mail %(code)s: %(names)s. Use only the variables listed below the form.")
            % {"code": mail_type.code, "names": names}
        )
    if flags_as_text:
        name = flags_as_text[0]
        raise TemplateSyntaxProblem(
            gettext("${%(name)s} is a yes/no variable: use it in a block {if($%(name)s)}…{endif($%(name)s)}.")
            % {"name": name}
        )
    leftover = _ANY_MARKER.search(remaining)
    if leftover:
        raise TemplateSyntaxProblem(
            gettext("The block “%(marker)s” is not closed or not opened: write {if($name)}…{endif($name)}.")
            % {"marker": leftover.group(0)}
        )
    return used


def render_source(source: str, values: dict[str, str | bool]) -> str:
    """Substitute a checked text. Blocks are resolved on the staff text first, then placeholders in one pass, so
    a value that happens to contain ``${…}`` or ``{if(…)}`` is never interpreted."""
    while True:
        reduced = _BLOCK.sub(lambda m: m.group(3) if bool(values.get(m.group(2))) != bool(m.group(1)) else "", source)
        if reduced == source:
            break
        source = reduced
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), source)


def values_for(mail_type: MailType, context: dict) -> dict[str, str | bool]:
    return {name: VARIABLES[name].value(context) for name in mail_type.variables}


def render_override(subject: str, body: str, mail_type: MailType, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of an overridden mail. The HTML version is derived from the text: everything
    in it (staff text and values) is escaped, then paragraphs and links are added."""
    values = values_for(mail_type, context)
    subject = " ".join(render_source(subject, values).split())
    text = render_source(body, values)
    html = linebreaks(urlize(text, nofollow=True, autoescape=True))
    return subject, text, html


# --- the file version, in the override syntax -----------------------------------------------------------------------


def file_version(mail_type: MailType, language: str) -> tuple[str, str]:
    """The subject and body of the file templates, written in the override syntax: the starting text of a new
    override. Translations are rendered in ``language``; ``{% if x %}`` becomes ``{if($x)}`` blocks and a loop over
    a list variable becomes its ``${name}``."""
    placeholders = {name: _placeholder(name) for name in mail_type.variables}
    with translation.override(language):
        subject = _convert(f"{mail_type.template_base}_subject.txt", placeholders, mail_type)
        body = _convert(f"{mail_type.template_base}_body.txt", placeholders, mail_type)
    return " ".join(subject.split()), body.strip() + "\n"


def _placeholder(name: str) -> str:
    return f"${{{name}}}"


def _convert(template_name: str, placeholders: dict, mail_type: MailType) -> str:
    backend_template = get_template(template_name)
    assert isinstance(backend_template, DjangoTemplate)  # mail templates live in the Django template engine
    template = backend_template.template
    context = Context(placeholders, autoescape=False)
    with context.render_context.push_state(template), context.bind_template(template):
        return _walk(template.nodelist, context, mail_type)


def _simple_name(expression) -> str | None:
    """The name in ``{{ name }}`` / ``{% if name %}`` / ``{% for x in name %}`` when it is a plain variable."""
    var: Any = getattr(expression, "var", None)
    if getattr(expression, "filters", None) or not getattr(var, "lookups", None):
        return None
    return var.lookups[0] if len(var.lookups) == 1 else None


def _walk(nodelist: NodeList, context: Context, mail_type: MailType) -> str:
    return "".join(_node_source(node, context, mail_type) for node in nodelist)


def _node_source(node: Node, context: Context, mail_type: MailType) -> str:
    if isinstance(node, AutoEscapeControlNode):
        return _walk(node.nodelist, context, mail_type)
    loop_name = _simple_name(node.sequence) if isinstance(node, ForNode) else None
    if loop_name is not None and loop_name in mail_type.variables:
        return _placeholder(loop_name)
    if isinstance(node, IfNode):
        branches = node.conditions_nodelists
        condition = branches[0][0]
        name = _simple_name(condition.value) if isinstance(condition, TemplateLiteral) else None
        has_else = len(branches) == 2 and branches[1][0] is None
        if name in mail_type.variables and (len(branches) == 1 or has_else):
            text = f"{{if(${name})}}{_walk(branches[0][1], context, mail_type)}{{endif(${name})}}"
            if has_else:
                text += f"{{if(!${name})}}{_walk(branches[1][1], context, mail_type)}{{endif(!${name})}}"
            return text
    return node.render(context)
