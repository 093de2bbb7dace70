"""The connection tests of the student records system (Pégase) and of LimeSurvey (``ecandidat.connectivity``),
registered from ``ApplicationsConfig.ready()``. They go through the clients the nightly batches and logins use
(``applications.pegase``, ``applications.limesurvey``), with the page's short timeout."""

from urllib.parse import quote

from django.conf import settings
from django.utils.translation import gettext_lazy

from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from applications.pegase import NOMENCLATURES, PegaseClient
from applications.sis import ReferenceKind, StudentRecordsUnavailable
from ecandidat.connectivity import CREDENTIALS_REFUSED, UNEXPECTED_ANSWER, Check, CheckFailed, mask_url

# --- Pégase: a token, then the first row of a small nomenclature ------------------------------------------------


def _describe_pegase() -> str | None:
    if not settings.PEGASE_AUTH_URL:
        return None
    parts = [f"{mask_url(settings.PEGASE_AUTH_URL)} (user {settings.PEGASE_USERNAME})"]
    if settings.PEGASE_REF_URL:
        parts.append(f"ref {mask_url(settings.PEGASE_REF_URL)}")
    parts.append(f"STUDENT_RECORDS_BACKEND={settings.STUDENT_RECORDS_BACKEND}")
    return " — ".join(parts)


def _probe_pegase(timeout: float) -> str:
    """A fresh token (the credentials themselves are tested, not a cached token), then one row of the
    baccalaureate series (the smallest nomenclature the reference refresh reads) when PEGASE_REF_URL is set, and one
    of the institution's periods (P2) when PEGASE_ETABLISSEMENT is too."""
    client = PegaseClient(
        auth_url=settings.PEGASE_AUTH_URL,
        username=settings.PEGASE_USERNAME,
        password=settings.PEGASE_PASSWORD,
        timeout=min(timeout, settings.PEGASE_TIMEOUT),
        # Its timeout is shorter than the lookups': a slow answer here must not mark Pégase unreachable for them,
        # nor an outage they noticed keep this test from asking Pégase.
        remember_outages=False,
    )
    try:
        client.token(renew=True)
        if not settings.PEGASE_REF_URL:
            return "token received (PEGASE_REF_URL not set: no read)"
        name = NOMENCLATURES[ReferenceKind.BAC_SERIES]
        data = client.get_json(f"{settings.PEGASE_REF_URL.rstrip('/')}/nomenclatures/{name}/numPage/0/nbOccurences/1")
    except StudentRecordsUnavailable as exc:
        if "credentials were refused" in str(exc):
            raise CheckFailed(CREDENTIALS_REFUSED, str(exc)) from exc
        raise
    if not isinstance(data, dict) or "nomenclatures" not in data:
        raise CheckFailed(
            UNEXPECTED_ANSWER, f"nomenclature {name}: {'not found (404)' if data is None else 'no rows'}"
        )
    detail = f"token received; nomenclature {name}: {data.get('nbTotalOccurences', '?')} rows"
    if not settings.PEGASE_ETABLISSEMENT:
        return detail
    # P2, the periods the campaign's code must be one of (the OPI files' code_periode, eCandidat issue #108).
    spaces = client.get_json(
        f"{settings.PEGASE_REF_URL.rstrip('/')}/etablissement/{quote(settings.PEGASE_ETABLISSEMENT, safe='')}/espaces",
        params={"type": "PERIODE", "page": 0, "taille": 1},
    )
    if not isinstance(spaces, dict) or "items" not in spaces:
        raise CheckFailed(UNEXPECTED_ANSWER, f"periods: {'not found (404)' if spaces is None else 'not a page'}")
    return f"{detail}; periods: {spaces.get('totalElements', '?')}"


PEGASE = Check(
    key="pegase",
    label=gettext_lazy("Student records system (Pégase)"),
    order=80,
    settings_names="PEGASE_AUTH_URL",
    describe=_describe_pegase,
    probe=_probe_pegase,
    secrets=lambda: [settings.PEGASE_PASSWORD or ""],
)


# --- LimeSurvey: open a session, release it ------------------------------------------------------------------------


def _describe_limesurvey() -> str | None:
    if not settings.LIMESURVEY_URL:
        return None
    return f"{mask_url(settings.LIMESURVEY_URL)} (user {settings.LIMESURVEY_USER})"


def _probe_limesurvey(timeout: float) -> str:
    client = LimeSurveyClient(
        settings.LIMESURVEY_URL or "", settings.LIMESURVEY_USER, settings.LIMESURVEY_PASSWORD, timeout=timeout
    )
    try:
        client.session_key = client.get_session_key()
        client.release_session_key()
    except LimeSurveyError as exc:
        # LimeSurvey's answer is {"status": "Invalid user name or password"}: any "Invalid user…" status is taken as
        # refused credentials.
        if str(exc).startswith("get_session_key: Invalid user"):
            raise CheckFailed(CREDENTIALS_REFUSED, str(exc)) from exc
        raise
    finally:
        client.__exit__(None, None, None)  # the client's own clean-up: its HTTP session (and a key still held)
    return "get_session_key, release_session_key"


LIMESURVEY = Check(
    key="limesurvey",
    label=gettext_lazy("Complementary forms (LimeSurvey)"),
    order=90,
    settings_names="LIMESURVEY_URL",
    describe=_describe_limesurvey,
    probe=_probe_limesurvey,
    secrets=lambda: [settings.LIMESURVEY_PASSWORD or ""],
)
