#!/usr/bin/env bash
# Rebuild the French catalogue: extract every msgid, take translations from locale/fragments/*.po (one fragment per
# area, so that people working in parallel do not edit the same file), merge, and compile. The result,
# locale/fr/LC_MESSAGES/django.{po,mo}, is committed. Needs GNU gettext (Debian package gettext).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
"$python" manage.py makemessages -l fr --no-location -i 'devtools/*' -i 'bench/*' -i '.venv/*' -i 'var/*' >/dev/null
# makemessages keeps the msgids no source uses any more as obsolete entries (#~); the merge below would bring them
# back as live ones, so the catalogue kept every string it ever had. Drop them: only what the sources use is built.
msgattrib --no-obsolete -o locale/fr/LC_MESSAGES/django.po locale/fr/LC_MESSAGES/django.po
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
header='msgid ""\nmsgstr ""\n"Project-Id-Version: ecandidat\\n"\n"Language: fr\\n"\n"MIME-Version: 1.0\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Content-Transfer-Encoding: 8bit\\n"\n"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n'
for fragment in locale/fragments/*.po; do
  { printf "$header\n"; cat "$fragment"; } > "$work/$(basename "$fragment")"
done
msgcat --use-first -o "$work/all.po" "$work"/*.po
msgmerge --quiet --no-fuzzy-matching --no-location -o locale/fr/LC_MESSAGES/django.po "$work/all.po" locale/fr/LC_MESSAGES/django.po
msgfmt --check-format --check-domain -o locale/fr/LC_MESSAGES/django.mo locale/fr/LC_MESSAGES/django.po
msgattrib --untranslated --no-obsolete locale/fr/LC_MESSAGES/django.po | grep -c '^msgid "..*"' | sed 's/^/untranslated msgids: /' || true
"$python" devtools/i18n/prune-fragments.py || echo "unused fragment entries above: remove them with $python devtools/i18n/prune-fragments.py --write"
