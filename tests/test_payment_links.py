"""Payment links: an invoice's stable link opens a Stripe Checkout Session for
what is due, and the payment comes back through the webhooks (at once for a
card, days later for a debit)."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import PayoutCommon

CONTROLLER_LOGGER = "odoo.addons.stripe_connector.controllers.payment_link"


@tagged("post_install", "-at_install")
class TestPaymentLinks(PayoutCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stripe_account.payment_link_enabled = True
        cls.salesperson = cls.env["res.users"].create(
            {
                "name": "Sally Sales",
                "login": "sally.payment.links",
                "email": "sally@example.com",
                "company_id": cls.company.id,
                "company_ids": [(6, 0, cls.company.ids)],
                "groups_id": [
                    (6, 0, [cls.env.ref("account.group_account_invoice").id])
                ],
            }
        )

    # === HELPERS === #

    def open_link(self, invoice, token=None):
        """Open the invoice's link as the customer's browser does (not logged
        in); the redirect is not followed."""
        invoice.invalidate_recordset()
        path = urlsplit(invoice.stripe_payment_url).path
        if token is not None:
            path = f"/stripe/pay/{invoice.id}/{token}"
        self.authenticate(None, None)
        return self.url_open(path, allow_redirects=False)

    def open_session(self, invoice):
        """Open the link: the Checkout Session it redirected to."""
        response = self.open_link(invoice)
        self.assertEqual(response.status_code, 303, response.text)
        sessions = [
            session
            for session in self.fake.objects("checkout.session")
            if session["url"] == response.headers["Location"]
        ]
        self.assertEqual(len(sessions), 1)
        return sessions[0]

    def session_requests(self):
        return self.fake.requests_for("/v1/checkout/sessions", method="POST")

    def deliver_session(self, event_type, session):
        return self.deliver(event_type, self.fake.get(session["id"]))

    # === THE LINK === #

    def test_link_opens_a_session_of_the_residual_naming_the_invoice(self):
        invoice = self.create_invoice(120.0)
        self.assertTrue(
            invoice.stripe_payment_url.endswith(
                f"/stripe/pay/{invoice.id}/{invoice.access_token}"
            )
        )
        session = self.open_session(invoice)
        self.assertEqual(session["amount_total"], 12000)
        self.assertEqual(session["currency"], "usd")
        self.assertEqual(session["status"], "open")
        self.assertEqual(session["metadata"]["odoo_invoice_id"], str(invoice.id))
        (request,) = self.session_requests()
        self.assertEqual(
            request.query["payment_intent_data"]["metadata"]["odoo_invoice_id"],
            str(invoice.id),
        )
        line = request.query["line_items"][0]
        self.assertEqual(
            line["price_data"]["product_data"]["name"], f"Invoice {invoice.name}"
        )
        self.assertEqual(request.query["allowed_payment_method_types"], ["card"])
        self.assertIn(
            invoice.get_portal_url().split("?")[0], request.query["success_url"]
        )
        # The partner's Stripe customer is created and remembered.
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.stripe_customer_id)
        self.assertEqual(session["customer"], self.customer.stripe_customer_id)
        self.assertEqual(
            self.fake.get(self.customer.stripe_customer_id)["email"],
            "azure@example.com",
        )
        self.assertIn(session["id"], invoice.message_ids[0].body)

    def test_second_open_reuses_the_open_session(self):
        invoice = self.create_invoice(80.0)
        first = self.open_session(invoice)
        second = self.open_session(invoice)
        self.assertEqual(first["id"], second["id"])
        self.assertEqual(len(self.session_requests()), 1)
        self.assertEqual(len(self.fake.requests_for("/v1/customers", method="POST")), 1)

    def test_partially_paid_invoice_asks_for_the_rest(self):
        invoice = self.create_invoice(100.0)
        first = self.open_session(invoice)
        self.assertEqual(first["amount_total"], 10000)
        # 40 paid since the e-mail (a bank transfer, registered by hand).
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": 40.0})._create_payments()
        self.assertInvoice(invoice, 60.0, "partial")
        second = self.open_session(invoice)
        self.assertEqual(second["amount_total"], 6000)
        # The session asking for 100 is closed: nobody pays it any more.
        self.assertEqual(self.fake.get(first["id"])["status"], "expired")

    def test_paid_invoice_shows_a_plain_page_and_opens_no_session(self):
        invoice = self.create_invoice(50.0)
        token = invoice._portal_ensure_token()
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertFalse(invoice.stripe_payment_url)
        response = self.open_link(invoice, token=token)
        self.assertEqual(response.status_code, 200)
        self.assertIn("This invoice is paid", response.text)
        self.assertFalse(self.session_requests())

    def test_cancelled_invoice_shows_a_plain_page(self):
        invoice = self.create_invoice(50.0)
        token = invoice._portal_ensure_token()
        invoice.button_draft()
        invoice.button_cancel()
        response = self.open_link(invoice, token=token)
        self.assertEqual(response.status_code, 200)
        self.assertIn("This invoice was cancelled", response.text)
        self.assertFalse(self.session_requests())

    def test_wrong_token_is_not_found(self):
        invoice = self.create_invoice(50.0)
        invoice._portal_ensure_token()
        for token in ("wrong-token", invoice.access_token[:-1] + "x"):
            with self.subTest(token=token):
                response = self.open_link(invoice, token=token)
                self.assertEqual(response.status_code, 404)
        response = self.url_open(
            f"/stripe/pay/{invoice.id + 100000}/{invoice.access_token}",
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.session_requests())

    def test_stripe_error_shows_a_plain_page(self):
        invoice = self.create_invoice(50.0)
        self.fake.fail_next(
            10, status=400, path_prefix="/v1/checkout/sessions", method="POST"
        )
        with mute_logger(CONTROLLER_LOGGER):
            response = self.open_link(invoice)
        self.assertEqual(response.status_code, 503)
        self.assertIn("could not be opened", response.text)
        self.assertNotIn("Traceback", response.text)

    def test_fake_refuses_what_checkout_refuses(self):
        """The fake Stripe refuses Checkout parameters Stripe refuses: the
        ``payment_method_types`` the pinned API version removed, an unknown
        nested one, a method the currency does not allow."""
        customer = self.fake.add_customer(email="x@example.com")
        base = {
            "mode": "payment",
            "customer": customer["id"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1000,
                        "product_data": {"name": "Invoice X"},
                    },
                }
            ],
            "success_url": "https://example.com/ok",
        }
        for params, expected in (
            ({"payment_method_types": ["card"]}, "payment_method_types"),
            (
                {"payment_intent_data": {"metdata": {"a": "1"}}},
                "payment_intent_data[metdata]",
            ),
            ({"allowed_payment_method_types": ["sepa_debit"]}, "sepa_debit"),
        ):
            with (
                self.subTest(expected=expected),
                self.assertRaisesRegex(UserError, re.escape(expected)),
            ):
                self.stripe_account._stripe_call(
                    "test", "checkout.sessions", "create", params={**base, **params}
                )
        session = self.stripe_account._stripe_call(
            "test", "checkout.sessions", "create", params=base
        )
        self.assertEqual(session.amount_total, 1000)

    def test_create_webhook_subscribes_the_checkout_events(self):
        self.stripe_account.webhook_secret = False
        self.stripe_account.action_create_webhook()
        endpoint = self.fake.get(self.stripe_account.stripe_webhook_endpoint_id)
        for event_type in (
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
            "checkout.session.async_payment_failed",
            "payment_intent.payment_failed",
            "payment_intent.succeeded",
        ):
            with self.subTest(event_type=event_type):
                self.assertIn(event_type, endpoint["enabled_events"])

    def test_no_link_without_key_or_when_switched_off(self):
        invoice = self.create_invoice(50.0)
        self.assertTrue(invoice.stripe_payment_url)
        self.stripe_account.payment_link_enabled = False
        invoice.invalidate_recordset()
        self.assertFalse(invoice.stripe_payment_url)
        self.stripe_account.write({"payment_link_enabled": True, "api_key": False})
        invoice.invalidate_recordset()
        self.assertFalse(invoice.stripe_payment_url)

    def test_methods_offered_follow_the_currency(self):
        self.stripe_account.write(
            {"payment_link_sepa_debit": True, "payment_link_us_bank_account": True}
        )
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        self.open_session(self.create_invoice(10.0))
        self.open_session(self.create_invoice(10.0, currency=eur))
        usd_request, eur_request = self.session_requests()
        self.assertEqual(
            usd_request.query["allowed_payment_method_types"],
            ["card", "us_bank_account"],
        )
        self.assertEqual(
            eur_request.query["allowed_payment_method_types"], ["card", "sepa_debit"]
        )

    # === THE PAYMENT COMES BACK === #

    def test_card_payment_marks_the_invoice_paid_with_its_fee(self):
        invoice = self.create_invoice(200.0)
        session = self.open_session(invoice)
        self.fake.pay_checkout_session(session["id"], fee=610)
        completed = self.deliver_session("checkout.session.completed", session)
        intent = self.fake.get(self.fake.get(session["id"])["payment_intent"])
        succeeded = self.deliver("payment_intent.succeeded", intent)
        self.assertEvent(completed, "done")
        self.assertIn(succeeded.state, ("done", "ignored"))
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(len(completed.payment_ids | succeeded.payment_ids), 1)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 6.10)
        self.assertStripeMirrored()
        # The link now says so.
        token = invoice.access_token
        response = self.open_link(invoice, token=token)
        self.assertIn("This invoice is paid", response.text)

    def test_sepa_debit_is_processing_then_paid_days_later(self):
        self.stripe_account.payment_link_sepa_debit = True
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        invoice = self.create_invoice(100.0, currency=eur)
        session = self.open_session(invoice)
        self.fake.pay_checkout_session(session["id"], payment_method="sepa_debit")
        completed = self.deliver_session("checkout.session.completed", session)
        self.assertEvent(completed, "done", "processing")
        self.assertInvoice(invoice, 100.0, "not_paid")
        self.assertTrue(invoice.stripe_payment_processing)
        self.assertIn("payment processing", invoice.message_ids[0].body)
        self.assertFalse(completed.payment_ids)
        # The link shows the payment in progress, and opens nothing.
        response = self.open_link(invoice, token=invoice.access_token)
        self.assertIn("being processed", response.text)
        self.assertEqual(len(self.session_requests()), 1)

        later = fields.Datetime.now() + timedelta(days=4)
        with freeze_time(later):
            self.fake.settle_checkout_session(
                session["id"], exchange_rate=1.1, settlement_currency="usd", fee=120
            )
            succeeded = self.deliver_session(
                "checkout.session.async_payment_succeeded", session
            )
        self.assertEvent(succeeded, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertFalse(invoice.stripe_payment_processing)
        self.assertEqual(succeeded.payment_ids.date, later.date())
        self.assertAlmostEqual(self.account_balance(self.fee_account), 1.20)
        self.assertStripeMirrored()

    def test_failed_debit_leaves_the_invoice_open_with_an_activity(self):
        self.stripe_account.payment_link_sepa_debit = True
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        invoice = self.create_invoice(
            100.0, currency=eur, invoice_user_id=self.salesperson.id
        )
        session = self.open_session(invoice)
        self.fake.pay_checkout_session(session["id"], payment_method="sepa_debit")
        self.deliver_session("checkout.session.completed", session)
        self.assertTrue(invoice.stripe_payment_processing)
        with freeze_time(fields.Datetime.now() + timedelta(days=5)):
            self.fake.settle_checkout_session(session["id"], succeeded=False)
            failed = self.deliver_session(
                "checkout.session.async_payment_failed", session
            )
            intent = self.fake.get(self.fake.get(session["id"])["payment_intent"])
            intent_failed = self.deliver("payment_intent.payment_failed", intent)
        self.assertEvent(failed, "done", invoice.name)
        self.assertEvent(intent_failed, "done")
        self.assertInvoice(invoice, 100.0, "not_paid")
        self.assertFalse(invoice.stripe_payment_processing)
        activity = invoice.activity_ids.filtered(
            lambda a: a.summary == "Stripe payment failed"
        )
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.salesperson)
        self.assertIn(
            "no longer processing", " ".join(invoice.message_ids.mapped("body"))
        )
        # The link opens a new session for the amount still due.
        second = self.open_session(invoice)
        self.assertNotEqual(second["id"], session["id"])
        self.assertEqual(second["amount_total"], 10000)

    def test_paid_while_another_payment_arrived_leaves_credit(self):
        """The customer pays the session still open in the browser after a bank
        transfer of part of the invoice was registered: the invoice is paid, the
        excess is the customer's credit, and the event says so."""
        invoice = self.create_invoice(100.0)
        session = self.open_session(invoice)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": 40.0})._create_payments()
        self.fake.pay_checkout_session(session["id"])
        completed = self.deliver_session("checkout.session.completed", session)
        intent = self.fake.get(self.fake.get(session["id"])["payment_intent"])
        again = self.deliver("payment_intent.succeeded", intent)
        self.assertEvent(completed, "done", "left as the customer's credit")
        self.assertEvent(again, "done", "Already registered")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(len(completed.payment_ids | again.payment_ids), 1)
        self.assertAlmostEqual(
            completed.payment_ids._stripe_open_credit(), 40.0, places=2
        )

    # === WHERE THE CUSTOMER SEES IT === #

    def test_pdf_holds_the_qr_code_of_the_link(self):
        invoice = self.create_invoice(75.0)
        html, _type = self.env["ir.actions.report"]._render_qweb_html(
            "account.account_invoices", invoice.ids
        )
        html = html.decode()
        self.assertIn('id="stripe_payment_qrcode"', html)
        self.assertIn("data:image/png;base64,", html)
        self.assertIn(invoice.stripe_payment_url, html)

    def test_portal_page_shows_the_button(self):
        invoice = self.create_invoice(75.0)
        self.authenticate(None, None)
        response = self.url_open(invoice.get_portal_url())
        self.assertEqual(response.status_code, 200)
        self.assertIn("Pay with Stripe", response.text)
        self.assertIn(invoice.stripe_payment_url, response.text)

    def test_invoice_mail_holds_the_button(self):
        invoice = self.create_invoice(75.0)
        template = self.env.ref("account.email_template_edi_invoice")
        body = self.env["account.move.send"]._get_default_mail_body(
            invoice, template, "en_US"
        )
        self.assertIn("Pay with Stripe", body)
        self.assertIn(invoice.stripe_payment_url, body)
        self.stripe_account.api_key = False
        invoice.invalidate_recordset()
        body = self.env["account.move.send"]._get_default_mail_body(
            invoice, template, "en_US"
        )
        self.assertNotIn("Pay with Stripe", body)
