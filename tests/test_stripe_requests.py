"""Every request the module sends to Stripe is one Stripe accepts.

Each call site of the Stripe API (every button, cron and event handler that
reads or writes Stripe, listed in the README, *Tests*) is driven here as a user
or Stripe drives it, and every request that reaches the fake Stripe is checked
against what the installed ``stripe`` SDK declares for that operation at the
API version it pins (``tests/stripe_spec.py``): the path is an operation's,
every parameter at every depth is declared, every ``expand`` path ends on an
expandable field. A parameter or path Stripe would refuse fails here, not in a
customer's cron.
"""

import ast
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from . import stripe_spec
from .common import API_KEY, PayoutCommon
from .subscription_common import SubscriptionCommon

EVENT_LOGGER = "odoo.addons.stripe_connector.models.core.stripe_event"

#: Every function of the module that calls Stripe (through ``_stripe_call``,
#: ``_stripe_read``, ``_stripe_pages`` or ``_stripe_list_all``) -> the call site
#: (README, *Tests*) that drives it below.
CALL_SITES = {
    ("models/core/stripe_account.py", "action_test_connection"): "Test Connection",
    ("models/core/stripe_account.py", "action_create_webhook"): "Create Webhook",
    ("models/core/stripe_account.py", "action_update_webhook"): "Update Webhook",
    ("models/core/stripe_account.py", "_stripe_get_webhook_endpoint"): (
        "Webhook check"
    ),
    ("models/core/stripe_account.py", "_stripe_fetch_missed_events"): (
        "Fetch Missed Events"
    ),
    ("models/monitoring/stripe_balance_check.py", "_stripe_compare"): ("Check Balance"),
    ("models/monitoring/stripe_balance_check.py", "_stripe_unbooked_transactions"): (
        "Check Balance"
    ),
    ("models/payments/stripe_payment_rules.py", "_stripe_complete_facts"): (
        "payment_intent.succeeded: the charge"
    ),
    ("models/payments/stripe_event.py", "_stripe_process_checkout_intent"): (
        "payment_intent.succeeded naming nothing: its Checkout Session"
    ),
    ("models/payments/stripe_payment_rules.py", "_stripe_add_session_intent"): (
        "checkout.session.completed: its PaymentIntent"
    ),
    ("models/payments/res_partner.py", "_stripe_fetch_customer"): (
        "invoice.finalized: lines, tax rates, customer"
    ),
    ("models/payment_links/stripe_account.py", "_stripe_create_checkout_session"): (
        "Payment link opened: its customer and Checkout Session"
    ),
    ("models/payment_links/stripe_account.py", "_stripe_create_customer"): (
        "Payment link opened: its customer and Checkout Session"
    ),
    ("models/payment_links/stripe_account.py", "_stripe_get_checkout_session"): (
        "Payment link opened again: its open session"
    ),
    ("models/payment_links/stripe_account.py", "_stripe_expire_checkout_session"): (
        "Payment link opened again: its open session"
    ),
    ("models/refunds/stripe_event.py", "_stripe_refund_balance_transaction"): (
        "refund.*: its balance transaction"
    ),
    ("models/refunds/stripe_event.py", "_stripe_list_refunds"): (
        "charge.refunded: the charge's refunds"
    ),
    ("models/refunds/stripe_event.py", "_stripe_check_payment_is_coming"): (
        "refund.* of an unknown payment: its charge"
    ),
    ("models/billing/stripe_account.py", "_stripe_invoice_lines"): (
        "invoice.finalized: lines, tax rates, customer"
    ),
    ("models/billing/stripe_account.py", "_stripe_fetch_tax_rate"): (
        "invoice.finalized: lines, tax rates, customer"
    ),
    ("models/billing/stripe_event.py", "_stripe_billing_settle"): (
        "invoice.paid: its payments and their PaymentIntents"
    ),
    ("models/billing/stripe_event.py", "_stripe_billing_pay"): (
        "invoice.paid: its payments and their PaymentIntents"
    ),
    ("models/billing/account_move.py", "_stripe_mirror_credit_note"): (
        "credit_note.created: its lines"
    ),
    ("models/billing/stripe_event.py", "_stripe_prebook_plan"): (
        "a batch of paid invoices: their payments and PaymentIntents"
    ),
    ("models/billing/stripe_account.py", "_stripe_billing_read_invoice"): (
        "invoice_payment.paid before the invoice: the invoice"
    ),
    ("models/billing/stripe_event.py", "_stripe_create_credit_note"): (
        "refund of a mirrored invoice: its credit notes"
    ),
    ("models/billing/stripe_account.py", "_stripe_billing_invoice_of"): (
        "a renewal's PaymentIntent first: its invoice payments"
    ),
    ("models/billing/stripe_billing_import.py", "action_start"): (
        "Import Stripe Invoices"
    ),
    ("models/billing/stripe_billing_import.py", "_import_invoice"): (
        "Billing import cron"
    ),
    ("models/payouts/stripe_payout.py", "_stripe_import_transactions"): (
        "payout.paid: its transactions; a charge no webhook brought"
    ),
    ("models/payouts/stripe_balance_transaction.py", "_stripe_payment_intent"): (
        "payout.paid: its transactions; a charge no webhook brought"
    ),
    ("models/payouts/stripe_balance_transaction.py", "_stripe_source"): (
        "Reconcile after Undo: the charge"
    ),
    ("models/payouts/stripe_payout.py", "_stripe_import"): "Import Payouts",
    ("models/payouts/stripe_payout.py", "_stripe_import_recent_transactions"): (
        "Import Transactions (manual payout)"
    ),
    ("models/subscriptions/stripe_subscription.py", "_stripe_expand_discounts"): (
        "customer.subscription.*: discounts and tiers"
    ),
    ("models/subscriptions/stripe_subscription.py", "_stripe_expand_tiers"): (
        "customer.subscription.*: discounts and tiers"
    ),
    ("models/subscriptions/stripe_subscription.py", "_stripe_import"): (
        "Import Subscriptions"
    ),
    ("models/subscriptions/stripe_subscription.py", "_stripe_import_one"): (
        "Import Subscriptions"
    ),
    ("models/month_end/stripe_account.py", "_stripe_report_availability"): (
        "Month-end tie-out"
    ),
    ("models/month_end/stripe_account.py", "_stripe_report_lines"): (
        "Month-end tie-out"
    ),
    ("models/month_end/stripe_tieout_item.py", "_stripe_import_transaction"): (
        "Tie-out: book a missing transaction"
    ),
}
#: The gateway itself: every request goes through these.
GATEWAY = (
    "_stripe_call",
    "_stripe_call_with",
    "_stripe_read",
    "_stripe_pages",
    "_stripe_list_all",
    "_stripe_file_lines",
)
MODULE_DIR = Path(__file__).resolve().parent.parent


@tagged("post_install", "-at_install")
class TestStripeRequests(SubscriptionCommon, PayoutCommon):
    """Each test drives call sites and names the SDK operations (service
    method of ``stripe-python``) they must have sent; every request the fake
    received must be valid for Stripe."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tax_group = cls.env["account.tax.group"].create(
            {"name": "VAT", "company_id": cls.company.id}
        )
        cls.vat19 = cls.env["account.tax"].create(
            {
                "name": "VAT 19%",
                "amount": 19.0,
                "type_tax_use": "sale",
                "company_id": cls.company.id,
                "tax_group_id": tax_group.id,
            }
        )

    def setUp(self):
        super().setUp()
        self.stripe_customer = self.fake.add_customer(
            email="finance@acme.example", name="ACME Corp"
        )
        self.rate19 = self.fake.add_tax_rate(19)

    # === HELPERS === #

    def renewal(self, n_lines=1, **kwargs):
        """A finalized Stripe invoice of ``n_lines`` lines at 19 % VAT."""
        return self.fake.add_invoice(
            self.stripe_customer,
            [
                {
                    "amount": 4900 + i,
                    "tax_rate": self.rate19,
                    "description": f"Seat {i}",
                }
                for i in range(n_lines)
            ],
            default_tax_rates=kwargs.pop("default_tax_rates", [self.rate19]),
            **kwargs,
        )

    @contextlib.contextmanager
    def call_site(self, name, *expected_requests):
        """Drive the call site ``name`` (a README entry) in the block: it must
        send each of ``expected_requests`` (``"GET /v1/refunds?charge"``: the SDK's path
        template of the operation, and parameters the request carries), and
        every request the block sends must be valid for Stripe."""
        start = len(self.fake.requests)
        yield
        sent = self.fake.requests[start:]
        problems = [
            problem
            for request in sent
            for problem in stripe_spec.request_problems(
                request.method, request.path, request.query
            )
        ]
        self.assertFalse(problems, f"{name}:\n" + "\n".join(problems))
        signatures = []
        for request in sent:
            operation = stripe_spec.find_operation(request.method, request.path)
            signatures.append(
                (f"{operation.method} {operation.template}", set(request.query))
            )
        for expected in expected_requests:
            operation, _sep, params = expected.partition("?")
            wanted = set(filter(None, params.split("&")))
            self.assertTrue(
                any(op == operation and wanted <= keys for op, keys in signatures),
                f"{name}: no request {expected}; sent: {signatures}",
            )

    # === THE CHECKER AND THE FAKE === #

    def test_the_checker_refuses_what_stripe_refuses(self):
        """The declarations come from the SDK: a misspelt parameter, a nested
        one, a value outside an enumeration, a field that does not expand, a
        list expanded without ``data.``, a path no operation serves."""
        problems = stripe_spec.request_problems
        self.assertEqual(
            problems(
                "GET",
                "/v1/balance_transactions",
                {"payout": "po_1", "limit": "100", "expand": ["data.source"]},
            ),
            [],
        )
        self.assertEqual(
            problems(
                "GET",
                "/v1/subscriptions/sub_1",
                {"expand": ["discounts.source.coupon"]},
            ),
            [],
        )
        for method, path, query, expected in (
            ("GET", "/v1/balance_transactions", {"payot": "po_1"}, "payot"),
            (
                "GET",
                "/v1/invoice_payments",
                {"payment": {"payment_intnt": "pi_1"}},
                "payment[payment_intnt]",
            ),
            ("GET", "/v1/charges", {"created": {"since": "1"}}, "created[since]"),
            (
                "POST",
                "/v1/webhook_endpoints",
                {"url": "https://x", "enabled_events": ["invoice.pad"]},
                "enabled_events='invoice.pad'",
            ),
            ("GET", "/v1/charges/ch_1", {"expand": ["amount"]}, "'amount'"),
            ("GET", "/v1/charges", {"expand": ["customer"]}, "data.<field>"),
            (
                "GET",
                "/v1/payment_intents/pi_1",
                {"expand": ["latest_charge.nope"]},
                "latest_charge.nope",
            ),
            ("GET", "/v1/invoice/in_1", {}, "no operation"),
        ):
            with self.subTest(path=path, query=query):
                found = problems(method, path, query)
                self.assertEqual(len(found), 1, found)
                self.assertIn(expected, found[0])

    def test_the_fake_refuses_unknown_paths_and_parameters(self):
        """As Stripe does: 404 for a path it does not serve, 400
        ``parameter_unknown`` for a parameter it does not know."""
        response = requests.get(
            self.fake.api_base + "/v1/invoice/in_1",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        )
        self.assertEqual(response.status_code, 404)
        self.assertIn("Unrecognized request URL", response.json()["error"]["message"])
        with self.assertRaisesRegex(UserError, "unknown parameter: payot"):
            self.stripe_account._stripe_call(
                "test", "balance_transactions", "list", params={"payot": "po_1"}
            )

    # === CALL SITES === #
    # One block per call site of the README's list (*Tests*): what drives it,
    # and the request it sends.

    def test_account_buttons_and_crons(self):
        account = self.stripe_account
        account.webhook_secret = False
        with self.call_site("Create Webhook", "POST /v1/webhook_endpoints"):
            account.action_create_webhook()
        account.invalidate_recordset()
        endpoint = self.fake.get(account.stripe_webhook_endpoint_id)
        endpoint["enabled_events"] = ["payment_intent.succeeded"]
        with self.call_site(
            "Webhook check", "GET /v1/webhook_endpoints/{webhook_endpoint}"
        ):
            self.assertTrue(account.webhook_missing_events)
        with self.call_site(
            "Update Webhook", "POST /v1/webhook_endpoints/{webhook_endpoint}"
        ):
            account.action_update_webhook()
        with self.call_site("Test Connection", "GET /v1/balance"):
            account.action_test_connection()
        with self.call_site("Fetch Missed Events", "GET /v1/events?types&created"):
            account.action_fetch_missed_events()
        with self.call_site("Catch-up cron", "GET /v1/events"):
            self.env.ref(
                "stripe_connector.ir_cron_stripe_fetch_missed_events"
            ).method_direct_trigger()
        self.fake.add_charge(5000, "usd")  # not booked in Odoo: a difference
        with self.call_site(
            "Check Balance",
            "GET /v1/balance",
            "GET /v1/balance_transactions?created&currency&expand",
        ):
            account.action_check_balance()
        with self.call_site(
            "Balance check cron",
            "GET /v1/balance",
            "GET /v1/balance_transactions?created&currency&expand",
        ):
            self.env.ref(
                "stripe_connector.ir_cron_stripe_check_balances"
            ).method_direct_trigger()

    def test_payment_handlers(self):
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        with self.call_site(
            "payment_intent.succeeded: the charge",
            "GET /v1/charges/{charge}?expand",
        ):
            event = self.deliver(
                "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
            )
        self.assertEvent(event, "done")
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(10000, "usd")
        self.fake.add_checkout_session(charge, client_reference_id=invoice.name)
        with self.call_site(
            "payment_intent.succeeded naming nothing: its Checkout Session",
            "GET /v1/checkout/sessions?payment_intent",
        ):
            event = self.deliver(
                "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
            )
        self.assertEvent(event, "done")
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(10000, "usd")
        session = self.fake.add_checkout_session(
            charge, client_reference_id=invoice.name
        )
        with self.call_site(
            "checkout.session.completed: its PaymentIntent",
            "GET /v1/payment_intents/{intent}?expand",
        ):
            event = self.deliver("checkout.session.completed", session)
        self.assertEvent(event, "done")

    def test_payment_link(self):
        self.stripe_account.write(
            {
                "payment_link_customer_balance": True,
                "payment_link_us_bank_account": True,
            }
        )
        invoice = self.create_invoice(100.0)
        path = urlsplit(invoice.stripe_payment_url).path
        self.authenticate(None, None)
        with self.call_site(
            "Payment link opened: its customer and Checkout Session",
            "POST /v1/customers?name&email&metadata",
            "POST /v1/checkout/sessions?mode&line_items&customer&metadata"
            "&payment_intent_data&allowed_payment_method_types"
            "&payment_method_options&success_url&cancel_url",
        ):
            response = self.url_open(path, allow_redirects=False)
        self.assertEqual(response.status_code, 303, response.text)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": 30.0})._create_payments()
        with self.call_site(
            "Payment link opened again: its open session",
            "GET /v1/checkout/sessions/{session}",
            "POST /v1/checkout/sessions/{session}/expire",
            "POST /v1/checkout/sessions?line_items",
        ):
            response = self.url_open(path, allow_redirects=False)
        self.assertEqual(response.status_code, 303, response.text)

    def test_refund_handlers(self):
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        refund = self.fake.add_refund(charge["id"], 4000)
        with self.call_site(
            "refund.*: its balance transaction",
            "GET /v1/balance_transactions/{id}",
        ):
            event = self.deliver("refund.created", refund)
        self.assertEvent(event, "done")
        self.fake.add_refund(charge["id"], 1000)
        with self.call_site(
            "charge.refunded: the charge's refunds", "GET /v1/refunds?charge"
        ):
            event = self.deliver("charge.refunded", self.fake.get(charge["id"]))
        self.assertEvent(event, "done")
        old_charge = self.fake.add_charge(10000, "usd", created=1600000000)
        refund = self.fake.add_refund(old_charge["id"], 10000)
        with (
            self.call_site(
                "refund.* of an unknown payment: its charge",
                "GET /v1/charges/{charge}",
            ),
            mute_logger(EVENT_LOGGER),
        ):
            event = self.deliver("refund.created", refund)
        self.assertEvent(event, "failed", "before Odoo was connected")

    def test_billing_handlers(self):
        stripe_invoice = self.renewal(105, default_tax_rates=[])
        with self.call_site(
            "invoice.finalized: lines, tax rates, customer",
            "GET /v1/invoices/{invoice}/lines?limit",
            "GET /v1/tax_rates/{tax_rate}",
            "GET /v1/customers/{customer}?expand",
        ):
            event = self.deliver("invoice.finalized", stripe_invoice)
        self.assertEvent(event, "done")
        paid = self.renewal()
        paid, _intent, _invoice_payment = self.fake.pay_invoice(paid["id"])
        with self.call_site(
            "invoice.paid: its payments and their PaymentIntents",
            "GET /v1/invoice_payments?invoice",
            "GET /v1/payment_intents/{intent}",
        ):
            event = self.deliver("invoice.paid", paid)
        self.assertEvent(event, "done")
        batch = []
        for _i in range(2):
            renewal = self.renewal()
            renewal, _intent, _invoice_payment = self.fake.pay_invoice(renewal["id"])
            batch.append(self.deliver("invoice.paid", renewal, process=False))
        with self.call_site(
            "a batch of paid invoices: their payments and PaymentIntents",
            "GET /v1/invoice_payments?invoice",
            "GET /v1/payment_intents/{intent}?expand",
        ):
            self.process_events()
        for event in batch:
            self.assertEvent(event, "done", "Stripe fee booked")
        line_ids = [
            line["id"]
            for line in self.fake.objects("line_item")
            if line["invoice"] == stripe_invoice["id"]
        ][:12]
        credit_note, _refund = self.fake.add_credit_note(
            stripe_invoice["id"], [(line_id, 100) for line_id in line_ids]
        )
        with self.call_site(
            "credit_note.created: its lines",
            "GET /v1/credit_notes/{credit_note}/lines?limit",
        ):
            event = self.deliver("credit_note.created", credit_note)
        self.assertEvent(event, "done")
        other = self.renewal()
        other, intent, invoice_payment = self.fake.pay_invoice(other["id"])
        with self.call_site(
            "invoice_payment.paid before the invoice: the invoice",
            "GET /v1/invoices/{invoice}",
        ):
            event = self.deliver("invoice_payment.paid", invoice_payment)
        self.assertEvent(event, "done")
        self.deliver("payment_intent.succeeded", intent)
        line_id = other["lines"]["data"][0]["id"]
        _credit_note, refund = self.fake.add_credit_note(
            other["id"], [(line_id, 1000)], refund=True
        )
        with self.call_site(
            "refund of a mirrored invoice: its credit notes",
            "GET /v1/credit_notes?invoice",
        ):
            self.deliver("refund.created", refund)
        third = self.renewal()
        third, intent, _invoice_payment = self.fake.pay_invoice(third["id"])
        with self.call_site(
            "a renewal's PaymentIntent first: its invoice payments",
            "GET /v1/invoice_payments?payment",
        ):
            event = self.deliver("payment_intent.succeeded", intent)
        self.assertEvent(event, "done")

    def test_billing_import_button_and_cron(self):
        paid = self.renewal()
        paid, _intent, _ip = self.fake.pay_invoice(paid["id"])
        line_id = paid["lines"]["data"][0]["id"]
        self.fake.add_credit_note(paid["id"], [(line_id, 1000)], refund=True)
        job = self.env["stripe.billing.import"].create(
            {"account_id": self.stripe_account.id}
        )
        with self.call_site("Import Stripe Invoices", "GET /v1/invoices?created"):
            job.action_start()
        with self.call_site(
            "Billing import cron",
            "GET /v1/credit_notes?invoice",
            "GET /v1/refunds/{refund}",
        ):
            self.env.ref(
                "stripe_connector.ir_cron_stripe_billing_import"
            ).method_direct_trigger()
        job.invalidate_recordset()
        self.assertEqual(job.state, "done", job.log)

    def test_payout_buttons_cron_and_handler(self):
        missed = self.create_invoice(60.0)
        self.fake.add_charge(6000, "usd", metadata={"odoo_invoice": missed.name})
        payout = self.fake.add_payout()
        with self.call_site(
            "payout.paid: its transactions; a charge no webhook brought",
            "GET /v1/balance_transactions?payout&expand",
            "GET /v1/payment_intents/{intent}",
        ):
            event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done")
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        record.action_undo()
        with self.call_site(
            "Reconcile after Undo: the charge", "GET /v1/charges/{charge}"
        ):
            self.reconcile_with_wizard(record)
        self.pay_invoice(100.0)
        self.fake.add_payout()
        with self.call_site("Import Payouts", "GET /v1/payouts?arrival_date"):
            self.env["stripe.payout.import"].create(
                {
                    "account_id": self.stripe_account.id,
                    "date_from": fields.Date.today() - timedelta(days=3),
                    "date_to": fields.Date.today() + timedelta(days=3),
                }
            ).action_import()
        with self.call_site("Payout backfill cron", "GET /v1/payouts?arrival_date"):
            self.env.ref(
                "stripe_connector.ir_cron_stripe_payout_backfill"
            ).method_direct_trigger()
        self.pay_invoice(50.0)
        manual = self.fake.add_payout(automatic=False)
        self.deliver("payout.paid", manual)
        with self.call_site(
            "Import Transactions (manual payout)",
            "GET /v1/balance_transactions?created&currency&expand",
        ):
            self.open_wizard(self.get_payout(manual)).action_import_transactions()

    def test_subscription_handlers_and_import(self):
        _partner, customer = self.customer_partner()
        tiered = self.fake.add_price(
            self.product,
            None,
            tiers=[
                {"up_to": 5, "unit_amount": 700, "flat_amount": 1000},
                {"up_to": None, "unit_amount": 600, "flat_amount": 0},
            ],
            tiers_mode="graduated",
        )
        sub = self.fake.add_subscription(
            customer, [(self.monthly_big, 1), (tiered, 7)], created=self.at(0, 10)
        )
        coupon = self.fake.add_coupon(
            percent_off=20, duration="repeating", duration_in_months=3
        )
        self.fake.add_subscription_discount(sub["id"], coupon, start=self.at(0, 10))
        with self.call_site(
            "customer.subscription.*: discounts and tiers",
            "GET /v1/subscriptions/{subscription_exposed_id}?expand",
            "GET /v1/prices/{price}?expand",
        ):
            event = self.send("customer.subscription.created", sub, self.at(0, 10))
        self.assertEvent(event, "done")
        with self.call_site(
            "Import Subscriptions",
            "GET /v1/subscriptions?status&expand",
            "GET /v1/invoices?subscription",
        ):
            self.stripe_account.action_import_subscriptions()

    def test_month_end_tieout_and_go_live(self):
        today = fields.Date.today()
        month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        created = int(datetime(month.year, month.month, 3, 12, tzinfo=UTC).timestamp())
        charge = self.fake.add_charge(1500, "usd", created=created)
        tieout = self.env["stripe.tieout"]._stripe_prepare(self.stripe_account, month)
        with self.call_site(
            "Month-end tie-out",
            "GET /v1/reporting/report_types/{report_type}",
            "POST /v1/reporting/report_runs?report_type&parameters",
            "GET /v1/reporting/report_runs/{report_run}",
            "GET /v1/files/{file}/contents",
        ):
            tieout.action_compute()
        item = tieout.item_ids.filtered(lambda i: i.kind == "missing_in_odoo")
        self.assertEqual(item.stripe_source_id, charge["id"])
        with self.call_site(
            "Tie-out: book a missing transaction",
            "GET /v1/balance_transactions/{id}?expand",
        ):
            item.action_book()
        wizard = (
            self.env["stripe.go.live"]
            .with_context(default_account_id=self.stripe_account.id)
            .create({"date": month + timedelta(days=10)})
        )
        with self.call_site(
            "Start with Stripe on a Date",
            "POST /v1/reporting/report_runs?report_type&parameters",
        ):
            wizard.action_confirm()

    # === THE LIST OF CALL SITES === #

    def test_every_call_site_is_listed_driven_and_documented(self):
        """Every function of the module that calls the gateway is in
        ``CALL_SITES``; each call site is driven by a ``call_site`` block of
        this class and named in the README: a new call site fails here until
        it is driven."""
        found = set()
        for folder in ("models", "wizard", "controllers"):
            for path in sorted((MODULE_DIR / folder).rglob("*.py")):
                tree = ast.parse(path.read_text(encoding="utf-8"))
                for function in ast.walk(tree):
                    if not isinstance(function, ast.FunctionDef) or (
                        function.name in GATEWAY
                    ):
                        continue
                    if any(
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr in GATEWAY
                        for node in ast.walk(function)
                    ):
                        found.add((str(path.relative_to(MODULE_DIR)), function.name))
        self.assertEqual(found, set(CALL_SITES))
        driven = {
            node.items[0].context_expr.args[0].value
            for node in ast.walk(ast.parse(Path(__file__).read_text(encoding="utf-8")))
            if isinstance(node, ast.With)
            and isinstance(node.items[0].context_expr, ast.Call)
            and getattr(node.items[0].context_expr.func, "attr", None) == "call_site"
        }
        readme = (
            (MODULE_DIR / "README.rst").read_text(encoding="utf-8").replace("\\", "")
        )
        for name in sorted(set(CALL_SITES.values()) | driven):
            with self.subTest(call_site=name):
                self.assertIn(name, driven)
                self.assertIn(name, readme)
