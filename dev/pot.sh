#!/usr/bin/env bash
# Translation template and catalogs (called by `make pot`):
#
#   dev/pot.sh DB
#
# 1. installs the module into a new DB (with demo data, whose terms Odoo's own
#    templates hold too) and exports its terms
#    with Odoo's own exporter (odoo-bin --i18n-export) to
#    i18n/stripe_connector.pot;
# 2. merges every i18n/*.po with the new template: translations of unchanged
#    terms are kept, new terms come untranslated (or fuzzy, from msgmerge's
#    guess, when gettext is installed), terms gone from the code are dropped.
#    dev/untranslated.py lists what is left to translate.
#
# Odoo's exporter walks every file under the module's folder: it runs on a
# folder of links to the module's own files, so that .venv, .pg and the like,
# which live in the repository, are not read as the module's code (nor the
# extension example of examples/, an addon of its own).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=stripe_connector
: "${ODOO_SRC:?dev/pot.sh needs ODOO_SRC (the Makefile sets it)}"
db=${1:?usage: dev/pot.sh DB}
eval "$("$repo/dev/pg.sh" env)"

addons=$(mktemp -d)
trap 'rm -rf "$addons"' EXIT
mkdir "$addons/$module"
for entry in "$repo"/*; do
    case ${entry##*/} in
    dist | build | *.egg-info | examples) ;;
    *) ln -s "$entry" "$addons/$module/" ;;
    esac
done

odoo_bin() {
    "$repo/.venv/bin/python" "$ODOO_SRC/odoo-bin" -c "$repo/.odoorc" -d "$db" \
        --addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$addons" \
        --stop-after-init --log-level=warn "$@"
}

"$repo/dev/db.sh" drop "$db"
echo "pot.sh: installing $module into $db" >&2
odoo_bin -i "$module"
mkdir -p "$repo/i18n"
pot=$repo/i18n/$module.pot
odoo_bin --i18n-export="$pot" --modules="$module"
echo "pot.sh: wrote ${pot#"$repo"/} ($(grep -c '^msgid "' "$pot") msgids with the header)" >&2
"$repo/dev/db.sh" drop "$db"

for po in "$repo"/i18n/*.po; do
    [[ -f $po ]] || continue
    if command -v msgmerge >/dev/null; then
        msgmerge --quiet --update --backup=none "$po" "$pot"
    fi
    # Odoo's own layout (polib, as the exporter writes), without obsolete
    # entries; without msgmerge, polib's merge (no fuzzy guesses).
    "$repo/.venv/bin/python" - "$po" "$pot" <<'EOF'
import sys

import polib

po_path, pot_path = sys.argv[1:]
po, pot = polib.pofile(po_path), polib.pofile(pot_path)
if {entry.msgid for entry in po if not entry.obsolete} != {e.msgid for e in pot}:
    po.merge(pot)  # no msgmerge: keep the translations of the same msgids
for entry in [entry for entry in po if entry.obsolete]:
    po.remove(entry)
po.metadata["POT-Creation-Date"] = pot.metadata["POT-Creation-Date"]
po.save(po_path)
EOF
    echo "pot.sh: merged ${po#"$repo"/}" >&2
done
