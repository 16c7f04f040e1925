"""The upgrade to 18.0.1.1.0 keeps every value of the renamed fields: a database
of the previous version (its columns and field definitions under their old
names) goes through migrations/18.0.1.1.0/pre-migrate.py, as Odoo runs it
before loading the new code, and holds the same records after."""

import importlib.util
from pathlib import Path

from odoo.tests import tagged
from odoo.tools import sql

from odoo.addons.stripe_connector.tests.common import PayoutCommon

MIGRATION = (
    Path(__file__).resolve().parent.parent
    / "migrations"
    / "18.0.1.1.0"
    / "pre-migrate.py"
)


def _load_migration():
    spec = importlib.util.spec_from_file_location("stripe_pre_migrate", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestMigration(PayoutCommon):
    def field_names(self, model):
        self.env.cr.execute(
            "SELECT name FROM ir_model_fields WHERE model = %s", (model,)
        )
        return {name for (name,) in self.env.cr.fetchall()}

    def test_renamed_fields_keep_their_values(self):
        migration = _load_migration()
        # Records of every kind whose fields are renamed.
        _invoice, charge = self.pay_invoice(100.0)
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.stripe_account.write(
            {
                "invoice_paid_orders": False,
                "payout_bank_line_days": 5,
                "stripe_webhook_endpoint_id": "we_migration",
            }
        )
        event = self.env["stripe.event"].search(
            [("stripe_object_id", "=", charge["payment_intent"])]
        )
        transaction = record.transaction_ids.filtered(
            lambda t: t.stripe_source_id == charge["id"]
        )
        self.assertTrue(event and transaction)
        self.env.flush_all()
        cr = self.env.cr
        # The previous version's shape: old column and field names.
        stored = set()
        for model, old, new in migration.RENAMED_FIELDS:
            table = model.replace(".", "_")
            if sql.column_exists(cr, table, new):  # not a related field
                stored.add((model, new))
                sql.rename_column(cr, table, new, old)
            cr.execute(
                "UPDATE ir_model_fields SET name = %s WHERE model = %s AND name = %s",
                (old, model, new),
            )
            cr.execute(
                "UPDATE ir_model_data SET name = %s WHERE module = 'stripe_connector'"
                " AND name = %s",
                (f"field_{table}__{old}", f"field_{table}__{new}"),
            )
        self.assertIn("object_id", self.field_names("stripe.event"))
        self.assertGreater(len(stored), 10)

        migration.migrate(cr, "18.0.1.0.0")

        self.env.invalidate_all()
        for model, old, new in migration.RENAMED_FIELDS:
            table = model.replace(".", "_")
            with self.subTest(field=f"{model}.{new}"):
                self.assertEqual(
                    sql.column_exists(cr, table, new), (model, new) in stored
                )
                self.assertFalse(sql.column_exists(cr, table, old))
                names = self.field_names(model)
                self.assertIn(new, names)
                self.assertNotIn(old, names)
                self.assertTrue(
                    self.env["ir.model.data"].search_count(
                        [
                            ("module", "=", "stripe_connector"),
                            ("name", "=", f"field_{table}__{new}"),
                        ]
                    )
                )
        account = self.stripe_account
        self.assertFalse(account.invoice_paid_orders)
        self.assertEqual(account.payout_bank_line_days, 5)
        self.assertEqual(account.stripe_webhook_endpoint_id, "we_migration")
        self.assertEqual(event.stripe_object_id, charge["payment_intent"])
        self.assertEqual(event.stripe_customer_id, charge.get("customer") or False)
        self.assertEqual(transaction.stripe_source_id, charge["id"])
        self.assertEqual(transaction.stripe_charge_id, charge["id"])
        self.assertEqual(transaction.stripe_payment_intent_id, charge["payment_intent"])
        self.assertEqual(
            record.stripe_balance_transaction_id, payout["balance_transaction"]
        )
        # Still found the way the module looks them up.
        self.assertEqual(
            self.env["stripe.event"].search(
                [("stripe_object_id", "=", charge["payment_intent"])]
            ),
            event,
        )

    def test_a_new_database_is_left_alone(self):
        """On installation (no previous version) the script does nothing."""
        migration = _load_migration()
        before = self.field_names("stripe.event")
        migration.migrate(self.env.cr, None)
        self.assertEqual(self.field_names("stripe.event"), before)
