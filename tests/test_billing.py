"""Stripe Billing over HTTP: Stripe invoices mirrored as Odoo invoices, paid,
credited and voided in step with Stripe, whatever the order of the events."""

import random
from datetime import timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.tests import tagged

from .common import PayoutCommon, StripeCommon


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
        cls.vat21 = tax("VAT 21%", 21.0)
        cls.vat21_incl = tax("VAT 21% incl.", 21.0, included=True)
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
        # The event log shows the invoice's total, not $0.00.
        self.assertEqual(event.amount, 58.31)
        self.assertEqual(event.currency_id.name, "USD")
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

    def test_renewal_payment_intent_waits_an_hour_for_its_link(self):
        """No key, the renewal's PaymentIntent names no invoice and its
        invoice_payment.paid does not come: after an hour its event fails with
        the message a person acts on; the link arriving later wakes it, and it
        pays the mirrored invoice."""
        self.stripe_account.api_key = False
        stripe_invoice = self.renewal()
        stripe_invoice, intent, invoice_payment = self.fake.pay_invoice(
            stripe_invoice["id"]
        )
        start = fields.Datetime.now()
        with freeze_time(start):
            pi_event = self.deliver("payment_intent.succeeded", intent)
        self.assertEvent(pi_event, "waiting", "up to an hour")
        self.assertTrue(pi_event.to_check)
        with freeze_time(start + timedelta(minutes=61)):
            self.process_events()
        self.assertEvent(pi_event, "failed", "within an hour")
        self.assertTrue(pi_event.activity_ids, "someone is told at once")
        with freeze_time(start + timedelta(minutes=62)):
            self.deliver("invoice_payment.paid", invoice_payment)
            self.deliver("invoice.finalized", stripe_invoice)
        self.assertEvent(pi_event, "done")
        self.assertInvoice(self.mirror_of(stripe_invoice), 0.0, "paid")

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


@tagged("post_install", "-at_install")
class TestBillingAmounts(BillingCommon):
    def test_tax_included_in_price(self):
        """A tax rate included in the price maps to the Odoo tax included in the
        price; the line is booked at Stripe's untaxed amount with the same tax
        excluded from the price; the total is the line's amount."""
        rate = self.fake.add_tax_rate(19, inclusive=True)
        stripe_invoice = self.renewal(
            [{"amount": 5900, "tax_rate": rate}], default_tax_rates=[rate]
        )
        event = self.deliver("invoice.finalized", stripe_invoice)
        self.assertEvent(event, "done", "Prices include VAT 19% incl.")
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        self.assertEqual(move.amount_total, 59.0)
        self.assertEqual(move.amount_tax, 9.42)
        self.assertEqual(move.amount_untaxed, 49.58)
        self.assertEqual(move.invoice_line_ids.tax_ids, self.vat19)
        mapping = self.stripe_account.tax_rate_ids.filtered(
            lambda r: r.stripe_id == rate["id"]
        )
        self.assertEqual(mapping.tax_id, self.vat19_incl)

    def test_tax_included_without_excluded_twin_fails_naming_it(self):
        """A tax included in the price whose percentage has no Odoo tax excluded
        from the price fails the event, naming the tax to create."""
        rate = self.fake.add_tax_rate(19, inclusive=True)
        self.vat19.active = False
        stripe_invoice = self.renewal(
            [{"amount": 5900, "tax_rate": rate}], default_tax_rates=[rate]
        )
        event = self.deliver("invoice.finalized", stripe_invoice)
        self.assertEvent(event, "failed", "Create a sales tax of 19.0% excluded")
        self.assertFalse(self.mirror_of(stripe_invoice))
        self.vat19.active = True
        event.action_retry()
        self.assertEvent(event, "done")
        self.assertMirrors(self.mirror_of(stripe_invoice), stripe_invoice)

    def test_tax_included_with_coupon_and_credit_note(self):
        """Lines including 19 % VAT with a coupon, then a credit note of one
        line: invoice and credit note carry Stripe's untaxed amount and tax."""
        rate = self.fake.add_tax_rate(19, inclusive=True)
        stripe_invoice = self.renewal(
            [
                {"amount": 999, "discount": 333, "tax_rate": rate},
                {"amount": 1999, "tax_rate": rate},
            ],
            default_tax_rates=[rate],
        )
        self.company.tax_calculation_rounding_method = "round_globally"
        self.deliver("invoice.finalized", stripe_invoice)
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        stripe_taxes = sum(tax["amount"] for tax in stripe_invoice["total_taxes"])
        self.assertEqual(round(move.amount_tax * 100), stripe_taxes)
        self.assertEqual(
            round(move.amount_untaxed * 100), stripe_invoice["total_excluding_tax"]
        )
        self.assertEqual(
            round(move.tax_totals["base_amount_currency"] * 100),
            stripe_invoice["total_excluding_tax"],
        )
        line = stripe_invoice["lines"]["data"][1]
        credit_note, _refund = self.fake.add_credit_note(
            stripe_invoice["id"], [(line["id"], 1999)]
        )
        self.deliver("credit_note.created", credit_note)
        refund = self.env["account.move"].search(
            [("stripe_credit_note_id", "=", credit_note["id"])]
        )
        self.assertEqual(round(refund.amount_total * 100), credit_note["total"])
        credited_tax = sum(
            tax["amount"]
            for line in credit_note["lines"]["data"]
            for tax in line["taxes"]
        )
        self.assertEqual(round(refund.amount_tax * 100), credited_tax)
        self.assertEqual(refund.invoice_line_ids.tax_ids, self.vat19)

    def test_tax_included_carries_stripe_tax_and_untaxed_amounts(self):
        """Three lines of 9.99 including 21 % VAT: Stripe taxes each line (1.73 x 3
        = 5.19, untaxed 24.78) where Odoo would take 21/121 of 29.97 (5.20). The
        mirror carries Stripe's tax and untaxed amounts, in its journal items and
        in its totals block (the printed invoice), with either tax rounding of the
        company, and the event says so."""
        rate = self.fake.add_tax_rate(21, inclusive=True)
        for method in ("round_per_line", "round_globally"):
            with self.subTest(method=method):
                self.company.tax_calculation_rounding_method = method
                stripe_invoice = self.renewal(
                    [
                        {"amount": 999, "tax_rate": rate, "description": f"Seat {i}"}
                        for i in range(3)
                    ],
                    default_tax_rates=[rate],
                )
                self.assertEqual(stripe_invoice["total"], 2997)
                self.assertEqual(stripe_invoice["total_excluding_tax"], 2478)
                event = self.deliver("invoice.finalized", stripe_invoice)
                move = self.mirror_of(stripe_invoice)
                self.assertMirrors(move, stripe_invoice)
                self.assertEqual(move.amount_untaxed, 24.78)
                self.assertEqual(move.amount_tax, 5.19)
                self.assertEqual(move.amount_total, 29.97)
                tax_lines = move.line_ids.filtered("tax_line_id")
                base_lines = move.invoice_line_ids
                totals = move.tax_totals
                groups = [
                    group["tax_amount_currency"]
                    for subtotal in totals["subtotals"]
                    for group in subtotal["tax_groups"]
                ]
                self.assertEqual(len(groups), 1)
                for shown, expected in (
                    (-sum(tax_lines.mapped("balance")), 5.19),
                    (-sum(base_lines.mapped("balance")), 24.78),
                    (totals["base_amount_currency"], 24.78),
                    (totals["tax_amount_currency"], 5.19),
                    (totals["total_amount_currency"], 29.97),
                    (groups[0], 5.19),
                ):
                    self.assertAlmostEqual(shown, expected, places=2)
                self.assertEvent(event, "done", "untaxed amounts ($\xa024.78")

    def test_coupon_and_prorations(self):
        """A coupon is a discount line of its own; prorations are their own
        lines, with their period in the label; the total is Stripe's."""
        day = 86400
        start = 1_790_000_000
        stripe_invoice = self.renewal(
            [
                {
                    "amount": 4900,
                    "discount": 1225,
                    "tax_rate": self.rate19,
                    "description": "1 x Pro plan (at $49.00 / month)",
                    "period": (start, start + 30 * day),
                },
                {
                    "amount": -1633,
                    "proration": True,
                    "tax_rate": self.rate19,
                    "description": "Unused time on Pro plan after 20 Sep 2026",
                    "period": (start + 20 * day, start + 30 * day),
                },
                {
                    "amount": 3267,
                    "proration": True,
                    "tax_rate": self.rate19,
                    "description": "Remaining time on Business plan after 20 Sep 2026",
                    "period": (start + 20 * day, start + 30 * day),
                },
            ]
        )
        self.deliver("invoice.finalized", stripe_invoice)
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        lines = move.invoice_line_ids
        self.assertEqual(len(lines), 4)
        discount = lines.filtered(
            lambda line: line.price_unit < 0 and "Discount" in line.name
        )
        self.assertEqual(discount.price_subtotal, -12.25)
        self.assertEqual(discount.tax_ids, self.vat19)
        unused = lines.filtered(lambda line: "Unused time" in line.name)
        self.assertEqual(unused.price_subtotal, -16.33)
        self.assertIn("(2026-10-11 to 2026-10-21)", unused.name)
        self.assertEqual(move.amount_untaxed, 53.09)

    def test_tax_rounded_as_stripe(self):
        """Stripe rounds the tax of the discounted amount; Odoo rounds the line's
        and the discount's apart: the tax line takes Stripe's amount, and the
        event says so."""
        stripe_invoice = self.renewal(
            [{"amount": 140, "discount": 60, "tax_rate": self.rate19}]
        )
        self.assertEqual(stripe_invoice["total"], 95)
        event = self.deliver("invoice.finalized", stripe_invoice)
        self.assertEvent(event, "done", "Tax rounded as Stripe does")
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        self.assertEqual(move.amount_tax, 0.15)

    def test_zero_and_three_decimal_currencies(self):
        """JPY has no minor unit, KWD three decimals: totals equal Stripe's."""
        for code in ("JPY", "KWD"):
            self.env.ref(f"base.{code}").active = True
        jpy = self.renewal([{"amount": 4980, "tax_rate": self.rate19}], currency="jpy")
        kwd = self.renewal([{"amount": 15125, "tax_rate": self.rate19}], currency="kwd")
        event = self.deliver("invoice.finalized", jpy)
        self.assertEvent(event, "done")
        # 15.125 KWD does not fit Odoo's default Product Price accuracy (2).
        event = self.deliver("invoice.finalized", kwd)
        self.assertEvent(event, "failed", "Product Price accuracy")
        self.env.ref("product.decimal_price").digits = 3
        event.action_retry()
        self.assertEvent(event, "done")
        move_jpy = self.mirror_of(jpy)
        move_kwd = self.mirror_of(kwd)
        self.assertMirrors(move_jpy, jpy)
        self.assertMirrors(move_kwd, kwd)
        self.assertEqual(move_jpy.amount_total, 5926)
        self.assertAlmostEqual(move_kwd.amount_total, 17.999, places=3)

    def test_lines_of_all_pages(self):
        """An invoice of 105 lines carries 10: the others are read page by page."""
        stripe_invoice = self.renewal(
            [
                {"amount": 100 + i, "tax_rate": self.rate19, "description": f"Seat {i}"}
                for i in range(105)
            ]
        )
        self.assertTrue(stripe_invoice["lines"]["has_more"])
        self.deliver("invoice.finalized", stripe_invoice)
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        self.assertEqual(len(move.invoice_line_ids), 105)
        pages = self.fake.requests_for(f"/v1/invoices/{stripe_invoice['id']}/lines")
        self.assertEqual(len(pages), 2)
        self.assertTrue(all(page.query.get("limit") == "100" for page in pages))

    def test_unknown_tax_rate_fails_naming_it(self):
        """A tax rate no source describes (no key, not on the invoice, not mapped)
        fails the event with its id; mapped on the account, the retry mirrors."""
        self.stripe_account.api_key = False
        stripe_invoice = self.renewal(default_tax_rates=[])
        event = self.deliver("invoice.finalized", stripe_invoice)
        self.assertEvent(event, "failed", self.rate19["id"])
        self.assertFalse(self.mirror_of(stripe_invoice))
        self.stripe_account.tax_rate_ids = [
            Command.create(
                {"stripe_id": self.rate19["id"], "name": "VAT", "tax_id": self.vat19.id}
            )
        ]
        event.action_retry()
        self.assertEvent(event, "done")
        self.assertMirrors(self.mirror_of(stripe_invoice), stripe_invoice)

    def test_trial_of_amount_zero(self):
        """A trial invoice of amount zero is mirrored; nothing to pay."""
        stripe_invoice = self.renewal(
            [{"amount": 0, "description": "Trial period for Pro plan"}],
            default_tax_rates=[],
            status="paid",
            billing_reason="subscription_create",
        )
        event = self.deliver("invoice.paid", stripe_invoice)
        self.assertEvent(event, "done", "Nothing to pay")
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        self.assertEqual(move.amount_total, 0.0)
        self.assertIn(move.payment_state, ("paid", "not_paid"))


@tagged("post_install", "-at_install")
class TestBillingCreditNotes(BillingCommon):
    def paid_renewal(self):
        stripe_invoice = self.renewal()
        stripe_invoice, intent, invoice_payment = self.fake.pay_invoice(
            stripe_invoice["id"]
        )
        self.deliver("invoice.finalized", stripe_invoice)
        self.deliver("payment_intent.succeeded", intent)
        self.deliver("invoice_payment.paid", invoice_payment)
        move = self.mirror_of(stripe_invoice)
        self.assertInvoice(move, 0.0, "paid")
        return stripe_invoice, move

    def credit_notes_of(self, move):
        return self.env["account.move"].search(
            [("move_type", "=", "out_refund"), ("partner_id", "=", move.partner_id.id)]
        )

    def assertOneCreditNote(self, move, credit_note, refund):
        credit_notes = self.credit_notes_of(move)
        self.assertEqual(len(credit_notes), 1)
        self.assertEqual(credit_notes.stripe_credit_note_id, credit_note["id"])
        self.assertEqual(credit_notes.ref, credit_note["number"])
        self.assertEqual(round(credit_notes.amount_total * 100), credit_note["total"])
        self.assertInvoice(credit_notes, 0.0, "paid")
        payments = self.env["account.payment"].search(
            [("stripe_object_id", "=", refund["id"])]
        )
        self.assertEqual(len(payments), 1)
        self.assertEqual(payments.payment_type, "outbound")

    def test_credit_note_then_refund(self):
        """credit_note.created first: the Odoo credit note of its lines; the
        refund's event then adds the outbound payment only."""
        stripe_invoice, move = self.paid_renewal()
        line_id = stripe_invoice["lines"]["data"][0]["id"]
        credit_note, refund = self.fake.add_credit_note(
            stripe_invoice["id"], [(line_id, 2000)], refund=True
        )
        self.assertEqual(credit_note["total"], 2380)
        cn_event = self.deliver("credit_note.created", credit_note)
        self.assertEvent(cn_event, "done", "mirrors Stripe credit note")
        refund_event = self.deliver("refund.created", refund)
        self.assertEvent(refund_event, "done", "Refund payment")
        self.assertOneCreditNote(move, credit_note, refund)
        self.assertBalanceMatches()

    def test_a_refund_is_credited_by_the_credit_note_listing_exactly_it(self):
        """The mirrored credit note is found by the refund it lists, exactly: a
        refund whose id begins another's is not that one."""
        stripe_invoice, move = self.paid_renewal()
        line_id = stripe_invoice["lines"]["data"][0]["id"]
        credit_note, refund = self.fake.add_credit_note(
            stripe_invoice["id"], [(line_id, 2000)], refund=True
        )
        self.assertEvent(self.deliver("credit_note.created", credit_note), "done")
        event_model = self.env["stripe.event"]
        mirrored = event_model._stripe_billing_credit_note_of_refund(move, refund["id"])
        self.assertEqual(mirrored.stripe_credit_note_id, credit_note["id"])
        for other in (refund["id"][:-1], refund["id"][3:]):
            with self.subTest(refund=other):
                self.assertFalse(
                    event_model._stripe_billing_credit_note_of_refund(move, other)
                )

    def test_refund_then_credit_note_without_key(self):
        """The refund first, no key to read Stripe's credit notes: it waits for
        the credit note that lists it, which then credits it: one credit note,
        one outbound payment."""
        stripe_invoice, move = self.paid_renewal()
        self.stripe_account.api_key = False
        line_id = stripe_invoice["lines"]["data"][0]["id"]
        credit_note, refund = self.fake.add_credit_note(
            stripe_invoice["id"], [(line_id, 4900)], refund=True
        )
        refund_event = self.deliver("refund.created", refund)
        self.assertEvent(refund_event, "waiting", "waits for the Stripe credit note")
        cn_event = self.deliver("credit_note.created", credit_note)
        self.assertEvent(cn_event, "done")
        self.process_events()
        self.assertEvent(refund_event, "done")
        self.assertOneCreditNote(move, credit_note, refund)

    def test_refund_then_credit_note_with_key(self):
        """The refund first, with a key: Stripe's credit notes of the invoice are
        read at once; the credit note's own event finds it mirrored."""
        stripe_invoice, move = self.paid_renewal()
        line_id = stripe_invoice["lines"]["data"][0]["id"]
        credit_note, refund = self.fake.add_credit_note(
            stripe_invoice["id"], [(line_id, 4900)], refund=True
        )
        refund_event = self.deliver("refund.created", refund)
        self.assertEvent(refund_event, "done")
        cn_event = self.deliver("credit_note.created", credit_note)
        self.assertEvent(cn_event, "done", "Already mirrored")
        self.assertOneCreditNote(move, credit_note, refund)
        self.assertBalanceMatches()

    def test_credit_note_lines_of_all_pages(self):
        """A credit note of 105 lines carries 10: the others are read page by
        page from ``GET /v1/credit_notes/<id>/lines``; the Odoo credit note has
        every line and Stripe's total, and less is due on the invoice."""
        stripe_invoice = self.renewal(
            [
                {"amount": 100 + i, "tax_rate": self.rate19, "description": f"Seat {i}"}
                for i in range(105)
            ]
        )
        self.deliver("invoice.finalized", stripe_invoice)
        move = self.mirror_of(stripe_invoice)
        line_ids = [  # all 105, not the 10 the invoice carries
            line["id"]
            for line in self.fake.objects("line_item")
            if line["invoice"] == stripe_invoice["id"]
        ]
        credit_note, _refund = self.fake.add_credit_note(
            stripe_invoice["id"], [(line_id, 50) for line_id in line_ids]
        )
        self.assertTrue(credit_note["lines"]["has_more"])
        event = self.deliver("credit_note.created", credit_note)
        self.assertEvent(event, "done", "mirrors Stripe credit note")
        odoo_credit_note = self.credit_notes_of(move)
        self.assertEqual(len(odoo_credit_note.invoice_line_ids), 105)
        self.assertEqual(
            round(odoo_credit_note.amount_total * 100), credit_note["total"]
        )
        pages = self.fake.requests_for(f"/v1/credit_notes/{credit_note['id']}/lines")
        self.assertEqual(len(pages), 2)
        self.assertInvoice(
            move, (stripe_invoice["total"] - credit_note["total"]) / 100, "partial"
        )

    def test_credit_note_before_payment_and_its_void(self):
        """A credit note on an open invoice lowers what is due; voided, the
        invoice is due again."""
        stripe_invoice = self.renewal()
        self.deliver("invoice.finalized", stripe_invoice)
        move = self.mirror_of(stripe_invoice)
        line_id = stripe_invoice["lines"]["data"][0]["id"]
        credit_note, _refund = self.fake.add_credit_note(
            stripe_invoice["id"], [(line_id, 1000)]
        )
        self.deliver("credit_note.created", credit_note)
        self.assertInvoice(move, 58.31 - 11.90, "partial")
        self.fake.void_credit_note(credit_note["id"])
        event = self.deliver("credit_note.voided", credit_note)
        self.assertEvent(event, "done", "reversed")
        self.assertInvoice(move, 58.31, "not_paid")


@tagged("post_install", "-at_install")
class TestBillingLifecycle(BillingCommon, PayoutCommon):
    def test_void(self):
        """A voided Stripe invoice reverses its Odoo invoice."""
        stripe_invoice = self.renewal()
        self.deliver("invoice.finalized", stripe_invoice)
        voided = self.fake.set_invoice_status(stripe_invoice["id"], "void")
        event = self.deliver("invoice.voided", voided)
        self.assertEvent(event, "done", "reversed by")
        move = self.mirror_of(stripe_invoice)
        self.assertEqual(move.payment_state, "reversed")
        self.assertEqual(move.amount_residual, 0.0)

    def post_events(self, *events):
        """Deliver built events in this order, each processed before the next."""
        for event in events:
            response = self.post_webhook(event)
            self.assertEqual(response.status_code, 200, response.text)
            self.process_events()
        return [self.get_event(event["id"]) for event in events]

    def test_voided_before_finalized_without_key(self):
        """invoice.voided delivered before invoice.finalized, no key: the Odoo
        invoice ends reversed, nothing to collect."""
        self.stripe_account.api_key = False
        stripe_invoice = self.renewal()
        finalized = self.make_event("invoice.finalized", stripe_invoice)
        voided = self.make_event(
            "invoice.voided", self.fake.set_invoice_status(stripe_invoice["id"], "void")
        )
        void_event, finalized_event = self.post_events(voided, finalized)
        self.assertEvent(void_event, "done", "reversed by")
        self.assertEvent(finalized_event, "done", "Already mirrored")
        move = self.mirror_of(stripe_invoice)
        self.assertEqual(move.payment_state, "reversed")
        self.assertInvoice(move, 0.0, "reversed")
        self.assertEqual(self.customer_due(move), 0.0)

    def test_later_states_win_over_finalized_without_key(self):
        """Paid, marked uncollectible (written off) or credited before
        invoice.finalized arrives, no key: finalized changes nothing; Stripe's
        later state stays."""
        bad_debt = self.env["account.account"].create(
            {"name": "Bad debts", "code": "BADDEBT", "account_type": "expense"}
        )
        self.stripe_account.write(
            {
                "api_key": False,
                "uncollectible_policy": "write_off",
                "uncollectible_account_id": bad_debt.id,
            }
        )
        # Paid, then finalized: the payment's events pay it.
        paid_invoice = self.renewal()
        finalized = self.make_event("invoice.finalized", paid_invoice)
        paid_invoice, intent, invoice_payment = self.fake.pay_invoice(
            paid_invoice["id"]
        )
        self.post_events(
            self.make_event("invoice.paid", paid_invoice),
            finalized,
            self.make_event("payment_intent.succeeded", intent),
            self.make_event("invoice_payment.paid", invoice_payment),
        )
        self.process_events()
        self.assertInvoice(self.mirror_of(paid_invoice), 0.0, "paid")
        # Uncollectible, then finalized: written off, nothing to collect.
        bad_invoice = self.renewal()
        finalized = self.make_event("invoice.finalized", bad_invoice)
        marked = self.make_event(
            "invoice.marked_uncollectible",
            self.fake.set_invoice_status(bad_invoice["id"], "uncollectible"),
        )
        self.post_events(marked, finalized)
        self.assertInvoice(self.mirror_of(bad_invoice), 0.0, "paid")
        self.assertEqual(self.account_balance(bad_debt), 58.31)
        # Credited, then finalized: less is due.
        credited = self.renewal()
        finalized = self.make_event("invoice.finalized", credited)
        credit_note, _refund = self.fake.add_credit_note(
            credited["id"], [(credited["lines"]["data"][0]["id"], 1000)]
        )
        self.post_events(self.make_event("credit_note.created", credit_note), finalized)
        self.process_events()
        self.assertInvoice(self.mirror_of(credited), 58.31 - 11.90, "partial")

    def test_paid_invoice_not_written_off_by_older_uncollectible_mark(self):
        """Stripe collected an invoice after marking it uncollectible, and the
        events come the other way round, no key: the older mark writes nothing
        off; the payment pays the invoice."""
        bad_debt = self.env["account.account"].create(
            {"name": "Bad debts", "code": "BADDEBT", "account_type": "expense"}
        )
        self.stripe_account.write(
            {
                "api_key": False,
                "uncollectible_policy": "write_off",
                "uncollectible_account_id": bad_debt.id,
            }
        )
        stripe_invoice = self.renewal()
        finalized = self.make_event("invoice.finalized", stripe_invoice)
        marked = self.make_event(
            "invoice.marked_uncollectible",
            self.fake.set_invoice_status(stripe_invoice["id"], "uncollectible"),
        )
        stripe_invoice, intent, invoice_payment = self.fake.pay_invoice(
            stripe_invoice["id"]
        )
        paid = self.make_event("invoice.paid", stripe_invoice)
        _finalized, _paid, marked_event = self.post_events(finalized, paid, marked)
        self.assertEvent(marked_event, "ignored", "paid")
        self.post_events(
            self.make_event("payment_intent.succeeded", intent),
            self.make_event("invoice_payment.paid", invoice_payment),
        )
        self.process_events()
        self.assertInvoice(self.mirror_of(stripe_invoice), 0.0, "paid")
        self.assertEqual(self.account_balance(bad_debt), 0.0)

    def customer_due(self, move):
        """What the customer still owes on the invoice's receivable."""
        return sum(
            move.line_ids.filtered(
                lambda line: line.display_type == "payment_term"
            ).mapped("amount_residual")
        )

    def test_uncollectible_left_open_with_activity(self):
        stripe_invoice = self.renewal()
        self.deliver("invoice.finalized", stripe_invoice)
        marked = self.fake.set_invoice_status(stripe_invoice["id"], "uncollectible")
        event = self.deliver("invoice.marked_uncollectible", marked)
        self.assertEvent(event, "done", "left open")
        move = self.mirror_of(stripe_invoice)
        self.assertInvoice(move, 58.31, "not_paid")
        self.assertTrue(move.activity_ids)

    def test_uncollectible_written_off(self):
        bad_debt = self.env["account.account"].create(
            {"name": "Bad debts", "code": "BADDEBT", "account_type": "expense"}
        )
        self.stripe_account.write(
            {
                "uncollectible_policy": "write_off",
                "uncollectible_account_id": bad_debt.id,
            }
        )
        stripe_invoice = self.renewal()
        self.deliver("invoice.finalized", stripe_invoice)
        marked = self.fake.set_invoice_status(stripe_invoice["id"], "uncollectible")
        event = self.deliver("invoice.marked_uncollectible", marked)
        self.assertEvent(event, "done", "written off")
        self.assertInvoice(self.mirror_of(stripe_invoice), 0.0, "paid")
        self.assertEqual(self.account_balance(bad_debt), 58.31)

    def test_payment_failed_then_last_retry(self):
        """Each failed attempt leaves a message; after Stripe's last retry, an
        activity."""
        stripe_invoice = self.renewal()
        self.deliver("invoice.finalized", stripe_invoice)
        move = self.mirror_of(stripe_invoice)
        failing = dict(
            stripe_invoice, attempt_count=1, next_payment_attempt=1_900_000_000
        )
        # The account's responsible reads the date in their time zone.
        self.stripe_account.user_id.tz = "Europe/Paris"
        event = self.deliver("invoice.payment_failed", failing)
        self.assertEvent(event, "done", "tries again")
        # 1,900,000,000 is 5:46:40 PM UTC, 6:46:40 PM in Paris.
        self.assertIn("6:46:40", event.state_message)
        self.assertNotIn("5:46:40", event.state_message)
        self.assertFalse(move.activity_ids)
        last = dict(stripe_invoice, attempt_count=4, next_payment_attempt=None)
        event = self.deliver("invoice.payment_failed", last)
        self.assertEvent(event, "done", "will not try again")
        self.assertTrue(move.activity_ids)

    def test_customer_updated_over_http(self):
        """customer.updated reaches the partner, except what a user changed."""
        customer = self.stripe_customer
        self.deliver("customer.created", customer)
        partner = self.env["res.partner"].search(
            [("stripe_customer_id", "=", customer["id"])]
        )
        self.assertEqual(partner.name, "ACME Corp")
        partner.city = "Potsdam"  # the accountant knows better
        customer.update(name="ACME Corporation", email="billing@acme.example")
        customer["address"] = dict(customer["address"], city="Hamburg")
        event = self.deliver(
            "customer.updated",
            customer,
            previous_attributes={"name": "ACME Corp", "email": "finance@acme.example"},
        )
        self.assertEvent(event, "done", "Kept as changed in Odoo: city")
        self.assertRecordValues(
            partner,
            [
                {
                    "name": "ACME Corporation",
                    "email": "billing@acme.example",
                    "city": "Potsdam",
                }
            ],
        )

    def test_import_invoices_of_a_range_twice(self):
        """Import Stripe Invoices mirrors a range's invoices with their payments
        and credit notes, shows its progress, and imports nothing twice when run
        again."""
        paid = self.renewal()
        paid, _intent, _ip = self.fake.pay_invoice(paid["id"])
        open_invoice = self.renewal()
        line_id = open_invoice["lines"]["data"][0]["id"]
        credit_note, _refund = self.fake.add_credit_note(
            open_invoice["id"], [(line_id, 1000)]
        )
        self.renewal(status="draft")
        job = self.env["stripe.billing.import"].create(
            {"account_id": self.stripe_account.id}
        )
        job.action_start()
        self.assertEqual(job.invoice_count, 2)
        self.env.ref(
            "stripe_connector.ir_cron_stripe_billing_import"
        ).method_direct_trigger()
        job.invalidate_recordset()
        self.assertEqual(job.state, "done")
        self.assertEqual(job.progress, 100.0)
        self.assertEqual(job.failed_count, 0, job.log)
        self.assertInvoice(self.mirror_of(paid), 0.0, "paid")
        open_move = self.mirror_of(open_invoice)
        self.assertInvoice(open_move, 58.31 - 11.90, "partial")
        self.assertEqual(
            self.env["account.move"]
            .search([("stripe_credit_note_id", "=", credit_note["id"])])
            .amount_total,
            11.90,
        )
        self.assertBalanceMatches()
        counts = (
            self.env["account.move"].search_count([]),
            self.env["account.payment"].search_count([]),
        )
        job.action_start()
        self.env.ref(
            "stripe_connector.ir_cron_stripe_billing_import"
        ).method_direct_trigger()
        job.invalidate_recordset()
        self.assertEqual(job.state, "done")
        self.assertEqual(
            (
                self.env["account.move"].search_count([]),
                self.env["account.payment"].search_count([]),
            ),
            counts,
        )

    # Billing's payment rule applies wherever a payment reaches Odoo: a payout
    # that carries a renewal no webhook brought pays the Stripe invoice's mirror.

    def test_payout_books_a_renewal_no_webhook_brought(self):
        """No event of the renewal reached Odoo. The payout reads the charge's
        PaymentIntent, finds its Stripe invoice through Stripe's invoice
        payments, mirrors it and pays it: one invoice, paid, one payment."""
        stripe_invoice = self.renewal()
        stripe_invoice, intent, _invoice_payment = self.fake.pay_invoice(
            stripe_invoice["id"]
        )
        payout_event = self.deliver("payout.paid", self.fake.add_payout())
        self.assertEvent(payout_event, "done")
        move = self.mirror_of(stripe_invoice)
        self.assertMirrors(move, stripe_invoice)
        self.assertInvoice(move, 0.0, "paid")
        payment = self.env["account.payment"].search(
            [("stripe_object_id", "=", intent["id"])]
        )
        self.assertEqual(len(payment), 1)
        self.assertEqual(payment.reconciled_invoice_ids, move)
        self.assertStripeMirrored()
        # The renewal's events, arriving late, book nothing again.
        self.deliver("payment_intent.succeeded", intent)
        paid_event = self.deliver("invoice.paid", stripe_invoice)
        self.assertEvent(paid_event, "done", f"{move.name} is paid")
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("stripe_object_id", "=", intent["id"])]
            ),
            1,
        )
        self.assertStripeMirrored()

    def test_wizard_proposal_reads_and_creates_nothing(self):
        """The reconcile wizard proposes the mirrored invoice when Odoo knows
        the link, without asking Stripe or creating anything."""
        self.stripe_account.api_key = False
        stripe_invoice = self.renewal()
        self.deliver("invoice.finalized", stripe_invoice)
        move = self.mirror_of(stripe_invoice)
        stripe_invoice, intent, invoice_payment = self.fake.pay_invoice(
            stripe_invoice["id"]
        )
        self.deliver("invoice_payment.paid", invoice_payment)
        charge = self.fake.get(intent["latest_charge"])
        rules = self.env["stripe.payment.rules"]._stripe_bind(
            self.stripe_account, proposal=True
        )
        facts = rules._stripe_payment_facts(charge)
        moves_before = self.env["account.move"].search_count([])
        self.fake.requests.clear()
        target = rules._stripe_find_payment_target(
            facts, move.amount_total, move.currency_id
        )
        self.assertEqual(target, move)
        self.assertFalse(self.fake.requests)
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)
