"""A payout reconciled before the webhooks of what it carries: the webhooks that
come afterwards complete what the payout could not know, and book nothing twice."""

from odoo import Command
from odoo.tests import tagged

from .common import HOSTILE, PayoutCommon, RefundDisputeCommon


@tagged("post_install", "-at_install")
class TestPayoutThenWebhook(RefundDisputeCommon, PayoutCommon):
    def credit_note_of(self, refund):
        return self.env["account.move"].search(
            [("move_type", "=", "out_refund"), ("ref", "like", refund["id"])]
        )

    def test_charge_booked_by_payout_pays_the_invoice_a_user_picks(self):
        """The webhook could not tell which of two invoices a charge pays (failed),
        then the payout booked the charge as the customer's credit. The user picks
        the invoice on the failed event and retries: the credit pays it, and
        nothing is registered again."""
        first = self.create_invoice(70.0)
        second = self.create_invoice(70.0)
        customer = self.fake.add_customer(email=self.customer.email)
        charge = self.fake.add_charge(7000, "usd", customer=customer["id"])
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "failed", first.name)
        self.deliver("payout.paid", self.fake.add_payout())
        payment = self.env["account.payment"].search(
            [("stripe_charge_id", "=", charge["id"])]
        )
        self.assertEqual(payment.partner_id, self.customer)
        self.assertFalse(payment.reconciled_invoice_ids)

        event.invoice_id = second
        event.action_retry()
        self.process_events()
        self.assertEvent(event, "done", second.name)
        self.assertInvoice(second, 0.0, "paid")
        self.assertInvoice(first, 70.0, "not_paid")
        self.assertEqual(payment.reconciled_invoice_ids, second)
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("stripe_account_id", "=", self.stripe_account.id)]
            ),
            1,
        )
        self.assertAlmostEqual(self.customer_balance(), 70.0)

    def test_refund_booked_by_payout_gets_its_credit_note_from_the_webhook(self):
        """The payout booked the refund as money sent back to the customer; the
        refund's webhook, processed afterwards, takes the revenue back with a
        credit note, once."""
        invoice, charge = self.paid_invoice(100.0, fee=300)
        refund = self.fake.add_refund(charge["id"], 2500)
        self.deliver("payout.paid", self.fake.add_payout())
        self.assertFalse(self.credit_notes(invoice))
        self.assertAlmostEqual(self.customer_balance(), 25.0, msg="owed back")

        event = self.deliver("refund.created", refund)
        self.assertEvent(event, "done", "completed with credit note")
        credit_note = self.credit_notes(invoice)
        self.assertAlmostEqual(credit_note.amount_total, 25.0)
        self.assertInvoice(credit_note, 0.0, "paid")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        again = self.deliver("refund.updated", refund)
        self.assertEvent(again, "done", "already booked")
        self.assertEqual(self.credit_notes(invoice), credit_note)
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertStripeMirrored()

    def test_refund_failure_booked_by_payout_is_not_booked_again(self):
        """The refund failed and its money came back with a payout before the
        refund.failed webhook: the webhook takes back the credit note only."""
        invoice, charge = self.paid_invoice(100.0, fee=300)
        refund = self.fake.add_refund(charge["id"], 4000)
        self.assertEvent(self.deliver("refund.created", refund), "done")
        credit_note = self.credit_notes(invoice)
        failed = self.fake.set_refund_status(refund["id"], "failed")
        self.deliver("payout.paid", self.fake.add_payout())
        self.assertStripeMirrored()

        event = self.deliver("refund.failed", failed)
        self.assertEvent(event, "done", "reversed")
        self.assertTrue(credit_note.reversal_move_ids)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertStripeMirrored()

    def test_lost_dispute_clears_only_its_own_withdrawal(self):
        """The payout booked two disputes of one customer in one entry; losing one
        clears its amount only from the disputed payments account."""
        _first_invoice, first_charge = self.paid_invoice(100.0, fee=300)
        _second_invoice, second_charge = self.paid_invoice(60.0, fee=200)
        lost = self.fake.add_dispute(first_charge["id"], fee=1500)
        self.fake.add_dispute(second_charge["id"], fee=1500)
        self.paid_invoice(500.0)  # so that there is something to pay out
        self.deliver("payout.paid", self.fake.add_payout())
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 160.0)

        self.fake.lose_dispute(lost["id"])
        event = self.deliver("charge.dispute.closed", lost)
        self.assertEvent(event, "done", "lost")
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 60.0)
        self.assertStripeMirrored(disputed=60.0)

    def test_refund_failed_and_returned_by_payout_gets_no_credit_note(self):
        """Neither webhook came before the payout, which booked the refund and
        the money coming back: the late refund.created (still saying succeeded)
        takes no revenue back."""
        invoice, charge = self.paid_invoice(100.0, fee=300)
        refund = self.fake.add_refund(charge["id"], 4000)
        created = self.make_event("refund.created", refund)
        failed = self.fake.set_refund_status(refund["id"], "failed")
        self.deliver("payout.paid", self.fake.add_payout())
        self.assertEvent(
            self.deliver("refund.failed", failed), "ignored", "came back with a payout"
        )
        self.assertEqual(self.post_webhook(created).status_code, 200)
        self.process_events()
        self.assertEvent(self.get_event(created["id"]), "done", "already booked")
        self.assertFalse(self.credit_notes(invoice))
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.customer_balance(), 0.0)
        self.assertStripeMirrored()

    def test_payout_with_a_provider_payment_not_confirmed_needs_attention(self):
        """Odoo's provider has not confirmed the transaction of a charge the payout
        carries: the payout needs attention, with the reason, instead of failing."""
        invoice = self.create_invoice(80.0)
        charge = self.fake.add_charge(8000, "usd", fee=250)
        self.create_payment_transaction(
            "INV-TX-9",
            amount=80.0,
            provider_reference=charge["payment_intent"],
            invoice_ids=[Command.set(invoice.ids)],
            state="pending",
        )
        self.deliver("payout.paid", self.fake.add_payout())
        record = self.env["stripe.payout"].search([])
        self.assertPayout(record, "error", "waiting for the provider")
        self.assertInvoice(invoice, 80.0, "not_paid")
        self.assertAlmostEqual(self.journal_balance(), 0.0)

    # === STRIPE'S MARKUP IN ACTIVITIES: TEXT === #

    def test_markup_in_a_dispute_reason_is_text_in_the_activity(self):
        invoice, charge = self.paid_invoice(100.0)
        dispute = self.fake.add_dispute(charge["id"], fee=1500)
        dispute["reason"] = HOSTILE
        self.deliver("charge.dispute.funds_withdrawn", dispute)
        self.assertEscaped(invoice.message_ids[0].body)
        # The to-do to respond is on the dispute.
        record = self.env["stripe.dispute"].search([("stripe_id", "=", dispute["id"])])
        self.assertEqual(len(record.activity_ids), 1)
        # Its one live link is the dispute's page in Stripe's dashboard.
        note = str(record.activity_ids.note).replace(
            f'<a href="{record.dashboard_url}"', ""
        )
        self.assertEscaped(note)

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
