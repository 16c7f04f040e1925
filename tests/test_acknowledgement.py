from odoo import fields
from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestAcknowledgement(StripeCommon):
    """The webhook's acknowledgement costs one insert: duplicates decided by the
    unique constraint, what the event is about read when it is processed."""

    def setUp(self):
        super().setUp()
        charge = self.fake.add_charge(14700, "usd", customer="cus_ack")
        self.intent = self.fake.get(charge["payment_intent"])

    def due_triggers(self):
        return self.env["ir.cron.trigger"].search(
            [
                ("cron_id", "=", self.cron.id),
                ("call_at", "<=", fields.Datetime.now()),
            ]
        )

    def test_duplicate_is_decided_by_the_constraint(self):
        """The same signed event twice: one row, the second answer 200 with
        duplicate=true; the row is the one an ORM create would have made, without
        chatter message nor follower."""
        event = self.make_event("payment_intent.succeeded", self.intent)
        first = self.post_webhook(event)
        second = self.post_webhook(event)
        self.assertEqual(first.status_code, 200, first.text)
        self.assertEqual(
            first.json(), {"received": True, "id": event["id"], "duplicate": False}
        )
        self.assertEqual(second.status_code, 200, second.text)
        self.assertEqual(
            second.json(), {"received": True, "id": event["id"], "duplicate": True}
        )
        stored = self.get_event(event["id"])
        self.assertEqual(len(stored), 1)
        public = self.env.ref("base.public_user")
        self.assertEqual(stored.create_uid, public)
        self.assertEqual(stored.write_uid, public)
        self.assertTrue(stored.create_date and stored.write_date)
        self.assertLessEqual(stored.next_attempt_at, fields.Datetime.now())
        self.assertEqual(
            (stored.state, stored.attempts, stored.received_via, stored.company_id),
            ("pending", 0, "webhook", self.company),
        )
        self.assertEqual((stored.routing_key, stored.lane), ("cus_ack", "payments"))
        self.assertFalse(stored.message_ids, "no chatter message at intake")
        self.assertFalse(stored.message_follower_ids, "no follower at intake")
        self.assertIn(stored, self.stripe_account.event_ids)
        # The direct call answers the same: the copy stored before, not new.
        again, created = self.env["stripe.event"]._receive(
            self.stripe_account, event, first.request.body
        )
        self.assertEqual((again, created), (stored, False))

    def test_event_says_what_it_is_about_once_processed(self):
        """Stored by the webhook, an event is titled by its type (the log lists
        it so); processing reads its amount, customer and date, also when the
        processing fails."""
        event = self.deliver("payment_intent.succeeded", self.intent, process=False)
        self.assertEqual(event.state, "pending")
        self.assertEqual(event.title, "payment_intent.succeeded")
        self.assertFalse(event.amount or event.currency_id or event.stripe_customer_id)
        listed = event.web_search_read(
            [("id", "=", event.id)], {"title": {}, "type": {}}
        )["records"]
        self.assertEqual(listed[0]["title"], "payment_intent.succeeded")

        self.process_events()
        self.assertEvent(event, "failed")  # nothing names an invoice
        amount = self.currency.format(147.0)
        self.assertEqual(event.title, f"Payment of {amount} from cus_ack")
        self.assertEqual(event.amount, 147.0)
        self.assertEqual(event.currency_id, self.currency)
        self.assertEqual(event.stripe_customer_id, "cus_ack")
        self.assertTrue(event.object_date)
        self.assertFalse(event.facts_pending)

    def test_ignoring_an_unprocessed_payment_asks_a_reason(self):
        """Whether ignoring would drop money depends on the amount: read first,
        also for an event never processed."""
        event = self.deliver("payment_intent.succeeded", self.intent, process=False)
        action = event.action_mark_ignored()
        self.assertEqual(action["res_model"], "stripe.event.ignore")
        self.assertEqual(event.amount, 147.0)
        self.assertEqual(event.state, "pending")
