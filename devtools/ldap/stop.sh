#!/usr/bin/env bash
# Stop the slapd started by devtools/ldap/start.sh (by its pid file; nothing else is touched).
set -euo pipefail
STATE_DIR="${LDAP_DIR:-${TMPDIR:-/tmp}/ecandidat-ldap}"
if [[ -s "$STATE_DIR/slapd.pid" ]] && kill "$(cat "$STATE_DIR/slapd.pid")" 2>/dev/null; then
    echo "slapd stopped"
else
    echo "no slapd started from $STATE_DIR is running"
fi
