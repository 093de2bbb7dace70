#!/usr/bin/env bash
# Start a local clamd for development and tests, listening on TCP 127.0.0.1:${CLAMD_PORT:-3310}.
#
# ClamAV's official signatures cannot be downloaded on every machine (CI, offline), and clamd refuses to start
# without a database, so this clamd loads a local database holding one signature: the EICAR test string.
# It detects EICAR ("Ecandidat.Test.EICAR.UNOFFICIAL") and nothing else: fine for tests, useless in production.
#
# Needs the Debian package clamav-daemon (apt-get install -y clamav-daemon); its system service is not used.
# Idempotent: if something on the port already answers PING, nothing is done.
# Then run the clamd tests with:  CLAMD_TEST_ADDRESS=tcp://127.0.0.1:3310 pytest -m clamd
# Stop it with devtools/clamd/stop.sh.
set -euo pipefail

PORT="${CLAMD_PORT:-3310}"
STATE_DIR="${CLAMD_DIR:-${TMPDIR:-/tmp}/ecandidat-clamd}"
CLAMD="${CLAMD_BIN:-$(command -v clamd || echo /usr/sbin/clamd)}"
TIMEOUT=60

ping_clamd() {
    # bash's /dev/tcp: no netcat needed. The z prefix makes clamd answer with a NUL-terminated reply.
    local reply=""
    { exec 3<>"/dev/tcp/127.0.0.1/${PORT}"; } 2>/dev/null || return 1
    printf 'zPING\0' >&3
    IFS= read -r -d '' -t 2 reply <&3 || true
    exec 3<&- 3>&-
    [[ "$reply" == "PONG" ]]
}

if ping_clamd; then
    echo "clamd already answers on 127.0.0.1:${PORT}"
    exit 0
fi

if [[ ! -x "$CLAMD" ]]; then
    echo "clamd not found: install the Debian package clamav-daemon (apt-get install -y clamav-daemon)." >&2
    exit 1
fi

mkdir -p "$STATE_DIR/db"
# EICAR test string, anywhere in the scanned data (ndb body signature, target type 0 = any file).
echo "Ecandidat.Test.EICAR:0:*:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a" \
    > "$STATE_DIR/db/ecandidat-test.ndb"

cat > "$STATE_DIR/clamd.conf" <<CONF
TCPSocket ${PORT}
TCPAddr 127.0.0.1
DatabaseDirectory ${STATE_DIR}/db
PidFile ${STATE_DIR}/clamd.pid
LogFile ${STATE_DIR}/clamd.log
LogTime yes
LogClean no
Foreground no
Bytecode no
SelfCheck 0
StreamMaxLength 25M
MaxThreads 4
CONF
: > "$STATE_DIR/clamd.log"
if [[ "$(id -u)" == 0 ]] && id clamav >/dev/null 2>&1; then
    # As root, drop privileges like the packaged service does.
    echo "User clamav" >> "$STATE_DIR/clamd.conf"
    chown -R clamav: "$STATE_DIR"
fi

echo "Starting clamd on 127.0.0.1:${PORT} (config ${STATE_DIR}/clamd.conf)"
"$CLAMD" --config-file="$STATE_DIR/clamd.conf"

for _ in $(seq "$TIMEOUT"); do
    if ping_clamd; then
        echo "clamd answers PONG on 127.0.0.1:${PORT}; it logs to ${STATE_DIR}/clamd.log (pid in ${STATE_DIR}/clamd.pid)"
        exit 0
    fi
    sleep 1
done
echo "clamd did not answer PING within ${TIMEOUT} s; see ${STATE_DIR}/clamd.log" >&2
tail -n 20 "$STATE_DIR/clamd.log" >&2 || true
exit 1
