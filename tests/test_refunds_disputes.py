from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import const, utils
from .common import RefundDisputeCommon

EVENT_LOGGER = "odoo.addons.stripe_connector.models.core.stripe_event"


@tagged("post_install", "-at_install")
class TestRefunds(RefundDisputeCommon):
    def test_full_refund_reverses_the_invoice(self):
        invoice, charge = self.paid_invoice(100.0, fee=300)
        refund = self.fake.add_refund(charge["id"])
        event = self.deliver("refund.created", refund)
        self.assertEvent(event, "done", "Credit note")
        credit_note = self.credit_notes(invoice)
        self.assertEqual(len(credit_note), 1)
        self.assertEqual(credit_note.state, "posted")
        self.assertAlmostEqual(credit_note.amount_total, 100.0)
        self.assertEqual(
            credit_note.invoice_line_ids.mapped("name"),
            invoice.invoice_line_ids.mapped("name"),
            "a full refund reverses the invoice line by line",
        )
        self.assertInvoice(credit_note, 0.0, "paid")
        self.assertInvoice(invoice, 0.0, "paid")
        refund_payment = event.payment_ids
        self.assertEqual(refund_payment.payment_type, "outbound")
        self.assertEqual(refund_payment.journal_id, self.stripe_journal)
        self.assertEqual(refund_payment.stripe_object_id, refund["id"])
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertAlmostEqual(self.journal_balance(), -3.0)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 3.0)
        self.assertStripeMirrored()

    def test_full_refund_reverses_the_invoice_even_with_a_refund_product(self):
        """The refund product is for partial refunds: a full refund still takes
        back each line of the invoice, with its taxes."""
        self.stripe_account.refund_product_id = self.env["product.product"].create(
            {"name": "Stripe refund", "type": "service"}
        )
        invoice, charge = self.paid_invoice(100.0, fee=300)
        event = self.deliver("refund.created", self.fake.add_refund(charge["id"]))
        self.assertEvent(event, "done", "Credit note")
        credit_note = self.credit_notes(invoice)
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        self.assertAlmostEqual(credit_note.amount_total, 100.0)
        self.assertEqual(
            credit_note.invoice_line_ids.product_id,
            invoice.invoice_line_ids.product_id,
        )
        self.assertInvoice(credit_note, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertStripeMirrored()

    def test_refund_failed_before_it_could_be_booked_is_never_booked(self):
        """The refund waits for its payment; meanwhile Stripe reports it failed.
        Once the payment is there, the waiting event books nothing."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", fee=300, metadata={"odoo_invoice": invoice.name}
        )
        refund = self.fake.add_refund(charge["id"], 2500)
        start = fields.Datetime.now()
        with freeze_time(start):
            created = self.deliver("refund.created", refund)
        self.assertEvent(created, "waiting", "Waiting for the payment")
        with freeze_time(start + timedelta(seconds=5)):
            failed = self.deliver(
                "refund.failed", self.fake.set_refund_status(refund["id"], "failed")
            )
        self.assertEvent(failed, "ignored", "nothing was booked")
        with freeze_time(start + timedelta(seconds=10)):
            self.deliver(
                "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
            )
        with freeze_time(created.next_attempt_at):
            self.process_events()
        self.assertEvent(created, "ignored", failed.stripe_id)
        self.assertFalse(self.credit_notes(invoice))
        self.assertFalse(
            self.env["account.payment"].search([("payment_type", "=", "outbound")])
        )
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertStripeMirrored()

    def test_two_partial_refunds_add_up(self):
        invoice, charge = self.paid_invoice(100.0, fee=300)
        first = self.deliver("refund.created", self.fake.add_refund(charge["id"], 3000))
        second = self.deliver(
            "refund.created", self.fake.add_refund(charge["id"], 2000)
        )
        self.assertEvent(first, "done")
        self.assertEvent(second, "done")
        credit_notes = self.credit_notes(invoice)
        self.assertEqual(sorted(credit_notes.mapped("amount_total")), [20.0, 30.0])
        for credit_note in credit_notes:
            self.assertInvoice(credit_note, 0.0, "paid")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertAlmostEqual(self.journal_balance(), 100.0 - 3.0 - 50.0)
        self.assertStripeMirrored()

    def test_partial_refund_credits_taxes_in_proportion(self):
        """Half of a taxed invoice refunded: the credit note takes back half the
        revenue and half the tax, and is exactly the refunded amount."""
        tax = self.tax_sale_a  # 15 %
        invoice = self.create_invoice(100.0, taxes=tax)
        self.assertAlmostEqual(invoice.amount_total, 115.0)
        charge = self.fake.add_charge(
            11500, "usd", metadata={"odoo_invoice": invoice.name}
        )
        self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.deliver("refund.created", self.fake.add_refund(charge["id"], 3333))
        credit_note = self.credit_notes(invoice)
        self.assertAlmostEqual(credit_note.amount_total, 33.33)
        self.assertAlmostEqual(credit_note.amount_tax, 4.35)
        self.assertEqual(
            credit_note.invoice_line_ids.tax_ids, tax, "the invoice's taxes are kept"
        )
        self.assertInvoice(credit_note, 0.0, "paid")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertStripeMirrored()

    def test_refund_of_an_overpayment_refunds_the_credit_first(self):
        """Invoice 100 paid 120: refunding 20 gives back the customer's credit,
        with no credit note; refunding the 100 left reverses the invoice."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            12000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertAlmostEqual(self.customer_balance(), -20.0)
        event = self.deliver("refund.created", self.fake.add_refund(charge["id"], 2000))
        self.assertEvent(event, "done")
        self.assertFalse(self.credit_notes(invoice))
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.deliver("refund.created", self.fake.add_refund(charge["id"], 10000))
        credit_note = self.credit_notes(invoice)
        self.assertAlmostEqual(credit_note.amount_total, 100.0)
        self.assertInvoice(credit_note, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertStripeMirrored()

    def test_refund_on_a_partially_paid_invoice_keeps_what_is_owed(self):
        """Invoice 100, 60 paid then refunded: the credit note of 60 does not
        settle the 40 still due; the invoice still shows them."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            6000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.deliver("refund.created", self.fake.add_refund(charge["id"]))
        self.assertAlmostEqual(self.credit_notes(invoice).amount_total, 60.0)
        self.assertInvoice(invoice, 40.0, "partial")
        self.assertAlmostEqual(self.customer_balance(), 40.0)
        self.assertStripeMirrored()

    def test_refund_larger_than_the_remainder_is_refused(self):
        invoice, charge = self.paid_invoice(100.0)
        self.deliver("refund.created", self.fake.add_refund(charge["id"], 6000))
        too_much = dict(self.fake.add_refund(charge["id"], 4000), amount=5000)
        with mute_logger(EVENT_LOGGER):
            event = self.deliver("refund.created", too_much)
        self.assertEvent(event, "failed", "larger than what is left to refund")
        self.assertIn("40.00", event.state_message)
        credit_note = self.credit_notes(invoice)
        self.assertEqual(len(credit_note), 1)
        self.assertAlmostEqual(credit_note.amount_total, 60.0)
        self.assertFalse(event.payment_ids)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        # Stripe refused it too in real life; here the fake accepted 40: the
        # journal shows only the 60 booked.
        self.assertAlmostEqual(self.journal_balance(), 100.0 - 3.0 - 60.0)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 3.0)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 0.0)

    def test_refund_before_its_payment_waits(self):
        """Stripe delivers the refund first: it waits (nothing booked), and is
        booked once the payment exists."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        refund = self.fake.add_refund(charge["id"], 2500)
        start = fields.Datetime.now()
        with freeze_time(start):
            refund_event = self.deliver("refund.created", refund)
        self.assertEvent(refund_event, "waiting", "Waiting for the payment")
        self.assertFalse(self.credit_notes(invoice))
        self.assertFalse(
            self.env["account.payment"].search([("stripe_account_id", "!=", False)])
        )
        with freeze_time(start + timedelta(seconds=10)):
            self.deliver(
                "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
            )
        self.assertEvent(refund_event, "waiting")
        with freeze_time(refund_event.next_attempt_at):
            self.process_events()
        self.assertEvent(refund_event, "done", "Credit note")
        self.assertAlmostEqual(self.credit_notes(invoice).amount_total, 25.0)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertStripeMirrored()

    def test_refund_failed_after_booking_is_reversed(self):
        invoice, charge = self.paid_invoice(100.0, fee=300)
        refund = self.fake.add_refund(charge["id"], 4000)
        self.deliver("refund.created", refund)
        credit_note = self.credit_notes(invoice)
        self.assertAlmostEqual(self.journal_balance(), 57.0)
        failed = self.fake.set_refund_status(refund["id"], "failed")
        event = self.deliver("refund.failed", failed)
        self.assertEvent(event, "done", "reversed")
        self.assertIn("reversed", credit_note.message_ids[0].body)
        self.assertInvoice(credit_note, 0.0, "paid")
        reversal = credit_note.reversal_move_ids
        self.assertEqual(reversal.state, "posted")
        self.assertAlmostEqual(reversal.amount_total, 40.0)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertAlmostEqual(self.journal_balance(), 97.0)
        self.assertStripeMirrored()
        # Stripe's refund.updated about the same failure changes nothing more.
        again = self.deliver("refund.updated", failed)
        self.assertEvent(again, "ignored", "already reversed")
        self.assertAlmostEqual(self.journal_balance(), 97.0)

    def test_duplicate_refund_events_book_once(self):
        """refund.created, refund.updated and the legacy charge.refunded (refunds
        embedded) about one refund: one credit note, one payment."""
        invoice, charge = self.paid_invoice(100.0, fee=300)
        refund = self.fake.add_refund(charge["id"], 1000)
        created = self.deliver("refund.created", refund)
        updated = self.deliver("refund.updated", refund)
        legacy_charge = dict(
            self.fake.get(charge["id"]),
            refunds={"object": "list", "data": [refund], "has_more": False},
        )
        legacy = self.deliver(
            "charge.refunded", legacy_charge, api_version="2020-08-27"
        )
        self.assertEvent(created, "done", "Credit note")
        self.assertEvent(updated, "done", "already booked")
        self.assertEvent(legacy, "done", "already booked")
        credit_note = self.credit_notes(invoice)
        self.assertEqual(len(credit_note), 1)
        self.assertAlmostEqual(credit_note.amount_total, 10.0)
        self.assertInvoice(credit_note, 0.0, "paid")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertAlmostEqual(self.journal_balance(), 87.0)
        self.assertStripeMirrored()

    def test_charge_refunded_reads_refunds_through_the_api(self):
        """Current API versions do not embed the refunds in charge.refunded."""
        invoice, charge = self.paid_invoice(100.0, fee=300)
        self.fake.add_refund(charge["id"], 1500)
        self.fake.add_refund(charge["id"], 500)
        event = self.deliver("charge.refunded", self.fake.get(charge["id"]))
        self.assertEvent(event, "done")
        self.assertEqual(
            sorted(self.credit_notes(invoice).mapped("amount_total")), [5.0, 15.0]
        )
        self.assertTrue(self.fake.requests_for("/v1/refunds"))
        self.assertStripeMirrored()

    def test_refund_of_unknown_payment_fails_then_user_links_invoice(self):
        """A payment made before Odoo was connected (and marked paid by hand on
        the bank journal): the refund fails at once saying so; the user picks the
        invoice and retries."""
        invoice = self.create_invoice(100.0)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create(
            {"journal_id": self.company_data["default_journal_bank"].id}
        )._create_payments()
        self.assertInvoice(invoice, 0.0, "paid")
        old_charge = self.fake.add_charge(10000, "usd", created=1600000000)
        refund = self.fake.add_refund(old_charge["id"], 10000)
        with mute_logger(EVENT_LOGGER):
            event = self.deliver("refund.created", refund)
        self.assertEvent(event, "failed", "before Odoo was connected")
        self.assertFalse(self.credit_notes(invoice))
        event.invoice_id = invoice
        event.action_retry()
        self.assertEvent(event, "done", "Credit note")
        credit_note = self.credit_notes(invoice)
        self.assertAlmostEqual(credit_note.amount_total, 100.0)
        self.assertInvoice(credit_note, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertAlmostEqual(self.journal_balance(), -100.0)

    def test_refund_picks_among_the_paid_invoices_and_says_what_is_due(self):
        """A refund of a payment made before Odoo was connected: the picker
        offers the paid invoices (the one of the refund's amount first), not the
        open ones; once picked, the message says nothing is left to pay."""
        paid = self.create_invoice(100.0)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=paid.ids
        ).create(
            {"journal_id": self.company_data["default_journal_bank"].id}
        )._create_payments()
        open_invoice = self.create_invoice(100.0)
        old_charge = self.fake.add_charge(10000, "usd", created=1600000000)
        with mute_logger(EVENT_LOGGER):
            event = self.deliver(
                "refund.created", self.fake.add_refund(old_charge["id"], 10000)
            )
        self.assertEvent(event, "failed", "Pick its invoice")
        self.assertTrue(event.stripe_is_refund)
        suggested = event._stripe_suggested_invoices()
        self.assertEqual(suggested[:1], paid)
        self.assertNotIn(open_invoice, suggested)
        # The picker's domain, as the form evaluates it for a refund.
        domain = event._fields["invoice_id"].domain
        self.assertIn("('paid', 'in_payment', 'partial') if stripe_is_refund", domain)
        picker = self.env["account.move"].with_context(stripe_pick_event_id=event.id)
        refundable = [("payment_state", "in", const.REFUNDABLE_PAYMENT_STATES)]
        choices = picker.name_search("", refundable, limit=20)
        self.assertEqual(choices[0][0], paid.id)
        self.assertIn("Suggested", choices[0][1])
        self.assertNotIn(open_invoice.id, [choice[0] for choice in choices])
        event.invoice_id = paid
        event.action_retry()
        self.assertEvent(event, "done", f"Nothing is left to pay on {paid.name}.")
        self.assertInvoice(paid, 0.0, "paid")
        self.assertAlmostEqual(self.credit_notes(paid).amount_total, 100.0)

    def test_refund_on_an_open_invoice_says_what_is_still_due(self):
        """An open invoice picked (from code: the picker offers paid ones): the
        credit note settles part of what is due, and the message says what is
        left."""
        invoice = self.create_invoice(147.0)
        old_charge = self.fake.add_charge(10000, "usd", created=1600000000)
        with mute_logger(EVENT_LOGGER):
            event = self.deliver(
                "refund.created", self.fake.add_refund(old_charge["id"], 10000)
            )
        event.invoice_id = invoice
        event.action_retry()
        invoice.invalidate_recordset()
        self.assertTrue(invoice.amount_residual, "the refund did not pay it")
        due = invoice.currency_id.format(invoice.amount_residual)
        self.assertEvent(event, "done", f"{invoice.name} still has {due} to pay.")

    def test_pending_refund_is_booked_when_it_succeeds(self):
        invoice, charge = self.paid_invoice(100.0)
        refund = self.fake.add_refund(charge["id"], 1000, status="pending")
        event = self.deliver("refund.created", refund)
        self.assertEvent(event, "ignored", "booked when it succeeds")
        self.assertFalse(self.credit_notes(invoice))
        succeeded = self.fake.set_refund_status(refund["id"], "succeeded")
        event = self.deliver("refund.updated", succeeded)
        self.assertEvent(event, "done")
        self.assertAlmostEqual(self.credit_notes(invoice).amount_total, 10.0)
        self.assertStripeMirrored()

    def test_returned_fee_on_a_refund_goes_to_the_fee_account(self):
        """Stripe returns part of its processing fee on a refund: the refund's
        balance transaction has a negative fee, credited to the fee account."""
        invoice, charge = self.paid_invoice(100.0, fee=300)
        refund = self.fake.add_refund(charge["id"])
        refund_txn = self.fake.get(refund["balance_transaction"])
        self.assertFalse(self.credit_notes(invoice))
        refund_txn.update(fee=-120, net=refund_txn["amount"] + 120)
        event = self.deliver("refund.created", refund)
        self.assertEvent(event, "done", "fee")
        self.assertAlmostEqual(self.account_balance(self.fee_account), 3.0 - 1.2)
        self.assertAlmostEqual(self.journal_balance(), -3.0 + 1.2)
        self.assertInvoice(self.credit_notes(invoice), 0.0, "paid")
        self.assertStripeMirrored()


@tagged("post_install", "-at_install")
class TestDisputes(RefundDisputeCommon):
    """Chargebacks: money out to the disputed account, back if won, lost booked;
    each step once, in any order."""

    def open_dispute(self):
        invoice, charge = self.paid_invoice(100.0, fee=300)
        dispute = self.fake.add_dispute(charge["id"], fee=1500)
        return invoice, charge, dispute

    def snapshot(self, event_type, dispute, created):
        return self.make_event(event_type, dispute, created=created)

    def deliver_all(self, events):
        for event in events:
            self.assertEqual(self.post_webhook(event).status_code, 200)
        self.process_events()
        return [self.get_event(event["id"]) for event in events]

    def assertWithdrawn(self, invoice):
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 100.0)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 3.0 + 15.0)
        self.assertAlmostEqual(self.journal_balance(), 100.0 - 3.0 - 115.0)
        self.assertIn("withdrawn", invoice.message_ids[0].body)
        dispute = self.env["stripe.dispute"].search([])
        self.assertFalse(invoice.activity_ids, "the to-do is on the dispute")
        activity = dispute.activity_ids
        self.assertEqual(activity.user_id, self.stripe_account.user_id)
        self.assertEqual(activity.date_deadline, dispute.evidence_due_by.date())

    def won_events(self, dispute, start=1800000000):
        created = self.snapshot("charge.dispute.created", dispute, start)
        withdrawn = self.snapshot("charge.dispute.funds_withdrawn", dispute, start + 1)
        self.fake.win_dispute(dispute["id"])
        reinstated = self.snapshot(
            "charge.dispute.funds_reinstated", dispute, start + 50
        )
        closed = self.snapshot("charge.dispute.closed", dispute, start + 51)
        return [created, withdrawn, reinstated, closed]

    def assertWon(self, invoice):
        dispute = self.env["stripe.dispute"].search([])
        self.assertEqual(dispute.state, "won")
        self.assertEqual(dispute.status, "won")
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 0.0)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 3.0)
        self.assertAlmostEqual(self.journal_balance(), 97.0)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertFalse(self.credit_notes(invoice))
        self.assertEqual(
            len(dispute.withdrawal_move_id | dispute.reinstatement_move_id), 2
        )
        self.assertStripeMirrored()

    def test_dispute_won_in_order(self):
        invoice, _charge, dispute = self.open_dispute()
        events = self.won_events(dispute)
        self.deliver_all(events[:2])
        self.assertWithdrawn(invoice)
        processed = self.deliver_all(events[2:])
        self.assertEvent(processed[0], "done", "won")
        self.assertEvent(processed[1], "done", "nothing new")
        self.assertWon(invoice)
        self.assertFalse(invoice.activity_ids, "the activity is done once won")
        self.assertFalse(self.env["stripe.dispute"].search([]).activity_ids)

    def test_dispute_screen_says_what_to_do_and_by_when(self):
        """Status and reason in words, the evidence deadline (the to-do on the
        dispute is due then), the dispute fee, and the dispute's page in Stripe's
        dashboard (test mode) to respond there."""
        _invoice, charge = self.paid_invoice(100.0, fee=300)
        data = self.fake.add_dispute(
            charge["id"], fee=1500, reason="product_not_received"
        )
        self.deliver("charge.dispute.created", data, created=1800000000)
        dispute = self.env["stripe.dispute"].search([("stripe_id", "=", data["id"])])
        self.assertEqual(dispute.status_label, "Needs your response")
        self.assertEqual(dispute.reason_label, "Product not received")
        due_by = utils.timestamp_to_datetime(data["evidence_details"]["due_by"])
        self.assertEqual(dispute.evidence_due_by, due_by)
        self.assertAlmostEqual(dispute.fee, 15.0)
        self.assertEqual(dispute.fee_currency_id, self.currency)
        url = f"https://dashboard.stripe.com/test/disputes/{data['id']}"
        self.assertEqual(dispute.dashboard_url, url)
        self.assertEqual(dispute.action_open_in_stripe()["url"], url)
        self.assertEqual(dispute.activity_ids.date_deadline, due_by.date())
        self.assertIn(url, str(dispute.activity_ids.note))
        self.assertIn("Product not received", str(dispute.activity_ids.note))
        arch = self.env["stripe.dispute"].get_view(view_type="form")["arch"]
        self.assertIn('name="action_open_in_stripe"', arch)
        self.assertIn('name="status_label"', arch)
        # Under review: nothing left to do for now.
        self.deliver(
            "charge.dispute.updated",
            dict(data, status="under_review"),
            created=1800000100,
        )
        self.assertEqual(dispute.status_label, "Under review by the bank")
        self.assertFalse(dispute.activity_ids)

    def test_dispute_won_shuffled(self):
        invoice, _charge, dispute = self.open_dispute()
        created, withdrawn, reinstated, closed = self.won_events(dispute)
        processed = self.deliver_all([closed])
        self.assertEvent(processed[0], "done")
        self.assertWon(invoice)
        self.deliver_all([withdrawn, created, reinstated])
        self.assertWon(invoice)
        self.assertEqual(self.env["stripe.dispute"].search([]).status, "won")

    def lost_events(self, dispute, start=1800000000):
        created = self.snapshot("charge.dispute.created", dispute, start)
        withdrawn = self.snapshot("charge.dispute.funds_withdrawn", dispute, start + 1)
        self.fake.lose_dispute(dispute["id"])
        closed = self.snapshot("charge.dispute.closed", dispute, start + 60)
        return [created, withdrawn, closed]

    def assertLost(self, invoice):
        dispute = self.env["stripe.dispute"].search([])
        self.assertEqual(dispute.state, "lost")
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 0.0)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 3.0 + 15.0)
        self.assertAlmostEqual(self.journal_balance(), 100.0 - 3.0 - 115.0)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertStripeMirrored()
        return dispute

    def test_dispute_lost_in_order_credit_note(self):
        invoice, _charge, dispute = self.open_dispute()
        events = self.lost_events(dispute)
        self.deliver_all(events[:2])
        self.assertWithdrawn(invoice)
        self.assertStripeMirrored(disputed=100.0)
        processed = self.deliver_all(events[2:])
        self.assertEvent(processed[0], "done", "lost")
        record = self.assertLost(invoice)
        credit_note = self.credit_notes(invoice)
        self.assertEqual(len(credit_note), 1)
        self.assertAlmostEqual(credit_note.amount_total, 100.0)
        # Settled by the entry that clears the disputed payments account.
        self.assertInvoice(credit_note, 0.0, "reversed")
        self.assertIn(credit_note, record.loss_move_ids)
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        revenue = invoice.invoice_line_ids.account_id
        self.assertAlmostEqual(self.account_balance(revenue), 0.0, msg="revenue undone")
        self.assertFalse(invoice.activity_ids)

    def test_dispute_lost_shuffled_write_off(self):
        self.stripe_account.dispute_loss_policy = "write_off"
        loss_account = self.company_data["default_account_expense"]
        self.stripe_account.dispute_loss_account_id = loss_account
        invoice, _charge, dispute = self.open_dispute()
        created, withdrawn, closed = self.lost_events(dispute)
        # One delivery at a time, so that each is processed before the older ones.
        self.deliver_all([closed])
        self.assertLost(invoice)
        self.deliver_all([withdrawn])
        self.assertLost(invoice)
        self.deliver_all([created])
        self.assertLost(invoice)
        self.assertFalse(self.credit_notes(invoice))
        self.assertAlmostEqual(self.account_balance(loss_account), 100.0)
        self.assertAlmostEqual(self.customer_balance(), 0.0)

    def test_dispute_booked_by_its_payout_first(self):
        """The payout that carries the withdrawal is reconciled before the dispute's
        webhook is processed: the dispute then books nothing more."""
        invoice, _charge, dispute = self.open_dispute()
        self.paid_invoice(500.0)  # so that there is something to pay out
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 100.0)
        event = self.deliver("charge.dispute.funds_withdrawn", dispute)
        self.assertEvent(event, "done")
        record = self.env["stripe.dispute"].search([])
        self.assertEqual(record.state, "withdrawn")
        self.assertTrue(record.withdrawal_move_id)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 100.0)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 3.0 + 3.0 + 15.0)
        self.assertAlmostEqual(self.journal_balance(), self.fake.balance("usd") / 100)
        self.assertIn("withdrawn", invoice.message_ids[0].body)

    def test_dispute_of_a_payment_odoo_payment_provider_registered(self):
        """Odoo's own Stripe provider registered the payment (no Stripe ids on it):
        the dispute still finds its invoice through the transaction, and a lost
        dispute takes the revenue back with a credit note."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(10000, "usd", fee=300)
        transaction = self.create_payment_transaction(
            "INV-TX-7", provider_reference=charge["payment_intent"], state="done"
        )
        # What the provider does: Register Payment on the Stripe journal.
        action = invoice.action_register_payment()
        payment = (
            self.env[action["res_model"]]
            .with_context(**action["context"])
            .create({"journal_id": self.stripe_journal.id})
            ._create_payments()
        )
        payment.payment_transaction_id = transaction
        fee_entry = self.stripe_account._stripe_book_fee(
            self.fake.get(charge["balance_transaction"]), "Fee booked by hand"
        )
        self.assertTrue(fee_entry)
        dispute = self.fake.add_dispute(charge["id"], fee=1500)
        self.deliver("charge.dispute.funds_withdrawn", dispute)
        record = self.env["stripe.dispute"].search([])
        self.assertEqual(record.payment_id, payment)
        self.assertEqual(record.invoice_ids, invoice)
        self.assertWithdrawn(invoice)
        self.fake.lose_dispute(dispute["id"])
        self.deliver("charge.dispute.closed", dispute)
        self.assertLost(invoice)
        credit_note = self.credit_notes(invoice)
        self.assertAlmostEqual(credit_note.amount_total, 100.0)
        self.assertAlmostEqual(self.customer_balance(), 0.0)

    def test_dispute_of_a_payment_odoo_does_not_know(self):
        """Paid before Odoo was connected: the money still leaves Stripe, so the
        withdrawal is booked (the Stripe journal keeps mirroring Stripe); a lost
        dispute without invoice is written off."""
        charge = self.fake.add_charge(10000, "usd", fee=300, created=1600000000)
        dispute = self.fake.add_dispute(charge["id"], fee=1500)
        self.deliver("charge.dispute.funds_withdrawn", dispute)
        record = self.env["stripe.dispute"].search([])
        self.assertEqual(record.state, "withdrawn")
        self.assertFalse(record.payment_id)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 100.0)
        self.assertAlmostEqual(self.journal_balance(), -115.0)
        self.fake.lose_dispute(dispute["id"])
        self.deliver("charge.dispute.closed", dispute)
        self.assertEqual(record.state, "lost")
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 0.0)
        loss_account = self.stripe_account.fee_account_id
        self.assertAlmostEqual(self.account_balance(loss_account), 115.0)

    def test_inquiry_without_money_moved_is_noted_only(self):
        invoice, charge = self.paid_invoice(100.0)
        dispute = {
            "id": "dp_inquiry",
            "object": "dispute",
            "amount": 10000,
            "currency": "usd",
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "balance_transactions": [],
            "status": "warning_needs_response",
            "reason": "general",
            "created": 1800000000,
        }
        event = self.deliver("charge.dispute.created", dispute)
        self.assertEvent(event, "done", "no money has moved yet")
        record = self.env["stripe.dispute"].search([("stripe_id", "=", "dp_inquiry")])
        self.assertEqual(record.state, "open")
        self.assertEqual(record.status, "warning_needs_response")
        self.assertEqual(record.invoice_ids, invoice)
        self.assertFalse(invoice.activity_ids)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 0.0)
        self.assertAlmostEqual(self.journal_balance(), 97.0)
