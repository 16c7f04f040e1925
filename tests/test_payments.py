from datetime import timedelta

from odoo import Command, fields
from odoo.tests import tagged

from .. import const
from .common import HOSTILE, StripeCommon

EVENT_LOGGER = "odoo.addons.stripe_connector.models.core.stripe_event"


@tagged("post_install", "-at_install")
class TestPayments(StripeCommon):
    """A Stripe payment pays the right invoice or order, exactly once."""

    # === HELPERS === #

    def pay(self, amount, currency="usd", event_type="payment_intent.succeeded", **kw):
        """Make a charge on the fake Stripe and deliver the event about it.

        :return: the processed ``stripe.event``.
        """
        charge = self.fake.add_charge(amount, currency, **kw)
        if event_type == "charge.succeeded":
            return self.deliver(event_type, charge)
        return self.deliver(event_type, self.fake.get(charge["payment_intent"]))

    def checkout_session(self, charge, payment_status="paid", **values):
        """A Checkout Session as Stripe sends it in checkout.session.* events."""
        intent = self.fake.get(charge["payment_intent"])
        return {
            "id": "cs_test_" + intent["id"][3:],
            "object": "checkout.session",
            "amount_total": charge["amount"],
            "currency": charge["currency"],
            "client_reference_id": None,
            "customer": charge["customer"],
            "customer_details": {"email": None},
            "livemode": False,
            "metadata": {},
            "mode": "payment",
            "payment_intent": intent["id"],
            "payment_status": payment_status,
            "status": "complete",
            "created": charge["created"],
            **values,
        }

    def fee_of(self, charge):
        return self.fake.get(charge["balance_transaction"])["fee"] / 100

    def pay_eur_settled_in_usd(self, invoice, amount=10000, **kw):
        """Pay the invoice in EUR through Stripe, which settles in USD at 1.8 (a
        3.00 USD fee unless ``fee`` is given): ``(event, charge)``."""
        kw.setdefault("fee", 300)
        charge = self.fake.add_charge(
            amount,
            "eur",
            exchange_rate=1.8,
            settlement_currency="usd",
            metadata={"odoo_invoice": invoice.name},
            **kw,
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        return event, charge

    def assertSettledInFull(self, invoice):
        """The invoice is paid, the customer owes nothing, and the Stripe journal
        holds what Stripe settled."""
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(
            self.account_balance(self.customer.property_account_receivable_id), 0.0
        )
        self.assertAlmostEqual(self.journal_balance(), self.fake.balance("usd") / 100)

    # === MATCHING === #

    def test_metadata_invoice_id_pays_the_invoice(self):
        invoice = self.create_invoice(100.0)
        event = self.pay(10000, metadata={"odoo_invoice_id": str(invoice.id)})
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(event.payment_ids.reconciled_invoice_ids, invoice)
        self.assertEqual(event.payment_ids.journal_id, self.stripe_journal)

    def test_metadata_precedence(self):
        """odoo_invoice_id beats odoo_invoice beats odoo_sale_order_id beats
        odoo_sale_order, whichever object carries them."""
        by_id = self.create_invoice(100.0)
        by_number = self.create_invoice(100.0)
        order = self.create_order(100.0)
        other_order = self.create_order(100.0)
        metadata = {
            "odoo_invoice": by_number.name,
            "odoo_sale_order_id": str(order.id),
            "odoo_sale_order": other_order.name,
            "odoo_invoice_id": str(by_id.id),
        }
        self.pay(10000, metadata=metadata)
        self.assertInvoice(by_id, 0.0, "paid")
        self.assertInvoice(by_number, 100.0, "not_paid")
        del metadata["odoo_invoice_id"]
        self.pay(10000, metadata=metadata)
        self.assertInvoice(by_number, 0.0, "paid")
        del metadata["odoo_invoice"]
        self.pay(10000, metadata=metadata)
        self.assertEqual(order.state, "sale")
        self.assertEqual(other_order.state, "draft")
        del metadata["odoo_sale_order_id"]
        self.pay(10000, metadata=metadata)
        self.assertEqual(other_order.state, "sale")

    def test_rules_precedence(self):
        """Metadata beats the Checkout client reference, which beats the
        description, which beats the customer and amount; the partner's Stripe
        customer id beats the customer's e-mail."""
        stripe_customer = self.fake.add_customer(email=self.customer_b.email)
        self.customer.stripe_customer_id = stripe_customer["id"]
        by_customer_id = self.create_invoice(50.0)
        by_email = self.create_invoice(50.0, partner=self.customer_b)
        cases = [  # (metadata, client reference, description, invoice to pay)
            ("metadata", True, True, True),
            ("client_reference", False, True, True),
            ("description", False, False, True),
        ]
        for name, with_metadata, with_reference, with_description in cases:
            with self.subTest(name):
                by_metadata, by_reference, by_description = (
                    self.create_invoice(50.0, partner=self.customer_b)
                    for _i in range(3)
                )
                charge = self.fake.add_charge(
                    5000,
                    "usd",
                    customer=stripe_customer["id"],
                    description=f"Payment {by_description.name}"
                    if with_description
                    else None,
                )
                session = self.checkout_session(
                    charge,
                    metadata={"odoo_invoice_id": str(by_metadata.id)}
                    if with_metadata
                    else {},
                    client_reference_id=by_reference.name if with_reference else None,
                )
                event = self.deliver("checkout.session.completed", session)
                expected = {
                    "metadata": by_metadata,
                    "client_reference": by_reference,
                    "description": by_description,
                }[name]
                self.assertEvent(event, "done", expected.name)
                self.assertInvoice(expected, 0.0, "paid")
                for other in (by_metadata | by_reference | by_description) - expected:
                    self.assertInvoice(other, 50.0, "not_paid")
        charge = self.fake.add_charge(5000, "usd", customer=stripe_customer["id"])
        event = self.deliver(
            "checkout.session.completed", self.checkout_session(charge)
        )
        self.assertEvent(event, "done", by_customer_id.name)
        self.assertInvoice(by_customer_id, 0.0, "paid")
        self.assertInvoice(by_email, 50.0, "not_paid")

    def test_metadata_naming_a_missing_document_fails_without_guessing(self):
        """An integrator's explicit reference that resolves to nothing fails; Odoo
        does not fall back to the customer's other invoices."""
        self.customer.stripe_customer_id = "cus_known"
        invoice = self.create_invoice(100.0)
        customer = self.fake.add_customer(email=self.customer.email)
        event = self.pay(
            10000, metadata={"odoo_invoice": "INV/1999/99999"}, customer=customer["id"]
        )
        self.assertEvent(event, "failed", "odoo_invoice=INV/1999/99999")
        self.assertInvoice(invoice, 100.0, "not_paid")
        self.assertFalse(event.payment_ids)

    def test_checkout_client_reference_pays_the_invoice(self):
        invoice = self.create_invoice(80.0)
        charge = self.fake.add_charge(8000, "usd")
        session = self.checkout_session(charge, client_reference_id=invoice.name)
        event = self.deliver("checkout.session.completed", session)
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")

    def test_description_naming_an_order(self):
        order = self.create_order(60.0)
        event = self.pay(6000, description=f"Payment for order {order.name}")
        self.assertEvent(event, "done")
        self.assertEqual(order.state, "sale")
        self.assertInvoice(order.invoice_ids, 0.0, "paid")

    def test_customer_id_and_amount_find_the_only_open_invoice(self):
        customer = self.fake.add_customer(email="someone@else.example")
        self.customer.stripe_customer_id = customer["id"]
        self.create_invoice(30.0)
        invoice = self.create_invoice(45.5)
        self.create_invoice(45.5, partner=self.customer_b)
        event = self.pay(4550, customer=customer["id"])
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")

    def test_customer_email_and_amount_find_the_only_open_invoice(self):
        invoice = self.create_invoice(45.5)
        customer = self.fake.add_customer(email="AZURE@example.com")
        event = self.pay(4550, customer=customer["id"])
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(
            self.customer.stripe_customer_id,
            customer["id"],
            "the partner learns its Stripe customer id",
        )

    def test_unmatched_payment_fails_with_candidates_then_user_picks(self):
        """Two open invoices of the same amount: the event fails and lists them;
        a user picks one on the event and retries."""
        first = self.create_invoice(50.0)
        second = self.create_invoice(50.0)
        event = self.pay(5000, billing_details={"email": self.customer.email})
        self.assertEvent(event, "failed", "Candidates:")
        self.assertIn(first.name, event.state_message)
        self.assertIn(second.name, event.state_message)
        self.assertFalse(event.payment_ids)
        self.assertInvoice(first, 50.0, "not_paid")

        event.invoice_id = second
        event.action_retry()
        self.assertEvent(event, "done", second.name)
        self.assertInvoice(second, 0.0, "paid")
        self.assertInvoice(first, 50.0, "not_paid")

    # === AMOUNTS === #

    def test_full_payment(self):
        invoice = self.create_invoice(250.0)
        charge = self.fake.add_charge(
            25000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        payment = event.payment_ids
        self.assertEqual(payment.state, "paid")
        self.assertEqual(payment.stripe_object_id, charge["payment_intent"])
        self.assertEqual(payment.stripe_charge_id, charge["id"])
        self.assertAlmostEqual(self.journal_balance(), 250.0 - self.fee_of(charge))

    def test_two_partial_payments_add_up(self):
        invoice = self.create_invoice(100.0)
        metadata = {"odoo_invoice": invoice.name}
        self.pay(3000, metadata=metadata)
        self.assertInvoice(invoice, 70.0, "partial")
        self.pay(4525, metadata=metadata)
        self.assertInvoice(invoice, 24.75, "partial")

    def test_overpayment_leaves_customer_credit(self):
        invoice = self.create_invoice(100.0)
        self.pay(12000, metadata={"odoo_invoice": invoice.name})
        self.assertInvoice(invoice, 0.0, "paid")
        receivable = self.customer.property_account_receivable_id
        self.env.flush_all()
        credit = sum(
            self.env["account.move.line"]
            .search(
                [
                    ("partner_id", "=", self.customer.id),
                    ("account_id", "=", receivable.id),
                    ("parent_state", "=", "posted"),
                ]
            )
            .mapped("amount_residual")
        )
        self.assertAlmostEqual(credit, -20.0)

    def test_difference_within_tolerance_is_written_off(self):
        writeoff = self.company_data["default_account_expense"].copy(
            {"name": "Stripe differences"}
        )
        self.stripe_account.writeoff_account_id = writeoff
        invoice = self.create_invoice(100.0)
        self.pay(9999, metadata={"odoo_invoice": invoice.name})
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(self.account_balance(writeoff), 0.01)
        # Beyond the tolerance, the invoice stays partially paid.
        other = self.create_invoice(100.0)
        self.pay(9998, metadata={"odoo_invoice": other.name})
        self.assertInvoice(other, 0.02, "partial")

    def test_zero_decimal_currency(self):
        jpy = self.setup_other_currency(
            "JPY", rounding=1.0, rates=[("2020-01-01", 150.0)]
        )
        invoice = self.create_invoice(12345.0, currency=jpy)
        event = self.pay(12345, "jpy", metadata={"odoo_invoice": invoice.name})
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(event.payment_ids.amount, 12345.0)
        self.assertEqual(event.payment_ids.currency_id, jpy)

    def test_three_decimal_currency(self):
        kwd = self.setup_other_currency(
            "KWD", rounding=0.001, rates=[("2020-01-01", 0.3)]
        )
        self.env.ref("product.decimal_price").digits = 3
        invoice = self.create_invoice(12.345, currency=kwd)
        self.pay(12000, "kwd", metadata={"odoo_invoice": invoice.name})
        self.assertInvoice(invoice, 0.345, "partial")
        self.pay(345, "kwd", metadata={"odoo_invoice": invoice.name})
        self.assertInvoice(invoice, 0.0, "paid")

    def test_foreign_currency_payment_books_exchange_difference(self):
        """An invoice in EUR (company in USD) paid in EUR; Stripe settles in USD at
        its own rate. The Stripe journal gets exactly what Stripe credited and Odoo
        books the difference with the invoice's rate as an exchange difference."""
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        invoice = self.create_invoice(100.0, currency=eur)  # 200 USD receivable
        event, charge = self.pay_eur_settled_in_usd(invoice)
        self.assertEvent(event, "done")
        self.assertSettledInFull(invoice)
        payment = event.payment_ids
        self.assertEqual(payment.currency_id, eur)
        self.assertAlmostEqual(payment.amount, 100.0)
        fee = self.fee_of(charge)
        self.assertAlmostEqual(self.journal_balance(), 180.0 - fee)
        loss_account = self.company.expense_currency_exchange_account_id
        self.assertAlmostEqual(self.account_balance(loss_account), 20.0)

    def test_rate_change_between_invoice_and_payment_is_odoo_exchange_difference(
        self,
    ):
        """100 EUR invoiced at 0.5 (200 USD), paid when Odoo's rate is 0.4 (250
        USD): Odoo's registration books its 50 USD exchange gain; Stripe settled
        at 1.8 (180 USD), and the 70 USD between Odoo's rate and Stripe's is a
        loss. The customer owes nothing; the journal holds what Stripe settled."""
        today = fields.Date.today()
        eur = self.setup_other_currency(
            "EUR", rates=[("2020-01-01", 0.5), (fields.Date.to_string(today), 0.4)]
        )
        invoice = self.create_invoice(
            100.0, currency=eur, invoice_date=today - timedelta(days=30)
        )
        event, _charge = self.pay_eur_settled_in_usd(invoice)
        self.assertEvent(event, "done", "conversion")
        self.assertSettledInFull(invoice)
        gain_account = self.company.income_currency_exchange_account_id
        loss_account = self.company.expense_currency_exchange_account_id
        self.assertAlmostEqual(self.account_balance(gain_account), -50.0)
        self.assertAlmostEqual(self.account_balance(loss_account), 70.0)
        self.assertAlmostEqual(self.journal_balance(), 180.0 - 3.0)

    def test_company_currency_invoice_paid_in_another_currency(self):
        """A USD invoice (the company's currency) paid in EUR: Odoo registers the
        EUR at its rate, which pays the invoice; Stripe converted at another rate,
        and the difference is an exchange loss, not a debt of the customer."""
        self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        invoice = self.create_invoice(200.0)
        event, _charge = self.pay_eur_settled_in_usd(invoice)
        self.assertEvent(event, "done", "conversion")
        self.assertSettledInFull(invoice)
        loss_account = self.company.expense_currency_exchange_account_id
        self.assertAlmostEqual(self.account_balance(loss_account), 20.0)
        self.assertAlmostEqual(self.journal_balance(), 180.0 - 3.0)

    def test_foreign_currency_payment_within_tolerance(self):
        """99.99 EUR for a 100 EUR invoice, settled by Stripe at its own rate: the
        cent is written off, the invoice is paid, the journal holds what Stripe
        settled."""
        self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        eur = self.env.ref("base.EUR")
        invoice = self.create_invoice(100.0, currency=eur)
        self.pay_eur_settled_in_usd(invoice, 9999)
        self.assertSettledInFull(invoice)
        self.assertAlmostEqual(self.journal_balance(), 179.98 - 3.0)

    def test_journal_in_settlement_currency_takes_a_third_currency(self):
        """A Stripe account settling in EUR (its journal in EUR, the company in
        USD) paid in GBP: the payment is what Stripe settled in EUR, and it pays
        the GBP invoice."""
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        gbp = self.setup_other_currency("GBP", rates=[("2020-01-01", 0.5 / 1.17)])
        account = self.create_eur_stripe_account(eur, name="Stripe EU")
        journal = account.journal_id
        invoice = self.create_invoice(100.0, currency=gbp)
        charge = self.fake.add_charge(
            10000,
            "gbp",
            exchange_rate=1.17,
            settlement_currency="eur",
            metadata={"odoo_invoice": invoice.name},
        )
        event = self.deliver(
            "payment_intent.succeeded",
            self.fake.get(charge["payment_intent"]),
            account=account,
        )
        self.assertEvent(event, "done")
        payment = event.payment_ids
        self.assertEqual(payment.currency_id, eur)
        self.assertAlmostEqual(payment.amount, 117.0)
        self.assertInvoice(invoice, 0.0, "paid")
        stripe_balance = self.account_balance(journal.default_account_id, currency=eur)
        self.assertAlmostEqual(stripe_balance, self.fake.balance("eur") / 100)

    # === IDEMPOTENCY AND FEES === #

    def test_stripe_account_settling_in_two_currencies_books_each_once(self):
        """One Stripe account settling in USD and EUR is two Stripe accounts in
        Odoo (same key, one journal each), and each endpoint receives every event:
        a charge settled in EUR is booked by the EUR one only."""
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        account_eur = self.create_eur_stripe_account(eur)
        journal = account_eur.journal_id
        invoice = self.create_invoice(100.0, currency=eur)
        charge = self.fake.add_charge(
            10000,
            "eur",
            fee=300,
            settlement_currency="eur",
            metadata={"odoo_invoice": invoice.name},
        )
        event = self.make_event(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        for account in (self.stripe_account, account_eur):
            self.assertEqual(self.post_webhook(event, account=account).status_code, 200)
        self.process_events()
        stored = self.env["stripe.event"].search([("stripe_id", "=", event["id"])])
        self.assertEqual(len(stored), 2)
        usd_event = stored.filtered(lambda e: e.account_id == self.stripe_account)
        self.assertEvent(usd_event, "ignored", "Settled in EUR")
        self.assertEvent(stored - usd_event, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")
        payments = self.env["account.payment"].search(
            [("stripe_account_id", "!=", False)]
        )
        self.assertEqual(payments.journal_id, journal)
        self.assertEqual(len(payments), 1)
        self.assertAlmostEqual(self.journal_balance(), 0.0)
        self.assertAlmostEqual(
            self.account_balance(journal.default_account_id, eur), 97.0
        )

    def test_settlement_currency_unknown_waits_when_another_account_may_book_it(
        self,
    ):
        """Stripe cannot be read: with another Odoo account of the same Stripe
        account, the payment waits rather than being booked by the wrong one."""
        eur = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        self.create_eur_stripe_account(eur)
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        self.fake.fail_next(10, status=403, path_prefix="/v1/charges")
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "waiting", "Stripe EUR")
        self.assertInvoice(invoice, 100.0, "not_paid")
        self.fake.clear_faults()
        event.action_retry()
        self.process_events()
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")

    def test_same_intent_in_two_events_registers_once(self):
        """Checkout sends checkout.session.completed and payment_intent.succeeded
        about one payment, and Stripe may redeliver: one payment, one fee entry."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(10000, "usd")
        session = self.checkout_session(charge, client_reference_id=invoice.name)
        first = self.deliver("checkout.session.completed", session)
        # The session names its PaymentIntent by id: it is read (with the charge
        # and its balance transaction) and the fee is booked at once.
        self.assertAlmostEqual(
            self.account_balance(self.fee_account), self.fee_of(charge)
        )
        intent = self.fake.get(charge["payment_intent"])
        second = self.deliver("payment_intent.succeeded", intent)
        self.post_webhook(self.make_event("payment_intent.succeeded", intent))
        self.process_events()
        self.assertEvent(first, "done", invoice.name)
        self.assertEvent(second, "done", "Already registered")
        self.assertEqual(first.payment_ids, second.payment_ids)
        payments = self.env["account.payment"].search(
            [("stripe_account_id", "=", self.stripe_account.id)]
        )
        self.assertEqual(len(payments), 1)
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertAlmostEqual(
            self.account_balance(self.fee_account), self.fee_of(charge)
        )
        self.assertEqual(len(self.fake.requests_for("/v1/payment_intents/")), 1)
        self.assertFalse(self.fake.requests_for("/v1/charges/"))

    def test_checkout_session_follows_its_payment_intent_metadata(self):
        """The PaymentIntent's metadata (Checkout's payment_intent_data) names the
        invoice: it wins over a guess by customer and amount, which would pick
        another open invoice of the same customer."""
        guessed = self.create_invoice(100.0)
        named = self.create_invoice(
            100.0, partner=self.env["res.partner"].create({"name": "Payer's Company"})
        )
        customer = self.fake.add_customer(email=self.customer.email)
        charge = self.fake.add_charge(
            10000,
            "usd",
            customer=customer["id"],
            metadata={"odoo_invoice_id": str(named.id)},
        )
        event = self.deliver(
            "checkout.session.completed", self.checkout_session(charge)
        )
        self.assertEvent(event, "done", named.name)
        self.assertInvoice(named, 0.0, "paid")
        self.assertInvoice(guessed, 100.0, "not_paid")

    def test_charge_of_a_payment_intent_is_booked_from_the_intent(self):
        """charge.succeeded of a PaymentIntent carries none of the intent's
        metadata: Odoo waits for payment_intent.succeeded instead of guessing."""
        invoice = self.create_invoice(100.0)
        self.create_invoice(100.0)  # same customer, same amount: a guess could pick it
        customer = self.fake.add_customer(email=self.customer.email)
        charge = self.fake.add_charge(
            10000,
            "usd",
            customer=customer["id"],
            metadata={"odoo_invoice": invoice.name},
        )
        charge_event = self.deliver("charge.succeeded", dict(charge, metadata={}))
        self.assertEvent(charge_event, "ignored", charge["payment_intent"])
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")

    def test_uncaptured_charge_is_not_a_payment(self):
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", payment_intent=False, metadata={"odoo_invoice": invoice.name}
        )
        authorized = dict(charge, captured=False, amount_captured=0)
        event = self.deliver("charge.succeeded", authorized)
        self.assertEvent(event, "ignored", "not captured")
        self.assertInvoice(invoice, 100.0, "not_paid")

    def test_fee_booked_once_on_fee_account(self):
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", fee=320, metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertIn("Stripe fee booked", event.state_message)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 3.20)
        self.assertEqual(
            event.payment_ids.stripe_fee_move_id.journal_id, self.stripe_journal
        )
        self.assertAlmostEqual(self.journal_balance(), 96.80)

    def test_without_api_key_fee_waits_for_payout(self):
        self.stripe_account.api_key = False
        invoice = self.create_invoice(100.0)
        event = self.pay(10000, metadata={"odoo_invoice": invoice.name})
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertFalse(event.payment_ids.stripe_fee_move_id)
        self.assertAlmostEqual(self.account_balance(self.fee_account), 0.0)
        self.assertAlmostEqual(self.journal_balance(), 100.0)
        self.assertFalse(self.fake.requests)

    def test_stripe_unreachable_still_registers_the_payment(self):
        """A key that may not read charges (or Stripe down): the invoice is paid
        anyway; the fee waits for the payout."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        self.fake.fail_next(10, status=403, path_prefix="/v1/charges")
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done", "the fee is booked with the payout")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertFalse(event.payment_ids.stripe_fee_move_id)
        self.assertAlmostEqual(self.journal_balance(), 100.0)

    def test_payment_handled_by_odoo_payment_provider_is_ignored(self):
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        self.create_payment_transaction(
            "S00042-1", provider_reference=charge["payment_intent"], state="done"
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "ignored", "S00042-1")
        self.assertInvoice(invoice, 100.0, "not_paid")
        self.assertFalse(
            self.env["account.payment"].search([("stripe_account_id", "!=", False)])
        )

    def test_payment_of_a_provider_transaction_not_yet_confirmed_waits(self):
        """Before Odoo's provider learns the PaymentIntent id, the intent's
        description (the transaction reference) tells that it is Odoo's: the
        event waits for the provider, then is ignored once it confirmed."""
        invoice = self.create_invoice(100.0)
        transaction = self.create_payment_transaction(f"{invoice.name}-1")
        customer = self.fake.add_customer(email=self.customer.email)
        event = self.pay(
            10000, customer=customer["id"], description=f"{invoice.name}-1"
        )
        self.assertEvent(event, "waiting", "waiting for the provider")
        self.assertInvoice(invoice, 100.0, "not_paid")
        transaction.state = "done"
        event.action_retry()
        self.process_events()
        self.assertEvent(event, "ignored", f"{invoice.name}-1")
        self.assertInvoice(invoice, 100.0, "not_paid")

    def test_abandoned_portal_attempt_does_not_block_the_payment(self):
        """A portal attempt at the invoice (the Stripe provider's transaction,
        named after it, never paid) is not this payment of another amount."""
        invoice = self.create_invoice(100.0)
        self.create_payment_transaction(invoice.name)
        event = self.pay(6000, description=invoice.name)
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 40.0, "partial")

    def test_other_providers_transactions_do_not_block_the_payment(self):
        """A wire transfer started from the portal takes the invoice's name as its
        reference: a Stripe payment described with that name still pays it."""
        invoice = self.create_invoice(100.0)
        self.create_payment_transaction(
            invoice.name, provider="transfer", state="pending"
        )
        event = self.pay(10000, description=invoice.name)
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 0.0, "paid")

    # === SALE ORDERS === #

    def test_quotation_confirmed_invoiced_and_paid(self):
        order = self.create_order(120.0)
        event = self.pay(12000, metadata={"odoo_sale_order": order.name})
        self.assertEvent(event, "done", "confirmed")
        self.assertEqual(order.state, "sale")
        invoice = order.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "posted")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(event.sale_order_ids, order)

    def test_order_payment_without_invoicing_is_a_customer_payment(self):
        self.stripe_account.invoice_paid_orders = False
        order = self.create_order(120.0)
        event = self.pay(12000, metadata={"odoo_sale_order_id": str(order.id)})
        self.assertEvent(event, "done")
        self.assertEqual(order.state, "sale")
        self.assertFalse(order.invoice_ids)
        payment = event.payment_ids
        self.assertEqual(payment.memo, order.name)
        self.assertEqual(payment.partner_id, self.customer)
        self.assertEqual(payment.state, "paid")

    def test_invoiced_order_pays_its_open_invoice(self):
        order = self.create_order(120.0)
        order.action_confirm()
        invoice = order._create_invoices()
        invoice.action_post()
        self.pay(12000, metadata={"odoo_sale_order": order.name})
        self.assertEqual(len(order.invoice_ids), 1)
        self.assertInvoice(invoice, 0.0, "paid")

    # === CHECKOUT AND FAILURES === #

    def test_async_checkout_books_on_async_success(self):
        invoice = self.create_invoice(70.0)
        charge = self.fake.add_charge(7000, "usd")
        unpaid = self.checkout_session(
            charge, payment_status="unpaid", metadata={"odoo_invoice_id": invoice.id}
        )
        event = self.deliver("checkout.session.completed", unpaid)
        self.assertEvent(event, "done", "not paid yet")
        self.assertFalse(event.payment_ids)
        self.assertInvoice(invoice, 70.0, "not_paid")
        self.assertTrue(invoice.stripe_payment_processing)
        paid = dict(unpaid, payment_status="paid")
        event = self.deliver("checkout.session.async_payment_succeeded", paid)
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertFalse(invoice.stripe_payment_processing)

    def test_unpaid_checkout_naming_nothing_is_ignored(self):
        charge = self.fake.add_charge(7000, "usd")
        unpaid = self.checkout_session(charge, payment_status="unpaid")
        event = self.deliver("checkout.session.completed", unpaid)
        self.assertEvent(event, "ignored", "not paid yet")

    def test_async_checkout_failure_notes_the_invoice(self):
        invoice = self.create_invoice(70.0)
        charge = self.fake.add_charge(7000, "usd")
        session = self.checkout_session(
            charge, payment_status="unpaid", metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver("checkout.session.async_payment_failed", session)
        self.assertEvent(event, "done", invoice.name)
        self.assertInvoice(invoice, 70.0, "not_paid")
        self.assertIn("asynchronous payment failed", invoice.message_ids[0].body)

    def test_invoice_numbers_are_matched_in_the_account_company(self):
        """Two companies number their invoices alike: a payment on company A's
        Stripe account pays company A's invoice, never company B's."""
        other = self.setup_other_company(name="Company B")["company"]
        self.env.user.company_ids |= other
        invoice = self.create_invoice(100.0)
        invoice_b = self.create_invoice(
            100.0,
            company_id=other.id,
            journal_id=self.env["account.journal"]
            .search([("company_id", "=", other.id), ("type", "=", "sale")], limit=1)
            .id,
        )
        self.assertEqual(invoice_b.name, invoice.name)
        event = self.pay(10000, metadata={"odoo_invoice": invoice.name})
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertInvoice(invoice_b, 100.0, "not_paid")
        self.assertEqual(event.payment_ids.company_id, self.company)

    def test_failed_payment_notes_the_invoice(self):
        invoice = self.create_invoice(70.0)
        intent = self.fake.add_payment_intent(
            7000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver("payment_intent.payment_failed", intent)
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 70.0, "not_paid")
        self.assertIn("Your card was declined", invoice.message_ids[0].body)

    def test_failed_payment_of_a_customer_notes_the_invoice_of_that_amount(self):
        """No metadata: the customer's only open invoice of that amount gets the
        note; with none, the customer does."""
        invoice = self.create_invoice(70.0)
        other = self.create_invoice(30.0)
        customer = self.fake.add_customer(email=self.customer.email)
        intent = self.fake.add_payment_intent(7000, "usd", customer=customer["id"])
        event = self.deliver("payment_intent.payment_failed", intent)
        self.assertEvent(event, "done", invoice.name)
        self.assertIn("Your card was declined", invoice.message_ids[0].body)
        self.assertFalse(
            [message for message in other.message_ids if "declined" in message.body]
        )
        intent = self.fake.add_payment_intent(5000, "usd", customer=customer["id"])
        event = self.deliver("payment_intent.payment_failed", intent)
        self.assertEvent(event, "done", self.customer.name)
        self.assertIn("Your card was declined", self.customer.message_ids[0].body)

    def test_legacy_payment_intent_with_charges_list(self):
        """API versions before 2022-11-15 send the charges inside the intent."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(10000, "usd")
        intent = dict(self.fake.get(charge["payment_intent"]), latest_charge=None)
        legacy_charge = dict(charge, metadata={"odoo_invoice": invoice.name})
        intent["charges"] = {"object": "list", "data": [legacy_charge]}
        event = self.deliver(
            "payment_intent.succeeded", intent, api_version="2020-08-27"
        )
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(event.payment_ids.stripe_charge_id, charge["id"])

    # === HELPERS === #

    def create_order(self, amount, partner=None):
        product = self.env["product.product"].create(
            {
                "name": "Desk",
                "type": "consu",
                "invoice_policy": "order",
                "list_price": amount,
                "taxes_id": [Command.clear()],
            }
        )
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.customer).id,
                "company_id": self.company.id,
                "date_order": fields.Datetime.now(),
                "order_line": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": 1,
                            "price_unit": amount,
                            "tax_id": [Command.clear()],
                        }
                    )
                ],
            }
        )

    # === HOSTILE METADATA: Stripe's words as text, NUL as nothing === #

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

    # === AUTHORIZED, THEN CAPTURED === #

    def authorized_and_captured(self, invoice):
        captured = self.fake.add_charge(
            5000, "usd", payment_intent=False, metadata={"odoo_invoice": invoice.name}
        )
        authorized = dict(captured, captured=False, amount_captured=0)
        return authorized, captured

    def test_succeeded_uncaptured_then_captured(self):
        """A charge without PaymentIntent authorized first and captured later is
        booked once, from charge.captured, whichever event comes first."""
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

    # === CHECKOUT: THE PAYMENTINTENT FIRST === #

    def checkout_payment(self):
        """A Checkout payment of an invoice: (invoice, session, its intent)."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(10000, "usd")
        session = self.fake.add_checkout_session(
            charge, client_reference_id=invoice.name
        )
        return invoice, session, self.fake.get(charge["payment_intent"])

    def test_checkout_intent_first_with_a_key_the_session_is_looked_up(self):
        """Checkout's payment_intent.succeeded, which carries none of the
        session's metadata, usually comes before checkout.session.completed: it
        never shows as failed."""
        self.invoice, self.session, self.intent = self.checkout_payment()
        event = self.deliver("payment_intent.succeeded", self.intent)
        self.assertEvent(event, "done", self.invoice.name)
        self.assertInvoice(self.invoice, 0.0, "paid")
        (request,) = self.fake.requests_for("/v1/checkout/sessions")
        self.assertEqual(request.query["payment_intent"], self.intent["id"])
        later = self.deliver("checkout.session.completed", self.session)
        self.assertEvent(later, "done", "Already registered")
        self.assertEqual(event.payment_ids, later.payment_ids)

    def test_checkout_intent_first_without_a_key_waits_for_the_session(self):
        self.invoice, self.session, self.intent = self.checkout_payment()
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

    def test_checkout_intent_first_a_stripe_hiccup_waits(self):
        self.invoice, self.session, self.intent = self.checkout_payment()
        self.fake.fail_next(10, status=500, path_prefix="/v1/checkout/sessions")
        event = self.deliver("payment_intent.succeeded", self.intent)
        self.assertEvent(event, "waiting", "Checkout Session")
        self.assertInvoice(self.invoice, 100.0, "not_paid")

    def test_an_intent_no_checkout_session_made_fails_as_before(self):
        charge = self.fake.add_charge(4200, "usd")
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "failed", "No invoice or order matches")
