"""What README.rst's *Extending* section promises another addon: a new event
type, a payment rule of its own and a payout booker, each added with ``super()``
and working with the rest as the module's own do."""

from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from odoo.addons.stripe_connector.tests.common import PayoutCommon


@tagged("post_install", "-at_install")
class TestExtending(PayoutCommon):
    @classmethod
    # unittest's name, which pylint cannot see from the module's test class
    def setUpClass(cls):  # pylint: disable=invalid-name
        super().setUpClass()
        cls.reserve_account = cls.env["account.account"].create(
            {
                "name": "Stripe Reserve",
                "code": "101590",
                "account_type": "asset_current",
                "company_ids": [(6, 0, cls.company.ids)],
            }
        )
        cls.stripe_account.example_reserve_account_id = cls.reserve_account

    def test_an_event_type_of_another_addon_is_handled(self):
        """Radar's early fraud warning (Stripe's published shape), a type the
        module itself stores and ignores, gets a to-do on the payment."""
        _invoice, charge = self.pay_invoice(50.0)
        payment = self.env["account.payment"].search(
            [("stripe_charge_id", "=", charge["id"])]
        )
        warning = {
            "id": "issfr_1Pgc79B7WZ01zgkWxwDzEIPX",
            "object": "radar.early_fraud_warning",
            "actionable": True,
            "charge": charge["id"],
            "created": charge["created"],
            "fraud_type": "misc",
            "livemode": False,
        }
        event = self.deliver("radar.early_fraud_warning.created", warning)
        self.assertEvent(event, "done", "a to-do is scheduled")
        self.assertEqual(event.payment_ids, payment)
        self.assertEqual(
            payment.activity_ids.mapped("summary"),
            [f"Early fraud warning on {payment.name}"],
        )
        self.assertIn("misc", str(payment.activity_ids.note))

    def test_an_early_warning_before_its_payment_waits_then_fails(self):
        """The handler's own wait: 60 s between looks, an hour at most."""
        warning = {
            "id": "issfr_2",
            "object": "radar.early_fraud_warning",
            "actionable": True,
            "charge": "ch_not_yet",
            "created": 1234567890,
            "fraud_type": "misc",
            "livemode": False,
        }
        event = self.deliver("radar.early_fraud_warning.created", warning)
        self.assertEvent(event, "waiting", "Waiting for the payment of charge ch_")
        # Looked at again a minute later; given up an hour after the first look.
        self.assertAlmostEqual(
            (event.wait_deadline - event.next_attempt_at).total_seconds(),
            3600 - 60,
            delta=1,
        )
        with freeze_time(event.wait_deadline + timedelta(seconds=1)):
            self.process_events()
        self.assertEvent(event, "failed", "Gave up waiting after an hour")

    def test_a_payment_rule_of_another_addon_pays_its_invoice(self):
        """The shop's own metadata (``po_number``, the invoice's customer
        reference) pays the invoice as Odoo's own metadata would."""
        invoice = self.create_invoice(80.0, ref="PO-2026-117")
        other = self.create_invoice(80.0, ref="PO-2026-118")
        self.pay(8000, metadata={"po_number": "PO-2026-117"})
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertInvoice(other, 80.0, "not_paid")

    def test_a_users_pick_still_wins_over_the_rule(self):
        invoice = self.create_invoice(80.0, ref="PO-2026-119")
        picked = self.create_invoice(80.0)
        charge = self.fake.add_charge(
            8000, "usd", metadata={"po_number": "PO-2026-119"}
        )
        intent = self.fake.get(charge["payment_intent"])
        event = self.deliver("payment_intent.succeeded", intent, process=False)
        event.invoice_id = picked
        self.process_events()
        self.assertInvoice(picked, 0.0, "paid")
        self.assertInvoice(invoice, 80.0, "not_paid")

    def test_a_payout_booker_of_another_addon_and_its_undo(self):
        """A payout carrying funds Stripe holds in reserve: the addon's booker
        books them on the reserve account, the payout reconciles and the Stripe
        journal mirrors Stripe; Undo reverses the booker's entry with the rest."""
        self.pay_invoice(100.0)
        reserve = self.fake.add_adjustment(
            -2500, "usd", "Reserve", reporting_category="risk_reserved_funds"
        )
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertAlmostEqual(self.account_balance(self.reserve_account), 25.0)
        reserve_move = record.move_ids.filtered(
            lambda move: self.reserve_account in move.line_ids.account_id
        )
        self.assertEqual(len(reserve_move), 1)
        self.assertIn(reserve["id"], " ".join(reserve_move.line_ids.mapped("name")))
        self.assertStripeMirrored()

        record.action_undo()
        self.assertPayout(record, "to_reconcile")
        self.assertTrue(reserve_move.reversal_move_ids)
        self.assertAlmostEqual(self.account_balance(self.reserve_account), 0.0)
        # Reconciled again, the reserve is booked once more, once.
        self.reconcile_with_wizard(record)
        self.assertPayout(record, "reconciled")
        self.assertAlmostEqual(self.account_balance(self.reserve_account), 25.0)
        self.assertStripeMirrored()

    def test_the_bookers_are_listed_in_order(self):
        bookers = self.env["stripe.payout"]._stripe_payout_bookers()
        self.assertEqual(bookers[-1].method, "_example_book_reserves")
        self.assertEqual(bookers[0].method, "_stripe_book_payments")
