"""The screens as a user clicks through them, in a real headless Chromium
(``HttpCase.start_tour``; the tours are in ``static/tests/tours/``)."""

import unittest
from datetime import UTC, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

import odoo.http
from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import API_KEY, PayoutCommon

EVENT_LOGGER = "odoo.addons.stripe_connector.models.core.stripe_event"


@tagged("post_install", "-at_install")
class TestStripeTours(PayoutCommon):
    """Each tour runs as the administrator; the test then checks the records the
    clicks made."""

    def start_tour(self, url_path, tour_name, step_delay=None, **kwargs):
        """Odoo skips a tour when it finds no browser (or no websocket-client): here
        a missing browser fails the test, so that CI cannot pass without running
        the tours."""
        # A busy machine runs a tour slower than Odoo's default 60 s allow.
        kwargs.setdefault("timeout", 300)
        # The browser's first requests read every module's manifest at once, in
        # several server threads; Python 3.11's parser is not safe for that
        # ("AST constructor recursion depth mismatch"): read them here first.
        self.assertTrue(odoo.http.root.statics)
        # Build the web client's bundles before the browser asks for them: on a
        # busy machine, building them within its requests outlasts the 60 s Odoo
        # waits for the page to be ready.
        qweb = self.env["ir.qweb"]
        for bundle_name in ("web.assets_web", "web.assets_tests"):
            bundle = qweb._get_asset_bundle(bundle_name)
            bundle.js()
            if bundle_name == "web.assets_web":
                bundle.css()
        try:
            return super().start_tour(url_path, tour_name, step_delay, **kwargs)
        except unittest.SkipTest as skipped:
            raise self.failureException(
                f"Tour {tour_name} did not run: {skipped}. Install Chromium "
                "(apt-get install chromium) and websocket-client."
            ) from skipped

    def admin_in_test_company(self):
        """The administrator works in the company of the test's Stripe account."""
        self.env.ref("base.user_admin").write(
            {
                "company_ids": [(4, self.company.id)],
                "company_id": self.company.id,
                "groups_id": [
                    (4, self.env.ref("account.group_account_manager").id),
                    (4, self.env.ref("stripe_connector.group_stripe_manager").id),
                ],
            }
        )

    def test_new_account_from_settings(self):
        """In the administrator's own company, as on a new database."""
        # The test fixtures made pricelists while the pricelist feature is off: the
        # settings would open on a warning that they are about to be archived.
        self.env["product.pricelist"].search([]).action_archive()
        self.start_tour("/odoo", "stripe_connector_account_tour", login="admin")
        admin_company = self.env.ref("base.user_admin").company_id
        # sudo: the test's user works in the test company only.
        account = (
            self.env["stripe.account"].sudo().search([("name", "=", "Stripe Tour")])
        )
        self.assertEqual(len(account), 1)
        self.assertEqual(account.company_id, admin_company)
        self.assertEqual(account.journal_id.name, "Stripe Tour")
        self.assertEqual(account.journal_id.type, "bank")
        self.assertEqual(account.fee_account_id.name, "Stripe Fees")
        self.assertTrue(account.dispute_account_id.reconcile)
        self.assertTrue(account.payout_journal_id)
        self.assertTrue(account.webhook_url.endswith(f"/stripe/webhook/{account.id}"))

    def test_failed_event_retried_with_the_invoice_picked(self):
        customer = self.env["res.partner"].create({"name": "Tour Customer"})
        invoice = self.create_invoice(95.0, partner=customer)
        charge = self.fake.add_charge(9500, "usd")
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "failed", "No invoice or order matches")
        self.assertInvoice(invoice, 95.0, "not_paid")
        self.admin_in_test_company()

        self.start_tour(
            "/odoo/action-stripe_connector.stripe_event_action",
            "stripe_connector_event_retry_tour",
            login="admin",
        )
        self.assertEvent(event, "done", invoice.name)
        self.assertEqual(event.invoice_id, invoice)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.journal_balance(), 95.0 - self.fees())

    def test_invoice_sent_with_its_payment_link(self):
        """The accountant sends an invoice: the e-mail holds Pay with Stripe; the
        customer's portal page shows it too."""
        customer = self.env["res.partner"].create(
            {"name": "Tour Customer", "email": "tour.customer@example.com"}
        )
        invoice = self.create_invoice(130.0, partner=customer)
        # The document layout is chosen: Send opens the sending wizard at once.
        self.company.external_report_layout_id = self.env.ref(
            "web.external_layout_standard"
        )
        self.admin_in_test_company()
        self.start_tour(
            f"/odoo/action-account.action_move_out_invoice_type/{invoice.id}",
            "stripe_connector_payment_link_send_tour",
            login="admin",
        )
        invoice.invalidate_recordset()
        sent = invoice.message_ids.filtered(
            lambda message: customer in message.partner_ids
        )
        self.assertTrue(sent, "the invoice was sent to the customer")
        self.assertIn("Pay with Stripe", sent[0].body)
        self.assertIn(invoice.stripe_payment_url, sent[0].body)
        self.start_tour(
            invoice.get_portal_url(), "stripe_connector_payment_link_portal_tour"
        )

    def test_payout_reconciled_from_its_form(self):
        self.stripe_account.write({"payout_auto_reconcile": False, "api_key": False})
        invoice, _charge = self.pay_invoice(200.0)  # its fee booked by the payout
        self.stripe_account.api_key = API_KEY
        payout = self.fake.add_payout()
        line = self.add_statement_line(payout["amount"] / 100, self.arrival(payout))
        event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "click Reconcile")
        record = self.get_payout(payout)
        self.assertPayout(record, "to_reconcile")
        self.admin_in_test_company()

        self.start_tour(
            "/odoo/action-stripe_connector.stripe_payout_action",
            "stripe_connector_payout_reconcile_tour",
            login="admin",
        )
        self.assertPayout(record, "reconciled")
        self.assertEqual(record.bank_state, "matched")
        self.assertEqual(record.statement_line_id, line)
        self.assertTrue(line.is_reconciled)
        self.assertAlmostEqual(self.account_balance(self.fee_account), self.fees())
        self.assertAlmostEqual(self.journal_balance(), 0.0)
        self.assertStripeMirrored()
        self.assertInvoice(invoice, 0.0, "paid")

    def test_failed_event_solved_with_the_suggested_invoice(self):
        self.admin_in_test_company()
        partner = self.env["res.partner"].create(
            {"name": "Tour Customer", "stripe_customer_id": "cus_tour"}
        )
        invoice = self.create_invoice(147.0, partner=partner)
        self.create_invoice(147.0, partner=self.customer_b)
        self.create_invoice(20.0, partner=partner)
        paid = self.create_invoice(147.0, partner=partner, ref="TOURPAID")
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=paid.ids
        ).create({})._create_payments()
        charge = self.fake.add_charge(14700, "usd", customer="cus_tour")
        # The customer is not known to Odoo yet by this id when the event fails:
        # the suggestion comes from the amount and the customer's id.
        partner.stripe_customer_id = False
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "failed")
        partner.stripe_customer_id = "cus_tour"
        self.start_tour(
            f"/odoo/stripe-events/{event.id}",
            "stripe_connector_event_solve",
            login="admin",
        )
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")

    def test_keyless_payout_reconciled_by_picking_payments(self):
        self.admin_in_test_company()
        self.stripe_account.write({"api_key": False, "payout_auto_reconcile": False})
        self.pay_invoice(100.0)
        self.pay_invoice(60.0)
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "to_reconcile")
        self.start_tour(
            f"/odoo/stripe-payouts/{record.id}",
            "stripe_connector_payout_keyless",
            login="admin",
        )
        self.assertPayout(record, "reconciled")
        self.assertStripeMirrored()

    def test_account_created_from_settings(self):
        """An account created from Settings, in the administrator's own company
        (no test fixtures in its settings)."""
        self.env["product.pricelist"].search([]).action_archive()
        self.start_tour(
            "/odoo/action-account.action_account_config",
            "stripe_connector_account_setup",
            login="admin",
        )
        # sudo: the test's user works in the test company only.
        account = (
            self.env["stripe.account"].sudo().search([("name", "=", "Stripe Tour")])
        )
        self.assertEqual(len(account), 1)
        self.assertTrue(account.journal_id and account.fee_account_id)
        self.assertTrue(account.payout_journal_id)
        self.assertEqual(account.sudo().webhook_secret, "whsec_tour")

    @mute_logger(EVENT_LOGGER)
    def test_overview_clicks_through_to_the_failed_events(self):
        """The accountant opens the overview, sees the account's failed event and
        the balance check, and clicks through to the failed events only."""
        invoice = self.create_invoice(100.0)
        paid = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        done = self.deliver(
            "payment_intent.succeeded", self.fake.get(paid["payment_intent"])
        )
        unmatched = self.fake.add_charge(4321, "usd")
        failed = self.deliver(
            "payment_intent.succeeded", self.fake.get(unmatched["payment_intent"])
        )
        self.assertEvent(done, "done")
        self.assertEvent(failed, "failed")
        self.stripe_account.action_check_balance()
        self.assertEqual(self.stripe_account.balance_check_state, "difference")
        self.start_tour(
            "/odoo/stripe-overview", "stripe_overview_tour", login=self.env.user.login
        )

    def test_month_tied_out_booked_and_closed(self):
        """Month-end: the charge Stripe has and Odoo not is booked from the
        tie-out's differences, the month ties and is closed; the Stripe
        journal is locked up to its last day."""
        self.admin_in_test_company()
        today = fields.Date.today()
        month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        created = int(datetime(month.year, month.month, 4, 12, tzinfo=UTC).timestamp())
        charge = self.fake.add_charge(4200, "usd", fee=0, created=created)
        tieout = self.env["stripe.tieout"]._stripe_prepare(self.stripe_account, month)
        tieout.action_compute()
        self.assertEqual(tieout.state, "differs")
        self.start_tour(
            "/odoo/action-stripe_connector.stripe_tieout_action",
            "stripe_connector_tieout_tour",
            login="admin",
        )
        tieout.invalidate_recordset()
        self.assertEqual(tieout.state, "closed")
        self.assertEqual(self.stripe_journal.stripe_lock_date, tieout.date_to)
        self.assertTrue(
            self.env["account.payment"].search(
                [("stripe_charge_id", "=", charge["id"])]
            )
        )

    def test_mrr_report_opens_on_months_by_movements(self):
        """A customer paying $49 a month for three months: the report opens on
        its graph stacked by movement, the pivot on months by movements, and no
        total reads 147 (three months' levels added)."""
        self.admin_in_test_company()
        product = self.fake.add_product("Tour plan")
        price = self.fake.add_price(product, 4900)
        customer = self.fake.add_customer(email=self.customer.email, name="Tour")
        self.customer.stripe_customer_id = customer["id"]
        start = fields.Date.today().replace(day=1) - relativedelta(months=2)
        created = int(
            datetime.combine(start.replace(day=5), time(12), tzinfo=UTC).timestamp()
        )
        subscription = self.fake.add_subscription(
            customer["id"], [(price, 1)], created=created
        )
        self.deliver("customer.subscription.created", subscription, created=created)
        report = self.env["stripe.mrr.report"].search(
            [("account_id", "=", self.stripe_account.id)]
        )
        self.assertEqual(sorted(report.mapped("mrr")), [49.0, 49.0, 49.0])
        self.start_tour(
            "/odoo/action-stripe_connector.stripe_mrr_report_action",
            "stripe_mrr_report_tour",
            login="admin",
        )

    def test_french_accountant_reads_the_event_in_french(self):
        """The account's responsible user reads French: the event processed (by
        the cron, in English) is titled and explained in French on screen."""
        french = self.activate_french()
        self.admin_in_test_company()
        admin = self.env.ref("base.user_admin")
        admin.lang = "fr_FR"
        self.stripe_account.user_id = admin
        charge = self.fake.add_charge(9500, "usd", customer="cus_french")
        with mute_logger(EVENT_LOGGER):
            event = self.deliver(
                "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
            )
        self.assertEqual(event.state, "failed")
        self.assertIn(
            french["No invoice or order matches this payment. Tried: %s."].split("%s")[
                0
            ],
            event.state_message,
        )
        self.start_tour(
            "/odoo/action-stripe_connector.stripe_event_action",
            "stripe_event_french_tour",
            login="admin",
        )
