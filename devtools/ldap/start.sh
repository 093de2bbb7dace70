#!/usr/bin/env bash
# Start a local OpenLDAP slapd for development and tests on ldap://127.0.0.1:${LDAP_PORT:-3890}, loaded with the
# supann-shaped fixture beside this script (fixture.ldif, schema subset supann-subset.schema).
#
# Needs the Debian packages slapd and ldap-utils (apt-get install -y slapd ldap-utils); their system service is not
# used. Unprivileged: a port above 1024, its state in ${LDAP_DIR:-$TMPDIR/ecandidat-ldap}; as root it drops to the
# openldap user like the packaged service. Idempotent: if a directory already answers on the port, nothing is done.
# ecandidat then reads it with:
#   LDAP_URL=ldap://127.0.0.1:3890 LDAP_BIND_DN=cn=ecandidat,ou=services,dc=univ,dc=fr
#   LDAP_BIND_PASSWORD=ecandidat-ldap-password LDAP_PEOPLE_BASE=ou=people,dc=univ,dc=fr
# Stop it with devtools/ldap/stop.sh.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PORT="${LDAP_PORT:-3890}"
STATE_DIR="${LDAP_DIR:-${TMPDIR:-/tmp}/ecandidat-ldap}"
SLAPD="${SLAPD_BIN:-$(command -v slapd || echo /usr/sbin/slapd)}"
SLAPADD="$(command -v slapadd || echo /usr/sbin/slapadd)"
TIMEOUT=30

answers() {
    ldapwhoami -x -H "ldap://127.0.0.1:${PORT}" -D "cn=ecandidat,ou=services,dc=univ,dc=fr" \
        -w ecandidat-ldap-password >/dev/null 2>&1
}

if answers; then
    echo "slapd already answers on 127.0.0.1:${PORT}"
    exit 0
fi
if [[ ! -x "$SLAPD" ]] || ! command -v ldapwhoami >/dev/null; then
    echo "slapd not found: install the Debian packages slapd and ldap-utils (apt-get install -y slapd ldap-utils)." >&2
    exit 1
fi

rm -rf "$STATE_DIR/data"
mkdir -p "$STATE_DIR/data"
cat > "$STATE_DIR/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include ${HERE}/supann-subset.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${STATE_DIR}/slapd.pid
# Only bound users read; passwords are for binding only.
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
database mdb
maxsize 10485760
suffix "dc=univ,dc=fr"
rootdn "cn=admin,dc=univ,dc=fr"
directory ${STATE_DIR}/data
CONF
"$SLAPADD" -q -f "$STATE_DIR/slapd.conf" -l "$HERE/fixture.ldif"
run_as=()
if [[ "$(id -u)" == 0 ]] && id openldap >/dev/null 2>&1; then
    chown -R openldap: "$STATE_DIR"
    run_as=(-u openldap -g openldap)
fi

echo "Starting slapd on 127.0.0.1:${PORT} (config ${STATE_DIR}/slapd.conf)"
"$SLAPD" -f "$STATE_DIR/slapd.conf" -h "ldap://127.0.0.1:${PORT}/" "${run_as[@]}"

for _ in $(seq "$TIMEOUT"); do
    if answers; then
        echo "slapd answers on 127.0.0.1:${PORT} (pid in ${STATE_DIR}/slapd.pid)"
        exit 0
    fi
    sleep 1
done
echo "slapd did not answer within ${TIMEOUT} s" >&2
exit 1
