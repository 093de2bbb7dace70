"""The staff directory peer for tests: an OpenLDAP slapd with devtools/ldap's supann-shaped fixture (started by
.ci/run as LDAP_TEST_URL; otherwise started here on a free port, in a temporary directory, and stopped after)."""

import os
import shutil
import subprocess
import tempfile

import pytest

from ecandidat.tests.plugins.services import BASE_DIR, free_port

BIND_DN = "cn=ecandidat,ou=services,dc=univ,dc=fr"
BIND_PASSWORD = "ecandidat-ldap-password"


@pytest.fixture(scope="module")
def ldap_url():
    if url := os.environ.get("LDAP_TEST_URL"):
        yield url
        return
    port = free_port()
    # Not under pytest's tmp dir: as root, slapd drops to the openldap user, who cannot enter that 0700 tree.
    state = tempfile.mkdtemp(prefix="ecandidat-ldap-")
    env = {**os.environ, "LDAP_PORT": str(port), "LDAP_DIR": state}
    subprocess.run([BASE_DIR / "devtools" / "ldap" / "start.sh"], env=env, check=True, capture_output=True)
    try:
        yield f"ldap://127.0.0.1:{port}"
    finally:
        subprocess.run([BASE_DIR / "devtools" / "ldap" / "stop.sh"], env=env, check=True, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def ldap(settings, ldap_url):
    settings.LDAP_URL = ldap_url
    settings.LDAP_BIND_DN = BIND_DN
    settings.LDAP_BIND_PASSWORD = BIND_PASSWORD
    settings.LDAP_PEOPLE_BASE = "ou=people,dc=univ,dc=fr"
    return ldap_url
