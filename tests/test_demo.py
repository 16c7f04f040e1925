"""The demo data (``models/demo``), built through the webhook intake and the
handlers: what a newcomer sees on each screen of a demo database."""

from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestDemo(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The demo account: test mode, no secret key.
        cls.demo_account = cls.env["stripe.account"].create(
            {
                "name": "Stripe (demo)",
                "company_id": cls.company.id,
                "webhook_secret": "whsec_demo",
                "payout_journal_id": cls.company_data["default_journal_bank"].id,
                # Someone else than whoever processes the events.
                "user_id": cls.env["res.users"]
                .create({"name": "Sales Rep", "login": "demo_sales_rep"})
                .id,
            }
        )
        cls.demo_account.action_setup_accounting()

    def test_demo_failed_payment_is_failed(self):
        """The demo's payment no invoice matches is *failed* with the reason to
        pick the invoice (README: "a failed payment"), not left waiting; the
        stray refund waits for its payment."""
        self.env["stripe.account"]._stripe_load_demo(self.demo_account.id)
        events = self.env["stripe.event"].search(
            [("account_id", "=", self.demo_account.id)]
        )
        failed = events.filtered(lambda e: e.state == "failed")
        self.assertEqual(failed.mapped("type"), ["payment_intent.succeeded"])
        self.assertIn("Pick the invoice or order on this event", failed.state_message)
        waiting = events.filtered(lambda e: e.state == "waiting")
        self.assertEqual(waiting.mapped("type"), ["refund.created"])

    def test_demo_billing_history(self):
        """Six months of Stripe Billing: subscriptions (an upgrade, a downgrade,
        a churn, a trial), their invoices mirrored and paid, and the MRR report
        showing every movement."""
        self.env["stripe.account"]._stripe_load_demo_billing(self.demo_account.id)
        events = self.env["stripe.event"].search(
            [("account_id", "=", self.demo_account.id)]
        )
        self.assertEqual(set(events.mapped("state")), {"done"})
        subscriptions = self.env["stripe.subscription"].search(
            [("account_id", "=", self.demo_account.id)]
        )
        self.assertEqual(
            sorted(subscriptions.mapped("status")),
            ["active", "active", "active", "canceled", "trialing"],
        )
        self.assertIn("Northwind Apps", subscriptions.partner_id.mapped("name"))
        rows = self.env["stripe.mrr.report"].search(
            [("account_id", "=", self.demo_account.id)]
        )
        self.assertLessEqual(
            {"new", "expansion", "contraction", "churn"}, set(rows.mapped("movement"))
        )
        self.assertEqual(len(set(rows.mapped("date"))), 7)
        this_month = max(rows.mapped("date"))
        self.assertAlmostEqual(
            sum(rows.filtered(lambda r: r.date == this_month).mapped("mrr")), 297.0
        )
        invoices = self.env["account.move"].search(
            [("stripe_invoice_id", "!=", False), ("company_id", "=", self.company.id)]
        )
        self.assertEqual(len(invoices), 20)
        self.assertEqual(set(invoices.mapped("payment_state")), {"paid"})
        self.assertEqual(
            len(set(invoices.mapped("invoice_date"))), 7, "dated over seven months"
        )
        # A mirrored invoice: its salesperson is the account's responsible, its
        # Stripe number and id link to Stripe, its subscription is linked.
        invoice = invoices.sorted("id")[0]
        self.assertEqual(invoice.invoice_user_id, self.demo_account.user_id)
        self.assertEqual(invoice.stripe_mirrored_subscription_id.status, "active")
        self.assertEqual(
            invoice.stripe_mirrored_subscription_id.partner_id, invoice.partner_id
        )
        url = f"https://dashboard.stripe.com/test/invoices/{invoice.stripe_invoice_id}"
        self.assertIn(f'<a href="{url}"', invoice.stripe_document_link)
        self.assertIn(f">{invoice.ref}</a>", invoice.stripe_document_link)
        self.assertIn(f">{invoice.stripe_invoice_id}</a>", invoice.stripe_document_link)
