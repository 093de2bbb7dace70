#!/bin/sh
# Run `manage.py` the way the systemd units run the application: production settings, the code's directory, and the
# environment file of deploy/ecandidat.service read as systemd reads it. Used by deploy/crontab; by hand:
#   sudo -u ecandidat /srv/ecandidat/deploy/manage.sh migrate --noinput
#   sudo -u ecandidat /srv/ecandidat/deploy/manage.sh issue_enrolment_code USERNAME
#
# Why not `set -a; . /etc/ecandidat/env`: systemd and the shell disagree on that file. A value systemd takes whole,
# `INSTITUTION_NAME=Université de Perpignan` or `LDAP_STAFF_FILTER=(|(eduPersonAffiliation=staff)...)`, runs a
# command or is a syntax error for the shell, and every cron line would fail. This reads each line as systemd does:
# `NAME=value`, blank lines and lines starting with # or ; ignored, spaces around the value dropped, the value
# taken verbatim (no expansion of $, no word splitting), one pair of surrounding single or double quotes removed.
# Not supported (systemd has them): values spanning several lines and backslash escapes. Write one line per variable.
#
# ECANDIDAT_ENV_FILE: another file (default /etc/ecandidat/env). DJANGO_SETTINGS_MODULE: ecandidat.settings.base
# unless the file or the caller sets another. ECANDIDAT_PYTHON: the interpreter (default the code's .venv).
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
env_file=${ECANDIDAT_ENV_FILE:-/etc/ecandidat/env}
if [ ! -r "$env_file" ]; then
    echo "deploy/manage.sh: cannot read the environment file $env_file (ECANDIDAT_ENV_FILE; it must be readable by $(id -un))" >&2
    exit 78
fi

export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-ecandidat.settings.base}"
tab=$(printf '\t')
while IFS= read -r line || [ -n "$line" ]; do
    line=${line%"$(printf '\r')"}
    # Leading blanks, then comments and lines without "=" are ignored (as systemd does).
    while :; do case $line in " "* | "$tab"*) line=${line#?} ;; *) break ;; esac; done
    case $line in "" | "#"* | ";"*) continue ;; *=*) ;; *) continue ;; esac
    name=${line%%=*}
    value=${line#*=}
    while :; do case $name in *" " | *"$tab") name=${name%?} ;; *) break ;; esac; done
    while :; do case $value in " "* | "$tab"*) value=${value#?} ;; *) break ;; esac; done
    while :; do case $value in *" " | *"$tab") value=${value%?} ;; *) break ;; esac; done
    case $value in
        \'*\') [ ${#value} -ge 2 ] && value=${value#?} && value=${value%?} ;;
        \"*\") [ ${#value} -ge 2 ] && value=${value#?} && value=${value%?} ;;
    esac
    case $name in
        "" | [0-9]* | *[!A-Za-z0-9_]*)
            echo "deploy/manage.sh: $env_file: '$name' is not a variable name" >&2
            exit 78
            ;;
    esac
    export "$name=$value"
done < "$env_file"

cd "$root"
exec "${ECANDIDAT_PYTHON:-$root/.venv/bin/python}" manage.py "$@"
