"""Which student records backend serves the requests: the one the ``STUDENT_RECORDS_BACKEND`` setting picks,
the local table (``applications.sis.LocalTableBackend``) or Pégase (``applications.pegase.PegaseBackend``).

A module of its own, above both: Pégase's backend builds on ``applications.sis``'s dataclasses, so the choice
between the two cannot live in ``applications.sis`` without an import cycle."""

from django.conf import settings

from applications.pegase import PegaseBackend
from applications.sis import LocalTableBackend, StudentRecordsBackend


def get_backend() -> StudentRecordsBackend:
    if settings.STUDENT_RECORDS_BACKEND == "pegase":
        return PegaseBackend.from_settings()
    return LocalTableBackend()
