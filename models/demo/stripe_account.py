import json
import time
from datetime import datetime, timedelta, timezone

from dateutil.relativedelta import relativedelta

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

    def __init__(self, start, currency, tag=""):
        self.now = start
        self.currency = currency
        self.tag = tag  # keeps the ids of two builders apart
        self.counter = 0
        self.invoice_count = 0
        self.available = []  # balance transactions not paid out yet

    def _id(self, prefix):
        self.counter += 1
        return f"{prefix}_demo{self.tag}{self.counter:04d}"

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

    # === STRIPE BILLING === #

    def customer(self, name, email):
        return {
            "id": self._id("cus"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self._tick(60),
            "currency": self.currency,
            "delinquent": False,
            "description": None,
            "email": email,
            "livemode": False,
            "metadata": {},
            "name": name,
            "phone": None,
        }

    def price(self, product_id, unit_amount):
        return {
            "id": self._id("price"),
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": self.now,
            "currency": self.currency,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": product_id,
            "recurring": {
                "interval": "month",
                "interval_count": 1,
                "meter": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            },
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "type": "recurring",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }

    def subscription(self, customer, price, status="active", trial_end=None):
        """A subscription of one item, created now (API versions since
        ``2025-03-31.basil``: the current period is on the item)."""
        created = self._tick(60)
        sub_id = self._id("sub")
        subscription = {
            "id": sub_id,
            "object": "subscription",
            "billing_cycle_anchor": created,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "collection_method": "charge_automatically",
            "created": created,
            "currency": self.currency,
            "customer": customer["id"],
            "discounts": [],
            "ended_at": None,
            "items": {"object": "list", "data": [], "has_more": False},
            "latest_invoice": None,
            "livemode": False,
            "metadata": {},
            "pause_collection": None,
            "start_date": created,
            "status": status,
            "trial_end": trial_end,
            "trial_start": created if trial_end else None,
        }
        self.set_price(subscription, price, period_end=trial_end)
        return subscription

    def set_price(self, subscription, price, period_end=None):
        """The subscription's item now bills ``price`` (an upgrade or a
        downgrade), its period starting now."""
        start = self.now
        subscription["items"]["data"] = [
            {
                "id": self._id("si"),
                "object": "subscription_item",
                "created": start,
                "current_period_start": start,
                "current_period_end": period_end or start + 30 * DAY,
                "discounts": [],
                "metadata": {},
                "price": dict(price),
                "quantity": 1,
                "subscription": subscription["id"],
                "tax_rates": [],
            }
        ]

    def _invoice_line(self, invoice_id, subscription, item, description):
        """The line of a subscription item's invoice for the period starting
        now (API versions since ``2025-03-31.basil``: ``parent`` and
        ``pricing``)."""
        price = item["price"]
        amount = price["unit_amount"]
        details = {
            "subscription": subscription["id"],
            "subscription_item": item["id"],
            "invoice_item": None,
            "proration": False,
            "proration_details": {"credited_items": None},
        }
        return {
            "id": self._id("il"),
            "object": "line_item",
            "amount": amount,
            "currency": self.currency,
            "description": description,
            "discount_amounts": [],
            "discountable": True,
            "discounts": [],
            "invoice": invoice_id,
            "livemode": False,
            "metadata": {},
            "parent": {
                "type": "subscription_item_details",
                "subscription_item_details": details,
                "invoice_item_details": None,
            },
            "period": {"start": self.now, "end": self.now + 30 * DAY},
            "pretax_credit_amounts": [],
            "pricing": {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
                "unit_amount_decimal": str(amount),
            },
            "quantity": 1,
            "quantity_decimal": "1",
            "subtotal": amount,
            "taxes": [],
        }

    def subscription_invoice(self, subscription, description, first=False):
        """The subscription's invoice of the period starting now, paid by card:
        ``(invoice, payment_intent, invoice_payment)`` as Stripe sends them once
        paid (``invoice_payment`` links the two since ``2025-03-31.basil``)."""
        item = subscription["items"]["data"][0]
        price = item["price"]
        amount = price["unit_amount"]
        created = self._tick(60)
        invoice_id = self._id("in")
        self.invoice_count += 1
        intent, _charge = self.payment(
            utils.from_minor_units(amount, self.currency), {}
        )
        intent["customer"] = subscription["customer"]
        intent["description"] = "Subscription update"
        line = self._invoice_line(invoice_id, subscription, item, description)
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": amount,
            "amount_overpaid": 0,
            "amount_paid": amount,
            "amount_paid_off_stripe": 0,
            "amount_remaining": 0,
            "attempt_count": 1,
            "attempted": True,
            "billing_reason": "subscription_create" if first else "subscription_cycle",
            "collection_method": "charge_automatically",
            "created": created,
            "currency": self.currency,
            "customer": subscription["customer"],
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_tax_rates": [],
            "discounts": [],
            "due_date": None,
            "effective_at": created,
            "ending_balance": 0,
            "hosted_invoice_url": None,
            "lines": {
                "object": "list",
                "data": [line],
                "has_more": False,
                "total_count": 1,
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": f"DEMO-{self.invoice_count:04d}",
            "parent": {
                "quote_details": None,
                "subscription_details": {
                    "metadata": {},
                    "subscription": subscription["id"],
                },
                "type": "subscription_details",
            },
            "period_end": created,
            "period_start": created,
            "starting_balance": 0,
            "status": "paid",
            "status_transitions": {
                "finalized_at": created,
                "marked_uncollectible_at": None,
                "paid_at": created,
                "voided_at": None,
            },
            "subtotal": amount,
            "subtotal_excluding_tax": amount,
            "total": amount,
            "total_discount_amounts": [],
            "total_excluding_tax": amount,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
        }
        invoice_payment = {
            "id": self._id("inpay"),
            "object": "invoice_payment",
            "amount_paid": amount,
            "amount_requested": amount,
            "created": created,
            "currency": self.currency,
            "invoice": invoice_id,
            "is_default": True,
            "livemode": False,
            "payment": {"payment_intent": intent["id"], "type": "payment_intent"},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": created},
        }
        return invoice, intent, invoice_payment

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
        # The unmatched payment waited an hour for an event linking it to an
        # invoice (a Checkout Session, a Stripe invoice): four days later, none
        # came; it fails, and someone picks the invoice it pays.
        unmatched_event = self.env["stripe.event"].search(
            [
                ("account_id", "=", account.id),
                ("stripe_id", "=", later_events[1]["id"]),
                ("state", "=", "waiting"),
            ]
        )
        if unmatched_event:
            now = fields.Datetime.now()
            unmatched_event.write(
                {"wait_deadline": now - timedelta(seconds=1), "next_attempt_at": now}
            )
            unmatched_event._process_events()

    @api.model
    def _stripe_load_demo_billing(self, account_id):
        """Feed the demo account with six months of Stripe Billing, so that
        *Subscriptions*, *MRR* and *SaaS metrics* show a SaaS business:

        * three plans (Starter 49, Pro 99, Business 199 a month), mapped to Odoo
          products by their Stripe product id;
        * five customers (two of them new to Odoo: their partners are created
          from the ``customer.created`` events);
        * subscriptions started over the months, one upgraded (Starter to Pro),
          one downgraded (Business to Pro), one cancelled (a churn) and one in
          trial this month;
        * each month's subscription invoice, mirrored in Odoo and paid by its
          card payment (``invoice.finalized``, ``invoice_payment.paid``,
          ``payment_intent.succeeded``, ``invoice.paid``).

        The events are dated in their month: the handlers book them at those
        dates, and the MRR report shows new, expansion, contraction and churn.

        :param int account_id: the demo ``stripe.account``.
        """
        account = self.browse(account_id)
        currency = account.currency_id.name.lower()
        first_month = fields.Date.context_today(self).replace(day=1) - relativedelta(
            months=6
        )
        latest = int(time.time()) - 2 * 3600

        def month_start(index):
            """Unix time of the 3rd of the ``index``-th month (noon UTC), at the
            latest two hours ago."""
            day = first_month + relativedelta(months=index, day=3)
            moment = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
            return min(int(moment.timestamp()), latest - (6 - index) * 600)

        builder = _DemoStripe(month_start(0) - DAY, currency, tag="b")
        plans = {}
        for key, name, amount in (
            ("starter", "SaaS Starter plan", 4900),
            ("pro", "SaaS Pro plan", 9900),
            ("business", "SaaS Business plan", 19900),
        ):
            product_id = f"prod_demo_{key}"
            self.env["product.template"].create(
                {
                    "name": name,
                    "type": "service",
                    "list_price": amount / 100,
                    "stripe_product_id": product_id,
                }
            )
            plans[key] = (builder.price(product_id, amount), name)
        customers = {}
        events = []
        for key, partner_xmlid, name, email in (
            ("openwood", "base.res_partner_5", "OpenWood", None),
            ("jackson", "base.res_partner_10", "The Jackson Group", None),
            ("deco", "base.res_partner_2", "Deco Addict", None),
            ("northwind", None, "Northwind Apps", "billing@northwind.example"),
            ("bluebird", None, "Bluebird Studio", "accounts@bluebird.example"),
        ):
            partner = partner_xmlid and self.env.ref(
                partner_xmlid, raise_if_not_found=False
            )
            customers[key] = builder.customer(
                partner.name if partner else name,
                (partner.email if partner else None) or email,
            )
            events.append(builder.event("customer.created", customers[key]))
        # (month, customer, what happens, plan): "start", "trial", "change",
        # "cancel"; every active subscription is invoiced each month.
        story = [
            (0, "openwood", "start", "starter"),
            (1, "jackson", "start", "business"),
            (1, "deco", "start", "starter"),
            (2, "openwood", "change", "pro"),
            (3, "jackson", "change", "pro"),
            (3, "northwind", "start", "pro"),
            (4, "deco", "cancel", None),
            (6, "bluebird", "trial", "business"),
        ]
        subscriptions = {}
        for month in range(7):
            builder.now = max(builder.now, month_start(month))
            events += self._stripe_demo_billing_month(
                builder, month, story, plans, customers, subscriptions
            )
        self._stripe_demo_deliver(account, events)

    @api.model
    def _stripe_demo_billing_month(  # pylint: disable=too-many-arguments
        self, builder, month, story, plans, customers, subscriptions
    ):
        """The events of a month of the demo's Stripe Billing: the story's
        changes, then the invoice of each active subscription, paid.

        :param dict subscriptions: the subscriptions so far, by customer; updated.
        :return: the events, in Stripe's shapes.
        """
        events = []
        for when, key, what, plan in story:
            if when != month:
                continue
            if what in ("start", "trial"):
                trial_end = builder.now + 14 * DAY if what == "trial" else None
                subscriptions[key] = builder.subscription(
                    customers[key],
                    plans[plan][0],
                    status="trialing" if trial_end else "active",
                    trial_end=trial_end,
                )
                events.append(
                    builder.event("customer.subscription.created", subscriptions[key])
                )
            elif what == "change":
                builder.set_price(subscriptions[key], plans[plan][0])
                events.append(
                    builder.event("customer.subscription.updated", subscriptions[key])
                )
            else:
                subscription = subscriptions.pop(key)
                subscription.update(
                    status="canceled",
                    canceled_at=builder.now,
                    ended_at=builder.now,
                )
                events.append(
                    builder.event("customer.subscription.deleted", subscription)
                )
        for key, subscription in subscriptions.items():
            if subscription["status"] != "active":
                continue
            price = subscription["items"]["data"][0]["price"]
            name = next(n for p, n in plans.values() if p["id"] == price["id"])
            invoice, intent, invoice_payment = builder.subscription_invoice(
                subscription,
                f"1 x {name}",
                first=any(
                    s[0] == month and s[1] == key and s[2] == "start" for s in story
                ),
            )
            open_invoice = dict(
                invoice,
                status="open",
                amount_paid=0,
                amount_remaining=invoice["amount_due"],
            )
            events += [
                builder.event("invoice.finalized", open_invoice),
                builder.event("invoice_payment.paid", invoice_payment),
                builder.event("payment_intent.succeeded", intent),
                builder.event("invoice.paid", invoice),
            ]
        return events

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
