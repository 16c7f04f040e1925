from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .. import const
from ..exceptions import StripeNotYet
from .common import StripeCommon

EVENT_LOGGER = "odoo.addons.stripe_connector.models.core.stripe_event"


@tagged("post_install", "-at_install")
class TestEventProcessing(StripeCommon):
    """The processing cron: dispatch, outcomes, backoff, retry, ignore."""

    def test_dispatch_reaches_the_handler(self):
        """A handled type goes to its handler: the invoice is paid, the event is
        done with a message saying what Odoo did and links the payment."""
        invoice = self.create_invoice(42.0)
        charge = self.fake.add_charge(
            4200, "usd", metadata={"odoo_invoice": invoice.name}, payment_intent=False
        )
        event = self.deliver("charge.succeeded", charge)
        self.assertEvent(event, "done", invoice.name)
        self.assertTrue(event.processed_at)
        self.assertFalse(event.next_attempt_at)
        self.assertEqual(event.payment_ids.reconciled_invoice_ids, invoice)
        self.assertEqual(event.move_ids, invoice | event.payment_ids.stripe_fee_move_id)

    def test_unknown_type_is_ignored(self):
        customer = self.fake.add_customer(email="new@example.com")
        event = self.deliver("customer.source.expiring", customer)
        self.assertNotIn(
            "customer.source.expiring", self.env["stripe.event"]._get_event_handlers()
        )
        self.assertEvent(
            event, "ignored", "does not handle events of type customer.source.expiring"
        )

    def test_events_are_processed_oldest_first(self):
        """Stripe does not deliver in order; the cron takes the oldest ``created``
        first: a partial payment delivered last but created first is booked
        first, so the first payment's message shows the first residual."""
        invoice = self.create_invoice(100.0)
        metadata = {"odoo_invoice": invoice.name}
        early = self.fake.add_charge(
            3000, "usd", metadata=metadata, created=1700000000, payment_intent=False
        )
        late = self.fake.add_charge(
            5000, "usd", metadata=metadata, created=1700000500, payment_intent=False
        )
        late_event = self.deliver(
            "charge.succeeded", late, process=False, created=1700000500
        )
        early_event = self.deliver(
            "charge.succeeded", early, process=False, created=1700000000
        )
        self.process_events()
        self.assertLess(early_event.payment_ids.id, late_event.payment_ids.id)
        self.assertInvoice(invoice, 20.0, "partial")

    @mute_logger(EVENT_LOGGER)
    def test_failure_backoff_then_activity(self):
        """A failing handler leaves the event failed with its reason, retried
        automatically with an exponential backoff; after the last attempt an
        activity is scheduled for the account's responsible user."""
        self.stripe_account.journal_id = False  # processing cannot book anything
        invoice = self.create_invoice(10.0)
        charge = self.fake.add_charge(
            1000, "usd", metadata={"odoo_invoice": invoice.name}, payment_intent=False
        )
        start = fields.Datetime.now()
        with freeze_time(start):
            event = self.deliver("charge.succeeded", charge)
        self.assertEvent(event, "failed", "has no Stripe journal")
        self.assertEqual(event.attempts, 1)
        self.assertEqual(event.next_attempt_at, start + timedelta(minutes=1))
        self.assertTrue(event.can_retry)

        delays = []
        now = start
        for attempt in range(2, 6):
            # Not due yet: the cron leaves it alone.
            with freeze_time(event.next_attempt_at - timedelta(seconds=1)):
                self.process_events()
            self.assertEqual(event.attempts, attempt - 1)
            delays.append(event.next_attempt_at - now)
            now = event.next_attempt_at
            with freeze_time(now):
                self.process_events()
            self.assertEvent(event, "failed", "has no Stripe journal")
            self.assertEqual(event.attempts, attempt)
        self.assertEqual(
            delays, [timedelta(minutes=m) for m in (1, 2, 4, 8)], "exponential backoff"
        )
        self.assertFalse(event.next_attempt_at, "no more automatic attempts")
        activity = event.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.stripe_account.user_id)
        self.assertIn("has no Stripe journal", str(activity.note))
        self.assertInvoice(invoice, 10.0, "not_paid")

        # The user fixes the cause and clicks Retry.
        self.stripe_account.action_setup_accounting()
        event.action_retry()
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertTrue(
            any("Retried by" in body for body in event.message_ids.mapped("body"))
        )

    def test_activity_without_responsible_goes_to_the_creator_or_a_manager(self):
        """An account with no responsible (or an archived one) still has someone
        told: the user who created it, while active; else the company's first
        Stripe manager."""
        groups = "stripe_connector.group_stripe_manager,account.group_account_invoice"
        creator = new_test_user(
            self.env,
            login="stripe_creator",
            groups=groups,
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        responsible = new_test_user(
            self.env,
            login="stripe_responsible",
            groups=groups,
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        account = (
            self.env["stripe.account"]
            .with_user(creator)
            .create({"name": "Stripe Unattended", "user_id": False})
            .with_env(self.env)
        )
        # sudo: events are only created by the webhook (as superuser).
        events = (
            self.env["stripe.event"]
            .sudo()
            .create(
                [
                    {
                        "stripe_id": f"evt_unattended_{i}",
                        "type": "customer.source.expiring",
                        "account_id": account.id,
                    }
                    for i in range(3)
                ]
            )
            .with_env(self.env)
        )

        events[0]._stripe_schedule_activity("Needs attention", "No responsible")
        self.assertEqual(events[0].activity_ids.user_id, creator)

        account.user_id = responsible
        responsible.active = False
        events[1]._stripe_schedule_activity("Needs attention", "Archived responsible")
        self.assertEqual(events[1].activity_ids.user_id, creator)

        creator.active = False
        events[2]._stripe_schedule_activity("Needs attention", "Creator archived")
        told = events[2].activity_ids.user_id
        self.assertEqual(len(told), 1)
        self.assertNotIn(told, creator | responsible)
        self.assertTrue(told.active)
        self.assertTrue(told.has_group("stripe_connector.group_stripe_manager"))
        self.assertIn(self.company, told.company_ids)
        managers = self.env.ref("stripe_connector.group_stripe_manager").users
        in_company = managers.filtered(
            lambda u: u.active and not u.share and self.company in u.company_ids
        )
        self.assertEqual(told, in_company.sorted("id")[:1], "the first of them")

    @mute_logger(EVENT_LOGGER)
    def test_retry_from_the_list_and_mark_ignored(self):
        self.stripe_account.journal_id = False
        charges = [
            self.fake.add_charge(1000, "usd", payment_intent=False) for _i in range(3)
        ]
        events = self.env["stripe.event"]
        for charge in charges:
            events |= self.deliver("charge.succeeded", charge)
        self.assertEqual(set(events.mapped("state")), {"failed"})
        # It would have booked money: ignoring it asks for a reason.
        action = events[0].action_mark_ignored()
        self.env[action["res_model"]].with_context(**action["context"]).create(
            {"reason": "A test charge"}
        ).action_confirm()
        self.assertEvent(events[0], "ignored", "Marked as ignored")
        self.assertFalse(events[0].next_attempt_at, "an ignored event is not retried")
        self.stripe_account.action_setup_accounting()
        events[1:].action_retry()
        # Nothing names an invoice: they fail again, with a matching message.
        for event in events[1:]:
            self.assertEvent(event, "failed", "No invoice or order matches")
            self.assertEqual(event.attempts, 1, "a manual retry restarts the count")

    def test_done_event_cannot_be_retried(self):
        invoice = self.create_invoice(10.0)
        charge = self.fake.add_charge(
            1000, "usd", metadata={"odoo_invoice": invoice.name}, payment_intent=False
        )
        event = self.deliver("charge.succeeded", charge)
        self.assertFalse(event.can_retry)
        with self.assertRaises(UserError):
            event.action_retry()
        self.assertEqual(
            len(
                self.env["account.payment"].search([("stripe_account_id", "!=", False)])
            ),
            1,
        )

    def test_failed_events_show_on_the_dashboard(self):
        with mute_logger(EVENT_LOGGER):
            self.deliver(
                "charge.succeeded",
                self.fake.add_charge(1000, "usd", payment_intent=False),
            )
        self.stripe_journal.invalidate_recordset()
        self.assertEqual(self.stripe_journal.stripe_failed_event_count, 1)
        self.assertEqual(self.stripe_account.failed_event_count, 1)
        action = self.stripe_journal.action_stripe_open_failed_events()
        self.assertEqual(self.env["stripe.event"].search_count(action["domain"]), 1)

    def test_every_handled_type_has_its_handler(self):
        """The dispatch table names methods that exist (a typo would fail every
        event of that type)."""
        handlers = self.env["stripe.event"]._get_event_handlers()
        self.assertTrue(set(const.EVENT_HANDLERS) <= set(handlers))
        for event_type, method in handlers.items():
            with self.subTest(event_type=event_type):
                self.assertTrue(
                    callable(getattr(self.env["stripe.event"], method, None))
                )

    # === WAITING: THE OUTCOME'S OWN DELAY AND DEADLINE === #

    def waiting_event(self):
        charge = self.fake.add_charge(1000, "usd")
        return self.deliver(
            "charge.refunded", charge, process=False
        )  # stored, not processed: its state is driven here

    def test_a_wait_with_a_deadline_then_one_without(self):
        """A handler's wait says its delay and its deadline; a later wait that
        says none waits as long as Stripe retries a delivery (no crash, no
        leftover deadline); a deadline that passes fails the event in words."""
        event = self.waiting_event()
        start = fields.Datetime.now()
        with freeze_time(start):
            event._set_waiting(
                StripeNotYet("Waiting for A.", seconds=60, give_up_after=600)
            )
        self.assertEvent(event, "waiting", "Waiting for A.")
        self.assertEqual(event.next_attempt_at, start + timedelta(seconds=60))
        self.assertEqual(event.wait_deadline, start + timedelta(seconds=600))
        with freeze_time(start + timedelta(seconds=700)):
            event._set_waiting(StripeNotYet("Waiting for B."))
            self.assertEvent(event, "waiting", "Waiting for B.")
            self.assertFalse(event.wait_deadline)
            event._set_waiting(StripeNotYet("Waiting for C.", give_up_after=600))
        self.assertEqual(event.wait_deadline, start + timedelta(seconds=1300))
        with freeze_time(start + timedelta(seconds=1301)):
            event._set_waiting(StripeNotYet("Waiting for C.", give_up_after=600))
        self.assertEvent(event, "failed", "Gave up waiting after 10 minutes")

    def test_a_deadline_outlives_a_failure_and_a_retry(self):
        """Waiting for something with a deadline, then failing for another reason
        meanwhile, does not start the wait again: once the deadline has passed,
        a handler with another way takes it (Billing's refund credits the
        invoice as any refund)."""
        event = self.waiting_event()
        start = fields.Datetime.now()
        with freeze_time(start):
            event._set_waiting(StripeNotYet("Waiting.", give_up_after=3600))
            event._set_failed("A hiccup.")
        self.assertEvent(event, "failed", "A hiccup.")
        self.assertEqual(event.wait_deadline, start + timedelta(seconds=3600))
        with freeze_time(start + timedelta(seconds=3599)):
            self.assertFalse(event._stripe_wait_over())
        with freeze_time(start + timedelta(seconds=3601)):
            self.assertTrue(event._stripe_wait_over())
            event._set_state("done", "Done another way.")
        self.assertFalse(event.wait_deadline, "done: nothing is waited for")
