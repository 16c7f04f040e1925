import json
from datetime import timedelta

import stripe
from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from ..exceptions import StripeMatchError
from .common import StripeCommon
from .fake_stripe import FakeStripe, fast_sdk_retries

EVENT_LOGGER = "odoo.addons.stripe_connector.models.core.stripe_event"
PAYOUT_LOGGER = "odoo.addons.stripe_connector.models.payouts.stripe_payout"


@tagged("post_install", "-at_install")
class TestMonitoring(StripeCommon):
    """The balance check, the alerts and the overview, as the accountant and the
    responsible user see them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.channel = cls.env["discuss.channel"].create({"name": "stripe-alerts"})
        cls.stripe_account.alert_channel_id = cls.channel

    # === HELPERS === #

    def pay_by_webhook(self, invoice, amount, **kw):
        """A charge paying ``invoice`` on the fake Stripe, its event delivered."""
        charge = self.fake.add_charge(
            amount, "usd", metadata={"odoo_invoice": invoice.name}, **kw
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done")
        return charge

    def check_balance(self):
        """Click *Check Balance*: ``(notification, check)``."""
        action = self.stripe_account.action_check_balance()
        self.env.invalidate_all()
        return action, self.stripe_account.last_balance_check_id

    def alerts(self, cause, **domain):
        return self.env["stripe.alert"].search(
            [("account_id", "=", self.stripe_account.id), ("cause", "=", cause)]
            + [(key, "=", value) for key, value in domain.items()]
        )

    def account_activities(self):
        self.stripe_account.invalidate_recordset()
        return self.stripe_account.activity_ids

    def channel_bodies(self):
        self.channel.invalidate_recordset()
        return [str(body) for body in self.channel.message_ids.mapped("body")]

    def hand_entry(self, amount, label="Typed by hand"):
        """An entry on the Stripe journal that no Stripe object explains."""
        move = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": self.stripe_journal.id,
                "ref": label,
                "line_ids": [
                    Command.create(
                        {
                            "name": label,
                            "account_id": self.stripe_journal.default_account_id.id,
                            "debit": amount,
                        }
                    ),
                    Command.create(
                        {
                            "name": label,
                            "account_id": self.company_data[
                                "default_account_revenue"
                            ].id,
                            "credit": amount,
                        }
                    ),
                ],
            }
        )
        move.action_post()
        return move

    def unmatched_payment(self):
        """A payment no invoice matches (no metadata, unknown customer), its
        event delivered and processed once."""
        charge = self.fake.add_charge(4321, "usd")
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        return charge, event

    # === BALANCE CHECK === #

    def test_balance_agrees(self):
        """Stripe's balance (available and pending) equals the Stripe journal's:
        the check says so, and nobody is bothered."""
        invoice = self.create_invoice(100.0)
        self.pay_by_webhook(invoice, 10000, fee=320)
        self.pay_by_webhook(
            self.create_invoice(50.0), 5000, available_on=int(1e10)
        )  # still pending on Stripe
        action, check = self.check_balance()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(check.state, "ok")
        self.assertAlmostEqual(check.stripe_available, 96.80)
        self.assertAlmostEqual(check.stripe_pending, 50.0 - 1.0)  # 1.5 % + 0.25
        self.assertAlmostEqual(check.stripe_balance, self.fake.balance("usd") / 100)
        self.assertAlmostEqual(check.odoo_balance, self.journal_balance())
        self.assertEqual(check.difference, 0.0)
        self.assertFalse(check.line_ids)
        self.assertEqual(self.stripe_account.balance_check_state, "ok")
        self.assertFalse(self.account_activities())
        self.assertFalse(self.alerts("balance_difference"))
        listed = [
            request
            for request in self.fake.requests_for("/v1/balance_transactions")
            if "created" in request.query
        ]
        self.assertEqual(listed, [], "no transaction listed when it agrees")

    @mute_logger(EVENT_LOGGER)
    def test_balance_differs_by_transactions_odoo_never_booked(self):
        """An adjustment Stripe made, and a payment whose event failed, are not
        in Odoo: the check names both transactions (the payment with its event),
        and they explain the whole difference."""
        self.pay_by_webhook(self.create_invoice(100.0), 10000, fee=300)
        adjustment = self.fake.add_adjustment(-1500, "usd", "Balance correction")
        charge, failed_event = self.unmatched_payment()
        self.assertEvent(failed_event, "failed", "No invoice or order matches")

        action, check = self.check_balance()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertEqual(check.state, "difference")
        charge_net = self.fake.get(charge["balance_transaction"])["net"] / 100
        self.assertAlmostEqual(check.difference, charge_net - 15.0)
        self.assertAlmostEqual(
            check.difference, self.fake.balance("usd") / 100 - self.journal_balance()
        )
        by_reference = {line.reference: line for line in check.line_ids}
        self.assertEqual(
            set(by_reference), {adjustment["id"], charge["balance_transaction"]}
        )
        self.assertEqual(by_reference[adjustment["id"]].kind, "stripe")
        self.assertAlmostEqual(by_reference[adjustment["id"]].amount, -15.0)
        self.assertEqual(by_reference[adjustment["id"]].transaction_type, "adjustment")
        self.assertFalse(by_reference[adjustment["id"]].event_id)
        charge_line = by_reference[charge["balance_transaction"]]
        self.assertEqual(charge_line.event_id, failed_event)
        self.assertEqual(charge_line.stripe_source_id, charge["id"])
        self.assertIn("nothing in Odoo books it", charge_line.reason)
        self.assertAlmostEqual(check.unbooked_total, check.difference)
        self.assertEqual(check.remainder, 0.0)
        self.assertIn(adjustment["id"], str(self.alerts("balance_difference").note))
        # Read through the API, 100 at a time.
        requests = self.fake.requests_for("/v1/balance_transactions")
        self.assertTrue(requests)
        self.assertTrue(all(r.query["limit"] == "100" for r in requests))

    def test_balance_differs_by_hand_entry_then_agrees(self):
        """An entry typed by hand on the Stripe journal is named as the cause;
        the responsible user gets one activity on the account however many checks
        see it, and the next clean check closes it."""
        self.pay_by_webhook(self.create_invoice(100.0), 10000)
        entry = self.hand_entry(50.0)

        _action, check = self.check_balance()
        self.assertEqual(check.state, "difference")
        self.assertAlmostEqual(check.difference, -50.0)
        self.assertEqual(len(check.line_ids), 1)
        self.assertEqual(check.line_ids.kind, "odoo")
        self.assertEqual(check.line_ids.move_id, entry)
        self.assertAlmostEqual(check.line_ids.amount, 50.0)
        self.assertAlmostEqual(check.unexplained_total, 50.0)
        self.assertEqual(check.remainder, 0.0)
        activity = self.account_activities()
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.stripe_account.user_id)
        self.assertIn("differ by", activity.summary)
        self.assertIn(entry.name, str(activity.note))
        self.assertEqual(len(self.channel_bodies()), 1)

        self.check_balance()  # the same difference again
        self.assertEqual(self.account_activities(), activity, "no second activity")
        alert = self.alerts("balance_difference")
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.occurrences, 2)
        self.assertEqual(len(self.channel_bodies()), 1)

        entry._reverse_moves(cancel=True)
        _action, check = self.check_balance()
        self.assertEqual(check.state, "ok")
        self.assertFalse(self.account_activities(), "closed by the clean check")
        self.assertEqual(alert.state, "resolved")
        self.assertTrue(alert.resolved_at)
        self.assertTrue(
            any(
                "agrees" in body
                for body in self.stripe_account.message_ids.mapped("body")
            ),
            "the activity is marked done with the reason",
        )
        self.assertEqual(len(self.channel_bodies()), 2)
        self.assertEqual(len(self.stripe_account.balance_check_ids), 3, "history")

    def test_held_amounts_are_explained_not_compared(self):
        """What Stripe holds outside the payments balance (a Connect reserve, the
        Issuing balance), and a currency no Odoo account books, are said on the
        check and left out of the comparison."""
        self.pay_by_webhook(self.create_invoice(100.0), 10000)
        self.fake.add_adjustment(700, "eur")
        extra = {
            "connect_reserved": [{"amount": 2500, "currency": "usd"}],
            "issuing": {"available": [{"amount": 4000, "currency": "usd"}]},
            "instant_available": [{"amount": 1000, "currency": "usd"}],
        }
        original = self.fake.balance_object
        self.patch(
            type(self.fake), "balance_object", lambda fake: {**original(), **extra}
        )
        _action, check = self.check_balance()
        self.assertEqual(check.state, "ok")
        notes = check.held_note.splitlines()
        self.assertEqual(len(notes), 4, check.held_note)
        self.assertIn("Connect reserve", notes[0])
        self.assertIn("25.00", notes[0])
        self.assertIn("Instant Payouts", notes[1])
        self.assertIn("10.00", notes[1])
        self.assertIn("Issuing", notes[2])
        self.assertIn("40.00", notes[2])
        self.assertIn("7.00 EUR", notes[3])

    def test_balance_not_readable(self):
        """Stripe refusing the balance is recorded as a check that did not
        happen, with Stripe's answer; no alert."""
        self.fake.fail_next(
            1, status=401, path_prefix="/v1/balance", should_retry=False
        )
        action, check = self.check_balance()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertEqual(check.state, "error")
        self.assertIn("HTTP 401", check.message)
        self.assertFalse(self.alerts("balance_difference"))

    def test_daily_cron_checks_every_account_with_a_key(self):
        keyless = self.env["stripe.account"].create({"name": "No key"})
        self.env.ref(
            "stripe_connector.ir_cron_stripe_check_balances"
        ).method_direct_trigger()
        self.assertEqual(self.stripe_account.balance_check_ids.state, "ok")
        self.assertFalse(keyless.balance_check_ids)

    # === EVENT FAILURES === #

    @mute_logger(EVENT_LOGGER)
    def test_unmatched_payment_notifies_at_once(self):
        """A payment no invoice matches tells the responsible user at the first
        failure (activity on the event, message in the alert channel) and keeps
        its automatic retries; picking the invoice and retrying closes it."""
        _charge, event = self.unmatched_payment()
        self.assertEvent(event, "failed", "No invoice or order matches")
        self.assertEqual(event.attempts, 1)
        self.assertTrue(event.next_attempt_at, "the retries still run")
        activity = event.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.stripe_account.user_id)
        self.assertIn("needs a person", activity.summary)
        self.assertIn("No invoice or order matches", str(activity.note))
        bodies = self.channel_bodies()
        self.assertEqual(len(bodies), 1)
        self.assertIn(event.stripe_id, bodies[0])

        invoice = self.create_invoice(43.21)
        event.invoice_id = invoice
        event.action_retry()
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertFalse(event.activity_ids, "closed when the event is done")
        self.assertEqual(self.alerts("event_failed").state, "resolved")

    @mute_logger(EVENT_LOGGER)
    def test_unnamed_payment_without_key_waits_an_hour_then_alerts(self):
        """Without a key, a payment with no metadata and an unknown customer
        waits for the Checkout Session's event that may name it, shown *to
        check* on the overview, for an hour at most: then it fails and the
        responsible user is told at once; picking the invoice books it."""
        self.stripe_account.api_key = False
        start = fields.Datetime.now()
        with freeze_time(start):
            _charge, event = self.unmatched_payment()
        self.assertEvent(event, "waiting", "checkout.session.completed")
        self.assertIn("an hour", event.state_message)
        self.assertFalse(event.activity_ids)
        account = self.stripe_account
        account.invalidate_recordset()
        self.assertEqual(account.to_check_event_count, 1)
        listed = self.env["stripe.event"].search(
            account.action_view_to_check_events()["domain"]
            + [("state", "=", "waiting"), ("to_check", "=", True)]
        )
        self.assertEqual(listed, event)

        with freeze_time(start + timedelta(minutes=50)):
            self.process_events()
        self.assertEvent(event, "waiting")
        self.assertFalse(event.activity_ids)
        with freeze_time(start + timedelta(minutes=61)):
            self.process_events()
        self.assertEvent(event, "failed", "within an hour")
        self.assertIn("No invoice or order matches", event.state_message)
        self.assertEqual(
            event.activity_ids.summary, self.alerts("event_failed").summary
        )
        self.assertEqual(len(self.channel_bodies()), 1)
        account.invalidate_recordset()
        self.assertEqual(account.to_check_event_count, 0)

        invoice = self.create_invoice(43.21)
        event.invoice_id = invoice
        event.action_retry()
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        self.assertEqual(self.alerts("event_failed").state, "resolved")

    @mute_logger(EVENT_LOGGER)
    def test_marking_ignored_closes_the_alert(self):
        """A user who decides the unmatched payment needs nothing in Odoo marks
        its event ignored: the activity is done, the alert resolved."""
        _charge, event = self.unmatched_payment()
        self.assertEqual(len(event.activity_ids), 1)
        # It would have booked money: the user confirms with a reason.
        action = event.action_mark_ignored()
        wizard = Form(self.env["stripe.event.ignore"].with_context(**action["context"]))
        wizard.reason = "Paid by bank transfer instead"
        wizard.save().action_confirm()
        self.assertEvent(event, "ignored")
        self.assertFalse(event.activity_ids)
        self.assertEqual(self.alerts("event_failed").state, "resolved")
        self.assertEqual(len(self.channel_bodies()), 2, "raised, then resolved")

    @mute_logger(EVENT_LOGGER)
    def test_repeated_failures_keep_one_activity(self):
        """Every automatic retry, and a user's retries, fail again: still one
        activity and one channel message for the event."""
        _charge, event = self.unmatched_payment()
        while event.next_attempt_at:
            with freeze_time(event.next_attempt_at):
                self.process_events()
        self.assertEqual(event.attempts, 5)
        event.action_retry()
        event.action_retry()
        self.assertEvent(event, "failed")
        self.assertEqual(len(event.activity_ids), 1)
        self.assertEqual(len(self.alerts("event_failed")), 1)
        # Seen at each of the 5 attempts and the 2 retries.
        self.assertEqual(self.alerts("event_failed").occurrences, 7)
        self.assertEqual(len(self.channel_bodies()), 1)

    @mute_logger(
        EVENT_LOGGER, "odoo.addons.stripe_connector.models.payouts.stripe_payout"
    )
    def test_transient_failure_keeps_its_retries(self):
        """Stripe answering 500 while a payout's transactions are read may pass:
        nobody is told before the last attempt."""
        self.fake.add_charge(10000, "usd")
        payout = self.fake.add_payout()
        self.fake.fail_next(50, status=500, path_prefix="/v1/balance_transactions")
        with fast_sdk_retries():
            event = self.deliver("payout.paid", payout)
        self.assertEvent(event, "failed", "HTTP 500")
        self.assertTrue(event.next_attempt_at)
        self.assertFalse(event.activity_ids)
        self.assertFalse(self.alerts("event_failed"))
        self.assertEqual(self.channel_bodies(), [])

    def test_which_failures_need_a_person(self):
        """The classification behind the alerts."""
        needs_person = self.env["stripe.event"]._stripe_needs_person

        def wrapped(stripe_error):
            try:
                raise UserError(self.env._("Stripe did not send it")) from stripe_error
            except UserError as error:
                return error

        self.assertTrue(needs_person(StripeMatchError("nothing matches")))
        self.assertTrue(needs_person(UserError("Set a fee account")))
        self.assertTrue(needs_person(wrapped(stripe.AuthenticationError("bad key"))))
        self.assertTrue(needs_person(wrapped(stripe.PermissionError("no rights"))))
        self.assertFalse(needs_person(wrapped(stripe.APIConnectionError("down"))))
        self.assertFalse(needs_person(wrapped(stripe.RateLimitError("slow down"))))
        self.assertFalse(needs_person(KeyError("latest_charge")))

    # === MISSED EVENTS, SILENCE, API VERSION === #

    def test_missed_event_found_by_catch_up_alerts_once(self):
        """The daily catch-up finds an event the webhook never delivered: one
        alert saying how many since when; later catch-ups add none, and the alert
        is resolved once the webhook delivers again and nothing more is missed."""
        invoice = self.create_invoice(60.0)
        charge = self.fake.add_charge(
            6000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        two_hours_ago = int(fields.Datetime.now().timestamp()) - 7200
        missed = self.make_event(
            "payment_intent.succeeded",
            self.fake.get(charge["payment_intent"]),
            delivered=False,
            created=two_hours_ago,
        )
        cron = self.env.ref("stripe_connector.ir_cron_stripe_fetch_missed_events")
        cron.method_direct_trigger()
        self.process_events()
        event = self.get_event(missed["id"])
        self.assertEqual(event.received_via, "catch_up")
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        activity = self.account_activities()
        self.assertEqual(len(activity), 1)
        self.assertIn("missed 1 events since", activity.summary)
        self.assertIn(self.stripe_account.webhook_url, str(activity.note))
        self.assertEqual(len(self.channel_bodies()), 1)

        cron.method_direct_trigger()
        self.assertEqual(self.account_activities(), activity, "raised once")
        alert = self.alerts("missed_events")
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.state, "open", "no delivery since: still open")

        self.pay_by_webhook(self.create_invoice(10.0), 1000)
        cron.method_direct_trigger()
        self.assertEqual(alert.state, "resolved")
        self.assertFalse(self.account_activities())
        self.assertEqual(len(self.alerts("missed_events")), 1)

    def test_catch_up_stores_events_as_stripe_sent_them(self):
        """*Fetch Missed Events* on a subscription event, whose price carries
        decimal strings (``unit_amount_decimal``) that the SDK turns into
        ``Decimal``: the event is stored as Stripe sent it and processed."""
        customer = self.fake.add_customer(email="subscriber@example.com")
        price = self.fake.add_price(self.fake.add_product("Pro plan"), 4900)
        subscription = self.fake.add_subscription(customer["id"], [(price, 2)])
        missed = self.make_event(
            "customer.subscription.created",
            subscription,
            delivered=False,
            created=int(fields.Datetime.now().timestamp()) - 7200,
        )
        action = self.stripe_account.action_fetch_missed_events()
        self.assertEqual(action["params"]["message"], "1 event(s) fetched from Stripe.")
        event = self.get_event(missed["id"])
        self.assertEqual(event.received_via, "catch_up")
        stored = json.loads(event.payload)
        self.assertEqual(stored, missed, "the event as Stripe sent it")
        self.assertEqual(
            stored["data"]["object"]["items"]["data"][0]["price"][
                "unit_amount_decimal"
            ],
            "4900",
        )
        self.process_events()
        self.assertEvent(event, "done")

    @mute_logger("odoo.addons.stripe_connector.models.core.stripe_account")
    def test_catch_up_of_one_account_fails_alone(self):
        """The daily catch-up meets an event Odoo cannot read on the first
        account: that account's catch-up fails alone, with an alert; the next
        account is caught up; a later catch-up that works resolves the alert."""
        other_fake = FakeStripe(api_keys={"sk_test_other"}).start()
        self.addCleanup(other_fake.stop)
        other = self.env["stripe.account"].create(
            {
                "name": "Stripe Z",
                "api_key": "sk_test_other",
                "webhook_secret": "whsec_other",
                "api_base": other_fake.api_base,
            }
        )
        two_hours_ago = int(fields.Datetime.now().timestamp()) - 7200
        broken = self.make_event(
            "payment_intent.succeeded",
            self.fake.get(self.fake.add_charge(1000, "usd")["payment_intent"]),
            delivered=False,
            created=two_hours_ago,
        )
        intent = broken["data"]["object"]
        broken["data"]["object"] = "not an object"  # what Odoo cannot read
        charge = other_fake.add_charge(2000, "usd")
        missed = other_fake.event(
            "payment_intent.succeeded",
            other_fake.get(charge["payment_intent"]),
            delivered=False,
            created=two_hours_ago,
        )
        cron = self.env.ref("stripe_connector.ir_cron_stripe_fetch_missed_events")
        cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertFalse(self.get_event(broken["id"]))
        self.assertEqual(self.get_event(missed["id"]).account_id, other)
        alert = self.alerts("catch_up_failed")
        self.assertEqual(alert.state, "open")
        activity = self.account_activities()
        self.assertEqual(activity.summary, alert.summary)
        self.assertIn("AttributeError", str(activity.note))
        self.assertIn(alert.summary, self.channel_bodies()[0])

        broken["data"]["object"] = intent
        cron.method_direct_trigger()
        self.assertEqual(alert.state, "resolved")
        self.assertTrue(self.get_event(broken["id"]))

    def set_received(self, events, moments):
        self.env.flush_all()
        for event, moment in zip(events, moments, strict=True):
            self.env.cr.execute(
                "UPDATE stripe_event SET create_date = %s WHERE id = %s",
                (moment, event.id),
            )
        self.env.invalidate_all()

    def stored_events(self, count, **vals):
        # sudo: events are only created by the webhook (as superuser).
        return (
            self.env["stripe.event"]
            .sudo()
            .create(
                [
                    {
                        "stripe_id": f"evt_traffic_{i}",
                        "type": "customer.source.expiring",
                        "account_id": self.stripe_account.id,
                        "state": "ignored",
                        **vals,
                    }
                    for i in range(count)
                ]
            )
        )

    def test_silent_webhook(self):
        """Twenty events an hour apart, then two days without any: the webhook
        is silent for far longer than its traffic makes plausible; an event
        arriving resolves the alert. Too little traffic is not judged."""
        account = self.stripe_account
        self.assertIsNone(account._stripe_watch_silence(), "no traffic, no judgement")
        events = self.stored_events(20)
        now = fields.Datetime.now()
        self.set_received(
            events, [now - timedelta(days=2, hours=19 - i) for i in range(20)]
        )
        threshold = account._stripe_watch_silence()
        self.assertEqual(threshold, timedelta(hours=12), "7 hours, at least 12")
        activity = self.account_activities()
        self.assertEqual(len(activity), 1)
        self.assertIn("No Stripe webhook for 48 hours", activity.summary)
        self.assertIn("20 events, one every 60 minutes", str(activity.note))
        account._stripe_watch_silence()
        self.assertEqual(self.account_activities(), activity)

        self.set_received(events[-1], [now - timedelta(hours=1)])
        self.env.ref(
            "stripe_connector.ir_cron_stripe_watch_webhooks"
        ).method_direct_trigger()
        self.assertEqual(self.alerts("webhook_silent").state, "resolved")
        self.assertFalse(self.account_activities())

        self.set_received(events[5:], [now - timedelta(days=40)] * 15)
        self.assertIsNone(account._stripe_watch_silence(), "5 events in 30 days")

    def test_unknown_api_version(self):
        """Events rendered in an API version newer than the module knows raise an
        alert naming it; once the endpoint sends a known version again, it is
        resolved."""
        charge = self.fake.add_charge(1000, "usd")
        event = self.deliver(
            "charge.refunded", charge, process=False, api_version="2099-01-31.zeta"
        )
        self.deliver(
            "customer.source.expiring", self.fake.add_customer(), process=False
        )
        watch = self.env.ref("stripe_connector.ir_cron_stripe_watch_webhooks")
        watch.method_direct_trigger()
        alert = self.alerts("api_version")
        self.assertEqual(alert.state, "open")
        self.assertIn("2099-01-31.zeta (1 events)", str(alert.note))
        self.assertEqual(len(self.account_activities()), 1)
        watch.method_direct_trigger()
        self.assertEqual(len(self.alerts("api_version")), 1)

        self.set_received(event, [fields.Datetime.now() - timedelta(days=2)])
        watch.method_direct_trigger()
        self.assertEqual(alert.state, "resolved")
        self.assertFalse(self.account_activities())
        known = self.env["stripe.account"]._stripe_api_version_known
        self.assertTrue(known("2020-08-27"))
        self.assertTrue(known("2026-10-28.endive"))
        self.assertFalse(known("2026-11-17.fig"))
        self.assertFalse(known("latest"))

    # === OVERVIEW === #

    @mute_logger(EVENT_LOGGER)
    def test_overview_card(self):
        """The card shows today's payments and amount, failed and waiting events
        (opening the filtered log), the last payout and the 30-day sparkline."""
        self.pay_by_webhook(self.create_invoice(100.0), 10000)
        self.pay_by_webhook(self.create_invoice(25.0), 2500)
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        _charge, failed = self.unmatched_payment()
        account = self.stripe_account
        account.invalidate_recordset()
        self.assertEqual(account.today_payment_count, 2)
        self.assertAlmostEqual(account.today_payment_amount, 125.0)
        self.assertAlmostEqual(account.volume_30d, 125.0)
        self.assertEqual(account.failed_event_count, 1)
        self.assertEqual(account.waiting_event_count, 0)
        self.assertEqual(account.last_payout_id.stripe_id, payout["id"])
        self.assertEqual(account.last_payout_status, "paid")
        svg = str(account.sparkline_svg)
        self.assertTrue(svg.startswith("<svg"))
        points = svg.split('points="')[1].split('"')[0].split()
        self.assertEqual(len(points), 30)
        self.assertEqual(points[-1].split(",")[1], "3.0", "today is the highest")

        action = account.action_view_failed_events()
        self.assertEqual(action["res_model"], "stripe.event")
        self.assertEqual(action["context"]["search_default_failed"], 1)
        listed = self.env["stripe.event"].search(
            action["domain"] + [("state", "=", "failed")]
        )
        self.assertEqual(listed, failed)
