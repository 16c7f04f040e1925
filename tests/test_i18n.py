"""Translations: the committed template holds every term of the module, as
Odoo's own exporter finds them, and the French catalog translates them all."""

import json
import re
import tempfile
from collections import Counter
from pathlib import Path
from unittest.mock import patch

import polib

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

import odoo.addons

MODULE = "stripe_connector"
MODULE_DIR = Path(__file__).resolve().parent.parent
I18N = MODULE_DIR / "i18n"
# %s, %(name)s, %%: what Python formatting needs in msgid and msgstr alike
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")


class _ModuleTermsReader(TranslationModuleReader):
    """Odoo's reader of a module's terms (the exporter's: records with an
    external id of the module, then ``_()``/``_lt()`` in Python, QWeb and JS
    under static/), walking only the module's own files: in a development
    clone the module's folder also holds .venv, .pg and the like. They are
    left out as dev/pot.sh leaves them out: a folder of links to the module's
    entries, dot-entries and the extension example aside."""

    def __init__(self, cr, addons_dir):
        self._addons_dir = addons_dir
        super().__init__(cr, modules=[MODULE])

    def _export_translatable_resources(self):
        self._path_list = [(self._addons_dir, True)]
        return super()._export_translatable_resources()


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pot = polib.pofile(str(I18N / f"{MODULE}.pot"))
        cls.fr = polib.pofile(str(I18N / "fr.po"))

    def module_terms(self):
        with tempfile.TemporaryDirectory() as addons_dir:
            module_dir = Path(addons_dir, MODULE)
            module_dir.mkdir()
            for entry in MODULE_DIR.iterdir():
                if not entry.name.startswith(".") and entry.name not in (
                    "dist",
                    "build",
                    "examples",  # an addon of its own
                ):
                    (module_dir / entry.name).symlink_to(entry)
            # Odoo opens only files under an addons path
            with patch.object(odoo.addons, "__path__", [*odoo.addons.__path__]):
                odoo.addons.__path__.append(addons_dir)
                reader = _ModuleTermsReader(self.env.cr, addons_dir)
            return {
                source: f"{ttype}:{name}"
                for module, ttype, name, _res_id, source, _value, _comments in reader
                if module == MODULE
            }

    def test_template_holds_every_term(self):
        terms = self.module_terms()
        self.assertGreater(len(terms), 100, "the reader found the module's terms")
        self.assertIn("Balance Transactions", terms)  # a menu: a record
        self.assertTrue(
            any(where.startswith("code:") for where in terms.values()),
            "terms of _() in Python",
        )
        missing = {
            term: where
            for term, where in terms.items()
            if term not in {entry.msgid for entry in self.pot}
        }
        self.assertFalse(
            missing,
            f"terms missing from i18n/{MODULE}.pot (run make pot): {missing}",
        )

    def test_french_catalog_is_complete(self):
        self.assertEqual(self.fr.metadata.get("Language"), "fr")
        french = {entry.msgid: entry for entry in self.fr if not entry.obsolete}
        for term in self.pot:
            with self.subTest(msgid=term.msgid):
                entry = french.get(term.msgid)
                self.assertTrue(entry, "in fr.po (make pot merges it)")
                self.assertTrue(entry.msgstr, "translated")
                self.assertNotIn("fuzzy", entry.flags, "checked")
                self.assertEqual(
                    Counter(PLACEHOLDER.findall(entry.msgstr)),
                    Counter(PLACEHOLDER.findall(entry.msgid)),
                    "the same placeholders",
                )

    def test_french_user_sees_french(self):
        """Loaded as Odoo loads a language, fr.po translates the module's menus,
        selection values and the messages of its Python code."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"].search(
            [("name", "=", MODULE)]
        )._update_translations("fr_FR")
        french = {entry.msgid: entry.msgstr for entry in self.fr}
        fr_env = self.env(context={"lang": "fr_FR"})

        menu = self.env.ref(f"{MODULE}.stripe_event_menu").with_env(fr_env)
        self.assertEqual(menu.name, french["Events"])
        states = dict(
            fr_env["stripe.event"]._fields["state"]._description_selection(fr_env)
        )
        self.assertEqual(states["waiting"], french["Waiting"])

        account = self.env["stripe.account"].create(
            {"name": "Translations", "webhook_secret": "whsec_i18n"}
        )
        event = {
            "id": "evt_i18n",
            "object": "event",
            "type": "customer.source.expiring",
            "created": 1700000000,
            "livemode": False,
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
        stored, _created = self.env["stripe.event"]._receive(
            account, event, json.dumps(event).encode()
        )
        with self.assertRaises(UserError) as raised:
            stored.with_env(fr_env).action_retry()
        self.assertEqual(
            str(raised.exception),
            french["Only failed, waiting or ignored events can be retried."],
        )
