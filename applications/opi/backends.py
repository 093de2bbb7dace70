"""Where OPIs go: the interface every backend implements, and the configured one (``OPI_BACKEND``).

Two file backends exist: ``PegaseFilesBackend`` (the three CSV files Pégase imports) and ``ApogeeFileBackend``
(one file an Apogée team loads). A web-service backend (Apogée ``OpiMetier``) implements the same ``transfer``:
it sends each candidate, returns no file, and puts in ``passed`` only the applications Apogée confirmed
(``VOEUX_INS`` read back) and in ``errors`` the candidates it refused (they stay pending). See README, OPI.
"""

import datetime
from collections.abc import Sequence
from typing import Protocol

from django.conf import settings

from applications.opi.apogee import ApogeeFileBackend
from applications.opi.pegase import PegaseFilesBackend
from applications.opi.transfer import OpiCandidate, TransferResult
from offers.models import Campaign, Formation


class OpiBackend(Protocol):
    name: str  # stored on each transferred OPI and export ("pegase", "apogee")
    label: str
    # Whether a candidate whose only change is a withdrawal is sent (Apogée: their remaining wishes replace the
    # old ones). When false, such withdrawals are marked transferred without being sent (Pégase has no such message).
    sends_withdrawals: bool
    # Whether the validated pieces go with the OPI (PJ-OPI, Apogée only, with OPI_PIECES: applications.opi.pieces).
    sends_pieces: bool

    def qualifies(self, formation: Formation) -> bool:
        """Whether the backend can name this formation (its code in the student records system is set)."""
        ...

    def refusal(self, entry: OpiCandidate) -> str:
        """Why the backend cannot write this candidate as their dossier stands (Apogée: a name not in Latin letters,
        or too long once transliterated), or "". The run asks it before its cap counts the candidate, who then keeps
        their OPIs pending and takes no slot; ``transfer`` puts such a candidate in ``errors`` too."""
        ...

    def transfer(
        self, candidates: Sequence[OpiCandidate], *, campaign: Campaign, day: datetime.date
    ) -> TransferResult: ...


BACKENDS: dict[str, type[OpiBackend]] = {"pegase": PegaseFilesBackend, "apogee": ApogeeFileBackend}


def backend_label(name: str) -> str:
    """The name staff read for a backend's code ("pegase" → "Pégase"); an unknown code (a backend since removed) as
    stored."""
    backend = BACKENDS.get(name)
    return backend.label if backend else name


def get_backend(name: str | None = None) -> OpiBackend | None:
    """The configured backend (``OPI_BACKEND``), or None when OPIs are off (``none``)."""
    name = name or settings.OPI_BACKEND
    backend = BACKENDS.get(name)
    return backend() if backend else None
