"""Hostile and unusual inputs: forged headers, broken Unicode, markup in Stripe's
words, NUL characters, authorized-then-captured charges, Checkout's PaymentIntent
first, payout transactions nothing books."""

import json
import time
from unittest.mock import patch

import stripe

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import const
from .common import WEBHOOK_SECRET, PayoutCommon, RefundDisputeCommon, StripeCommon

CONTROLLER_LOGGER = "odoo.addons.stripe_connector.controllers.main"
EVENT_LOGGER = "odoo.addons.stripe_connector.models.stripe_event"
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="x">y</a>'


class EscapedMixin:
    def assertEscaped(self, html):
        """Stripe's markup shows as text: no tag of it is live."""
        html = str(html)
        self.assertNotIn("<img", html)
        self.assertNotIn("<a ", html)
        self.assertNotIn("<script", html)
        self.assertIn("&lt;img", html)


@tagged("post_install", "-at_install")
class TestHostileWebhooks(StripeCommon):
    """Malformed requests get a 4xx and one warning line, never a 500."""

    def setUp(self):
        super().setUp()
        charge = self.fake.add_charge(5000, "usd")
        self.event = self.make_event(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )

    def assertRefused(self, reason, **kwargs):
        count = self.env["stripe.event"].search_count([])
        with self.assertLogs(CONTROLLER_LOGGER, "WARNING") as logs:
            response = self.post_webhook(**kwargs)
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn(reason, response.json()["error"])
        self.assertEqual(len(logs.output), 1, logs.output)
        self.assertIn(reason, logs.output[0])
        self.env.invalidate_all()
        self.assertEqual(self.env["stripe.event"].search_count([]), count)

    def test_non_ascii_signature_header_is_a_400(self):
        """hmac.compare_digest refuses non-ASCII text: a forged header with UTF-8
        or raw Latin-1 bytes is refused as malformed, not answered 500."""
        now = int(time.time())
        for header in (f"t={now},v1=é€".encode(), f"t={now},v1=\xe9".encode("latin-1")):
            with self.subTest(header=header):
                self.assertRefused(
                    "malformed Stripe-Signature header",
                    event=self.event,
                    signature=header,
                )

    def test_signed_body_with_a_lone_surrogate_is_a_400(self):
        """A signed body whose id or type holds a lone surrogate (valid JSON, no
        valid text) is not a Stripe event: 400, nothing stored."""
        body = json.dumps(self.event)
        for field in ("id", "type"):
            with self.subTest(field=field):
                forged = body.replace(
                    f'"{field}": "{self.event[field]}"',
                    f'"{field}": "{self.event[field]}\\ud800"',
                    1,
                )
                self.assertNotEqual(forged, body)
                signature = stripe.WebhookSignature.generate_signature_header(
                    forged, WEBHOOK_SECRET
                )
                self.assertRefused("invalid Unicode", body=forged, signature=signature)


@tagged("post_install", "-at_install")
class TestHostileMetadata(EscapedMixin, StripeCommon):
    """Stripe's words reach Odoo's HTML as text, and NUL characters as nothing."""

    def fail_to_the_end(self, event):
        """Run the event's last automatic attempt now."""
        event.write(
            {
                "attempts": const.MAX_ATTEMPTS - 1,
                "next_attempt_at": fields.Datetime.now(),
            }
        )
        self.process_events()
        self.assertEvent(event, "failed")
        self.assertFalse(event.next_attempt_at)

    def test_markup_in_metadata_is_text_in_the_activity(self):
        charge = self.fake.add_charge(1000, "usd", metadata={"odoo_invoice": HOSTILE})
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "failed", "names no open document")
        self.fail_to_the_end(event)
        self.assertEqual(len(event.activity_ids), 1)
        self.assertEscaped(event.activity_ids.note)
        self.assertIn("onerror", str(event.activity_ids.note))
        for body in event.message_ids.mapped("body"):
            self.assertNotIn("<img", str(body))

    def test_nul_in_metadata_fails_as_nothing_matches(self):
        """A NUL in a reference names no document: the usual message, no
        traceback, on every attempt."""
        invoice = self.create_invoice(10.0)
        charge = self.fake.add_charge(
            1000, "usd", metadata={"odoo_invoice": invoice.name + "\x00"}
        )
        with self.assertNoLogs(EVENT_LOGGER, "WARNING"):
            event = self.deliver(
                "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
            )
        self.assertEvent(event, "failed", "No invoice or order matches")
        self.assertInvoice(invoice, 10.0, "not_paid")


@tagged("post_install", "-at_install")
class TestHostileDisputeAndPayout(EscapedMixin, RefundDisputeCommon, PayoutCommon):
    def test_markup_in_a_dispute_reason_is_text_in_the_activity(self):
        invoice, charge = self.paid_invoice(100.0)
        dispute = self.fake.add_dispute(charge["id"], fee=1500)
        dispute["reason"] = HOSTILE
        self.deliver("charge.dispute.funds_withdrawn", dispute)
        self.assertEqual(len(invoice.activity_ids), 1)
        self.assertEscaped(invoice.activity_ids.note)

    def test_markup_in_a_payout_failure_is_text_in_the_activity(self):
        self.pay_invoice(100.0)
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        failed = self.fake.fail_payout(payout["id"], message=HOSTILE)
        self.deliver("payout.failed", failed)
        record = self.get_payout(payout)
        self.assertEqual(record.state, "error")
        self.assertEqual(len(record.activity_ids), 1)
        self.assertEscaped(record.activity_ids.note)


@tagged("post_install", "-at_install")
class TestCapturedCharges(StripeCommon):
    """A charge without PaymentIntent authorized first and captured later is
    booked once, from charge.captured, whichever event comes first."""

    def authorized_and_captured(self, invoice):
        captured = self.fake.add_charge(
            5000, "usd", payment_intent=False, metadata={"odoo_invoice": invoice.name}
        )
        authorized = dict(captured, captured=False, amount_captured=0)
        return authorized, captured

    def test_succeeded_uncaptured_then_captured(self):
        invoice = self.create_invoice(50.0)
        authorized, captured = self.authorized_and_captured(invoice)
        first = self.deliver("charge.succeeded", authorized)
        self.assertEvent(first, "ignored", "charge.captured")
        self.assertInvoice(invoice, 50.0, "not_paid")
        second = self.deliver("charge.captured", captured)
        self.assertEvent(second, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")

    def test_captured_then_succeeded_uncaptured(self):
        invoice = self.create_invoice(50.0)
        authorized, captured = self.authorized_and_captured(invoice)
        first = self.deliver("charge.captured", captured)
        second = self.deliver("charge.succeeded", authorized)
        self.assertEvent(first, "done", invoice.name)
        self.assertEvent(second, "ignored")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("stripe_account_id", "=", self.stripe_account.id)]
            ),
            1,
        )

    def test_captured_charge_of_a_payment_intent_is_left_to_the_intent(self):
        invoice = self.create_invoice(50.0)
        charge = self.fake.add_charge(
            5000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver("charge.captured", charge)
        self.assertEvent(event, "ignored", charge["payment_intent"])
        self.assertInvoice(invoice, 50.0, "not_paid")


@tagged("post_install", "-at_install")
class TestCheckoutIntentFirst(StripeCommon):
    """Checkout's payment_intent.succeeded, which carries none of the session's
    metadata, usually comes before checkout.session.completed: it never shows as
    failed."""

    def setUp(self):
        super().setUp()
        self.invoice = self.create_invoice(100.0)
        self.charge = self.fake.add_charge(10000, "usd")
        self.session = self.fake.add_checkout_session(
            self.charge, client_reference_id=self.invoice.name
        )
        self.intent = self.fake.get(self.charge["payment_intent"])

    def test_with_a_key_the_session_is_looked_up(self):
        event = self.deliver("payment_intent.succeeded", self.intent)
        self.assertEvent(event, "done", self.invoice.name)
        self.assertInvoice(self.invoice, 0.0, "paid")
        (request,) = self.fake.requests_for("/v1/checkout/sessions")
        self.assertEqual(request.query["payment_intent"], self.intent["id"])
        later = self.deliver("checkout.session.completed", self.session)
        self.assertEvent(later, "done", "Already registered")
        self.assertEqual(event.payment_ids, later.payment_ids)

    def test_without_a_key_the_intent_waits_for_the_session(self):
        self.stripe_account.api_key = False
        event = self.deliver("payment_intent.succeeded", self.intent)
        self.assertEvent(event, "waiting", "checkout.session.completed")
        self.assertInvoice(self.invoice, 100.0, "not_paid")
        session_event = self.deliver("checkout.session.completed", self.session)
        self.assertEvent(session_event, "done", self.invoice.name)
        self.assertInvoice(self.invoice, 0.0, "paid")
        # The session's booking wakes the waiting event up: nothing more booked.
        self.assertEvent(event, "done", "Already registered")
        self.assertEqual(event.payment_ids, session_event.payment_ids)
        self.assertFalse(event.message_ids.filtered(lambda m: "Failed" in m.body))

    def test_a_stripe_hiccup_waits(self):
        self.fake.fail_next(10, status=500, path_prefix="/v1/checkout/sessions")
        event = self.deliver("payment_intent.succeeded", self.intent)
        self.assertEvent(event, "waiting", "Checkout Session")
        self.assertInvoice(self.invoice, 100.0, "not_paid")

    def test_an_intent_no_session_made_fails_as_before(self):
        charge = self.fake.add_charge(4200, "usd")
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "failed", "No invoice or order matches")


@tagged("post_install", "-at_install")
class TestPayoutBookers(PayoutCommon):
    """A payout is reconciled only when every transaction it pays out is
    booked."""

    def test_every_booking_category_has_a_booker(self):
        bookers = self.env["stripe.payout"]._stripe_payout_bookers()
        for how in {*const.PAYOUT_BOOKING.values(), "adjustment"}:
            with self.subTest(how=how):
                self.assertIn(how, bookers)
                method = bookers[how]
                if method:
                    self.assertTrue(
                        callable(getattr(self.env["stripe.payout"], method))
                    )

    @mute_logger(EVENT_LOGGER)
    def test_a_category_nothing_books_needs_attention(self):
        """A new value in the booking table without a booker: the payout books
        nothing and needs attention, listing the transactions left."""
        self.pay_invoice(100.0)
        reserve = self.fake.add_adjustment(
            -500, "usd", reporting_category="risk_reserved_funds"
        )
        payout = self.fake.add_payout()
        before = self.journal_balance()
        with patch.dict(const.PAYOUT_BOOKING, {"risk_reserved_funds": "reserve"}):
            self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertEqual(record.state, "error", record.state_message)
        self.assertIn(reserve["id"], record.state_message)
        self.assertFalse(record.transfer_move_id)
        self.assertAlmostEqual(self.journal_balance(), before)
        # Booked as an adjustment once the table no longer names it.
        self.reconcile_with_wizard(record)
        self.assertEqual(record.state, "reconciled")
        self.assertStripeMirrored()
