#!/usr/bin/env bash
# The module's tests under Odoo's own runner, as Odoo shops and the OCA run
# them (called by `make test-odoo`):
#
#   dev/test-odoo.sh DB [SUITES]
#
# 1. drops DB, then `odoo-bin -d DB -i stripe_connector,stripe_connector_example
#    --test-tags /stripe_connector,/stripe_connector_example --stop-after-init`
#    (demo data, HTTP server on the configured port, as HttpCase needs; the
#    extension example of examples/ is tested beside the module);
# 2. with SUITES (test tags of other modules, e.g. /payment_stripe): installs
#    payment_stripe and payment_demo into DB (TestAccountPaymentRegister pays
#    with the demo provider's token), then runs those suites with odoo-bin, so
#    that Odoo's own tests pass in a database where the module is installed.
#
# A run fails when odoo-bin exits non-zero, when its final report is missing
# or counts a failure or an error, or when it logs an ERROR or CRITICAL line.
# The module's test count goes to .odoo/test-counts/odoo (JSON), which .ci/run
# compares with pytest's. Extra odoo-bin options: ODOO_TEST_ARGS. Needs
# ODOO_SRC, .venv, .odoorc and a running PostgreSQL (`make setup`).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=stripe_connector
: "${ODOO_SRC:?dev/test-odoo.sh needs ODOO_SRC (the Makefile sets it)}"
db=${1:?usage: dev/test-odoo.sh DB [SUITES]}
suites=${2:-}
log_level=${ODOO_LOG_LEVEL:-warn}
# --log-handler adds to Odoo's default ":INFO" handler, which would undo
# --log-level: the root level is given again, as a handler, first.
case $log_level in
warn) root_level=WARNING ;;
debug*) root_level=DEBUG ;;
*) root_level=${log_level^^} ;;
esac
read -r -a extra_args <<<"${ODOO_TEST_ARGS:-}"
eval "$("$repo/dev/pg.sh" env)"
mkdir -p "$repo/.odoo/test-counts"

# odoo-bin with the test tags; the log goes to the terminal and to $1.log.
# Odoo's final report ("F failed, E error(s) of N tests when loading database
# 'DB'", logger odoo.tests.result) is kept at INFO whatever the log level.
run_tests() {
    local name=$1
    shift
    local log=$repo/.odoo/$name.log rc=0
    echo "test-odoo.sh: odoo-bin -d $db $*" >&2
    "$repo/.venv/bin/python" "$ODOO_SRC/odoo-bin" -c "$repo/.odoorc" -d "$db" \
        --stop-after-init --log-level="$log_level" \
        --log-handler=":$root_level" --log-handler=odoo.tests.result:INFO \
        --log-handler=odoo.service.server:INFO \
        "${extra_args[@]}" "$@" 2>&1 | tee "$log" || rc=$?
    local report
    report=$(sed -n "s/.* odoo\.tests\.result: \([0-9]*\) failed, \([0-9]*\) error(s) of \([0-9]*\) tests when loading database '$db'.*/\1 \2 \3/p" "$log" | tail -1)
    if [[ -z $report ]]; then
        echo "test-odoo.sh: $name: no test report from odoo-bin (exit $rc): see $log" >&2
        return 1
    fi
    read -r failed errors tests <<<"$report"
    local logged_errors
    logged_errors=$(grep -cE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$log" || true)
    echo "test-odoo.sh: $name: odoo-bin ran $tests tests: $failed failed," \
        "$errors error(s), $logged_errors ERROR/CRITICAL log line(s), exit $rc" >&2
    last_tests=$tests
    last_failed=$((failed + errors))
    if ((rc != 0 || failed != 0 || errors != 0 || logged_errors != 0 || tests == 0)); then
        echo "test-odoo.sh: $name FAILED (log: $log)" >&2
        return 1
    fi
}

"$repo/dev/db.sh" drop "$db"
status=0
# The extension example (examples/) is installed and tested beside the module.
example=${module}_example
run_tests test-odoo -i "$module,$example" --test-tags "/$module,/$example" || status=1
printf '{"runner": "odoo", "tests": %s, "failed": %s, "ok": %s}\n' \
    "${last_tests:-0}" "${last_failed:-0}" "$((status == 0))" \
    >"$repo/.odoo/test-counts/odoo"

if [[ -n $suites ]]; then
    echo "test-odoo.sh: installing payment_stripe and payment_demo into $db" >&2
    "$repo/.venv/bin/python" "$ODOO_SRC/odoo-bin" -c "$repo/.odoorc" -d "$db" \
        -i payment_stripe,payment_demo --stop-after-init --log-level="$log_level"
    run_tests test-odoo-suites --test-tags "$suites" || status=1
fi
exit $status
