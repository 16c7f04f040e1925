#!/usr/bin/env bash
# Print the absolute path of an Odoo 18.0 source tree (a checkout of branch
# 18.0 of https://github.com/odoo/odoo: odoo-bin, odoo/, addons/).
#
# Order: $ODOO_SRC, then the usual places (or the colon-separated list in
# $ODOO_SEARCH_PATHS when set, even empty), then a shallow clone into
# ./.odoo-src (skipped when ODOO_CLONE=0). Messages go to stderr; the only
# thing on stdout is the path. Exits 1 with instructions when nothing is found.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
odoo_url=https://github.com/odoo/odoo.git
odoo_branch=18.0

# is_odoo18 DIR: true when DIR is an Odoo 18.0 source tree.
is_odoo18() {
    local dir=$1
    [[ -f $dir/odoo-bin && -d $dir/addons && -d $dir/odoo/addons ]] || return 1
    grep -Eq '^version_info *= *\( *18 *, *0 *,' "$dir/odoo/release.py" 2>/dev/null
}

found() {
    (cd "$1" && pwd -P)
    exit 0
}

if [[ -n ${ODOO_SRC:-} ]]; then
    if is_odoo18 "$ODOO_SRC"; then
        found "$ODOO_SRC"
    fi
    echo "find-odoo: ODOO_SRC=$ODOO_SRC is not an Odoo 18.0 source tree" \
        "(no odoo-bin, or odoo/release.py is not version 18.0); looking elsewhere" >&2
fi

# Odoo's Debian package (/usr/lib/python3/dist-packages/odoo) is not a source
# tree (no odoo-bin, no addons/ beside it), so it is not a candidate.
if [[ -n ${ODOO_SEARCH_PATHS+set} ]]; then
    IFS=: read -r -a candidates <<<"$ODOO_SEARCH_PATHS"
else
    candidates=(
        /opt/odoo /opt/odoo18 /opt/odoo-18.0
        "$HOME/odoo" "$HOME/odoo18" "$HOME/src/odoo"
        "$repo/../odoo" "$repo/.odoo-src"
    )
fi
for dir in ${candidates[@]+"${candidates[@]}"}; do
    if [[ -n $dir ]] && is_odoo18 "$dir"; then
        found "$dir"
    fi
done

clone_dir=$repo/.odoo-src
if [[ ${ODOO_CLONE:-1} != 0 ]] && command -v git >/dev/null; then
    if is_odoo18 "$clone_dir"; then
        found "$clone_dir"
    fi
    echo "find-odoo: no Odoo 18.0 found; trying a shallow clone of $odoo_url" \
        "(branch $odoo_branch) into $clone_dir" >&2
    rm -rf "$clone_dir"
    timeout=()
    if command -v timeout >/dev/null; then
        timeout=(timeout "${ODOO_CLONE_TIMEOUT:-900}")
    fi
    if GIT_TERMINAL_PROMPT=0 ${timeout[@]+"${timeout[@]}"} \
        git clone --quiet --depth 1 --branch "$odoo_branch" "$odoo_url" "$clone_dir" >&2 \
        && is_odoo18 "$clone_dir"; then
        found "$clone_dir"
    fi
    rm -rf "$clone_dir"
    echo "find-odoo: the clone failed." >&2
fi

cat >&2 <<EOF

Odoo 18.0 source not found.
Looked at: ODOO_SRC=${ODOO_SRC:-<unset>}, ${candidates[*]:-<no search paths>}
Get a checkout of branch 18.0 of https://github.com/odoo/odoo, e.g.
    git clone --depth 1 -b 18.0 https://github.com/odoo/odoo.git ~/src/odoo
and tell this repository where it is:
    export ODOO_SRC=/path/to/odoo   (the folder that holds odoo-bin)

EOF
exit 1
