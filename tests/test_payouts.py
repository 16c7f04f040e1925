# pylint: disable=too-many-lines
# One file for payouts, like the other areas: import, reconcile, undo, currencies.

import itertools
from datetime import timedelta
from unittest.mock import patch

import stripe

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from .. import const, utils
from .common import API_KEY, PayoutCommon
from .fake_stripe import fast_sdk_retries

EVENT_LOGGER = "odoo.addons.stripe_connector.models.core.stripe_event"


@tagged("post_install", "-at_install")
class TestPayoutReconciliation(PayoutCommon):
    """A payout mirrors every transaction on the Stripe journal and lands in the
    bank journal."""

    def test_payout_with_everything_adds_up_and_reconciles(self):
        """Charges (fees booked at payment time or not), a charge no webhook
        brought, refunds, a dispute, an adjustment and a billing fee: the payout
        reconciles on its own; the fee account holds exactly the fees, the Stripe
        journal holds Stripe's balance, the bank journal the payout."""
        adjustments = self.company_data["default_account_expense"].copy(
            {"name": "Stripe adjustments"}
        )
        self.stripe_account.payout_adjustment_account_id = adjustments
        _invoice, charge_a = self.pay_invoice(120.0)
        self.stripe_account.api_key = False  # fees of these two wait for the payout
        invoice_b, charge_b = self.pay_invoice(80.0)
        self.pay_invoice(45.5)
        self.stripe_account.api_key = API_KEY
        missed = self.create_invoice(60.0)
        self.fake.add_charge(6000, "usd", metadata={"odoo_invoice": missed.name})
        self.fake.add_refund(charge_a["id"], 2000)
        self.fake.add_refund(charge_b["id"])
        self.fake.add_dispute(self.pay_invoice(30.0)[1]["id"])
        self.fake.add_adjustment(-150, "usd", "Correction")
        self.fake.add_stripe_fee(500, "usd", "Radar fees")
        # Stripe Tax on its fees: a second fee type on one transaction.
        taxed = self.fake.get(charge_b["balance_transaction"])
        taxed["fee_details"].append(
            {"amount": 40, "currency": "usd", "description": "Tax", "type": "tax"}
        )
        taxed.update(fee=taxed["fee"] + 40, net=taxed["net"] - 40)
        payout = self.fake.add_payout()
        self.assertGreater(payout["amount"], 0)

        event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "reconciled")
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertEqual(event.payout_id, record)
        self.assertEqual(record.transaction_count, 10)
        self.assertEqual(record.to_book_count, 0)
        self.assertAlmostEqual(record.net_amount, payout["amount"] / 100)
        self.assertAlmostEqual(record.refund_amount, -100.0)
        self.assertAlmostEqual(record.dispute_amount, -30.0)
        self.assertAlmostEqual(record.adjustment_amount, -1.5)
        self.assertAlmostEqual(record.fee_amount, -self.fees())

        self.assertAlmostEqual(self.account_balance(self.fee_account), self.fees())
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)
        self.assertInvoice(missed, 0.0, "paid")
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 30.0)
        self.assertAlmostEqual(self.account_balance(adjustments), 1.5)
        # The full refund of B is an outbound payment to B's customer.
        refund_payment = self.env["account.payment"].search(
            [
                ("stripe_charge_id", "=", charge_b["id"]),
                ("payment_type", "=", "outbound"),
            ]
        )
        self.assertEqual(refund_payment.partner_id, invoice_b.partner_id)
        self.assertAlmostEqual(refund_payment.amount, 80.0)
        # One fee entry for the whole payout, one line per fee type.
        fee_lines = record.fee_move_id.line_ids.filtered(
            lambda line: line.account_id == self.fee_account
        )
        self.assertEqual(
            len(fee_lines), 3, "Stripe fees, tax on them, and the Radar fee"
        )
        self.assertAlmostEqual(
            fee_lines.filtered(lambda line: "Tax" in line.name).balance, 0.40
        )
        self.assertAlmostEqual(
            fee_lines.filtered(lambda line: "charged separately" in line.name).balance,
            5.0,
        )

        # The money waits in the transfer account for the bank line.
        self.assertEqual(record.bank_state, "waiting")
        self.assertAlmostEqual(self.bank_balance(), 0.0)
        statement_line = self.add_statement_line(
            payout["amount"] / 100, self.arrival(payout) + timedelta(days=1)
        )
        record.invalidate_recordset()
        self.assertEqual(record.statement_line_id, statement_line)
        self.assertEqual(record.bank_state, "matched")
        self.assertTrue(statement_line.is_reconciled)
        self.assertAlmostEqual(self.bank_balance(), payout["amount"] / 100)
        self.assertAlmostEqual(self.account_balance(self.transfer_account), 0.0)

    def test_refunds_and_disputes_booked_by_webhooks_are_not_booked_again(self):
        """A refund and a won dispute came by webhook before the payout: their
        transactions link to the refund payment and the dispute entries, and the
        payout books only the charges' fees and its transfer."""
        invoice, charge = self.pay_invoice(100.0)
        refund = self.fake.add_refund(charge["id"], 2500)
        self.assertEvent(self.deliver("refund.created", refund), "done")
        _invoice, disputed = self.pay_invoice(40.0)
        dispute = self.fake.add_dispute(disputed["id"])
        self.assertEvent(
            self.deliver("charge.dispute.funds_withdrawn", dispute), "done"
        )
        self.fake.win_dispute(dispute["id"])
        self.assertEvent(
            self.deliver("charge.dispute.funds_reinstated", dispute), "done"
        )
        fees_before = self.account_balance(self.fee_account)
        self.assertAlmostEqual(fees_before, self.fees(), msg="booked by webhooks")
        payout = self.fake.add_payout()

        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertEqual(record.linked_count, 5)
        self.assertFalse(record.payment_ids)
        self.assertEqual(record.move_ids, record.transfer_move_id, "nothing else")
        dispute_record = self.env["stripe.dispute"].search([])
        transactions = record.transaction_ids
        self.assertEqual(
            transactions.filtered(lambda t: t.reporting_category == "dispute").move_id,
            dispute_record.withdrawal_move_id,
        )
        self.assertEqual(
            transactions.filtered(
                lambda t: t.reporting_category == "refund"
            ).payment_id,
            self.env["account.payment"].search(
                [("stripe_object_id", "=", refund["id"])]
            ),
        )
        self.assertAlmostEqual(self.account_balance(self.fee_account), fees_before)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 0.0)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)

    def test_charge_of_odoo_payment_provider_is_linked_to_its_payment(self):
        """A charge Odoo's own Stripe provider registered (its journal being the
        Stripe journal): the payout links its transaction to that payment and
        registers nothing more."""
        invoice = self.create_invoice(80.0)
        charge = self.fake.add_charge(8000, "usd", fee=250)
        transaction = self.create_payment_transaction(
            "INV-TX-1",
            amount=80.0,
            provider_reference=charge["payment_intent"],
            invoice_ids=[Command.set(invoice.ids)],
            state="done",
        )
        journal = self.stripe_journal
        provider_payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": self.customer.id,
                "amount": 80.0,
                "journal_id": journal.id,
                "payment_method_line_id": journal._stripe_get_payment_method_line(
                    "inbound"
                ).id,
                "payment_transaction_id": transaction.id,
            }
        )
        provider_payment.action_post()
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "ignored", "INV-TX-1")
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertEqual(record.state, "reconciled", record.state_message)
        self.assertFalse(record.payment_ids, "no second payment for the charge")
        linked = record.transaction_ids.filtered(
            lambda t: t.stripe_source_id == charge["id"]
        )
        self.assertEqual(linked.payment_id, provider_payment)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 2.5)
        self.assertAlmostEqual(self.journal_balance(), self.fake.balance("usd") / 100)

    def test_statement_line_already_there_is_matched_at_once(self):
        self.pay_invoice(100.0)
        payout = self.fake.add_payout()
        self.add_statement_line(
            payout["amount"] / 100, self.arrival(payout) + timedelta(days=9)
        )
        statement_line = self.add_statement_line(
            payout["amount"] / 100, self.arrival(payout) - timedelta(days=2)
        )
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled", statement_line.display_name)
        self.assertEqual(record.statement_line_id, statement_line)
        self.assertAlmostEqual(self.bank_balance(), payout["amount"] / 100 * 2)
        self.assertAlmostEqual(self.account_balance(self.transfer_account), 0.0)

    @patch.object(const, "API_PAGE_SIZE", 10)
    def test_transactions_come_page_by_page(self):
        """26 transactions, pages of 10 (Stripe's pages are of 100: the size is
        the module's constant): three pages, each after the last."""
        self.stripe_account.payout_auto_reconcile = False
        self.fake.add_many_charges(25, 1000, "usd")
        payout = self.fake.add_payout()
        event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "Imported 25 transactions")
        record = self.get_payout(payout)
        self.assertPayout(record, "to_reconcile", "Reconcile")
        self.assertEqual(record.transaction_count, 25)
        self.assertEqual(len(record.transaction_ids), 26, "and the payout's own")
        self.assertAlmostEqual(record.net_amount, payout["amount"] / 100)
        self.assertAlmostEqual(record.charge_amount, 250.0)
        requests = self.fake.requests_for("/v1/balance_transactions")
        self.assertEqual(len(requests), 3)
        self.assertTrue(all(req.query["limit"] == "10" for req in requests))
        self.assertTrue(all(req.query["payout"] == payout["id"] for req in requests))
        self.assertEqual(requests[0].query.get("starting_after"), None)
        self.assertEqual(
            [req.query.get("expand") for req in requests], [["data.source"]] * 3
        )
        for previous, request in itertools.pairwise(requests):
            self.assertIn(
                request.query["starting_after"],
                record.transaction_ids.mapped("stripe_id"),
            )
            self.assertNotEqual(
                request.query["starting_after"], previous.query.get("starting_after")
            )

    def test_rate_limited_then_success(self):
        self.pay_invoice(100.0)
        payout = self.fake.add_payout()
        with fast_sdk_retries():
            self.fake.fail_next(2, status=429, path_prefix="/v1/balance_transactions")
            event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "reconciled")
        self.assertEqual(len(self.fake.requests_for("/v1/balance_transactions")), 3)
        self.assertPayout(self.get_payout(payout), "reconciled")
        self.assertStripeMirrored()

    @patch.object(const, "API_RATE_LIMIT_BASE_DELAY", 0)
    @patch.object(const, "API_PAGE_SIZE", 10)
    def test_rate_limit_without_retry_hint_asks_for_the_same_page_again(self):
        """A plain 429 (no Stripe-Should-Retry: the SDK gives up at once) on the
        second page: Odoo asks for that page again and the payout reconciles."""
        self.fake.add_many_charges(10, 1000, "usd")
        payout = self.fake.add_payout()
        self.fake.fail_next(
            2,
            status=429,
            path_prefix="/v1/balance_transactions",
            should_retry=None,
            after=1,
        )
        event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "reconciled")
        requests = self.fake.requests_for("/v1/balance_transactions")
        self.assertEqual(len(requests), 4, "one page, then the second one 3 times")
        self.assertEqual(
            {req.query["starting_after"] for req in requests[1:]},
            {requests[1].query["starting_after"]},
        )
        self.assertEqual(self.get_payout(payout).transaction_count, 10)
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)

    @patch.object(const, "API_RATE_LIMIT_BASE_DELAY", 0)
    @patch.object(const, "API_PAGE_SIZE", 10)
    def test_persistent_rate_limit_marks_the_payout_and_imports_nothing(self):
        """The daily import meets a plain 429 on the second page that does not go
        away: after 4 retries the payout needs attention, with Stripe's answer and
        the number of attempts; no transaction is kept. The next run imports
        them all."""
        self.stripe_account.payout_auto_reconcile = False
        self.fake.add_many_charges(10, 1000, "usd")
        payout = self.fake.add_payout()
        journal_before = self.journal_balance()
        self.fake.fail_next(
            10,
            status=429,
            path_prefix="/v1/balance_transactions",
            should_retry=None,
            after=1,
        )
        cron = self.env.ref("stripe_connector.ir_cron_stripe_payout_backfill")
        cron.method_direct_trigger()
        record = self.get_payout(payout)
        self.assertPayout(record, "error", "HTTP 429, 5 attempts")
        self.assertIn(payout["id"], record.state_message)
        self.assertIn("Stripe limits the rate of requests", record.state_message)
        self.assertTrue(record.activity_ids)
        self.assertEqual(len(self.fake.requests_for("/v1/balance_transactions")), 6)
        self.assertFalse(self.env["stripe.balance.transaction"].search_count([]))
        self.assertFalse(record.transactions_imported)
        self.assertAlmostEqual(self.journal_balance(), journal_before)

        self.fake.clear_faults()
        cron.method_direct_trigger()
        self.assertPayout(record, "to_reconcile")
        self.assertEqual(record.transaction_count, 10)
        self.assertAlmostEqual(record.net_amount, payout["amount"] / 100)

    @patch.object(const, "API_RATE_LIMIT_BASE_DELAY", 0)
    def test_rate_limited_payment_intent_fails_the_reconciliation(self):
        """A charge no webhook brought, whose invoice only its PaymentIntent names:
        while Stripe answers 429 for the PaymentIntent, nothing is booked (not a
        payment without invoice); once it answers, the invoice is paid."""
        missed = self.create_invoice(60.0)
        charge = self.fake.add_charge(
            6000, "usd", metadata={"odoo_invoice": missed.name}
        )
        payout = self.fake.add_payout()
        journal_before = self.journal_balance()
        self.fake.fail_next(
            10, status=429, path_prefix="/v1/payment_intents", should_retry=None
        )
        event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "needs attention")
        record = self.get_payout(payout)
        self.assertPayout(record, "error", charge["payment_intent"])
        self.assertIn("HTTP 429, 5 attempts", record.state_message)
        self.assertEqual(len(self.fake.requests_for("/v1/payment_intents")), 5)
        self.assertInvoice(missed, 60.0, "not_paid")
        self.assertFalse(
            self.env["account.payment"].search(
                [("stripe_charge_id", "=", charge["id"])]
            )
        )
        self.assertFalse(record.move_ids)
        self.assertAlmostEqual(self.journal_balance(), journal_before)

        self.fake.clear_faults()
        self.reconcile_with_wizard(record)
        self.assertPayout(record, "reconciled")
        self.assertInvoice(missed, 0.0, "paid")
        self.assertStripeMirrored()

    @mute_logger(EVENT_LOGGER)
    @patch.object(const, "API_PAGE_SIZE", 10)
    def test_persistent_server_error_fails_the_event_and_imports_nothing(self):
        """The second page (of 10) keeps failing after the SDK's retries: the
        event fails with a clear message, no transaction is kept; its retry
        imports all."""
        self.fake.add_many_charges(15, 1000, "usd")
        payout = self.fake.add_payout()
        with fast_sdk_retries():
            self.fake.fail_next(
                10, status=500, path_prefix="/v1/balance_transactions", after=1
            )
            event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "failed", "HTTP 500")
        self.assertIn(payout["id"], event.state_message)
        self.assertIn(
            "HTTP 500, 4 attempts", event.state_message, "the SDK's 3 retries"
        )
        self.assertFalse(self.env["stripe.balance.transaction"].search_count([]))
        self.assertFalse(self.get_payout(payout).transaction_ids)
        self.assertEqual(len(self.fake.requests_for("/v1/balance_transactions")), 5)

        self.fake.clear_faults()
        event.action_retry()
        self.assertEvent(event, "done", "reconciled")
        self.assertEqual(self.get_payout(payout).transaction_count, 15)
        self.assertStripeMirrored()

    def test_numbers_that_do_not_add_up_are_refused(self):
        """A payout larger than its transactions: nothing is booked, the payout and
        the wizard say by how much."""
        self.pay_invoice(100.0)
        fees_before = self.account_balance(self.fee_account)
        journal_before = self.journal_balance()
        nets = sum(txn["net"] for txn in self.fake.objects("balance_transaction"))
        payout = self.fake.add_payout(amount=nets + 1234)
        event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "needs attention")
        record = self.get_payout(payout)
        self.assertPayout(record, "error", "a difference of")
        self.assertIn("12.34", record.state_message)
        self.assertIn("missing", record.state_message)
        self.assertTrue(record.activity_ids)
        self.assertFalse(record.move_ids)
        self.assertAlmostEqual(self.account_balance(self.fee_account), fees_before)
        self.assertAlmostEqual(self.journal_balance(), journal_before)

        wizard = self.open_wizard(record)
        self.assertFalse(wizard.can_confirm)
        self.assertIn("12.34", wizard.blockers)
        with self.assertRaises(UserError):
            wizard.action_confirm()
        self.assertFalse(record.move_ids)

    def test_confirm_twice_books_nothing_more(self):
        self.stripe_account.payout_auto_reconcile = False
        self.stripe_account.api_key = False
        self.pay_invoice(100.0)
        self.stripe_account.api_key = API_KEY
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "to_reconcile")
        wizard = self.reconcile_with_wizard(record)
        self.assertPayout(record, "reconciled")
        moves = record.move_ids
        self.assertEqual(len(moves), 2, "a fee entry and a transfer")
        balances = (self.journal_balance(), self.account_balance(self.fee_account))

        with self.assertRaises(UserError):
            wizard.action_confirm()
        with self.assertRaises(UserError):
            record.action_open_reconcile_wizard()
        self.assertEvent(
            self.deliver("payout.paid", payout), "done", "already reconciled"
        )
        record._stripe_reconcile()
        record.invalidate_recordset()
        self.assertEqual(record.move_ids, moves)
        self.assertEqual(
            (self.journal_balance(), self.account_balance(self.fee_account)), balances
        )
        self.assertStripeMirrored()

    def test_undo_reverses_cleanly_and_reconciles_again(self):
        """Undo reverses the entries, cancels the payments the payout registered and
        frees the bank line; reconciling again gives the same books."""
        self.stripe_account.api_key = False
        self.pay_invoice(100.0)
        self.stripe_account.api_key = API_KEY
        missed = self.create_invoice(50.0)
        self.fake.add_charge(5000, "usd", metadata={"odoo_invoice": missed.name})
        payout = self.fake.add_payout()
        statement_line = self.add_statement_line(
            payout["amount"] / 100, self.arrival(payout)
        )
        journal_before = self.journal_balance()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertInvoice(missed, 0.0, "paid")
        self.assertTrue(statement_line.is_reconciled)
        after = (
            self.journal_balance(),
            self.account_balance(self.fee_account),
            self.bank_balance(),
        )

        self.assertTrue(record.can_undo)
        record.action_undo()
        self.assertPayout(record, "to_reconcile", "undone")
        self.assertFalse(record.can_undo, "the Undo button is hidden")
        with self.assertRaises(UserError):
            record.action_undo()
        self.assertAlmostEqual(self.journal_balance(), journal_before)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 0.0)
        self.assertAlmostEqual(self.account_balance(self.transfer_account), 0.0)
        self.assertInvoice(missed, 50.0, "not_paid")
        self.assertEqual(record.payment_ids.state, "canceled")
        statement_line.invalidate_recordset()
        self.assertFalse(statement_line.is_reconciled)
        self.assertEqual(record.to_book_count, 1, "the missed charge is to book again")

        self.reconcile_with_wizard(record)
        self.assertPayout(record, "reconciled")
        self.assertInvoice(missed, 0.0, "paid")
        self.assertTrue(statement_line.is_reconciled)
        self.assertEqual(
            (
                self.journal_balance(),
                self.account_balance(self.fee_account),
                self.bank_balance(),
            ),
            after,
        )
        self.assertStripeMirrored()

    def test_failed_payout_after_reconciliation_reverses_the_transfer(self):
        self.pay_invoice(100.0)
        payout = self.fake.add_payout()
        statement_line = self.add_statement_line(
            payout["amount"] / 100, self.arrival(payout)
        )
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertEqual(record.bank_state, "matched")

        event = self.deliver("payout.failed", self.fake.fail_payout(payout["id"]))
        self.assertEvent(event, "done", "reversed")
        self.assertPayout(record, "error", "reversed")
        self.assertEqual(record.status, "failed")
        self.assertTrue(record.transfer_reversal_move_id)
        self.assertEqual(record.bank_state, "none")
        self.assertEqual(record.failure_code, "account_closed")
        self.assertIn("bank account has been closed", record.state_message)
        activity = record.activity_ids
        self.assertEqual(activity.user_id, self.stripe_account.user_id)
        self.assertFalse(statement_line.is_reconciled)
        self.assertAlmostEqual(self.account_balance(self.transfer_account), 0.0)
        # The money is back in the Stripe balance, in Stripe and in Odoo.
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), payout["amount"] / 100)

        # A late payout.paid snapshot does not move it back.
        self.deliver("payout.paid", payout)
        self.assertPayout(record, "error", "bank account has been closed")
        self.assertEqual(record.status, "failed")
        self.assertAlmostEqual(self.journal_balance(), payout["amount"] / 100)

        # The next payout pays the returned money out again.
        self.pay_invoice(10.0)
        second = self.fake.add_payout()
        self.deliver("payout.paid", second)
        self.assertPayout(self.get_payout(second), "reconciled")
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)

    def test_canceled_payout_after_reconciliation_needs_attention(self):
        """A pending payout reconciled by a user, then canceled: its transfer is
        reversed, the money is back on the Stripe journal, and the payout needs
        attention with the reason. Later events and the daily import leave it so
        and book nothing more."""
        self.pay_invoice(100.0)
        payout = self.fake.add_payout(status="pending")
        self.deliver("payout.updated", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "to_reconcile", "once Stripe reports it paid")
        self.reconcile_with_wizard(record)
        self.assertPayout(record, "reconciled")
        self.assertEqual(record.bank_state, "waiting")
        self.assertAlmostEqual(self.journal_balance(), 0.0)

        event = self.deliver("payout.canceled", self.fake.cancel_payout(payout["id"]))
        self.assertEvent(event, "done", "reversed")
        self.assertPayout(record, "error", "canceled")
        self.assertIn(record.transfer_reversal_move_id.name, record.state_message)
        self.assertEqual(record.status, "canceled")
        self.assertEqual(record.bank_state, "none")
        self.assertEqual(record.activity_ids.user_id, self.stripe_account.user_id)
        self.assertAlmostEqual(self.account_balance(self.transfer_account), 0.0)
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), payout["amount"] / 100)

        moves = record.move_ids
        self.assertEvent(
            self.deliver("payout.updated", payout), "done", "already reconciled"
        )
        self.env.ref(
            "stripe_connector.ir_cron_stripe_payout_backfill"
        ).method_direct_trigger()
        self.assertPayout(record, "error", "canceled")
        self.assertEqual(record.move_ids, moves)
        with self.assertRaises(UserError):
            record.action_open_reconcile_wizard()
        self.assertStripeMirrored()

    def test_transactions_wait_for_stripe_reconciliation(self):
        self.pay_invoice(100.0)
        payout = self.fake.add_payout(reconciliation_status="in_progress")
        event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "not finished reconciling")
        self.assertFalse(self.fake.requests_for("/v1/balance_transactions"))
        record = self.get_payout(payout)
        self.assertPayout(record, "to_reconcile")
        self.fake.set_payout_status(payout["id"], "paid", "completed")
        self.deliver("payout.reconciliation_completed", payout)
        self.assertPayout(record, "reconciled")
        self.assertStripeMirrored()

    def test_daily_cron_imports_a_payout_no_webhook_brought(self):
        self.pay_invoice(100.0)
        payout = self.fake.add_payout()
        self.env.ref(
            "stripe_connector.ir_cron_stripe_payout_backfill"
        ).method_direct_trigger()
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertStripeMirrored()
        arrival = self.fake.requests_for("/v1/payouts")[0].query["arrival_date"]
        self.assertIn("gte", arrival)

    def test_import_payouts_of_a_date_range(self):
        self.stripe_account.payout_auto_reconcile = False
        self.pay_invoice(100.0)
        payout = self.fake.add_payout()
        wizard = self.env["stripe.payout.import"].create(
            {
                "account_id": self.stripe_account.id,
                "date_from": fields.Date.today() - timedelta(days=3),
                "date_to": fields.Date.today() + timedelta(days=3),
            }
        )
        action = wizard.action_import()
        record = self.get_payout(payout)
        self.assertEqual(action["domain"], [("id", "in", record.ids)])
        self.assertTrue(record.transactions_imported)
        self.assertPayout(record, "to_reconcile")

    # What a user does in the reconcile wizard.

    def test_unmatched_charges_picked_or_booked_without_invoice(self):
        """Two charges no webhook brought: the user picks the invoice of one; the
        other matches nothing and becomes the customer's outstanding credit."""
        self.stripe_account.payout_auto_reconcile = False
        first = self.create_invoice(70.0)
        self.create_invoice(70.0)
        customer = self.fake.add_customer(email=self.customer.email)
        picked = self.fake.add_charge(7000, "usd", customer=customer["id"])
        unknown = self.fake.add_charge(2500, "usd")
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)

        wizard = self.open_wizard(record)
        self.assertTrue(wizard.can_confirm)
        self.assertEqual(len(wizard.charge_line_ids), 2)
        line = wizard.charge_line_ids.filtered(
            lambda line: line.stripe_charge_id == picked["id"]
        )
        self.assertEqual(line.partner_id, self.customer)
        self.assertIn("without invoice", line.proposal)
        self.assertIn("customer payment without invoice", wizard.summary)
        line.invoice_id = first
        wizard.action_confirm()

        self.assertPayout(record, "reconciled")
        self.assertInvoice(first, 0.0, "paid")
        unknown_payment = self.env["account.payment"].search(
            [("stripe_charge_id", "=", unknown["id"])]
        )
        self.assertEqual(unknown_payment.state, "paid")
        self.assertFalse(unknown_payment.partner_id)
        self.assertEqual(unknown_payment.journal_id, self.stripe_journal)
        self.assertAlmostEqual(unknown_payment.amount, 25.0)
        picked_payment = self.env["account.payment"].search(
            [("stripe_charge_id", "=", picked["id"])]
        )
        self.assertEqual(picked_payment.reconciled_invoice_ids, first)
        self.assertEqual(record.payment_ids, unknown_payment | picked_payment)
        self.assertStripeMirrored()

    def test_several_payouts_at_once(self):
        self.stripe_account.payout_auto_reconcile = False
        self.pay_invoice(100.0)
        first = self.fake.add_payout()
        self.pay_invoice(40.0)
        second = self.fake.add_payout()
        self.deliver("payout.paid", first)
        self.deliver("payout.paid", second)
        payouts = self.get_payout(first) | self.get_payout(second)
        wizard = self.open_wizard(payouts)
        self.assertTrue(wizard.is_multi)
        self.assertEqual(wizard.bank_journal_id, self.bank_journal)
        wizard.action_confirm()
        self.assertEqual(set(payouts.mapped("state")), {"reconciled"})
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)

    def test_manual_payout_with_picked_transactions(self):
        """Stripe cannot list a manual payout's transactions: the wizard imports the
        recent ones, proposes those that add up, and the user confirms."""
        self.pay_invoice(100.0)
        self.pay_invoice(25.0)
        payout = self.fake.add_payout(automatic=False)
        event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "done", "Manual payout")
        record = self.get_payout(payout)
        self.assertPayout(record, "to_reconcile")
        self.assertFalse(self.fake.requests_for("/v1/balance_transactions"))

        wizard = self.open_wizard(record)
        self.assertTrue(wizard.is_manual)
        request = self.fake.requests_for("/v1/balance_transactions")[0]
        self.assertIn("created", request.query)
        self.assertNotIn("payout", request.query)
        self.assertEqual(len(wizard.transaction_ids), 2)
        self.assertTrue(wizard.can_confirm)
        # Dropping one makes the numbers wrong; picking it again puts them right.
        dropped = wizard.transaction_ids[0]
        wizard.transaction_ids = [Command.unlink(dropped.id)]
        self.assertFalse(wizard.can_confirm)
        self.assertIn("difference", wizard.blockers)
        wizard.transaction_ids = [Command.link(dropped.id)]
        self.assertTrue(wizard.can_confirm)
        wizard.action_confirm()
        self.assertPayout(record, "reconciled")
        self.assertEqual(record.transaction_count, 2)
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)


@tagged("post_install", "-at_install")
class TestPayoutCurrencies(PayoutCommon):
    def test_payout_in_a_second_currency(self):
        """A Stripe account settling in EUR (company in USD): its payout books in
        EUR on EUR journals, with Odoo's rate for the company currency."""
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        bank_eur = self.env["account.journal"].create(
            {"name": "Bank EUR", "type": "bank", "code": "BKEU", "currency_id": eur.id}
        )
        account = self.create_eur_stripe_account(
            eur, payout_journal_id=bank_eur.id, user_id=self.env.user.id
        )
        stripe_eur = account.journal_id
        invoice = self.create_invoice(200.0, currency=eur)
        account.api_key = False  # the fee waits for the payout
        self.pay(20000, "eur", account=account, metadata={"odoo_invoice": invoice.name})
        account.api_key = API_KEY
        self.assertInvoice(invoice, 0.0, "paid")
        self.fake.add_adjustment(-300, "eur", "Correction")
        payout = self.fake.add_payout(currency="eur")

        ignored = self.deliver("payout.paid", payout)
        self.assertEvent(ignored, "ignored", "in EUR")
        self.deliver_to(account, "payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertEqual(record.currency_id, eur)
        fees = self.fees("eur")
        self.assertAlmostEqual(record.fee_amount, -fees)
        self.assertStripeMirrored("eur", stripe_eur, account_currency=eur)
        self.assertAlmostEqual(
            self.account_balance(self.fee_account), fees * 2 + 3.0 * 2, 2
        )
        self.add_statement_line(payout["amount"] / 100, self.arrival(payout), bank_eur)
        record.invalidate_recordset()
        self.assertEqual(record.bank_state, "matched")
        self.assertAlmostEqual(
            self.account_balance(bank_eur.default_account_id, eur),
            payout["amount"] / 100,
        )

    def test_foreign_charge_booked_at_odoo_rate_gets_stripe_exchange_difference(self):
        """Without an API key at payment time, a EUR payment is booked at Odoo's
        rate; Stripe settled it in USD at its own. The payout books the
        difference on the exchange accounts: the Stripe journal mirrors Stripe."""
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        invoice = self.create_invoice(50.0, currency=eur)  # 100 USD
        self.stripe_account.api_key = False
        charge = self.pay(
            5000,
            "eur",
            fee=0,  # so that no fee entry marks the payment as done by the payout
            exchange_rate=1.9,  # Stripe settles 95 USD
            settlement_currency="usd",
            metadata={"odoo_invoice": invoice.name},
        )
        self.stripe_account.api_key = API_KEY
        self.assertAlmostEqual(self.journal_balance(), 100.0)
        payout = self.fake.add_payout(currency="usd")
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertTrue(record.exchange_move_id)
        loss = self.company.expense_currency_exchange_account_id
        self.assertAlmostEqual(self.account_balance(loss), 5.0)
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)
        # Another event about the payment, read with the key now: the payout
        # booked the conversion, it is not booked again.
        again = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(again, "done", "Already registered")
        self.assertAlmostEqual(self.account_balance(loss), 5.0)
        self.assertStripeMirrored()

    def test_undo_reverses_stripe_conversion_of_a_charge_the_payout_booked(self):
        """A EUR charge no webhook brought, settled in USD at Stripe's rate: the
        payout registers its payment and Stripe's conversion, and lists both among
        its entries. Undo reverses them all: the Stripe journal is back where it
        was; reconciling again books the same."""
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        invoice = self.create_invoice(50.0, currency=eur)  # 100 USD at Odoo's rate
        self.fake.add_charge(
            5000,
            "eur",
            exchange_rate=1.9,  # Stripe settles 95 USD
            settlement_currency="usd",
            metadata={"odoo_invoice": invoice.name},
        )
        payout = self.fake.add_payout(currency="usd")
        journal_before = self.journal_balance()
        loss = self.company.expense_currency_exchange_account_id
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertInvoice(invoice, 0.0, "paid")
        exchange = record.payment_ids.stripe_exchange_move_id
        self.assertTrue(exchange)
        self.assertIn(exchange, record.move_ids)
        self.assertIn(exchange.name, record.state_message)
        self.assertAlmostEqual(self.account_balance(loss), 5.0)
        self.assertStripeMirrored()

        record.action_undo()
        self.assertPayout(record, "to_reconcile", exchange.name)
        self.assertAlmostEqual(self.journal_balance(), journal_before)
        self.assertAlmostEqual(self.account_balance(loss), 0.0)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 0.0)
        self.assertFalse(record.payment_ids.stripe_exchange_move_id)
        self.assertInvoice(invoice, 50.0, "not_paid")

        self.reconcile_with_wizard(record)
        self.assertPayout(record, "reconciled")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.account_balance(loss), 5.0)
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)

    def test_dispute_booked_by_the_payout_is_booked_again_after_undo(self):
        """The payout books a dispute no webhook brought; the dispute's event then
        takes that entry for its withdrawal. After Undo, reconciling again books
        the withdrawal again, and the dispute's next event links to it: the Stripe
        journal, the disputed-payments and the fee accounts are right."""
        self.pay_invoice(100.0)
        _invoice, charge = self.pay_invoice(30.0)
        dispute = self.fake.add_dispute(charge["id"])
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertEvent(
            self.deliver("charge.dispute.funds_withdrawn", dispute), "done"
        )
        dispute_record = self.env["stripe.dispute"].search(
            [("stripe_id", "=", dispute["id"])]
        )
        self.assertEqual(dispute_record.withdrawal_move_id, record.adjustment_move_id)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 30.0)
        self.assertStripeMirrored()

        record.action_undo()
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 0.0)
        self.assertFalse(dispute_record.withdrawal_move_id)
        self.reconcile_with_wizard(record)
        self.assertPayout(record, "reconciled")
        new_entry = record.adjustment_move_id
        self.assertTrue(new_entry)
        self.assertFalse(new_entry.reversal_move_ids)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 30.0)
        self.assertAlmostEqual(self.account_balance(self.fee_account), self.fees())
        self.assertStripeMirrored()
        self.assertAlmostEqual(self.journal_balance(), 0.0)

        self.assertEvent(self.deliver("charge.dispute.updated", dispute), "done")
        dispute_record.invalidate_recordset()
        self.assertEqual(dispute_record.withdrawal_move_id, new_entry)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), 30.0)
        self.assertStripeMirrored()


@tagged("post_install", "-at_install")
class TestPayoutUtils(BaseCase):
    def test_balance_transaction_facts_of_an_expanded_refund(self):
        facts = utils.balance_transaction_facts(
            {
                "id": "txn_1",
                "type": "refund",
                "amount": -500,
                "fee": 0,
                "net": -500,
                "currency": "eur",
                "source": {
                    "object": "refund",
                    "id": "re_1",
                    "charge": "ch_1",
                    "payment_intent": "pi_1",
                    "amount": 500,
                    "currency": "eur",
                    "secret": "not kept",
                },
            }
        )
        self.assertEqual(facts.reporting_category, "refund", "from the type")
        self.assertEqual(facts.currency, "EUR")
        self.assertEqual(
            (facts.source_id, facts.source_type, facts.charge_id),
            ("re_1", "refund", "ch_1"),
        )
        self.assertNotIn("secret", facts.source)

    def test_fee_details_add_up_to_the_fee(self):
        self.assertEqual(
            utils.fee_details(
                [{"type": "application_fee", "amount": 100, "description": "App"}],
                130,
            ),
            [
                {"type": "application_fee", "amount": 100, "description": "App"},
                {"type": "stripe_fee", "amount": 30, "description": None},
            ],
        )
        self.assertEqual(utils.fee_details(None, 0), [])

    def test_source_kind_from_id_prefix(self):
        self.assertEqual(utils.source_kind("py_123"), "charge")
        self.assertEqual(utils.source_kind("dp_123"), "dispute")
        self.assertIsNone(utils.source_kind(None))

    def test_sdk_retried_follows_the_sdk_rules(self):
        def rate_limit(**headers):
            return stripe.RateLimitError("slow down", http_status=429, headers=headers)

        self.assertFalse(utils.sdk_retried(rate_limit()), "a plain 429")
        self.assertTrue(
            utils.sdk_retried(rate_limit(**{"Stripe-Should-Retry": "true"}))
        )
        self.assertFalse(
            utils.sdk_retried(rate_limit(**{"stripe-should-retry": "false"}))
        )
        self.assertTrue(utils.sdk_retried(stripe.APIError("down", http_status=503)))
        self.assertTrue(
            utils.sdk_retried(stripe.APIConnectionError("reset", should_retry=True))
        )
        self.assertFalse(
            utils.sdk_retried(stripe.InvalidRequestError("gone", None, http_status=404))
        )

    def test_later_status_never_moves_back(self):
        ranks = {"pending": 0, "paid": 2, "failed": 3}
        self.assertEqual(utils.later_status("failed", "paid", ranks), "failed")
        self.assertEqual(utils.later_status("pending", "paid", ranks), "paid")
        self.assertEqual(utils.later_status(None, "paid", ranks), "paid")
        self.assertEqual(utils.later_status("paid", None, ranks), "paid")
