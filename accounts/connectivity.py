"""The staff directory's connection test (``ecandidat.connectivity``), registered from ``AccountsConfig.ready()``:
connect as the lookups do (``directory.connect``: the certificate checked), bind with the configured account, then
read the search base itself."""

from django.conf import settings
from django.utils.translation import gettext_lazy

from accounts import directory
from ecandidat.connectivity import CREDENTIALS_REFUSED, Check, CheckFailed, mask_url

BASE_NOT_FOUND = gettext_lazy("The search base (LDAP_PEOPLE_BASE) was not found.")


def _describe() -> str | None:
    if not directory.is_configured():
        return None
    bind = settings.LDAP_BIND_DN or "anonymous"
    return f"{mask_url(settings.LDAP_URL or '')} — bind {bind}, base {settings.LDAP_PEOPLE_BASE}"


def _said(result: dict) -> str:
    return f"{result.get('description')} {result.get('message') or ''}".strip()


def _probe(timeout: float) -> str:
    ldap3 = directory._ldap3()
    seconds = max(1, round(timeout))  # ldap3 packs its receive timeout as whole seconds
    # The lookups' own connection (its TLS checks the certificate): an untrusted directory fails here as it fails
    # there, reported as a TLS failure.
    connection = directory.connect(timeout=seconds, bind=False)
    try:
        if not connection.bind():
            result = connection.result
            raise CheckFailed(
                CREDENTIALS_REFUSED, f"bind: {result.get('description')} {result.get('message')}".strip()
            )
        connection.search(settings.LDAP_PEOPLE_BASE, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["1.1"])
        result = connection.result
        if result.get("result") != 0:
            raise CheckFailed(BASE_NOT_FOUND, f"search: {result.get('description')} {result.get('message')}".strip())
    finally:
        connection.unbind()
    return f"bind {settings.LDAP_BIND_DN or 'anonymous'}, base {settings.LDAP_PEOPLE_BASE} found"


DIRECTORY = Check(
    key="ldap",
    label=gettext_lazy("Staff directory (LDAP)"),
    order=70,
    settings_names="LDAP_URL",
    describe=_describe,
    probe=_probe,
    secrets=lambda: [settings.LDAP_BIND_PASSWORD or ""],
)
