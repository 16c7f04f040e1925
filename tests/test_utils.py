"""Pure helpers: Stripe's exponent table and the reading of Stripe objects."""

from decimal import Decimal

from odoo.tests import BaseCase, tagged

from .. import utils
from ..tools.billing import untaxed_shares
from ..tools.subscription import (
    item_monthly,
    item_terms,
    tiered_amount,
    transformed_quantity,
)


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
        self.assertEqual(facts.key, "pi_1")
        self.assertEqual(facts.charge_id, "ch_1")
        self.assertEqual(facts.amount, 1500)
        self.assertEqual(facts.currency, "EUR")
        self.assertEqual(facts.references, ["Order S00001"])
        self.assertEqual(facts.metadata, [("PaymentIntent", {"odoo_invoice": "INV/1"})])

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
        self.assertEqual(facts.key, "ch_2")
        self.assertEqual(facts.email, "a@example.com")
        self.assertEqual(facts.balance_transaction_id, "txn_2")
        self.assertIsNone(facts.balance_transaction, "not expanded")

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
        self.assertEqual(facts.key, "pi_1")
        self.assertEqual(facts.charge_id, "ch_1")
        self.assertEqual(facts.intent_description, "INV/2026/00012")
        self.assertEqual(facts.references, ["S00042", "INV/2026/00012"])
        self.assertIn(("PaymentIntent", {"odoo_invoice_id": "7"}), facts.metadata)
        self.assertEqual(facts.balance_transaction_id, "txn_1")

    def test_references_in_text_drop_sentence_punctuation(self):
        self.assertEqual(
            utils.references_in_text("Paid: INV/2026/00012. Order S00042-"),
            ["Paid", "INV/2026/00012", "Order", "S00042"],
        )

    def test_timestamps(self):
        self.assertEqual(str(utils.timestamp_to_datetime(0)), "1970-01-01 00:00:00")
        self.assertIsNone(utils.timestamp_to_datetime("yesterday"))
        self.assertIsNone(utils.timestamp_to_datetime(10**20))


@tagged("post_install", "-at_install")
class TestTieredPrices(BaseCase):
    """A licensed item of a tiered price: its amount for its quantity, in both of
    Stripe's tier modes, flat amounts included. The tiers are those of Stripe's
    own example (1-5 at 7.00, 6-10 at 6.50, 11 and more at 6.00), in cents."""

    TIERS = [
        {"up_to": 5, "unit_amount": 700, "flat_amount": None},
        {"up_to": 10, "unit_amount": 650, "flat_amount": None},
        {"up_to": None, "unit_amount": 600, "flat_amount": None},
    ]
    # The same with flat amounts: 10.00 for the first tier, 5.00 for the second.
    FLAT_TIERS = [
        {"up_to": 5, "unit_amount_decimal": "700", "flat_amount_decimal": "1000"},
        {"up_to": 10, "unit_amount": 650, "flat_amount": 500},
        {"up_to": "inf", "unit_amount": 600, "flat_amount": 0},
    ]

    def amounts(self, tiers, mode, quantities):
        return [tiered_amount(tiers, mode, q) for q in quantities]

    def test_volume_bills_every_unit_at_the_tier_reached(self):
        # Stripe's table: 1 -> 7, 5 -> 35, 6 -> 39, 20 -> 120, 25 -> 150 (USD).
        self.assertEqual(
            self.amounts(self.TIERS, "volume", [1, 5, 6, 20, 25]),
            [700, 3500, 3900, 12000, 15000],
        )

    def test_graduated_bills_each_tier_at_its_own_price(self):
        # 6 = 5 x 7 + 1 x 6.5 = 41.50; 10 = 35 + 5 x 6.5 = 67.50;
        # 20 = 35 + 32.50 + 10 x 6 = 127.50.
        self.assertEqual(
            self.amounts(self.TIERS, "graduated", [1, 5, 6, 10, 20]),
            [700, 3500, 4150, 6750, 12750],
        )

    def test_flat_amounts(self):
        # volume: 7 = 7 x 6.50 + 5.00 = 50.50; 3 = 3 x 7 + 10 = 31.00;
        # 12 = 12 x 6 + 0 = 72.00.
        self.assertEqual(
            self.amounts(self.FLAT_TIERS, "volume", [3, 7, 12]), [3100, 5050, 7200]
        )
        # graduated: each tier reached adds its flat amount.
        # 3 = 21 + 10 = 31.00; 7 = 35 + 10 + 2 x 6.50 + 5 = 63.00;
        # 12 = 35 + 10 + 32.50 + 5 + 2 x 6 = 94.50.
        self.assertEqual(
            self.amounts(self.FLAT_TIERS, "graduated", [3, 7, 12]),
            [3100, 6300, 9450],
        )

    def test_no_unit_falls_in_the_first_tier(self):
        """Quantity 0 is in the first tier: its flat amount only."""
        self.assertEqual(self.amounts(self.FLAT_TIERS, "volume", [0]), [1000])
        self.assertEqual(self.amounts(self.FLAT_TIERS, "graduated", [0]), [1000])

    def test_sub_cent_unit_amounts(self):
        tiers = [
            {"up_to": 1000, "unit_amount_decimal": "0.5", "flat_amount": None},
            {"up_to": None, "unit_amount_decimal": "0.25", "flat_amount": None},
        ]
        # 1,500 units: 1,000 x 0.5 + 500 x 0.25 = 625 cents.
        self.assertEqual(tiered_amount(tiers, "graduated", 1500), Decimal("625"))
        # volume: 1,500 x 0.25 = 375 cents.
        self.assertEqual(tiered_amount(tiers, "volume", 1500), Decimal("375"))

    def test_item_monthly_of_a_tiered_price(self):
        """A yearly volume price of 7 units with its tiers counts a twelfth of
        50.50 a month; without its tiers (not expanded) it counts nothing."""
        price = {
            "id": "price_1",
            "object": "price",
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "tiers": self.FLAT_TIERS,
            "recurring": {"interval": "year", "interval_count": 1},
            "unit_amount": None,
            "unit_amount_decimal": None,
        }
        item = {"id": "si_1", "price": price, "quantity": 7}
        self.assertEqual(item_monthly(item, 0), Decimal(5050) / 12)
        unread = dict(item, price={k: v for k, v in price.items() if k != "tiers"})
        self.assertEqual(item_terms(unread)["tiers"], None)
        self.assertEqual(item_monthly(unread, 0), Decimal(0))


@tagged("post_install", "-at_install")
class TestPackagePrices(BaseCase):
    """``transform_quantity``: a per-unit price billed by packages."""

    def test_packages_rounded_up_or_down(self):
        up = {"divide_by": 10, "round": "up"}
        down = {"divide_by": 10, "round": "down"}
        self.assertEqual(
            [transformed_quantity(q, up) for q in (0, 1, 10, 11, 25)], [0, 1, 1, 2, 3]
        )
        self.assertEqual(
            [transformed_quantity(q, down) for q in (0, 9, 10, 25)], [0, 0, 1, 2]
        )
        self.assertEqual(transformed_quantity(7, None), 7)

    def test_item_monthly_of_a_package_price(self):
        """Stripe's price fixture shape: 20.00 a package of 10 seats, rounded up:
        25 seats are 3 packages, 60.00 a month."""
        price = {
            "id": "price_1",
            "object": "price",
            "billing_scheme": "per_unit",
            "recurring": {"interval": "month", "interval_count": 1},
            "tiers_mode": None,
            "transform_quantity": {"divide_by": 10, "round": "up"},
            "unit_amount": 2000,
            "unit_amount_decimal": "2000",
        }
        self.assertEqual(
            item_monthly({"id": "si_1", "price": price, "quantity": 25}, 0),
            Decimal(6000),
        )


@tagged("post_install", "-at_install")
class TestUntaxedShares(BaseCase):
    """A line whose tax Stripe includes in its price, split into its untaxed
    amount and its discounts' untaxed shares."""

    def test_line_and_discounts_add_up_to_stripe_untaxed_amount(self):
        # 9.99 less 3.33 of coupon, 21 % included: Stripe's tax 1.16 of 6.66.
        line, shares = untaxed_shares(999, [333], 116)
        self.assertEqual(line - sum(shares), 999 - 333 - 116)
        self.assertEqual(shares, [275])  # 3.33 x 5.50 / 6.66
        line, shares = untaxed_shares(999, [], 173)
        self.assertEqual((line, shares), (826, []))
        line, shares = untaxed_shares(10000, [1, 2, 3], 1595)
        self.assertEqual(line - sum(shares), 10000 - 6 - 1595)
        line, shares = untaxed_shares(-1633, [], -261)  # a proration credit
        self.assertEqual(line, -1372)


@tagged("post_install", "-at_install")
class TestUnreachableHost(BaseCase):
    def test_local_private_and_public_hosts(self):
        for url, expected in (
            ("http://localhost:8069/stripe/webhook/1", "local"),
            ("http://127.0.0.1:8069/stripe/webhook/1", "local"),
            ("http://[::1]:8069/stripe/webhook/1", "local"),
            ("http://odoo:8069/stripe/webhook/1", "local"),
            ("http://erp.local/stripe/webhook/1", "local"),
            ("http://192.168.1.20:8069/stripe/webhook/1", "private"),
            ("http://10.0.0.5/stripe/webhook/1", "private"),
            ("http://172.16.3.4/stripe/webhook/1", "private"),
            ("https://erp.example.com/stripe/webhook/1", None),
            ("https://203.0.114.9/stripe/webhook/1", None),
        ):
            with self.subTest(url=url):
                self.assertEqual(utils.unreachable_host(url), expected)
