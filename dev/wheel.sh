#!/usr/bin/env bash
# Build the addon's wheel with whool, the OCA's build backend (called by
# `make wheel`), then check it:
#
#   dev/wheel.sh [DIST_DIR]      (default: dist/)
#
# whool names the distribution after the addon's folder
# (odoo-addon-stripe_connector) and takes the version from __manifest__.py;
# a clone may have any folder name, so the build runs on a copy named
# stripe_connector of the module's files: those under git control or new and
# not ignored, without the development harness (dot-files, dev/, bench/,
# examples/ (the extension example addon, tested beside the module),
# Makefile). The copy is no git checkout, so the version is the manifest's as
# is (no .devN suffix). The check: the wheel holds every file of the copy
# (pyproject.toml aside, which whool leaves out), among them the manifest,
# every data and demo file it lists and static/; its metadata names the
# distribution, Odoo 18 and the stripe SDK; installed with pip into a
# folder, Odoo finds the addon there through odoo.addons.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=stripe_connector
dist=$(realpath -m "${1:-$repo/dist}")
python=$repo/.venv/bin/python
: "${ODOO_SRC:?dev/wheel.sh needs ODOO_SRC (the Makefile sets it)}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy=$work/$module
mkdir "$copy"
(
    cd "$repo"
    git ls-files -z --cached --others --exclude-standard \
        | grep -zvE '^(\.|dev/|bench/|examples/|Makefile$)' \
        | while IFS= read -r -d '' file; do
            # a file deleted but not yet staged is still listed
            [[ -f $file ]] && printf '%s\0' "$file"
        done \
        | xargs -0 cp --parents --target-directory="$copy"
)

mkdir -p "$dist"
rm -f "$dist"/odoo_addon_"$module"-*.whl
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation --wheel-dir "$dist" "$copy"
wheel=$(ls "$dist"/odoo_addon_"$module"-*.whl)

"$python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$work/site" "$wheel"
ODOO_SRC=$ODOO_SRC "$python" - "$copy" "$wheel" "$work/site" <<'EOF'
import ast
import os
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

copy, wheel, site = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
module = copy.name
prefix = f"odoo/addons/{module}/"
with zipfile.ZipFile(wheel) as archive:
    names = set(archive.namelist())
    (metadata_name,) = (name for name in names if name.endswith(".dist-info/METADATA"))
    metadata = HeaderParser().parsestr(archive.read(metadata_name).decode())

problems = []
files = {
    path.relative_to(copy).as_posix()
    for path in copy.rglob("*")
    if path.is_file() and path.name != "pyproject.toml"
}
manifest = ast.literal_eval((copy / "__manifest__.py").read_text())
listed = {"__manifest__.py", *manifest.get("data", ()), *manifest.get("demo", ())}
static = {name for name in files if name.startswith("static/")}
if not (copy / "static").is_dir():
    problems.append("the addon has no static/ folder")
for name in sorted((files | listed) - {n.removeprefix(prefix) for n in names}):
    problems.append(f"missing from the wheel: {prefix}{name}")
if metadata["Name"] != f"odoo-addon-{module}":
    problems.append(f"distribution name {metadata['Name']!r}")
if metadata["Version"] != manifest["version"]:
    problems.append(f"version {metadata['Version']!r}, manifest {manifest['version']}")
requires = metadata.get_all("Requires-Dist") or []
for wanted in ("odoo==18.0.*", "stripe"):
    if not any(req.replace(" ", "").startswith(wanted) for req in requires):
        problems.append(f"no Requires-Dist {wanted}: {requires}")

# Installed into a folder on sys.path, Odoo finds the addon through the
# odoo.addons namespace, without any addons path of ours.
found = subprocess.run(
    [
        sys.executable,
        "-c",
        "import sys; from odoo.modules.module import get_module_path; "
        f"print(get_module_path({module!r}))",
    ],
    env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ['ODOO_SRC']}"},
    capture_output=True,
    text=True,
    check=False,
)
if found.stdout.strip() != str(site / "odoo" / "addons" / module):
    problems.append(f"Odoo does not find the installed addon: {found}")

if problems:
    sys.exit("wheel.sh: " + "\n  ".join([f"{wheel.name}:", *problems]))
print(
    f"wheel.sh: {wheel} ({metadata['Name']} {metadata['Version']}): "
    f"{len(files)} files of the addon, {len(static)} under static/, "
    f"requires {', '.join(requires)}"
)
EOF
