"""Several Odoo workers at once: real, separately committed transactions.

These tests use their own cursors (not the test transaction) so that PostgreSQL
arbitrates as it would between two workers or servers; what they commit is
removed afterwards. Odoo's HTTP server answers them with its own cursors too
(these tests do not put the registry in test mode).
"""

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import stripe

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import DummyRLock, Registry
from odoo.service import server
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import API_KEY
from .fake_stripe import FakeStripe

PAYOUT_LOGGER = "odoo.addons.stripe_connector.models.payouts.stripe_payout"

WEBHOOK_SECRET = "whsec_concurrency"


@tagged("post_install", "-at_install")
class TestConcurrency(TransactionCase):
    def setUp(self):
        super().setUp()
        # Odoo's own runner (odoo-bin --test-tags) runs the tests in its main
        # thread while holding Registry._lock, through which the workers of
        # these tests and Odoo's HTTP threads look the registry up: as HttpCase
        # does (Registry.enter_test_mode), a dummy lock stands in meanwhile.
        if Registry._saved_lock is None:
            Registry._saved_lock, Registry._lock = Registry._lock, DummyRLock()
            self.addCleanup(self._restore_registry_lock)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            account = env["stripe.account"].create(
                {"name": "Concurrency", "webhook_secret": WEBHOOK_SECRET}
            )
            self.account_id = account.id
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            self.last_trigger_id = cr.fetchone()[0]
        self.addCleanup(self._cleanup)

    @staticmethod
    def _restore_registry_lock():
        Registry._lock, Registry._saved_lock = Registry._saved_lock, None

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
            # The processing cron's wake-ups the stored events committed: left
            # behind, they would satisfy later tests that look for one.
            cr.execute(
                "DELETE FROM ir_cron_trigger WHERE id > %s", [self.last_trigger_id]
            )

    def _event(
        self, event_id="evt_concurrent_1", event_type="customer.source.expiring"
    ):
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

    def _in_worker(self, function, hold=0.0):
        """Run ``function(env)`` in a new transaction, committed at the end
        (``hold`` seconds later: the transaction keeps its locks meanwhile)."""
        with self.registry.cursor() as cr:
            result = function(api.Environment(cr, SUPERUSER_ID, {}))
            time.sleep(hold)
            return result

    def _race(self, winner, loser):
        """Two overlapping deliveries: ``winner(env)`` inserts in a worker whose
        transaction stays open; ``loser()`` then runs in another thread, and once
        it waits on the winner's insert (the unique index), the winner commits.
        Neither saw the other's row, as with two workers at the same moment.

        :return: the results of ``winner`` and ``loser``.
        """
        inserted, release = threading.Event(), threading.Event()

        def hold(env):
            try:
                result = winner(env)
            finally:
                inserted.set()
            release.wait(30)
            return result

        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(self._in_worker, hold)
            inserted.wait(30)
            second = pool.submit(loser)
            waited = self._wait_for_insert_lock()
            release.set()
            results = first.result(30), second.result(30)
        self.assertTrue(waited, "the second delivery did not wait for the first")
        return results

    def _wait_for_insert_lock(self, timeout=10):
        """Whether a session of this database waits on a lock to insert into
        ``stripe_event`` within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT 1 FROM pg_stat_activity"
                    " WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE %s",
                    ['%INSERT INTO "stripe_event"%'],
                )
                if cr.fetchone():
                    return True
            time.sleep(0.05)
        return False

    def _stored_ids(self, stripe_id):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT id FROM stripe_event WHERE account_id = %s AND stripe_id = %s",
                [self.account_id, stripe_id],
            )
            return [row[0] for row in cr.fetchall()]

    def test_concurrent_duplicate_deliveries_store_one_event(self):
        """Two workers receive the same event at the same moment: the unique
        constraint lets exactly one insert win; the other's insert fails, it
        stores nothing and gets no row (the winner's is not in its snapshot)."""
        event, payload = self._event()

        def receive(env):
            account = env["stripe.account"].browse(self.account_id)
            stored, created = env["stripe.event"]._receive(account, event, payload)
            return stored.ids, created

        (winner_ids, winner_created), (loser_ids, loser_created) = self._race(
            receive, lambda: self._in_worker(receive)
        )
        self.assertTrue(winner_created)
        self.assertFalse(loser_created, "exactly one delivery created the row")
        stored = self._stored_ids(event["id"])
        self.assertEqual(len(stored), 1)
        self.assertEqual(winner_ids, stored)
        self.assertEqual(loser_ids, [])

    def test_concurrent_duplicate_over_http_is_acknowledged(self):
        """Stripe's second delivery reaches another worker while the first one's
        insert is not committed: it is answered 200 with the event id, as a
        duplicate, and nothing more is stored."""
        self.assertIsNotNone(
            server.server, "Odoo's HTTP server runs (pytest: --odoo-http)"
        )
        event, payload = self._event("evt_concurrent_http")
        url = (
            f"http://127.0.0.1:{server.server.httpd.server_port}"
            f"/stripe/webhook/{self.account_id}"
        )
        signature = stripe.WebhookSignature.generate_signature_header(
            payload.decode(), WEBHOOK_SECRET
        )

        def receive(env):
            account = env["stripe.account"].browse(self.account_id)
            stored, created = env["stripe.event"]._receive(account, event, payload)
            return stored.ids, created

        def post():
            return requests.post(
                url,
                data=payload,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": signature,
                },
                timeout=30,
            )

        (winner_ids, winner_created), response = self._race(receive, post)
        self.assertTrue(winner_created)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            response.json(), {"received": True, "id": event["id"], "duplicate": True}
        )
        self.assertEqual(self._stored_ids(event["id"]), winner_ids)
        # Stripe's next retry finds the row: the same answer.
        retry = post()
        self.assertEqual(retry.status_code, 200, retry.text)
        self.assertEqual(retry.json()["id"], event["id"])
        self.assertTrue(retry.json()["duplicate"])
        self.assertEqual(self._stored_ids(event["id"]), winner_ids)

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

    def test_worker_whose_transaction_predates_another_workers_commit(self):
        """Worker B's transaction began before worker A processed and committed
        an event (Odoo's transactions are REPEATABLE READ): B's cron run takes
        nothing instead of failing, and the event is processed once."""
        event, payload = self._event("evt_snapshot")

        def receive(env):
            account = env["stripe.account"].browse(self.account_id)
            return env["stripe.event"]._receive(account, event, payload)[0].id

        event_id = self._in_worker(receive)
        with self.registry.cursor() as cr_b:
            env_b = api.Environment(cr_b, SUPERUSER_ID, {})
            cr_b.execute("SELECT 1")  # B's snapshot is taken

            def worker_a(env):
                env["stripe.event"]._acquire_due_events(10)._process_acquired()

            thread = threading.Thread(target=self._in_worker, args=(worker_a,))
            thread.start()
            thread.join(30)
            taken = env_b["stripe.event"]._acquire_due_events(10)
            self.assertNotIn(event_id, taken.ids)
            env_b["stripe.event"].browse(event_id)._process_events()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            processed = env["stripe.event"].browse(event_id)
            self.assertEqual(processed.state, "ignored")
            self.assertEqual(processed.attempts, 1)  # processed once

    def test_a_renewals_events_go_to_one_worker(self):
        """Two workers at once on a renewal's invoice.paid and
        payment_intent.succeeded (one customer) and another customer's event:
        worker A, taking one event, takes both events of the renewal (its
        routing key); worker B, meanwhile, takes only the other customer's, so
        that the invoice and its payment are booked by one worker."""
        deliveries = []
        for event_id, event_type, obj in (
            (
                "evt_route_intent",
                "payment_intent.succeeded",
                {"id": "pi_route", "object": "payment_intent", "customer": "cus_R"},
            ),
            (
                "evt_route_other",
                "payment_intent.succeeded",
                {"id": "pi_other", "object": "payment_intent", "customer": "cus_O"},
            ),
            (
                "evt_route_invoice",
                "invoice.paid",
                {"id": "in_route", "object": "invoice", "customer": "cus_R"},
            ),
        ):
            event, _payload = self._event(event_id, event_type)
            event["data"]["object"] = obj
            deliveries.append((event, json.dumps(event).encode()))

        def receive(env):
            account = env["stripe.account"].browse(self.account_id)
            return [
                env["stripe.event"]._receive(account, event, payload)[0].id
                for event, payload in deliveries
            ]

        intent_id, other_id, invoice_id = self._in_worker(receive)
        taken_by_b = []
        with self.registry.cursor() as cr_a:
            env_a = api.Environment(cr_a, SUPERUSER_ID, {})
            # A sees only this test's events as due (Odoo's runner shares its
            # database with what other tests committed); never committed.
            cr_a.execute(
                "UPDATE stripe_event SET next_attempt_at = NULL WHERE account_id != %s",
                [self.account_id],
            )
            taken_by_a = env_a["stripe.event"]._acquire_due_events(1)

            def worker_b(env):
                taken_by_b.extend(env["stripe.event"]._acquire_due_events(10).ids)

            thread = threading.Thread(target=self._in_worker, args=(worker_b,))
            thread.start()
            thread.join(30)
            self.assertTrue({intent_id, invoice_id} <= set(taken_by_a.ids))
            self.assertNotIn(other_id, taken_by_a.ids)
            # (Odoo's runner shares its database: B may take other due events.)
            self.assertIn(other_id, taken_by_b)
            self.assertFalse({intent_id, invoice_id} & set(taken_by_b))
            cr_a.rollback()

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
            return env["stripe.payout"]._stripe_store(account, held).id

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
