"""List what is left to translate in the module's catalogs.

    .venv/bin/python dev/untranslated.py [i18n/fr.po ...]

Without arguments: every i18n/*.po. For each catalog, the entries that are
untranslated or fuzzy (a guess of msgmerge, to check, then drop the fuzzy flag)
and the terms of i18n/stripe_connector.pot the catalog lacks (run `make pot`,
which merges them in). Exits 1 when anything is left, 0 otherwise.
"""

import sys
from pathlib import Path

import polib

I18N = Path(__file__).resolve().parent.parent / "i18n"


def main(paths):
    pot_ids = {
        entry.msgid for entry in polib.pofile(str(I18N / "stripe_connector.pot"))
    }
    left = 0
    for path in paths or sorted(I18N.glob("*.po")):
        catalog = polib.pofile(str(path))
        entries = [entry for entry in catalog if not entry.obsolete]
        for entry in entries:
            if entry.fuzzy or not entry.msgstr:
                state = "fuzzy" if entry.fuzzy else "untranslated"
                print(f"{path}:{entry.linenum}: {state}: {entry.msgid!r}")
                if entry.fuzzy and entry.msgstr:
                    print(f"    guess: {entry.msgstr!r}")
                left += 1
        for msgid in sorted(pot_ids - {entry.msgid for entry in entries}):
            print(f"{path}: missing (run make pot): {msgid!r}")
            left += 1
        translated = len(catalog.translated_entries())
        print(
            f"{path}: {translated} of {len(pot_ids)} terms translated", file=sys.stderr
        )
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
