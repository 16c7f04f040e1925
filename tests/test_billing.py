"""Stripe Billing over HTTP: Stripe invoices mirrored as Odoo invoices, paid,
credited and voided in step with Stripe, whatever the order of the events."""

import random

from odoo.tests import tagged

from .common import StripeCommon


class BillingCommon(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tax_group = cls.env["account.tax.group"].create(
            {"name": "VAT", "company_id": cls.company.id}
        )

        def tax(name, amount, included=False):
            return cls.env["account.tax"].create(
                {
                    "name": name,
                    "amount": amount,
                    "type_tax_use": "sale",
                    "company_id": cls.company.id,
                    "tax_group_id": tax_group.id,
                    "price_include_override": "tax_included"
                    if included
                    else "tax_excluded",
                }
            )

        cls.vat19 = tax("VAT 19%", 19.0)
        cls.vat19_incl = tax("VAT 19% incl.", 19.0, included=True)
        cls.vat7 = tax("VAT 7%", 7.0)
        cls.plan = cls.env["product.product"].create({"name": "Pro plan"})
        cls.plan.product_tmpl_id.stripe_product_id = "prod_pro"

    def setUp(self):
        super().setUp()
        self.stripe_customer = self.fake.add_customer(
            email="finance@acme.example",
            name="ACME Corp",
            address={"line1": "1 Road", "city": "Berlin", "country": "DE"},
        )
        self.rate19 = self.fake.add_tax_rate(19)

    # === HELPERS === #

    def mirror_of(self, stripe_invoice):
        self.env.invalidate_all()
        return self.env["account.move"].search(
            [("stripe_invoice_id", "=", stripe_invoice["id"])]
        )

    def assertMirrors(self, move, stripe_invoice):
        """The Odoo invoice is posted, in Stripe's currency, for Stripe's total."""
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.move_type, "out_invoice")
        self.assertEqual(move.currency_id.name, stripe_invoice["currency"].upper())
        self.assertEqual(move.ref, stripe_invoice["number"])
        self.assertEqual(
            round(move.amount_total * 10**move.currency_id.decimal_places),
            stripe_invoice["total"],
        )

    def assertBalanceMatches(self):
        currency = self.stripe_journal.currency_id or self.currency
        self.assertAlmostEqual(
            self.journal_balance(),
            self.fake.balance(currency.name.lower()) / 100,
            places=2,
        )

    def renewal(self, lines=None, currency="usd", **kwargs):
        return self.fake.add_invoice(
            self.stripe_customer,
            lines
            or [
                {
                    "amount": 4900,
                    "description": "1 x Pro plan (at $49.00 / month)",
                    "tax_rate": self.rate19,
                }
            ],
            currency=currency,
            default_tax_rates=kwargs.pop("default_tax_rates", [self.rate19]),
            **kwargs,
        )


@tagged("post_install", "-at_install")
class TestBillingInvoices(BillingCommon):
    def test_monthly_renewal_with_tax_paid(self):
        """invoice.finalized mirrors the invoice (Stripe's total, number as
        reference, the customer's partner, the product of the Stripe product);
        the PaymentIntent pays it with its fee; invoice.paid says so; the Stripe
        journal equals Stripe's balance."""
        stripe_invoice = self.renewal()
        event = self.deliver("invoice.finalized", stripe_invoice)
        self.assertEvent(event, "done", "mirrors Stripe invoice")
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        self.assertEqual(move.amount_total, 58.31)
        self.assertEqual(move.amount_tax, 9.31)
        self.assertEqual(move.partner_id.stripe_customer_id, self.stripe_customer["id"])
        self.assertEqual(move.invoice_line_ids.product_id, self.plan)
        self.assertEqual(move.invoice_line_ids.tax_ids, self.vat19)
        self.assertIn("Pro plan", move.invoice_line_ids.name)
        self.assertInvoice(move, 58.31, "not_paid")

        stripe_invoice, intent, invoice_payment = self.fake.pay_invoice(
            stripe_invoice["id"]
        )
        pi_event = self.deliver("payment_intent.succeeded", intent)
        self.assertEvent(pi_event, "done", "Stripe fee booked")
        self.deliver("invoice_payment.paid", invoice_payment)
        paid_event = self.deliver("invoice.paid", stripe_invoice)
        self.assertEvent(paid_event, "done", "is paid")
        self.assertInvoice(move, 0.0, "paid")
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("stripe_object_id", "=", intent["id"])]
            ),
            1,
        )
        self.assertBalanceMatches()

    def test_invoice_paid_first_event_with_key(self):
        """invoice.paid as the first event: mirrored, and with a key its
        PaymentIntent is read and registered at once; the PaymentIntent's own
        event then adds nothing."""
        stripe_invoice = self.renewal()
        stripe_invoice, intent, _invoice_payment = self.fake.pay_invoice(
            stripe_invoice["id"]
        )
        event = self.deliver("invoice.paid", stripe_invoice)
        self.assertEvent(event, "done", "Stripe fee booked")
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        self.assertInvoice(move, 0.0, "paid")
        pi_event = self.deliver("payment_intent.succeeded", intent)
        self.assertEvent(pi_event, "done", "Already registered")
        self.assertBalanceMatches()

    def test_renewal_payment_intent_first_without_key(self):
        """Basil and later, no key: the renewal's PaymentIntent names no invoice.
        It waits (never fails) until invoice_payment.paid links it, then pays
        the mirrored invoice; invoice.paid waits for it the same way."""
        self.stripe_account.api_key = False
        stripe_invoice = self.renewal()
        stripe_invoice, intent, invoice_payment = self.fake.pay_invoice(
            stripe_invoice["id"]
        )
        pi_event = self.deliver("payment_intent.succeeded", intent)
        self.assertEvent(pi_event, "waiting", "invoice_payment.paid")
        paid_event = self.deliver("invoice.paid", stripe_invoice)
        self.assertEvent(paid_event, "waiting", "invoice_payment.paid")
        move = self.mirror_of(stripe_invoice)
        self.assertFalse(move, "the wait rolled the mirror back with the event")
        link_event = self.deliver("invoice_payment.paid", invoice_payment)
        self.assertEvent(link_event, "done")
        # The waiting events were woken by the link.
        self.process_events()
        self.assertEvent(pi_event, "done")
        self.assertEvent(paid_event, "done")
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        self.assertInvoice(move, 0.0, "paid")

    def test_legacy_version_links_on_both_objects(self):
        """Before basil the invoice names its PaymentIntent and the PaymentIntent
        its invoice: the PaymentIntent first waits for the invoice (no key), then
        pays it."""
        self.stripe_account.api_key = False
        stripe_invoice = self.renewal()
        stripe_invoice, intent, _ip = self.fake.pay_invoice(stripe_invoice["id"])
        legacy_intent = dict(intent, invoice=stripe_invoice["id"])
        legacy_invoice = dict(stripe_invoice, payment_intent=intent["id"], paid=True)
        pi_event = self.deliver(
            "payment_intent.succeeded", legacy_intent, api_version="2024-06-20"
        )
        self.assertEvent(pi_event, "waiting", stripe_invoice["id"])
        self.deliver("invoice.finalized", legacy_invoice, api_version="2024-06-20")
        self.process_events()
        self.assertEvent(pi_event, "done")
        move = self.mirror_of(stripe_invoice)
        self.assertInvoice(move, 0.0, "paid")
        paid_event = self.deliver(
            "invoice.paid", legacy_invoice, api_version="2024-06-20"
        )
        self.assertEvent(paid_event, "done", "paid")

    def test_shuffled_and_duplicated_events(self):
        """Every event of two renewals, each twice, in a random order: one
        invoice and one payment per Stripe invoice, both paid, no failed event."""
        deliveries = []
        invoices = []
        for _i in range(2):
            stripe_invoice = self.renewal()
            finalized = dict(stripe_invoice)
            paid, intent, invoice_payment = self.fake.pay_invoice(stripe_invoice["id"])
            invoices.append(paid)
            for event_type, obj in [
                ("invoice.finalized", finalized),
                ("payment_intent.succeeded", intent),
                ("invoice_payment.paid", invoice_payment),
                ("invoice.paid", paid),
                ("invoice.payment_succeeded", paid),
            ]:
                event = self.make_event(event_type, obj)
                deliveries += [event, event]
        random.Random(7).shuffle(deliveries)
        for event in deliveries:
            self.assertEqual(self.post_webhook(event).status_code, 200)
        self.process_events()
        events = self.env["stripe.event"].search([])
        self.assertFalse(
            events.filtered(lambda e: e.state not in ("done",)),
            events.mapped("state_message"),
        )
        for stripe_invoice in invoices:
            move = self.mirror_of(stripe_invoice)
            self.assertEqual(len(move), 1)
            self.assertInvoice(move, 0.0, "paid")
        self.assertBalanceMatches()
