#!/usr/bin/env bash
# Stop the clamd started by devtools/clamd/start.sh (by its pid file; nothing else is touched).
set -euo pipefail
STATE_DIR="${CLAMD_DIR:-${TMPDIR:-/tmp}/ecandidat-clamd}"
if [[ -s "$STATE_DIR/clamd.pid" ]] && kill "$(cat "$STATE_DIR/clamd.pid")" 2>/dev/null; then
    echo "clamd stopped"
else
    echo "no clamd started from $STATE_DIR is running"
fi
