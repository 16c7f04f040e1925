import json
import time
from datetime import timedelta

from odoo import Command, api, fields, models

from ... import utils

DAY = 86400


# Stripe's standard card fee in the US: 2.9 % + 30 cents.
DEMO_FEE_PERCENT = 0.029


DEMO_FEE_FIXED = 30


class _DemoStripe:
    """Builds consistent Stripe objects (API version 2026-10-28.endive shapes):
    each charge, refund and dispute has its balance transaction, fees are Stripe's
    US card fees, and the payout pays out exactly what they left."""

    def __init__(self, start, currency):
        self.now = start
        self.currency = currency
        self.counter = 0
        self.available = []  # balance transactions not paid out yet

    def _id(self, prefix):
        self.counter += 1
        return f"{prefix}_demo{self.counter:04d}"

    def _tick(self, seconds=3600):
        self.now += seconds
        return self.now

    def _transaction(self, amount, fee, type_, category, source, description):
        created = self._tick(60)
        txn = {
            "id": self._id("txn"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": created + 2 * DAY,
            "created": created,
            "currency": self.currency,
            "description": description,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": [
                {
                    "amount": fee,
                    "application": None,
                    "currency": self.currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else [],
            "net": amount - fee,
            "reporting_category": category,
            "source": source,
            "status": "available",
            "type": type_,
        }
        self.available.append(txn)
        return txn

    def charge(self, amount, intent_id, email, metadata):
        minor = utils.to_minor_units(amount, self.currency)
        charge = {
            "id": self._id("ch"),
            "object": "charge",
            "amount": minor,
            "amount_captured": minor,
            "amount_refunded": 0,
            "balance_transaction": None,
            "billing_details": {"email": email, "name": None},
            "captured": True,
            "created": self._tick(),
            "currency": self.currency,
            "customer": None,
            "description": None,
            "livemode": False,
            "metadata": metadata,
            "paid": True,
            "payment_intent": intent_id,
            "payment_method_details": {"type": "card"},
            "receipt_email": email,
            "refunded": False,
            "status": "succeeded",
        }
        fee = round(minor * DEMO_FEE_PERCENT) + DEMO_FEE_FIXED
        txn = self._transaction(
            minor, fee, "charge", "charge", dict(charge), "Card payment"
        )
        charge["balance_transaction"] = txn["id"]
        txn["source"]["balance_transaction"] = txn["id"]
        return charge

    def payment(self, amount, metadata, email=None):
        """A succeeded PaymentIntent and its charge.

        :return: ``(payment_intent, charge)``
        """
        intent_id = self._id("pi")
        charge = self.charge(amount, intent_id, email, {})
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": charge["amount"],
            "amount_capturable": 0,
            "amount_received": charge["amount"],
            "capture_method": "automatic",
            "created": charge["created"],
            "currency": self.currency,
            "customer": None,
            "description": None,
            "latest_charge": charge["id"],
            "livemode": False,
            "metadata": metadata,
            "payment_method_types": ["card"],
            "receipt_email": email,
            "status": "succeeded",
        }
        return intent, charge

    def refund(self, charge, amount):
        minor = utils.to_minor_units(amount, self.currency)
        refund = {
            "id": self._id("re"),
            "object": "refund",
            "amount": minor,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": self._tick(),
            "currency": self.currency,
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": "requested_by_customer",
            "status": "succeeded",
        }
        txn = self._transaction(
            -minor, 0, "refund", "refund", dict(refund), "REFUND FOR CHARGE"
        )
        refund["balance_transaction"] = txn["id"]
        return refund

    def dispute(self, charge):
        """A dispute whose funds Stripe withdrew, with Stripe's 15.00 fee."""
        dispute = {
            "id": self._id("dp"),
            "object": "dispute",
            "amount": charge["amount"],
            "balance_transactions": [],
            "charge": charge["id"],
            "created": self._tick(),
            "currency": self.currency,
            "evidence_details": {
                "due_by": self.now + 7 * DAY,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": "product_not_received",
            "status": "needs_response",
        }
        txn = self._transaction(
            -charge["amount"],
            1500,
            "adjustment",
            "dispute",
            dispute["id"],
            f"Chargeback withdrawal for {charge['id']}",
        )
        txn["fee_details"][0]["description"] = "Dispute fee"
        dispute["balance_transactions"] = [dict(txn)]
        return dispute

    def payout(self):
        """An automatic payout, paid, of every transaction available.

        :return: ``(payout, its balance transactions as the API lists them)``
        """
        paid_out = self.available
        self.available = []
        amount = sum(txn["net"] for txn in paid_out)
        payout_id = self._id("po")
        created = self._tick()
        own = {
            "id": self._id("txn"),
            "object": "balance_transaction",
            "amount": -amount,
            "available_on": created,
            "created": created,
            "currency": self.currency,
            "description": "STRIPE PAYOUT",
            "exchange_rate": None,
            "fee": 0,
            "fee_details": [],
            "net": -amount,
            "reporting_category": "payout",
            "source": payout_id,
            "status": "available",
            "type": "payout",
        }
        payout = {
            "id": payout_id,
            "object": "payout",
            "amount": amount,
            "arrival_date": int(time.time()),
            "automatic": True,
            "balance_transaction": own["id"],
            "created": created,
            "currency": self.currency,
            "description": "STRIPE PAYOUT",
            "destination": "ba_demo0001",
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": {},
            "method": "standard",
            "reconciliation_status": "completed",
            "source_type": "card",
            "statement_descriptor": None,
            "status": "paid",
            "type": "bank_account",
        }
        return payout, [*paid_out, own]

    def event(self, type_, obj):
        return {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": self._tick(60),
            "data": {"object": json.loads(json.dumps(obj))},
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }


class StripeAccount(models.Model):
    """Demo data built the way production data is: Stripe objects in Stripe's
    shapes go through the webhook intake and the event handlers, so that every
    screen (event log, payout wizard, disputes, credit notes) works on them."""

    _inherit = "stripe.account"

    @api.model
    def _stripe_load_demo(self, account_id):
        """Feed the demo account with what a few days of Stripe would bring:

        * three invoices paid by card; one partly refunded (a credit note), one
          disputed (the funds withdrawn);
        * an automatic payout of all that, paid, with its balance transactions and
          the bank statement line it arrived with: ready for *Reconcile*;
        * one payment no invoice matches (a failed event, to pick the invoice on)
          and one refund of a payment Odoo does not know (a waiting event).

        Called from ``demo/stripe_demo.xml``. Only the transactions of the payout
        are stored without the API (the demo account has no key): everything else
        is the webhook's intake and the handlers' processing.

        :param int account_id: the demo ``stripe.account``.
        """
        account = self.browse(account_id)
        # Reconciling is left to the user: the wizard is what the demo shows.
        account.payout_auto_reconcile = False
        builder = _DemoStripe(
            int(time.time()) - 4 * DAY, account.currency_id.name.lower()
        )
        invoices = {
            key: self._stripe_demo_invoice(partner_xmlid, label, amount)
            for key, partner_xmlid, label, amount in (
                ("azure", "base.res_partner_12", "Office design (project)", 1250.0),
                ("lumber", "base.res_partner_18", "Desk chairs (4)", 480.0),
                ("wood", "base.res_partner_1", "Conference table", 320.0),
            )
        }
        events = []
        charges = {}
        for key, invoice in invoices.items():
            intent, charges[key] = builder.payment(
                invoice.amount_total, {"odoo_invoice_id": str(invoice.id)}
            )
            events.append(builder.event("payment_intent.succeeded", intent))
        refund = builder.refund(charges["lumber"], 80.0)
        events.append(builder.event("refund.created", refund))
        dispute = builder.dispute(charges["wood"])
        events.append(builder.event("charge.dispute.created", dispute))
        events.append(builder.event("charge.dispute.funds_withdrawn", dispute))
        payout, transactions = builder.payout()
        later_events = [builder.event("payout.paid", payout)]
        # A payment Odoo cannot match: no metadata, no known customer.
        unmatched, _charge = builder.payment(950.0, {}, email="ap@readymat.example")
        later_events.append(builder.event("payment_intent.succeeded", unmatched))
        # A refund of a charge Odoo does not know: it waits for the payment.
        stray_charge = builder.charge(75.0, None, None, {})
        later_events.append(
            builder.event("refund.created", builder.refund(stray_charge, 75.0))
        )

        self._stripe_demo_deliver(account, events)
        # The payout's transactions as the API lists them (GET
        # /v1/balance_transactions?payout=..., sources expanded): the demo account
        # has no key to read them with.
        payout_record = self.env["stripe.payout"]._stripe_store(account, payout)
        self.env["stripe.balance.transaction"]._stripe_store(
            account, transactions, payout=payout_record
        )
        payout_record.transactions_imported = True
        payout_record._stripe_update_breakdown()
        self._stripe_demo_bank_line(account, payout_record)
        self._stripe_demo_deliver(account, later_events)

    @api.model
    def _stripe_demo_deliver(self, account, events):
        """Receive the events as the webhook does, then process them."""
        event_model = self.env["stripe.event"].sudo()
        received = event_model
        for event in events:
            received |= event_model._receive(
                account, event, json.dumps(event).encode()
            )[0]
        received._process_events()

    @api.model
    def _stripe_demo_invoice(self, partner_xmlid, label, amount):
        partner = self.env.ref(partner_xmlid, raise_if_not_found=False) or self.env[
            "res.partner"
        ].create({"name": label})
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": fields.Date.context_today(self) - timedelta(days=6),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": label,
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        return invoice

    @api.model
    def _stripe_demo_bank_line(self, account, payout):
        """The payout as the bank statement shows it, on its arrival date."""
        self.env["account.bank.statement.line"].create(
            {
                "journal_id": account.payout_journal_id.id,
                "date": payout.arrival_date,
                "amount": payout.amount,
                "payment_ref": f"STRIPE PAYOUT {payout.stripe_id}",
            }
        )
