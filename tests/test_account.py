from odoo.tests import Form, tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeAccount(StripeCommon):
    """Configuration as an administrator meets it: settings, form, set-up."""

    def test_settings_block_opens_the_accounts(self):
        settings = Form(self.env["res.config.settings"])
        self.assertEqual(settings.stripe_account_count, 1)
        action = settings.save().action_open_stripe_accounts()
        self.assertEqual(action["res_model"], "stripe.account")

    def test_new_account_from_the_form_gets_its_journal_and_accounts(self):
        form = Form(self.env["stripe.account"])
        form.name = "Stripe EU"
        form.webhook_secret = "whsec_eu"
        account = form.save()
        self.assertTrue(account.webhook_url.endswith(f"/stripe/webhook/{account.id}"))
        account.action_setup_accounting()
        journal = account.journal_id
        self.assertEqual(journal.type, "bank")
        self.assertNotEqual(journal, self.stripe_journal)
        self.assertEqual(account.fee_account_id.account_type, "expense")
        self.assertTrue(account.dispute_account_id.reconcile)
        self.assertTrue(account.payout_journal_id)
        self.assertNotEqual(account.payout_journal_id, journal)
        # Stripe payments post straight to the journal's own account.
        for payment_type in ("inbound", "outbound"):
            line = journal._stripe_get_payment_method_line(payment_type)
            self.assertEqual(line.payment_account_id, journal.default_account_id)

    def test_test_connection_reads_the_balance(self):
        self.fake.add_charge(10000, "usd", fee=300)
        action = self.stripe_account.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("97.00 USD", action["params"]["message"])

    def test_fetch_missed_events(self):
        """Events the webhook never delivered are fetched, stored once and
        processed; those already received are not stored again."""
        first = self.create_invoice(100.0)
        second = self.create_invoice(60.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": first.name}
        )
        delivered = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        other = self.fake.add_charge(
            6000, "usd", metadata={"odoo_invoice": second.name}
        )
        missed = self.make_event(
            "payment_intent.succeeded",
            self.fake.get(other["payment_intent"]),
            delivered=False,
        )
        self.make_event(
            "customer.source.expiring", self.fake.add_customer()
        )  # not handled
        self.stripe_account.action_fetch_missed_events()
        self.process_events()
        stored = self.env["stripe.event"].search([])
        self.assertEqual(
            sorted(stored.mapped("stripe_id")),
            sorted([delivered.stripe_id, missed["id"]]),
        )
        self.assertEvent(self.get_event(missed["id"]), "done", second.name)
        self.assertInvoice(second, 0.0, "paid")
        requests = self.fake.requests_for("/v1/events")
        self.assertEqual(requests[0].query["limit"], "100")
