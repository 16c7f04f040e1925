#!/usr/bin/env bash
# Create or update .venv for Odoo 18 + this module.
#
#   dev/venv.sh ODOO_SRC
#
# Installs $ODOO_SRC/requirements.txt (without cbor2, replaced in
# dev/requirements.txt, and python-ldap, which needs the LDAP headers and is
# optional) and dev/requirements.txt. A stamp (.venv/.requirements.stamp)
# holds a hash of both lists: when it matches, nothing is installed.
# PYTHON picks the interpreter (default: the first of python3.11, python3.12,
# python3.10, python3.13, python3 that exists).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
odoo=${1:?usage: dev/venv.sh ODOO_SRC}
venv=$repo/.venv
stamp=$venv/.requirements.stamp

wanted() {
    grep -Ev '^[[:space:]]*(cbor2|python-ldap)([^[:alnum:]_.-]|$)' "$odoo/requirements.txt"
    cat "$repo/dev/requirements.txt"
}
hash=$(wanted | cksum | cut -d" " -f1)

if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c '' 2>/dev/null \
    && [[ -f $stamp && $(cat "$stamp") == "$hash" ]]; then
    exit 0
fi

if [[ -z ${PYTHON:-} ]]; then
    for candidate in python3.11 python3.12 python3.10 python3.13 python3; do
        if command -v "$candidate" >/dev/null; then PYTHON=$candidate; break; fi
    done
fi
[[ -n ${PYTHON:-} ]] || { echo "venv.sh: no python3 found; set PYTHON" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' \
    || { echo "venv.sh: Odoo 18 needs Python 3.10 to 3.13; $PYTHON is" \
        "$("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11" >&2; exit 1; }

if ! { [[ -x $venv/bin/python ]] && "$venv/bin/python" -c '' 2>/dev/null; }; then
    echo "venv.sh: creating .venv with $("$PYTHON" --version 2>&1)" >&2
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv" || {
        echo "venv.sh: '$PYTHON -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    }
fi

echo "venv.sh: installing Python requirements into .venv" >&2
rm -f "$stamp"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
# setuptools 81 drops pkg_resources, which Odoo (netsvc.py) and gevent still use
"${pip[@]}" install --upgrade pip wheel "setuptools<81"
wanted >"$venv/requirements.txt"
"${pip[@]}" install -r "$venv/requirements.txt"
echo "$hash" >"$stamp"
