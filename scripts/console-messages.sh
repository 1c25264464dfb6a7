#!/usr/bin/env bash
# The console's message catalogues: extract every _("…") / ngettext / {% trans %} from the
# console's Python and templates into messages.pot, then merge new messages into each
# language's messages.po (existing translations kept; new ones empty until filled in).
# The .po files are read directly at start-up: nothing to compile.
#   bash scripts/console-messages.sh            # all languages
#   bash scripts/console-messages.sh fr         # and start a new language (a new catalogue)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
CONSOLE=src/thinkgate/console
POT=$(mktemp --suffix=.pot)
trap 'rm -f "$POT"' EXIT
"$BIN/pybabel" extract -F "$CONSOLE/babel.cfg" -k N_ --no-location --sort-output \
  --project thinkgate -o "$POT" "$CONSOLE"
for new in "$@"; do
  [ -f "$CONSOLE/locales/$new/LC_MESSAGES/messages.po" ] \
    || "$BIN/pybabel" init -i "$POT" -d "$CONSOLE/locales" -l "$new"
done
"$BIN/pybabel" update -i "$POT" -d "$CONSOLE/locales" --no-fuzzy-matching --ignore-obsolete
echo "console-messages: catalogues updated under $CONSOLE/locales (fill in the empty msgstr lines)"
