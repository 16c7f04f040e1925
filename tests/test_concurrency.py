"""Several Odoo workers at once: real, separately committed transactions.

These tests use their own cursors (not the test transaction) so that PostgreSQL
arbitrates as it would between two workers or servers; what they commit is
removed afterwards.
"""

import json
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged


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
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            self.last_trigger_id = cr.fetchone()[0]
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM stripe_event WHERE account_id = %s", [self.account_id]
            )
            cr.execute("DELETE FROM stripe_account WHERE id = %s", [self.account_id])
            # The processing cron's wake-ups the stored events committed: left
            # behind, they would satisfy later tests that look for one.
            cr.execute(
                "DELETE FROM ir_cron_trigger WHERE id > %s", [self.last_trigger_id]
            )

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
