from datetime import timedelta

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import StripeCommon

CONTROLLER_LOGGER = "odoo.addons.stripe_connector.controllers.main"


@tagged("post_install", "-at_install")
class TestAcknowledgement(StripeCommon):
    """The webhook's acknowledgement costs one insert: duplicates decided by the
    unique constraint, what the event is about read when it is processed, one
    wake-up of the processing cron for many webhooks."""

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

    def test_many_webhooks_leave_one_wake_up(self):
        """Ten webhooks in a row: one pending wake-up of the processing cron."""
        # Wake-ups left by other tests' commits (Odoo's runner shares the
        # database) are not this test's.
        self.env["ir.cron.trigger"].sudo().search(
            [("cron_id", "=", self.cron.id)]
        ).unlink()
        for _i in range(10):
            event = self.make_event("payment_intent.succeeded", self.intent)
            self.assertEqual(self.post_webhook(event).status_code, 200)
        self.assertEqual(len(self.due_triggers()), 1)
        self.assertEqual(
            self.env["stripe.event"].search_count(
                [("account_id", "=", self.stripe_account.id)]
            ),
            10,
        )

    def test_wake_up_after_the_cron_started_on_the_last_one(self):
        """A pending wake-up older than the cron's last batch belongs to a run that
        already looked for due events (it goes when that run ends): a new event
        adds one, and only one."""
        now = fields.Datetime.now()
        triggers = self.env["ir.cron.trigger"]
        triggers.search([("cron_id", "=", self.cron.id)]).unlink()
        triggers.create({"cron_id": self.cron.id, "call_at": now - timedelta(1)})
        progress = self.env["ir.cron.progress"].create({"cron_id": self.cron.id})
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE ir_cron_progress SET create_date = %s WHERE id = %s",
            (now - timedelta(hours=1), progress.id),
        )
        for _i in range(3):
            event = self.make_event("payment_intent.succeeded", self.intent)
            self.assertEqual(self.post_webhook(event).status_code, 200)
        self.assertEqual(len(self.due_triggers()), 2)

    def test_later_wake_ups_for_retries(self):
        """A retry's wake-up is added at its time, also when an earlier one is
        pending (that one would come before the event is due); one pending at that
        time or a few seconds after it does."""
        event_model = self.env["stripe.event"]
        triggers = self.env["ir.cron.trigger"]
        # Wake-ups other tests left (Odoo's runner shares one database).
        triggers.search([("cron_id", "=", self.cron.id)]).unlink()
        event_model._trigger_processing()
        now = fields.Datetime.now()

        def later():
            return triggers.search(
                [("cron_id", "=", self.cron.id), ("call_at", ">", now)]
            ).mapped("call_at")

        event_model._trigger_processing(at=now + timedelta(seconds=60))
        self.assertEqual(later(), [now + timedelta(seconds=60)])
        event_model._trigger_processing(at=now + timedelta(seconds=55))
        event_model._trigger_processing(at=now + timedelta(seconds=60))
        self.assertEqual(len(later()), 1, "the one at 60 s does")
        event_model._trigger_processing(at=now + timedelta(seconds=30))
        self.assertEqual(len(later()), 2, "the one at 60 s would be too late")

    @mute_logger(CONTROLLER_LOGGER)
    def test_webhook_settings_follow_the_account(self):
        """The account's secrets and state are cached for webhooks in each worker:
        the next delivery after a change sees it."""
        first = self.make_event("payment_intent.succeeded", self.intent)
        self.assertEqual(self.post_webhook(first).status_code, 200)
        self.stripe_account.webhook_secret = "whsec_changed"
        event = self.make_event("payment_intent.succeeded", self.intent)
        self.assertEqual(self.post_webhook(event).status_code, 400)
        self.assertEqual(
            self.post_webhook(event, secret="whsec_changed").status_code, 200
        )
        self.stripe_account.active = False
        other = self.make_event("payment_intent.succeeded", self.intent)
        response = self.post_webhook(other, secret="whsec_changed")
        self.assertEqual(response.status_code, 404)
