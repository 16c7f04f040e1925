#!/usr/bin/env bash
# PostgreSQL for development and tests.
#
#   dev/pg.sh start    make sure a server answers (idempotent)
#   dev/pg.sh stop     stop the private cluster (if it runs)
#   dev/pg.sh status   say which server is used and whether it answers
#   dev/pg.sh env      print PGHOST/PGPORT/PGUSER (and PATH) exports
#   dev/pg.sh destroy  stop the private cluster and delete it
#
# When PGHOST, PGPORT or PGUSER is set and a server answers there, that
# server is used as is. Otherwise a private cluster lives in .pg/ of this
# repository: superuser `odoo`, trust authentication, no TCP (listen_addresses
# is empty), a unix socket in a private directory. Running as root works too:
# initdb/pg_ctl then run as the `postgres` system user.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=$repo/.pg
datadir=$base/data
logfile=$base/postgres.log
port=5432          # only names the socket file: there is no TCP listener
user=odoo          # Odoo refuses to connect as `postgres`

die() { echo "pg.sh: $*" >&2; exit 1; }
note() { echo "pg.sh: $*" >&2; }

# Directory of the PostgreSQL server programs: pg_config --bindir, the
# highest /usr/lib/postgresql/*/bin (Debian/Ubuntu), or PATH.
find_bindir() {
    local dir
    if command -v pg_config >/dev/null; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then echo "$dir"; return; fi
    fi
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n $dir && -x $dir/initdb ]]; then echo "$dir"; return; fi
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"
        return
    fi
    return 1
}

# Client programs (pg_isready, psql) may exist without the server ones.
client() {
    local prog=$1
    if [[ -n ${bindir:-} && -x $bindir/$prog ]]; then
        echo "$bindir/$prog"
    elif command -v "$prog" >/dev/null; then
        command -v "$prog"
    else
        die "$prog not found: install the PostgreSQL client (e.g. apt-get install postgresql-client)"
    fi
}

bindir=$(find_bindir || true)

# Unix socket paths are limited to ~107 bytes: use .pg/run when short enough,
# else a directory under /tmp named after a hash of the repository path.
socket_dir() {
    local dir=$base/run
    if (( ${#dir} + ${#port} + 10 > 100 )); then
        local hash
        hash=$(printf %s "$repo" | cksum | cut -d' ' -f1)
        dir=/tmp/stripe-pg-$hash
    fi
    echo "$dir"
}
sockdir=$(socket_dir)

# Root cannot run initdb/postgres: run the server programs as `postgres`.
as_owner() {
    if (( EUID == 0 )); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

external_set() {
    [[ ${PGHOST:-} != "$sockdir" ]] || return 1   # our own cluster, exported
    [[ -n ${PGHOST:-} || -n ${PGPORT:-} || -n ${PGUSER:-} ]]
}

# Use the server from the environment? Only if it answers.
use_external() {
    external_set || return 1
    if "$(client pg_isready)" -q -t 5 >/dev/null 2>&1; then
        if [[ ${PGUSER:-${USER:-$(id -un)}} == postgres ]]; then
            die "Odoo refuses to connect as user postgres: set PGUSER to another" \
                "superuser role (createuser -s odoo)"
        fi
        return 0
    fi
    note "PGHOST/PGPORT/PGUSER are set (${PGHOST:-}:${PGPORT:-}/${PGUSER:-}) but no" \
        "server answers there; using the private cluster in .pg/ instead"
    return 1
}

private_running() {
    [[ -f $datadir/PG_VERSION ]] || return 1
    PGHOST=$sockdir PGPORT=$port PGUSER=$user "$(client pg_isready)" -q -t 2 >/dev/null 2>&1
}

init_private() {
    [[ -n $bindir ]] || die "PostgreSQL server programs (initdb, pg_ctl) not found." \
        "Install PostgreSQL (e.g. apt-get install postgresql), add its bin directory" \
        "to PATH, or point PGHOST/PGPORT/PGUSER at a running server."
    mkdir -p "$base"
    if (( EUID == 0 )); then
        id postgres >/dev/null 2>&1 \
            || die "running as root needs a 'postgres' system user to own the cluster"
        chown postgres: "$base"
        runuser -u postgres -- test -x "$base" \
            || die "user postgres cannot reach $base (a parent directory is closed);" \
                "clone the repository elsewhere or run as a normal user"
    fi
    if [[ ! -f $datadir/PG_VERSION ]]; then
        note "initialising a private cluster in $datadir"
        rm -rf "$datadir"
        # A throw-away development cluster: trust auth for the `odoo`
        # superuser, no fsync (much faster module installs).
        as_owner "$bindir/initdb" --pgdata="$datadir" --username="$user" \
            --auth=trust --encoding=UTF8 --locale=C --no-sync >"$base/initdb.log" \
            || die "initdb failed, see $base/initdb.log"
        echo "include_if_exists = 'harness.conf'" >>"$datadir/postgresql.conf"
    fi
    # Rewritten at every start: the socket directory follows the repo path.
    cat >"$datadir/harness.conf" <<EOF
# written by dev/pg.sh at each start
listen_addresses = ''
port = $port
unix_socket_directories = '$sockdir'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    mkdir -p "$sockdir"
    chmod 700 "$sockdir"
    if (( EUID == 0 )); then
        chown postgres: "$datadir/harness.conf" "$sockdir"
        touch "$logfile" && chown postgres: "$logfile"
    fi
}

start() {
    if use_external; then
        note "using the server at ${PGHOST:-<default>}:${PGPORT:-<default>} as ${PGUSER:-$(id -un)}"
        return
    fi
    if private_running; then
        return
    fi
    init_private
    note "starting the private cluster (socket in $sockdir, log in $logfile)"
    as_owner "$bindir/pg_ctl" --pgdata="$datadir" --log="$logfile" --wait \
        --timeout=60 start >/dev/null \
        || { tail -n 20 "$logfile" >&2; die "could not start PostgreSQL"; }
}

stop() {
    if [[ -f $datadir/postmaster.pid ]] && [[ -n $bindir ]]; then
        note "stopping the private cluster"
        as_owner "$bindir/pg_ctl" --pgdata="$datadir" --mode=fast --wait stop >/dev/null || true
    fi
}

env_exports() {
    if use_external 2>/dev/null; then
        echo "export PGHOST='${PGHOST:-}' PGPORT='${PGPORT:-}' PGUSER='${PGUSER:-}'"
    else
        echo "export PGHOST='$sockdir' PGPORT='$port' PGUSER='$user'"
    fi
    if [[ -n $bindir ]]; then
        echo "export PATH='$bindir':\"\$PATH\""
    fi
}

status() {
    if use_external 2>/dev/null; then
        echo "external server ${PGHOST:-<default>}:${PGPORT:-<default>} (answers)"
    elif private_running; then
        echo "private cluster $datadir running, socket in $sockdir"
    elif [[ -f $datadir/PG_VERSION ]]; then
        echo "private cluster $datadir stopped"
        return 3
    else
        echo "no private cluster yet (dev/pg.sh start creates it)"
        return 3
    fi
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) env_exports ;;
    destroy) stop; rm -rf "$base" "$sockdir" ;;
    *) echo "usage: $0 start|stop|status|env|destroy" >&2; exit 2 ;;
esac
