"""Batch booking and the fair queue: what the cron's batches book together,
what they leave to each event, and who gets served first."""

from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.account.wizard.account_payment_register import (
    AccountPaymentRegister,
)

from .. import const
from .test_billing import BillingCommon


@tagged("post_install", "-at_install")
class TestBatchBooking(BillingCommon):
    def deliver_renewals(self, count, bad=()):
        """Paid renewals of new customers, their ``invoice.paid`` and
        ``payment_intent.succeeded`` posted over the signed webhook, not
        processed. A renewal whose index is in ``bad`` has a 33 % tax rate no
        Odoo tax matches.

        :return: ``[(Stripe invoice, PaymentIntent, invoice event, PI event)]``
        """
        bad_rate = self.fake.add_tax_rate(33)
        renewals = []
        for index in range(count):
            customer = self.fake.add_customer(
                email=f"subscriber{index}@batch.example", name=f"Subscriber {index}"
            )
            rate = bad_rate if index in bad else self.rate19
            stripe_invoice = self.fake.add_invoice(
                customer,
                [
                    {
                        "amount": 4900 + 100 * index,
                        "description": "1 x Pro plan",
                        "tax_rate": rate,
                    }
                ],
                currency="usd",
                default_tax_rates=[rate],
            )
            stripe_invoice, intent, _link = self.fake.pay_invoice(stripe_invoice["id"])
            invoice_event = self.deliver("invoice.paid", stripe_invoice, process=False)
            intent_event = self.deliver(
                "payment_intent.succeeded", intent, process=False
            )
            renewals.append((stripe_invoice, intent, invoice_event, intent_event))
        return renewals

    def unbooked_net(self, charge_id):
        """What an unbooked charge added to the Stripe balance (major units)."""
        charge = self.fake.get(charge_id)
        return self.fake.get(charge["balance_transaction"])["net"] / 100

    def assertBalanceMatchesBut(self, net):
        """The Stripe journal is Stripe's balance but for what a failed event
        left unbooked."""
        self.assertAlmostEqual(
            self.journal_balance(), self.fake.balance("usd") / 100 - net, places=2
        )

    def count_registrations(self):
        """Count the calls of Odoo's payment registration (``_create_payments``)."""
        calls = []
        original = AccountPaymentRegister._create_payments

        def counted(wizard):
            calls.append(len(wizard.line_ids.move_id))
            return original(wizard)

        patcher = patch.object(AccountPaymentRegister, "_create_payments", counted)
        patcher.start()
        self.addCleanup(patcher.stop)
        return calls

    def test_a_batch_books_its_renewals_together_but_a_bad_one(self):
        """Four renewals in one batch, one of them with a tax Odoo cannot map:
        the three others are mirrored, paid with their fee by one payment
        registration over them; the bad one fails alone with its reason, and
        nothing is booked twice."""
        registrations = self.count_registrations()
        batch_numbers = self.company.batch_payment_sequence_id
        next_batch_number = batch_numbers.number_next_actual
        renewals = self.deliver_renewals(4, bad=(2,))
        self.process_events()
        for index, (stripe_invoice, intent, invoice_event, intent_event) in enumerate(
            renewals
        ):
            move = self.mirror_of(stripe_invoice)
            if index == 2:
                self.assertEvent(invoice_event, "failed", "33")
                self.assertFalse(move)
                continue
            self.assertEvent(invoice_event, "done", "Stripe fee booked")
            self.assertIn("mirrors Stripe invoice", invoice_event.state_message)
            self.assertEvent(intent_event, "done", "Already registered")
            self.assertMirrors(move, stripe_invoice)
            self.assertInvoice(move, 0.0, "paid")
            payments = self.env["account.payment"].search(
                [("stripe_object_id", "=", intent["id"])]
            )
            self.assertEqual(len(payments), 1)
            self.assertTrue(payments.stripe_fee_move_id)
            self.assertIn(payments, invoice_event.payment_ids)
            self.assertIn("Paid with Stripe", "".join(move.message_ids.mapped("body")))
        # The three good invoices were paid by one registration over them,
        # each payment named after its invoice: no BATCH number was taken (a
        # gapless sequence other workers would wait for).
        self.assertIn(3, registrations)
        batch_numbers.invalidate_recordset()
        self.assertEqual(batch_numbers.number_next_actual, next_batch_number)
        self.assertBalanceMatchesBut(self.unbooked_net(renewals[2][1]["latest_charge"]))

    def test_a_payment_registered_before_is_not_booked_again(self):
        """A renewal whose PaymentIntent an earlier batch registered (its event
        came alone) is left out of the next batch's booking: one payment."""
        first_invoice, first_intent, _event, first_pi_event = self.deliver_renewals(1)[
            0
        ]
        first_pi_event._process_events()
        self.assertEvent(first_pi_event, "done", "Stripe fee booked")
        more = self.deliver_renewals(2)
        self.process_events()
        for stripe_invoice, intent, invoice_event, _pi_event in [
            (first_invoice, first_intent, None, None),
            *more,
        ]:
            self.assertInvoice(self.mirror_of(stripe_invoice), 0.0, "paid")
            self.assertEqual(
                self.env["account.payment"].search_count(
                    [("stripe_object_id", "=", intent["id"])]
                ),
                1,
            )
            if invoice_event:
                self.assertEvent(invoice_event, "done")
        self.assertFalse(
            self.env["stripe.event"].search([("state", "!=", "done")]),
        )
        self.assertBalanceMatches()

    def test_payment_links_of_a_batch_paid_together(self):
        """Payments of Odoo invoices (metadata odoo_invoice_id) arriving
        together are registered by one payment registration, each on its
        invoice with its fee; one naming a paid invoice fails alone."""
        registrations = self.count_registrations()
        invoices = [
            self.create_invoice(amount, partner=self.customer)
            for amount in (100.0, 250.0, 75.5)
        ]
        paid_already = self.create_invoice(40.0, partner=self.customer_b)
        charges = []
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=paid_already.ids
        ).create({})._create_payments()
        registrations.clear()
        events = []
        for invoice in [*invoices, paid_already]:
            charge = self.fake.add_charge(
                round(invoice.amount_total * 100),
                "usd",
                metadata={"odoo_invoice_id": str(invoice.id)},
            )
            charges.append(charge)
            events.append(
                self.deliver(
                    "payment_intent.succeeded",
                    self.fake.get(charge["payment_intent"]),
                    process=False,
                )
            )
        self.process_events()
        for invoice, event in zip(invoices, events, strict=False):
            self.assertEvent(event, "done", "Stripe fee booked")
            self.assertInvoice(invoice, 0.0, "paid")
            self.assertTrue(event.payment_ids.stripe_fee_move_id)
        self.assertEvent(events[-1], "failed")
        self.assertEqual(registrations[0], 3)
        self.assertBalanceMatchesBut(self.unbooked_net(charges[-1]["id"]))


@tagged("post_install", "-at_install")
class TestFairQueue(BillingCommon):
    def setUp(self):
        super().setUp()
        # Only this test's events are due (Odoo's runner shares its database
        # with what other tests committed).
        self.env["stripe.event"].sudo().search(
            [("state", "in", ("pending", "waiting", "failed"))]
        ).write({"state": "ignored"})

    def deliver_paid_renewal(self, email):
        """A renewal of a new customer paid on Stripe, its ``invoice.paid`` and
        ``payment_intent.succeeded`` posted over the signed webhook, not
        processed.

        :return: ``(Stripe customer, invoice event, PaymentIntent event)``
        """
        customer = self.fake.add_customer(email=email)
        stripe_invoice = self.fake.add_invoice(
            customer,
            [{"amount": 4900, "description": "Seat", "tax_rate": self.rate19}],
            currency="usd",
            default_tax_rates=[self.rate19],
        )
        stripe_invoice, intent, _link = self.fake.pay_invoice(stripe_invoice["id"])
        return (
            customer,
            self.deliver("invoice.paid", stripe_invoice, process=False),
            self.deliver("payment_intent.succeeded", intent, process=False),
        )

    def test_a_one_off_payment_is_taken_before_the_storm_ends(self):
        """Twelve renewal events wait in the Billing lane when a one-off payment
        of an Odoo invoice arrives, last: the cron's first batch (4 events)
        takes it with the storm's oldest, and books it."""
        invoice = self.create_invoice(120.0, partner=self.customer)
        for index in range(6):
            self.deliver_paid_renewal(f"storm{index}@example.com")
        charge = self.fake.add_charge(
            12000, "usd", metadata={"odoo_invoice_id": str(invoice.id)}
        )
        one_off = self.deliver(
            "payment_intent.succeeded",
            self.fake.get(charge["payment_intent"]),
            process=False,
        )
        storm = self.env["stripe.event"].search(
            [("account_id", "=", self.stripe_account.id), ("id", "!=", one_off.id)]
        )
        self.assertEqual(set(storm.mapped("lane")), {"billing"})
        self.assertEqual(one_off.lane, "payments")
        with patch.object(const, "PROCESS_BATCH_SIZE", 4):
            # As the cron runs it: as the superuser.
            self.env["stripe.event"].sudo()._cron_process_events()
        self.assertEvent(one_off, "done", "Stripe fee booked")
        self.assertInvoice(invoice, 0.0, "paid")
        storm.invalidate_recordset()
        self.assertTrue(storm.filtered(lambda event: event.state == "pending"))

    def test_a_batch_takes_the_other_events_of_its_customers(self):
        """The routing key keeps a customer's events together: a batch of one
        takes a renewal's invoice.paid and, with it, its PaymentIntent's event
        (same customer), so that one worker books the invoice and its payment."""
        customer, invoice_event, intent_event = self.deliver_paid_renewal(
            "routed@example.com"
        )
        self.assertEqual(invoice_event.routing_key, customer["id"])
        self.assertEqual(intent_event.routing_key, customer["id"])
        taken = self.env["stripe.event"].sudo()._acquire_due_events(1)
        self.assertEqual(taken, invoice_event | intent_event)
