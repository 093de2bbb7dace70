"""Régime d'inscription and situation des droits of an application (eCandidat ``GEST_REGIME`` and ``GEST_MONTANT``,
on when ``SIS_REGIME_ENTRY`` is, as eCandidat's ``GEST_IS_UTILISE_REG_STU``): entered by staff, one application
or a selection (``applications.admin.operations``), and sent to Apogée in the OPI (``codRge``, ``codCatExoExt``,
``comExoExt``: ``applications.opi.apogee``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from applications.enums import EventKind
from applications.history import record_event
from applications.models import Application, ReferenceFeeExemption, ReferenceRegime
from ecandidat import parameters
from ecandidat.exceptions import BusinessRuleError, InvalidTransition

if TYPE_CHECKING:
    from accounts.models import User

COMPLEMENT_MAX_LENGTH = 15  # Apogée's comExoExt; eCandidat's cmt_cat_exo_ext_cand
AMOUNT_MAX = Decimal("99999999.99")  # DECIMAL(10,2), as eCandidat's mnt_charge_cand
CENT = Decimal("0.01")


class Keep(enum.Enum):
    """A value the caller leaves as it is (the bulk form changes the régime, the fees, or both)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def clean_amount(amount: Decimal | None) -> Decimal | None:
    """The amount as stored (two decimals), or a ``BusinessRuleError`` saying what is wrong with it."""
    if amount is None:
        return None
    try:
        value = Decimal(amount).quantize(CENT)
    except (InvalidOperation, TypeError, ValueError):
        raise BusinessRuleError(_("Enter an amount in euros, e.g. 170 or 170.50.")) from None
    if value != Decimal(amount):
        raise BusinessRuleError(_("The amount has at most two decimals (cents)."))
    if value < 0:
        raise BusinessRuleError(_("The amount cannot be negative."))
    if value > AMOUNT_MAX:
        raise BusinessRuleError(_("The amount cannot exceed 99,999,999.99 euros."))
    return value


def clean_complement(text: str) -> str:
    text = " ".join((text or "").split())
    if len(text) > COMPLEMENT_MAX_LENGTH:
        raise BusinessRuleError(
            _("The complement has at most %(max)d characters (Apogée's limit).") % {"max": COMPLEMENT_MAX_LENGTH}
        )
    return text


def _in_use(row: ReferenceRegime | ReferenceFeeExemption | None, current_code: str | None) -> None:
    """A code out of use may stay on the applications that hold it, not be given to others."""
    if row is not None and not row.visible and row.code != current_code:
        raise BusinessRuleError(_("“%(label)s” is no longer in use.") % {"label": row})


NONE = "—"


def _shown(row: ReferenceRegime | ReferenceFeeExemption | None) -> str:
    return str(row) if row is not None else NONE


def _amount_shown(amount: Decimal | None) -> str:
    if amount is None:
        return NONE
    return _("%(amount)s euros") % {"amount": formats.number_format(amount, 2, use_l10n=True, force_grouping=True)}


FIELDS = ("regime", "fee_exemption", "fee_exemption_comment", "fee_amount")


def stored_values(application: Application) -> dict[str, Any]:
    """The régime and fees ``application`` holds, as ``set_regime_and_fees``'s ``expected`` takes them: the codes
    (None: none), the complement, the amount (None: none). No query: the row's own columns."""
    return {
        "regime": application.regime_id,
        "fee_exemption": application.fee_exemption_id,
        "fee_exemption_comment": application.fee_exemption_comment,
        "fee_amount": application.fee_amount,
    }


def _changed_meanwhile(application: Application, expected: dict[str, Any], names: list[str]) -> InvalidTransition:
    """The refusal of a page shown before a colleague's change of ``names``: each value then and now. Read only
    when refused (the codes the page showed, named as the page named them)."""
    models: dict[str, type[ReferenceRegime] | type[ReferenceFeeExemption]] = {
        "regime": ReferenceRegime,
        "fee_exemption": ReferenceFeeExemption,
    }
    labels = {
        "regime": _("Registration regime"),
        "fee_exemption": _("Fee exemption category"),
        "fee_exemption_comment": _("Complement"),
        "fee_amount": _("Amount payable"),
    }
    parts = []
    for name in names:
        then, now = expected[name], getattr(application, name)
        if name in models:
            # A code no longer in the list (or forged) is said as it was posted.
            then = NONE if not then else str(models[name].objects.filter(code=then).first() or then)
            now = _shown(now)
        elif name == "fee_amount":
            then, now = _amount_shown(then), _amount_shown(now)
        else:
            then, now = then or NONE, now or NONE
        parts.append(
            _("%(field)s: “%(shown)s” then, “%(now)s” now") % {"field": labels[name], "shown": then, "now": now}
        )
    return InvalidTransition(
        _(
            "The registration regime and fees of this application have changed since the page was shown "
            "(%(changes)s): nothing was changed. Check them before saving again."
        )
        % {"changes": pgettext("between two parts of a list", "; ").join(parts)}
    )


@transaction.atomic
def set_regime_and_fees(
    application: Application,
    *,
    actor: User,
    regime: ReferenceRegime | None | Keep = KEEP,
    fee_exemption: ReferenceFeeExemption | None | Keep = KEEP,
    fee_exemption_comment: str | Keep = KEEP,
    fee_amount: Decimal | None | Keep = KEEP,
    expected: dict[str, Any] | None = None,
) -> Application:
    """Set the régime d'inscription and/or the situation des droits (category of exemption, its complement, the
    amount payable) of one application; what is ``KEEP`` stays as it is.

    Refused when ``SIS_REGIME_ENTRY`` is off, on a cancelled application, for a code out of use (unless the
    application already holds it), a complement without a category, a negative amount or one with more than two
    decimals, and when nothing would change. The history row says what changed, before and after, in the
    institution's language. Nothing is mailed: the candidate reads neither in eCandidat.

    ``expected``: the values the page showed (``stored_values``: one application's page, ``RegimeFeesForm``). When
    the locked row holds others for a value to set (a colleague's change meanwhile), ``InvalidTransition`` says so,
    each value then and now, and nothing is written: the fees a colleague entered are not cleared unread by a
    page that showed none and whose user only chose a régime; a value it does not name, or not set, is not
    checked. None (a selection, which showed no values): not checked.
    """
    if not parameters.get("SIS_REGIME_ENTRY"):
        raise BusinessRuleError(
            _(
                "The entry of the registration regime and fees is not in use: the central office turns it on in "
                "%(page)s (“%(label)s”)."
            )
            % {"page": _("Parameters"), "label": parameters.REGISTRY["SIS_REGIME_ENTRY"].label}
        )
    if not isinstance(fee_exemption_comment, Keep):
        fee_exemption_comment = clean_complement(fee_exemption_comment)
    if not isinstance(fee_amount, Keep):
        fee_amount = clean_amount(fee_amount)
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("regime", "fee_exemption")
        .get(pk=application.pk)
    )
    if application.is_cancelled:
        raise InvalidTransition(_("This application has been cancelled."))
    if expected is not None:
        to_set: dict[str, Any] = {
            "regime": regime,
            "fee_exemption": fee_exemption,
            "fee_exemption_comment": fee_exemption_comment,
            "fee_amount": fee_amount,
        }
        stored = stored_values(application)
        stale = [
            name
            for name in FIELDS
            if not isinstance(to_set[name], Keep) and name in expected and stored[name] != expected[name]
        ]
        if stale:
            raise _changed_meanwhile(application, expected, stale)
    before: dict[str, Any] = {
        "regime": application.regime,
        "fee_exemption": application.fee_exemption,
        "fee_exemption_comment": application.fee_exemption_comment,
        "fee_amount": application.fee_amount,
    }
    after = dict(before)
    if not isinstance(regime, Keep):
        _in_use(regime, application.regime_id)
        after["regime"] = regime
    if not isinstance(fee_exemption, Keep):
        _in_use(fee_exemption, application.fee_exemption_id)
        after["fee_exemption"] = fee_exemption
    if not isinstance(fee_exemption_comment, Keep):
        after["fee_exemption_comment"] = fee_exemption_comment
    if not isinstance(fee_amount, Keep):
        after["fee_amount"] = fee_amount
    if after["fee_exemption_comment"] and after["fee_exemption"] is None:
        raise BusinessRuleError(_("A complement needs a fee exemption category."))
    changed = [name for name in after if after[name] != before[name]]
    if not changed:
        raise InvalidTransition(_("The registration regime and fees are already these; nothing was done."))
    for name in changed:
        setattr(application, name, after[name])
    application.save(update_fields=changed)
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        shown: dict[str, tuple[str, Callable[[Any], str]]] = {
            "regime": (_("Registration regime"), _shown),
            "fee_exemption": (_("Fee exemption category"), _shown),
            "fee_exemption_comment": (_("Complement"), lambda text: f"« {text} »" if text else NONE),
            "fee_amount": (_("Amount payable"), _amount_shown),
        }
        comment = " ; ".join(
            f"{shown[name][0]} : {shown[name][1](before[name])} → {shown[name][1](after[name])}" for name in changed
        )
    record_event(application, kind=EventKind.REGIME_FEES, actor=actor, comment=comment)
    return application
