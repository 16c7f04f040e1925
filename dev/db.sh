#!/usr/bin/env bash
# Databases of the development harness (called by the Makefile).
#
#   dev/db.sh installed DB          exit 0 when the module is installed in DB
#   dev/db.sh ensure DB [ARGS...]   install the module into DB unless it is
#   dev/db.sh fresh DB [ARGS...]    drop DB, then install the module into it
#   dev/db.sh drop DB               drop DB and its filestore
#   dev/db.sh banner DB PORT        print the login and the webhook URL
#
# ARGS go to odoo-bin (e.g. --without-demo=all). DB_MODULES (comma-separated,
# default stripe_connector) names the modules installed and checked: the test
# databases also hold the extension example (examples/). Needs ODOO_SRC (the
# Odoo tree), .venv, .odoorc and a running PostgreSQL: `make setup` does all
# that.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=stripe_connector
: "${ODOO_SRC:?dev/db.sh needs ODOO_SRC (the Makefile sets it)}"
eval "$("$repo/dev/pg.sh" env)"

odoo_bin() {
    "$repo/.venv/bin/python" "$ODOO_SRC/odoo-bin" -c "$repo/.odoorc" "$@"
}

sql() {
    local db=$1
    shift
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -tA -c "$@"
}

exists() {
    [[ $(sql postgres "select 1 from pg_database where datname = '$1'") == 1 ]]
}

modules=${DB_MODULES:-$module}

installed() {
    exists "$1" || return 1
    local name
    for name in ${modules//,/ }; do
        [[ $(sql "$1" "select state from ir_module_module where name = '$name'" \
            2>/dev/null) == installed ]] || return 1
    done
}

drop() {
    local db=$1
    if exists "$db"; then
        echo "db.sh: dropping database $db" >&2
        dropdb --force "$db"
    fi
    rm -rf "$repo/.odoo/data/filestore/$db"
}

install() {
    local db=$1
    shift
    echo "db.sh: installing $modules into $db (odoo-bin -i $modules $*)" >&2
    local start=$SECONDS
    odoo_bin -d "$db" -i "$modules" --stop-after-init "$@"
    installed "$db" || {
        echo "db.sh: $modules not installed in $db after odoo-bin; see the log above" >&2
        exit 1
    }
    echo "db.sh: $modules installed in $db in $((SECONDS - start)) s" >&2
}

banner() {
    local db=$1 port=$2 account_id=""
    if [[ -n $(sql "$db" "select to_regclass('stripe_account')") ]]; then
        account_id=$(sql "$db" "select id from stripe_account order by id limit 1")
    fi
    echo
    echo "  Odoo:     http://localhost:$port   (database $db)"
    echo "  Login:    admin / admin"
    if [[ -n $account_id ]]; then
        echo "  Webhook:  http://localhost:$port/stripe/webhook/$account_id"
        local invoice
        # A demo invoice still open, not the one the README asks to pick by hand
        # on the demo's failed payment (Ready Mat's); else the latest open one.
        invoice=$(sql "$db" "select m.name || ' ' || m.amount_residual
            from account_move m join ir_model_data d
              on d.model = 'account.move' and d.res_id = m.id
             and d.module = '$module' and d.name like 'demo_invoice_%'
             and d.name != 'demo_invoice_ready_mat'
            where m.payment_state = 'not_paid' and m.state = 'posted'
            order by m.id limit 1" 2>/dev/null || true)
        if [[ -z $invoice ]]; then
            invoice=$(sql "$db" "select name || ' ' || amount_residual from account_move
                where move_type = 'out_invoice' and state = 'posted'
                  and payment_state = 'not_paid' order by id desc limit 1" \
                2>/dev/null || true)
        fi
        if [[ -n $invoice ]]; then
            echo "  Try:      .venv/bin/python dev/send-test-event.py \\"
            echo "                --url http://localhost:$port/stripe/webhook/$account_id \\"
            echo "                --invoice ${invoice% *} --amount ${invoice#* }"
            echo "            (signed with the demo account's test secret; then see"
            echo "             Invoicing > Stripe > Events)"
        fi
    else
        echo "  Webhook:  http://localhost:$port/stripe/webhook/<id of a Stripe account>"
        echo "            (no stripe.account yet: create one in Odoo, then use its id)"
    fi
    echo "  Stop:     Ctrl-C here, or 'make stop' from another shell"
    echo
}

cmd=${1:-}
db=${2:-}
[[ -n $cmd && -n $db ]] || { sed -n '2,12p' "${BASH_SOURCE[0]}" >&2; exit 2; }
shift 2
case $cmd in
    installed) installed "$db" ;;
    ensure) installed "$db" || install "$db" "$@" ;;
    fresh) drop "$db"; install "$db" "$@" ;;
    drop) drop "$db" ;;
    banner) banner "$db" "${1:?usage: dev/db.sh banner DB PORT}" ;;
    *) echo "db.sh: unknown command $cmd" >&2; exit 2 ;;
esac
