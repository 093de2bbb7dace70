"""The antivirus's connection test (``ecandidat.connectivity``), registered from ``DocumentsConfig.ready()``."""

from django.utils.translation import gettext_lazy

from documents import antivirus
from ecandidat.connectivity import UNEXPECTED_ANSWER, Check, CheckFailed


def _describe() -> str | None:
    return antivirus.configured_address()  # None also when CLAMD_ADDRESS=none (no antivirus, said explicitly)


def _probe(timeout: float) -> str:
    """VERSION (its error says why clamd cannot be reached), then PING → PONG."""
    reply = antivirus.version(timeout=timeout)
    if not antivirus.ping(timeout=timeout):
        raise CheckFailed(UNEXPECTED_ANSWER, "PING did not answer PONG")
    return f"PONG, {reply}"


CLAMD = Check(
    key="clamd",
    label=gettext_lazy("Antivirus (clamd)"),
    order=50,
    settings_names="CLAMD_ADDRESS",
    describe=_describe,
    probe=_probe,
)
