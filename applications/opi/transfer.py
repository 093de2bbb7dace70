"""What a backend receives: the candidates to transfer, each with their wishes and their withdrawals."""

import datetime
from dataclasses import dataclass, field

from applications.enums import Civility
from applications.models import Address, Application, Baccalaureate, Candidate


@dataclass
class OpiCandidate:
    """One candidate of a transfer.

    ``wishes`` are the confirmed applications whose OPI is neither cancelled nor withdrawn and whose formation the
    backend can name, in database order (the reference fills the inscription file's five slots in that order);
    ``withdrawals`` are the applications withdrawn after a transfer, whose removal the transfer carries.
    """

    candidate: Candidate
    wishes: list[Application] = field(default_factory=list)
    withdrawals: list[Application] = field(default_factory=list)

    @property
    def numero_dossier(self) -> str:
        return self.candidate.user.username

    @property
    def address(self) -> Address | None:
        try:
            return self.candidate.address
        except Address.DoesNotExist:
            return None

    @property
    def baccalaureate(self) -> Baccalaureate | None:
        try:
            return self.candidate.baccalaureate
        except Baccalaureate.DoesNotExist:
            return None

    @property
    def sex(self) -> str:
        """M/F, as eCandidat's ``civilite.cod_sexe``."""
        return "F" if self.candidate.civility == Civility.MRS else "M"


@dataclass
class TransferResult:
    """What a backend did: the files it wrote (file backends; name → text), the applications now in the student
    records system (their wishes and their withdrawals), and the candidates it refused (candidate id → why: their
    OPIs stay pending)."""

    files: dict[str, str] = field(default_factory=dict)
    passed: set[int] = field(default_factory=set)
    errors: dict[int, str] = field(default_factory=dict)


def file_day(day: datetime.date) -> str:
    return day.strftime("%Y%m%d")
