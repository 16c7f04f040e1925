"""Several Odoo workers at once: real, separately committed transactions.

These tests use their own cursors (not the test transaction) so that PostgreSQL
arbitrates as it would between two workers or servers; what they commit is
removed afterwards.
"""

import json
import logging
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import API_KEY
from .fake_stripe import FakeStripe

PAYOUT_LOGGER = "odoo.addons.stripe_connector.models.stripe_payout"


@tagged("post_install", "-at_install")
class TestConcurrency(TransactionCase):
    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            account = env["stripe.account"].create(
                {"name": "Concurrency", "webhook_secret": "whsec_concurrency"}
            )
            self.account_id = account.id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM stripe_event WHERE account_id = %s", [self.account_id]
            )
            cr.execute(
                "DELETE FROM stripe_balance_transaction WHERE account_id = %s",
                [self.account_id],
            )
            for table, model_column in (
                ("mail_message", "model"),
                ("mail_followers", "res_model"),
            ):
                cr.execute(
                    f"DELETE FROM {table} WHERE {model_column} = 'stripe.payout'"
                    " AND res_id IN (SELECT id FROM stripe_payout"
                    " WHERE account_id = %s)",
                    [self.account_id],
                )
            cr.execute(
                "DELETE FROM stripe_payout WHERE account_id = %s", [self.account_id]
            )
            cr.execute("DELETE FROM stripe_account WHERE id = %s", [self.account_id])

    def _event(self, event_id="evt_concurrent_1", event_type="customer.created"):
        event = {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": 1700000000,
            "livemode": False,
            "api_version": "2026-10-28.endive",
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
        return event, json.dumps(event).encode()

    def _in_worker(self, function, barrier=None, hold=0.0):
        """Run ``function(env)`` in a new transaction, committed at the end."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            if barrier:
                barrier.wait()
            result = function(env)
            time.sleep(hold)
            return result

    def test_concurrent_duplicate_deliveries_store_one_event(self):
        """Two workers receive the same event at the same moment: the unique
        constraint lets one insert win, the other answers as for a duplicate."""
        event, payload = self._event()
        barrier = threading.Barrier(2)
        results = []

        def deliver():
            def receive(env):
                account = env["stripe.account"].browse(self.account_id)
                stored, created = env["stripe.event"]._receive(account, event, payload)
                return stored.id, created

            results.append(self._in_worker(receive, barrier, hold=0.3))

        threads = [threading.Thread(target=deliver) for _i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual(sorted(created for _id, created in results), [False, True])
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM stripe_event"
                " WHERE account_id = %s AND stripe_id = %s",
                [self.account_id, event["id"]],
            )
            self.assertEqual(cr.fetchone()[0], 1)

    def test_workers_skip_events_another_worker_holds(self):
        """FOR UPDATE SKIP LOCKED: while worker A processes an event, worker B's
        cron run does not take it; once A is done, nobody processes it again."""
        event, payload = self._event("evt_locked")

        def receive(env):
            account = env["stripe.account"].browse(self.account_id)
            return env["stripe.event"]._receive(account, event, payload)[0].id

        event_id = self._in_worker(receive)
        acquired_by_b = []
        with self.registry.cursor() as cr_a:
            env_a = api.Environment(cr_a, SUPERUSER_ID, {})
            held = env_a["stripe.event"]._acquire_due_events(10)
            self.assertIn(event_id, held.ids)

            def worker_b(env):
                acquired_by_b.extend(env["stripe.event"]._acquire_due_events(10).ids)

            thread = threading.Thread(target=self._in_worker, args=(worker_b,))
            thread.start()
            thread.join(30)
            self.assertNotIn(event_id, acquired_by_b)
            held._process_acquired()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            processed = env["stripe.event"].browse(event_id)
            self.assertEqual(processed.state, "ignored")
            self.assertFalse(env["stripe.event"]._acquire_due_events(10) & processed)

    def test_payout_backfill_skips_a_payout_another_worker_holds(self):
        """Worker A holds a payout (processing its event) while the daily payout
        import runs on worker B: B skips that payout with a log line and keeps
        what it did for the others; A's work stands."""
        fake = FakeStripe(api_keys={API_KEY}).start()
        self.addCleanup(fake.stop)

        def configure(env):
            account = env["stripe.account"].browse(self.account_id)
            account.write(
                {
                    "api_key": API_KEY,
                    "api_base": fake.api_base,
                    "payout_auto_reconcile": False,
                }
            )
            return account.currency_id.name.lower()

        currency = self._in_worker(configure)
        fake.add_charge(1000, currency)
        free = fake.add_payout()
        fake.add_charge(2000, currency)
        held = fake.add_payout()

        def sync_held(env):
            account = env["stripe.account"].browse(self.account_id)
            return env["stripe.payout"]._stripe_sync(account, held).id

        held_id = self._in_worker(sync_held)
        locked = threading.Event()

        def worker_a(env):
            payout = env["stripe.payout"].browse(held_id)
            payout._stripe_lock()
            payout.state_message = "Worker A is on it."
            env.flush_all()
            locked.set()

        thread = threading.Thread(
            target=self._in_worker, args=(worker_a,), kwargs={"hold": 2.0}
        )
        thread.start()
        self.assertTrue(locked.wait(30))
        with (
            mute_logger("odoo.sql_db"),
            self.assertLogs(PAYOUT_LOGGER, logging.INFO) as logs,
        ):
            self._in_worker(lambda env: env["stripe.payout"]._cron_backfill())
        thread.join(30)
        self.assertTrue(
            any(f"{held['id']} skipped" in line for line in logs.output), logs.output
        )
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            payouts = env["stripe.payout"].search(
                [("account_id", "=", self.account_id)]
            )
            by_stripe_id = {payout.stripe_id: payout for payout in payouts}
            self.assertTrue(by_stripe_id[free["id"]].transactions_imported)
            self.assertEqual(by_stripe_id[free["id"]].transaction_count, 1)
            self.assertEqual(
                by_stripe_id[held["id"]].state_message, "Worker A is on it."
            )
            self.assertFalse(by_stripe_id[held["id"]].transactions_imported)
