"""Pure helpers: Stripe's exponent table and the reading of Stripe objects."""

from decimal import Decimal

from odoo.tests import BaseCase, tagged

from .. import utils


@tagged("post_install", "-at_install")
class TestAmounts(BaseCase):
    """Stripe's own exponent table, one test per class of currency."""

    def assertConverts(self, minor, currency, major):
        self.assertEqual(utils.from_minor_units(minor, currency), Decimal(major))
        self.assertEqual(utils.to_minor_units(Decimal(major), currency), minor)

    def test_two_decimals(self):
        for code in ("usd", "EUR", "gbp", "chf", "mxn"):
            with self.subTest(code=code):
                self.assertConverts(1050, code, "10.50")
        self.assertConverts(-99, "usd", "-0.99")
        self.assertEqual(utils.to_minor_units(10.005, "usd"), 1001, "half up")

    def test_zero_decimals(self):
        for code in ("jpy", "krw", "vnd", "clp", "xof", "bif", "pyg"):
            with self.subTest(code=code):
                self.assertConverts(1050, code, "1050")

    def test_three_decimals(self):
        for code in ("kwd", "bhd", "jod", "omr", "tnd"):
            with self.subTest(code=code):
                self.assertConverts(1050, code, "1.050")

    def test_special_cases(self):
        """ISK is effectively zero-decimal but two-decimal in Stripe's API (100 is
        one krona); HUF and TWD are two-decimal in the API (only payouts are whole
        units); UGX is zero-decimal."""
        self.assertConverts(50000, "isk", "500.00")
        self.assertConverts(12345, "huf", "123.45")
        self.assertConverts(12345, "twd", "123.45")
        self.assertConverts(5000, "ugx", "5000")

    def test_missing_amount_is_zero(self):
        self.assertEqual(utils.from_minor_units(None, "usd"), Decimal("0.00"))


@tagged("post_install", "-at_install")
class TestPaymentFacts(BaseCase):
    def test_payment_intent_current_shape(self):
        facts = utils.payment_facts(
            {
                "id": "pi_1",
                "object": "payment_intent",
                "amount": 2000,
                "amount_received": 1500,
                "currency": "eur",
                "latest_charge": "ch_1",
                "customer": "cus_1",
                "metadata": {"odoo_invoice": "INV/1"},
                "description": "Order S00001",
                "created": 1700000000,
            }
        )
        self.assertEqual(facts["key"], "pi_1")
        self.assertEqual(facts["charge_id"], "ch_1")
        self.assertEqual(facts["amount"], 1500)
        self.assertEqual(facts["currency"], "EUR")
        self.assertEqual(facts["references"], ["Order S00001"])
        self.assertEqual(
            facts["metadata"], [("PaymentIntent", {"odoo_invoice": "INV/1"})]
        )

    def test_charge_without_intent(self):
        facts = utils.payment_facts(
            {
                "id": "ch_2",
                "object": "charge",
                "amount": 500,
                "amount_captured": 500,
                "currency": "usd",
                "payment_intent": None,
                "billing_details": {"email": "a@example.com"},
                "balance_transaction": "txn_2",
                "metadata": {},
            }
        )
        self.assertEqual(facts["key"], "ch_2")
        self.assertEqual(facts["email"], "a@example.com")
        self.assertEqual(facts["balance_transaction"], "txn_2")

    def test_metadata_precedence_is_by_key_then_source(self):
        sources = [
            ("Checkout Session", {"odoo_sale_order": "S1"}),
            ("Charge", {"odoo_invoice_id": "7", "odoo_invoice": "INV/2"}),
        ]
        found = utils.metadata_references(
            sources, ("odoo_invoice_id", "odoo_invoice", "odoo_sale_order")
        )
        self.assertEqual(
            [(key, value) for key, value, _source in found],
            [
                ("odoo_invoice_id", "7"),
                ("odoo_invoice", "INV/2"),
                ("odoo_sale_order", "S1"),
            ],
        )

    def test_checkout_session_with_its_expanded_payment_intent(self):
        intent = {
            "id": "pi_1",
            "object": "payment_intent",
            "description": "INV/2026/00012",
            "metadata": {"odoo_invoice_id": "7"},
            "latest_charge": {"id": "ch_1", "balance_transaction": "txn_1"},
        }
        session = {
            "id": "cs_1",
            "object": "checkout.session",
            "amount_total": 1000,
            "currency": "usd",
            "client_reference_id": "S00042",
            "metadata": {},
            "payment_intent": intent,
        }
        facts = utils.payment_facts(session)
        self.assertEqual(facts["key"], "pi_1")
        self.assertEqual(facts["charge_id"], "ch_1")
        self.assertEqual(facts["intent_description"], "INV/2026/00012")
        self.assertEqual(facts["references"], ["S00042", "INV/2026/00012"])
        self.assertIn(("PaymentIntent", {"odoo_invoice_id": "7"}), facts["metadata"])
        self.assertEqual(facts["balance_transaction"], "txn_1")

    def test_references_in_text_drop_sentence_punctuation(self):
        self.assertEqual(
            utils.references_in_text("Paid: INV/2026/00012. Order S00042-"),
            ["Paid", "INV/2026/00012", "Order", "S00042"],
        )

    def test_timestamps(self):
        self.assertEqual(str(utils.timestamp_to_datetime(0)), "1970-01-01 00:00:00")
        self.assertIsNone(utils.timestamp_to_datetime("yesterday"))
        self.assertIsNone(utils.timestamp_to_datetime(10**20))
