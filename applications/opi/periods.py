"""The campaign's code against Pégase's periods (eCandidat issue #108, siscol-pegase-apogee.md §1.2 P2 and §2.2).

The Pégase OPI files carry the campaign's code as ``code_periode``: a code that is not one of Pégase's periods
breaks every file of the campaign, silently until Pégase refuses the import. So, when the OPIs go to Pégase
(``OPI_BACKEND=pegase``) and Pégase's API is configured (``PEGASE_AUTH_URL``, ``PEGASE_REF_URL``,
``PEGASE_ETABLISSEMENT``):

- the campaign form refuses a code Pégase does not list (message next to the code); Pégase unreachable does not
  block saving the campaign, the page says the code is not checked yet;
- no OPI file is produced (the central office's button or the nightly batch) with a code Pégase does not list, nor
  with one that Pégase has not confirmed in the last ``CONFIRMED_FOR`` seconds when it cannot be reached: the OPIs
  stay pending and the next run, once Pégase answers, sends them.

Without Pégase's API (files only, handed to Pégase by hand) nothing can be checked: the files are produced as before.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from applications.pegase import PegaseBackend, Period
from applications.sis import StudentRecordsUnavailable

logger = logging.getLogger(__name__)

CONFIRMED_FOR = 24 * 3600  # seconds a period Pégase listed is trusted while Pégase cannot be reached
PERIODS_NAMED = 12  # periods a refusal names (an institution has a few per year)


class Verdict(StrEnum):
    PERIOD = "period"  # Pégase lists it (now, or within CONFIRMED_FOR)
    NOT_A_PERIOD = "not_a_period"
    UNREACHABLE = "unreachable"
    NOT_CHECKED = "not_checked"  # no Pégase API configured, or OPIs not sent to Pégase


@dataclass(frozen=True)
class PeriodCheck:
    verdict: Verdict
    code: str
    periods: tuple[Period, ...] = ()
    reason: str = ""  # the outage, for the logs

    @property
    def blocks_files(self) -> bool:
        return self.verdict in (Verdict.NOT_A_PERIOD, Verdict.UNREACHABLE)

    def refusal(self) -> str:
        """Why the code is refused (French on screen), "" when it is not."""
        if self.verdict != Verdict.NOT_A_PERIOD:
            return ""
        known = ", ".join(period.code for period in self.periods[:PERIODS_NAMED])
        if len(self.periods) > PERIODS_NAMED:
            known += ", …"
        return _(
            "“%(code)s” is not a Pégase period: the OPI files carry the campaign code as Pégase's period "
            "(code_periode) and Pégase would refuse every one of them. Pégase's periods: %(periods)s."
        ) % {"code": self.code, "periods": known or _("no period")}


def checks_apply() -> bool:
    """Whether the campaign code can and must be checked: OPIs go to Pégase and its API is configured."""
    return settings.OPI_BACKEND == "pegase" and all(
        (settings.PEGASE_AUTH_URL, settings.PEGASE_REF_URL, settings.PEGASE_ETABLISSEMENT)
    )


def _memory_key(code: str) -> str:
    return f"pegase-period:{settings.PEGASE_ETABLISSEMENT}:{code}"


def check_campaign_code(code: str, *, backend: PegaseBackend | None = None, fresh: bool = True) -> PeriodCheck:
    """Ask Pégase (P2) whether ``code`` is one of its periods. A confirmed code is remembered ``CONFIRMED_FOR``
    seconds: ``fresh=False`` (producing the files) takes that memory first, and falls back on it when Pégase does
    not answer; ``fresh=True`` (a code being typed) always asks."""
    if not checks_apply():
        return PeriodCheck(Verdict.NOT_CHECKED, code)
    key = _memory_key(code)
    if not fresh and cache.get(key):
        return PeriodCheck(Verdict.PERIOD, code)
    try:
        periods = tuple((backend or PegaseBackend.from_settings()).periods())
    except StudentRecordsUnavailable as exc:
        logger.warning("Pégase periods not read, campaign code %r not checked: %s", code, exc)
        return PeriodCheck(Verdict.UNREACHABLE, code, reason=str(exc))
    if any(period.code == code for period in periods):
        cache.set(key, True, CONFIRMED_FOR)
        return PeriodCheck(Verdict.PERIOD, code, periods)
    cache.delete(key)
    return PeriodCheck(Verdict.NOT_A_PERIOD, code, periods)


def campaign_code_check(code: str, *, active: bool) -> tuple[str, str]:
    """The campaign form's check (``offers.services.register_campaign_code_check``): (error, warning) in French.

    Only the active campaign's code is refused: the next campaign is often prepared before Pégase's administrator
    has created its period, so for it a code Pégase does not list yet is a warning (the files stay refused until
    Pégase lists it, which the OPI screen says)."""
    check = check_campaign_code(code)
    if check.verdict == Verdict.UNREACHABLE:
        return "", _(
            "Pégase could not be reached: the campaign code “%(code)s” was not checked against Pégase's periods. No "
            "OPI file is produced with it until Pégase confirms it (checked again when the files are produced)."
        ) % {"code": code}
    if check.verdict == Verdict.NOT_A_PERIOD and not active:
        return "", _(
            "%(refusal)s The campaign is saved, as it is not active yet: have the period created in Pégase (or "
            "correct the code) before it opens; no OPI file is produced with this code until Pégase lists it."
        ) % {"refusal": check.refusal()}
    return check.refusal(), ""


def files_refusal(check: PeriodCheck) -> str:
    """Why no OPI file is produced with the campaign's code (French, the OPI screen and the batch history), or ""."""
    if check.verdict == Verdict.NOT_A_PERIOD:
        return _("No OPI file produced, the OPIs stay pending. %(refusal)s Correct the campaign code.") % {
            "refusal": check.refusal()
        }
    if check.verdict == Verdict.UNREACHABLE:
        return _(
            "No OPI file produced, the OPIs stay pending: Pégase could not be reached to check that the campaign "
            "code “%(code)s” is one of its periods. Try again once Pégase answers (the nightly batch does)."
        ) % {"code": check.code}
    return ""
