"""The scolarité's behavioural parameters (eCandidat "Paramétrage", ecandidat-features §2.11): the registry, the
accessor every call site reads them through, and the service the back office's "Paramètres" page writes them with.

Each parameter is a Django setting read from the environment (README, "Configuration"): that is its **default**.
The central office may change it in the back office; only the changed ones have a row (``ParameterOverride``), and
every change has a history row (``ParameterChange``). Infrastructure settings (addresses, secrets, storage, time
limits) are not here: they stay environment-only.

Reads: ``get("MAX_WISHES")`` gives the override if there is one, else ``getattr(settings, "MAX_WISHES")`` (so a test
that changes ``settings`` still sees its value). Candidate pages read parameters on every request, so each process
keeps the overrides in memory for ``MEMORY_SECONDS``: one query per process every 10 seconds at most. A change is
seen at once by the process that made it (its copy is dropped when the change commits) and **within
MEMORY_SECONDS by the other processes** (web workers, Celery workers; a nightly command reads them when it starts).

When the overrides cannot be read (database unreachable, table not migrated yet) the environment's values apply,
with a warning in the log: never a 500 for a parameter.

Every parameter here was checked to be safe to change while the site runs: each call site reads it when it acts
(no value copied at start-up or stored with a row), so a change applies to the next action and leaves what was
done before as it was (applications already made, reminders already sent, decisions already entered).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from time import monotonic
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import ParameterChange, ParameterOverride

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

# How long each process keeps the overrides in memory before reading them again (as the maintenance switch does).
MEMORY_SECONDS = 10.0


class Kind(enum.StrEnum):
    BOOL = "bool"
    INT = "int"
    CHOICE = "choice"


@dataclass(frozen=True)
class Parameter:
    """One parameter: ``name`` is its Django setting (the environment's default), ``code`` eCandidat's parameter
    ("" when eCandidat has none); ``minimum``/``maximum`` bound an INT, ``choices`` list a CHOICE's codes."""

    name: str
    code: str
    kind: Kind
    label: StrOrPromise
    help_text: StrOrPromise
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[tuple[str, StrOrPromise], ...] = ()

    @property
    def default(self) -> Any:
        """The environment's value (the Django setting)."""
        return getattr(settings, self.name)

    def bounds(self) -> tuple[int | None, int | None]:
        """An INT's bounds, widened to the environment's value: what IT configured is always accepted (a value
        equal to it removes the override)."""
        low, high = self.minimum, self.maximum
        default = self.default
        if isinstance(default, int):
            low = default if low is None else min(low, default)
            high = default if high is None else max(high, default)
        return low, high

    def clean(self, value: Any) -> Any:
        """``value`` if it is one this parameter takes, else ``ParameterError`` with a French message."""
        if self.kind is Kind.BOOL:
            if not isinstance(value, bool):
                raise ParameterError(gettext("Choose yes or no."))
            return value
        if self.kind is Kind.INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(gettext("Enter a whole number."))
            low, high = self.bounds()
            if low is not None and value < low or high is not None and value > high:
                raise ParameterError(gettext("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high})
            return value
        if value not in dict(self.choices):
            raise ParameterError(gettext("Choose one of the values offered."))
        return value

    def display(self, value: Any) -> str:
        """The value in words, as the page and the history show it ("Oui", "Rang réel", "20")."""
        if self.kind is Kind.BOOL:
            return gettext("Yes") if value else gettext("No")
        if self.kind is Kind.CHOICE:
            return str(dict(self.choices).get(value, value))
        return number_format(value) if isinstance(value, int) else str(value)


class ParameterError(ValueError):
    """A value a parameter does not take; the message is French, for the field."""


class ParameterErrors(BusinessRuleError):
    """``set_parameters`` refused some values: ``errors`` maps each parameter's name to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "MAX_WISHES",
        "CANDIDATURE_NB_VOEUX_MAX",
        Kind.INT,
        _("Maximum number of applications"),
        _(
            "Per candidate, in each application centre or for the whole institution (next parameter). A centre's "
            "own maximum wins for its formations. Applications already made stay."
        ),
        minimum=1,
        maximum=100,
    ),
    Parameter(
        "MAX_WISHES_PER_INSTITUTION",
        "CANDIDATURE_NB_VOEUX_MAX_IS_ETAB",
        Kind.BOOL,
        _("Maximum counted for the whole institution"),
        _("Yes: the maximum counts every application of the candidate; no: their applications in each centre."),
    ),
    Parameter(
        "FORMS_BLOCK_TRANSMISSION",
        "CANDIDATURE_IS_BLOC_TRANS_FORM",
        Kind.BOOL,
        _("Transmission blocked while a complementary form is unanswered"),
        # The candidate's button and choice, by their own msgids: each language names them as the candidate reads them.
        format_lazy(
            _(
                "Yes: “{transmit}” stays inactive while a complementary form is neither answered nor declared "
                "“{not_concerned}”."
            ),
            transmit=_("Transmit my application"),
            not_concerned=_("Not concerned"),
        ),
    ),
    Parameter(
        "ADMISSION_LETTER_AFTER_CONFIRMATION",
        "DOWNLOAD_IS_LETTRE_ADM_APRES_CONFIRM",
        Kind.BOOL,
        _("Admission letter only after confirmation"),
        _(
            "Yes: candidates download their admission letter once they have confirmed, and the confirmation mail "
            "gives it. Refusal letters are not concerned."
        ),
    ),
    Parameter(
        "DECISION_APPEALS",
        "SCOL_IS_APPEL",
        Kind.BOOL,
        _("Decisions after appeal"),
        _("Yes: a decision can be marked as given after the candidate's appeal; its mail and the recap say so."),
    ),
    Parameter(
        "BULK_DECISION_LOCK",
        "GEST_IS_UTILISE_BLOCAGE_MASSE",
        Kind.BOOL,
        _("Bulk decisions blocked once a decision is validated"),
        format_lazy(
            _(
                "Yes: “{action}” on a selection is refused when one of its applications already has a validated "
                "decision (one application at a time stays possible)."
            ),
            action=_("Enter a decision"),
        ),
    ),
    Parameter(
        "TREATMENT_TYPE_RESETS_STATUS",
        "SCOL_IS_STATUT_ATT_WHEN_CHANGE_TT",
        Kind.BOOL,
        format_lazy(_("Dossier set back to “{status}” when the processing type changes"), status=_("Waiting")),
        format_lazy(
            _(
                "Yes: “{action}” (on one application or a selection) also sets the dossier back to “{status}”, with "
                "the status mail; the candidate sends it again under the new type, and a direct access is granted "
                "only once it is complete again. No: the dossier status stays as it was."
            ),
            action=_("Change the processing type"),
            status=_("Waiting"),
        ),
    ),
    Parameter(
        "WAITING_LIST_RANK_DISPLAY",
        "LC_MODE_AFFICHAGE_RANG",
        Kind.CHOICE,
        _("Rank shown to candidates on a complementary list"),
        _("The real rank is kept up to date by every validation, withdrawal and promotion."),
        choices=(
            ("R", _("Real rank (and a mail when it improves)")),
            ("S", _("Rank entered with the decision")),
            ("N", pgettext_lazy("rank shown", "None")),
        ),
    ),
    Parameter(
        "CATALOGUE_GROUPING",
        "SCOL_MODE_TYPE_FORMATION",
        Kind.CHOICE,
        _("Grouping of the formations under each centre in the catalogue"),
        format_lazy(
            _("The formation types are kept in {app} › {model}."),
            app=pgettext_lazy("app", "Training offer"),
            model=capfirst(_("formation types")),
        ),
        choices=(
            ("DIP", _("Diploma type")),
            ("NOM", _("Formation type")),
            ("NO", _("No grouping")),
        ),
    ),
    Parameter(
        "SVA_ALERT_DATE",
        "SVA_ALERT_DAT",
        Kind.CHOICE,
        _("Date the SVA alerts count from"),
        _("The SVA (“silence vaut acceptation”) alerts of the applications list; the levels are set apart."),
        # The codes of applications.enums.SvaReferenceDate (a layer above; a test keeps them equal).
        choices=(
            ("NO", _("No alert")),
            ("CRE", _("Creation date")),
            ("ANN", _("Cancellation date")),
            ("ACC", _("Acceptance date")),
            ("TRANS", _("Transmission date")),
            ("REC", _("Reception date")),
            ("COM", _("Complete status date")),
            ("INC", _("Incomplete status date")),
        ),
    ),
    Parameter(
        "SVA_ALERT_FINAL_ONLY",
        "SVA_ALERT_DEFINITIF",
        Kind.BOOL,
        _("Only a final decision ends an SVA alert"),
        _("Yes: only a validated decision of a final type ends the alert; no: any validated decision does."),
    ),
    Parameter(
        "FAVOURABLE_REMINDER_DAYS",
        "SCOL_NB_JOUR_RELANCE_FAVO",
        Kind.INT,
        _("Reminder of an unanswered favourable decision (days)"),
        _(
            "The reminder is sent once, in the night before the day that is this many days before the confirmation "
            "date: the nightly batches run after the site closes (0: in the night before the date)."
        ),
        minimum=0,
        maximum=60,
    ),
    Parameter(
        "TRANSMISSION_REMINDER_DAYS",
        "",
        Kind.INT,
        _("Reminder of an application not transmitted (days)"),
        _(
            "The reminder is sent once, in the night before the day that is this many days before the return "
            "deadline: the nightly batches run after the site closes (0: no reminder)."
        ),
        minimum=0,
        maximum=60,
    ),
    Parameter(
        "EMAIL_ACCOUNTS",
        "CANDIDAT_IS_COMPTE_EXTERNE_AUT",
        Kind.BOOL,
        _("Accounts with an e-mail address for candidates who are not students here"),
        _(
            "No: only the institution's students apply (through the ENT); the e-mail account creation is closed, "
            "the accounts already created stay open."
        ),
    ),
    Parameter(
        "ENT_ACCOUNTS_PASSWORD",
        "CANDIDAT_IS_MDP_CONNECT_CAS",
        Kind.BOOL,
        _("ENT students may also choose a password"),
        _(
            "Yes: a student whose account comes from the ENT may choose a password (when creating the account, or "
            "later from the menu) and log in with their dossier number or e-mail address when the ENT is down. "
            "No: the choice is no longer offered; passwords already chosen keep working."
        ),
    ),
    Parameter(
        "ENT_CANDIDATE_LOGIN",
        "CANDIDAT_IS_CONNECT_CAS",
        Kind.BOOL,
        _("Candidates log in through the ENT"),
        _(
            "No: the candidates' login and account creation pages no longer offer the ENT, and an ENT login of a "
            "candidate is refused; students log in with their dossier number or e-mail address and their "
            "password. Staff keep logging in to the back office through the ENT."
        ),
    ),
    Parameter(
        "SIS_LOOKUP_BY_INE",
        "CANDIDAT_IS_UTILISE_SYNCHRO_INE",
        Kind.BOOL,
        _("Student records looked up by INE for e-mail candidates"),
        _(
            "Yes: an e-mail candidate who types an INE known to the student records system gets their data from "
            "it, as a student logging in through the ENT does."
        ),
    ),
    Parameter(
        "INE_REQUIRED_FOR_FRENCH",
        "CANDIDAT_IS_INE_OBLI_FR",
        Kind.BOOL,
        _("INE required of French nationals"),
        _("Yes: a candidate of French nationality cannot save their personal details without an INE."),
    ),
    Parameter(
        "CENTRE_MANAGERS_EDIT_DOSSIERS",
        "SCOL_GESTION_CANDIDAT_CTR_CAND",
        Kind.BOOL,
        _("Centre managers correct the dossiers"),
        _(
            "Yes (eCandidat W): centre managers correct the dossier of a candidate who applied to their centres; "
            "no (R): they read it, the central office changes it."
        ),
    ),
    Parameter(
        "SIS_REGIME_ENTRY",
        "GEST_IS_UTILISE_REG_STU",
        Kind.BOOL,
        _("Entry of the registration regime and fees"),
        _(
            "Yes: staff enter each application's registration regime and fee exemption category, sent in the Apogée "
            "OPI. Values already entered are kept when it is switched off."
        ),
    ),
    Parameter(
        "EXPORT_NOTES",
        "GEST_IS_EXPORT_BLOC_NOTE",
        Kind.BOOL,
        _("Internal notes in the exports"),
        _(
            "Yes: the exports of the applications list carry each application's internal notes, with their dates "
            "and authors (the last column of “Export the list”, offered by “Export with chosen columns”). No: they "
            "are read in the application's page only."
        ),
    ),
    Parameter(
        "OPI_BATCH_MAX",
        "OPI_NB_BATCH_MAX",
        Kind.INT,
        _("Candidates sent to the student records per nightly OPI run"),
        _("0: all of them. Beyond the number, the others wait for the next night."),
        minimum=0,
        maximum=100000,
    ),
    Parameter(
        "OPI_PIECES",
        "OPI_IS_UTILISE_PJ",
        Kind.BOOL,
        _("Send the pieces with the OPI"),
        _(
            "Yes, with Apogée: the validated files of the pieces whose type has an Apogée code go with the admitted "
            "candidate's OPI (the next transfer). Pieces already sent stay sent when it is switched off."
        ),
    ),
)

REGISTRY: dict[str, Parameter] = {parameter.name: parameter for parameter in PARAMETERS}


# --- Reading ------------------------------------------------------------------------------------------------------

# (valid until, on time.monotonic(); {name: value}) for this process; None: read the database.
_memory: tuple[float, dict[str, Any]] | None = None


def get(name: str) -> Any:
    """The parameter's value now: the back office's override, else the environment's (``settings.<name>``).
    ``KeyError`` for a name that is not a parameter (a programming error)."""
    if name not in REGISTRY:
        raise KeyError(f"{name} is not a parameter of ecandidat.parameters")
    overrides = _overrides()
    return overrides[name] if name in overrides else getattr(settings, name)


def forget() -> None:
    """Drop this process's copy of the overrides: the next read goes to the database."""
    global _memory
    _memory = None


def remember(overrides: Mapping[str, Any], *, seconds: float = MEMORY_SECONDS) -> None:
    """Put ``overrides`` in this process's memory for ``seconds`` (tests: pages then read no parameter from the
    database, however long the test takes)."""
    global _memory
    _memory = (monotonic() + seconds, dict(overrides))


def _overrides() -> dict[str, Any]:
    global _memory
    now = monotonic()
    remembered = _memory
    if remembered is not None and now < remembered[0]:
        return remembered[1]
    overrides = _read_overrides()
    _memory = (now + MEMORY_SECONDS, overrides)
    return overrides


def _read_overrides() -> dict[str, Any]:
    """The valid overrides from the database; none (with a warning) when it cannot be read. Inside a transaction
    the read has its own savepoint: on PostgreSQL a failed query (the table not migrated yet) would otherwise
    abort the request's transaction."""
    rows = ParameterOverride.objects.values_list("name", "value")
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                listed = list(rows)
        else:
            listed = list(rows)
    except DatabaseError as exc:
        logger.warning("parameters: overrides unreadable (%s: %s), environment values used", type(exc).__name__, exc)
        return {}
    overrides = {}
    for name, value in listed:
        parameter = REGISTRY.get(name)
        if parameter is None:
            continue  # a parameter this version no longer has
        try:
            overrides[name] = parameter.clean(value)
        except ParameterError:
            logger.warning("parameters: override of %s ignored (%r is not a value it takes)", name, value)
    return overrides


# --- Writing ------------------------------------------------------------------------------------------------------


@transaction.atomic
def set_parameters(*, actor, values: Mapping[str, Any]) -> list[ParameterChange]:
    """Change parameters (the back office's "Paramètres", central office only: the caller checks it).

    Every value is checked first (type, bounds, choices): when one is refused, ``ParameterErrors`` names each
    refused parameter with its French message and nothing is written. Then, per parameter whose value differs from
    its effective one: a value equal to the environment's removes the override row ("Rétablir la valeur par
    défaut"), another one creates or updates it; one ``ParameterChange`` per change (actor, old → new). The
    override rows are locked; two first changes of one parameter at once: the second is refused with a message.
    A constant number of queries, however many parameters change.

    Side effect: this process forgets its copy of the overrides once the transaction commits; the other processes
    read them again within ``MEMORY_SECONDS``. Returns the history rows written.
    """
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        parameter = REGISTRY.get(name)
        if parameter is None:
            errors[name] = gettext("This parameter does not exist.")
            continue
        try:
            cleaned[name] = parameter.clean(value)
        except ParameterError as error:
            errors[name] = str(error)
    if errors:
        raise ParameterErrors(errors)
    rows = {
        row.name: row
        for row in ParameterOverride.objects.select_for_update(of=("self",)).filter(name__in=sorted(cleaned))
    }
    now = timezone.now()
    changes, removed, updated, created = [], [], [], []
    for name, value in cleaned.items():
        parameter = REGISTRY[name]
        row = rows.get(name)
        old = row.value if row is not None else parameter.default
        restored = value == parameter.default
        # An override equal to the environment's value (IT changed the variable since) is still removed: from then
        # on the parameter follows the environment again.
        if value == old and type(value) is type(old) and not (restored and row is not None):
            continue
        if restored:
            if row is not None:
                removed.append(row.pk)
        elif row is not None:
            row.value, row.changed_by, row.changed_at = value, actor, now
            updated.append(row)
        else:
            created.append(ParameterOverride(name=name, value=value, changed_by=actor, changed_at=now))
        changes.append(
            ParameterChange(
                name=name, old_value=old, new_value=value, restored_default=restored, changed_by=actor, changed_at=now
            )
        )
    if removed:
        ParameterOverride.objects.filter(pk__in=removed).delete()
    if updated:
        ParameterOverride.objects.bulk_update(updated, ["value", "changed_by", "changed_at"])
    if created:
        try:
            with transaction.atomic():
                ParameterOverride.objects.bulk_create(created)
        except IntegrityError:  # someone else changed one of them for the first time at this very moment
            raise ParameterErrors(
                {
                    row.name: gettext("This parameter has just been changed by someone else: reload the page.")
                    for row in created
                }
            ) from None
    ParameterChange.objects.bulk_create(changes)
    if changes:
        transaction.on_commit(forget)
        logger.info("parameters changed by %s: %s", actor, ", ".join(change.name for change in changes))
    return changes


def describe_change(change: ParameterChange) -> dict[str, str]:
    """A history row in words: the parameter's label, the old and new values as the page shows them."""
    parameter = REGISTRY.get(change.name)
    if parameter is None:
        return {"label": change.name, "old": str(change.old_value), "new": str(change.new_value)}
    return {
        "label": str(parameter.label),
        "old": parameter.display(change.old_value),
        "new": parameter.display(change.new_value),
    }
