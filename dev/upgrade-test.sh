#!/usr/bin/env bash
# An upgrade from the previous version, for real (called by `make test-upgrade`):
#
#   dev/upgrade-test.sh DB [REV]
#
# 1. installs stripe_connector as it was at REV (default: UPGRADE_FROM, the last
#    commit of version 18.0.1.0.0), with its demo data (Stripe accounts,
#    events, payments, refunds, disputes, payouts booked through the handlers),
#    into a new DB;
# 2. counts the records of every table of the module and keeps the values of
#    the fields that the next version renames (migrations/);
# 3. upgrades DB with this tree's code (odoo-bin -u stripe_connector), which runs
#    the migration scripts;
# 4. fails unless every table holds the same records and every renamed field
#    the same values under its new name.
# Needs ODOO_SRC, .venv, .odoorc and a running PostgreSQL (`make setup`).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=stripe_connector
: "${ODOO_SRC:?dev/upgrade-test.sh needs ODOO_SRC (the Makefile sets it)}"
db=${1:?usage: dev/upgrade-test.sh DB [REV]}
rev=${2:-${UPGRADE_FROM:-c9f00b9}}
eval "$("$repo/dev/pg.sh" env)"

git -C "$repo" cat-file -e "$rev^{commit}" 2>/dev/null || {
    echo "upgrade-test.sh: commit $rev is not in this clone (a shallow clone?):" \
        "git fetch --unshallow, or set UPGRADE_FROM" >&2
    exit 1
}
old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
mkdir "$old/$module"
git -C "$repo" archive "$rev" | tar -x -C "$old/$module"

odoo_bin() {
    "$repo/.venv/bin/python" "$ODOO_SRC/odoo-bin" -c "$repo/.odoorc" -d "$db" \
        --stop-after-init --log-level=warn "$@"
}
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" -tA "$@"; }

"$repo/dev/db.sh" drop "$db"
echo "upgrade-test.sh: installing $module at $rev (with demo data) into $db" >&2
odoo_bin --addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$old" -i "$module"
version=$(psql_db -c "select latest_version from ir_module_module where name = '$module'")
echo "upgrade-test.sh: $module $version installed" >&2

# snapshot STAGE: what the module stores (row counts of its tables, values of
# the fields the migrations rename, under their name at STAGE), in
# .odoo/upgrade-STAGE.json.
snapshot() {
    PYTHONPATH=$ODOO_SRC "$repo/.venv/bin/python" - "$repo" "$db" "$1" <<'PY'
import importlib.util, json, pathlib, subprocess, sys

repo, db, stage = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
def psql(query):
    return subprocess.run(["psql", "-X", "-d", db, "-tA", "-F", "\t", "-c", query],
                          check=True, capture_output=True, text=True).stdout
renamed = []
for script in sorted(repo.glob("migrations/*/pre-migrate.py")):
    spec = importlib.util.spec_from_file_location("m", script)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    renamed += getattr(mod, "RENAMED_FIELDS", [])
tables = psql(
    "select table_name from information_schema.tables where table_schema = 'public'"
    " and table_name like 'stripe\\_%' and table_type = 'BASE TABLE'").split()
snapshot = {"counts": {t: int(psql(f'select count(*) from "{t}"')) for t in tables},
            "values": {}}
for model, old, new in renamed:
    table = model.replace(".", "_")
    column = old if stage == "before" else new
    stored = psql(
        "select 1 from information_schema.columns"
        f" where table_name = '{table}' and column_name = '{column}'").strip()
    if table in tables and stored:
        snapshot["values"][f"{model}.{new}"] = psql(
            f'select id, "{column}" from "{table}" order by id')
path = repo / ".odoo" / f"upgrade-{stage}.json"
path.parent.mkdir(exist_ok=True)
path.write_text(json.dumps(snapshot, indent=1))
print(f"upgrade-test.sh: {stage}: {len(tables)} tables, "
      f"{sum(snapshot['counts'].values())} rows, "
      f"{len(snapshot['values'])} renamed fields", file=sys.stderr)
PY
}

snapshot before
echo "upgrade-test.sh: upgrading $db with this tree's code" >&2
odoo_bin -u "$module"
version=$(psql_db -c "select latest_version from ir_module_module where name = '$module'")
echo "upgrade-test.sh: $module $version after the upgrade" >&2
snapshot after

"$repo/.venv/bin/python" - "$repo" <<'PY'
import json, pathlib, sys

odoo = pathlib.Path(sys.argv[1]) / ".odoo"
before, after = (json.loads((odoo / f"upgrade-{s}.json").read_text())
                 for s in ("before", "after"))
problems = [
    f"{table}: {count} rows before, {after['counts'].get(table)} after"
    for table, count in before["counts"].items()
    if after["counts"].get(table) != count
] + [
    f"{key}: values differ after the upgrade"
    for key, values in before["values"].items()
    if after["values"].get(key) != values
]
filled = sum(1 for v in before["values"].values() for line in v.splitlines()
             if line.split("\t")[1:] not in ([""], []))
print(f"upgrade-test.sh: {len(before['counts'])} tables and "
      f"{len(before['values'])} renamed fields compared ({filled} values set)",
      file=sys.stderr)
if problems:
    sys.exit("upgrade-test.sh: FAILED:\n  " + "\n  ".join(problems))
print("upgrade-test.sh: every record kept", file=sys.stderr)
PY
"$repo/dev/db.sh" drop "$db"
