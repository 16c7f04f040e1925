"""Benchmark: import and reconcile Stripe payouts of 1,000 and 10,000 transactions.

Run by ``make bench`` on a fresh database with the module installed
(``STRIPE_BENCH_DB``, Odoo config in ``ODOO_RC``)::

    STRIPE_BENCH_DB=stripe_bench ODOO_RC=.odoorc .venv/bin/python bench/run.py

The scenario is a month of an ordinary shop: every charge was registered as an
Odoo payment by its webhook, without an API key (so no fee is booked yet), plus a
few refunds, a dispute, an adjustment and a billing fee that no webhook brought.
The payout comes as a signed ``payout.paid`` event stored like the webhook stores
it; what is timed is its processing: listing the transactions through the real
``stripe`` SDK from the fake Stripe API (100 per page), storing and linking them,
then reconciling the payout (fee entry, adjustment entry, payments for the
refunds, transfer to the bank). Setting up the payments is not timed.

For each size it prints the wall time, the time and SQL queries per transaction,
and the peak memory the processing added (resident set size, sampled); then the
ratio of the time per transaction at 10,000 to that at 1,000 (1.0 is linear).
Every run is rolled back: the database is left as it was. Figures are printed,
never asserted.
"""

import contextlib
import ctypes
import datetime
import gc
import importlib.util
import json
import multiprocessing
import os
import pathlib
import random
import resource
import subprocess
import sys
import threading
import time

from dateutil.relativedelta import relativedelta
from psycopg2.extras import execute_values

import odoo
from odoo import SUPERUSER_ID, Command, api, fields, sql_db
from odoo.tools import config, date_utils

SIZES = tuple(int(s) for s in os.environ.get("BENCH_SIZES", "1000,10000").split(","))
UNREGISTERED_SIZES = tuple(
    int(s) for s in os.environ.get("BENCH_UNREGISTERED_SIZES", "100,1000").split(",")
)
# Cron workers of the second renewal storm (at the last size); 1: none.
RENEWAL_WORKERS = int(os.environ.get("BENCH_RENEWAL_WORKERS", "2"))
RENEWAL_SIZES = tuple(
    int(s) for s in os.environ.get("BENCH_RENEWAL_SIZES", "200,2000").split(",")
)
# Invoices of the payment-event bench (and as many again for Odoo's wizard).
PAYMENT_COUNT = int(os.environ.get("BENCH_PAYMENTS", "200"))
# Seconds into the last renewal storm (one worker) when a one-off payment comes.
ONE_OFF_AFTER = float(os.environ.get("BENCH_ONE_OFF_AFTER", "10"))
# Seconds into a two-worker storm (at the first size) when one is killed.
KILL_AFTER = float(os.environ.get("BENCH_KILL_AFTER", "15"))
# Which benchmarks run: "payouts", "payments", "renewals", "mrr", "ack" or "all"
# (``make bench BENCH=...``).
BENCH = os.environ.get("BENCH", "all")
API_KEY = "sk_test_bench"
MODULE_DIR = pathlib.Path(__file__).resolve().parent.parent


def load_fake_stripe():
    """The fake Stripe API of the tests (standard library only), loaded by path so
    that the test package (which imports Odoo's test framework) is not."""
    spec = importlib.util.spec_from_file_location(
        "fake_stripe", MODULE_DIR / "tests" / "fake_stripe.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeStripe


class PeakRss:
    """Sample the process's resident set size every few milliseconds.

    Memory freed before the start is given back to the system first (garbage
    collection, then glibc's ``malloc_trim``), so that what is measured is what
    the processing needs, not what the set-up left in the allocator's free lists.
    """

    def __init__(self, interval=0.005):
        self.interval = interval
        self.peak = self.start = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss():
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        gc.collect()
        # Not glibc: the figure then includes the allocator's free memory.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        self.peak = self.start = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def added(self):
        return self.peak - self.start


def setup(env, fake, size, registered=True):
    """A Stripe account, ``size`` transactions on Stripe, the charges' payments in
    Odoo, and the payout event stored as the webhook stores it.

    ``registered=False``: no webhook brought the charges (the endpoint was down
    all month); each charge's PaymentIntent names an open invoice in its metadata,
    so the payout reads every PaymentIntent and pays every invoice.

    :return: ``(account, stored event, payout dict)``
    """
    company = env.company
    bank = env["account.journal"].search(
        [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
    )
    account = env["stripe.account"].create(
        {
            "name": f"Bench {size}",
            "company_id": company.id,
            "api_key": API_KEY,
            "api_base": fake.api_base,
            "payout_journal_id": bank.id,
        }
    )
    account.action_setup_accounting()
    journal = account.journal_id
    currency = company.currency_id.name.lower()
    partner = env["res.partner"].create({"name": "Bench customer"})

    fake.reset()
    extras = 10
    amounts = [1000 + (i * 37) % 9000 for i in range(size - extras)]
    if not registered:
        invoices = create_invoices(env, partner, amounts)
        charges = fake.add_many_charges(
            size - extras,
            amount=amounts.__getitem__,
            currency=currency,
            payment_intent=True,
            metadata=lambda i: {"odoo_invoice_id": str(invoices[i])},
        )
    else:
        charges = fake.add_many_charges(
            size - extras, amount=amounts.__getitem__, currency=currency
        )
    for charge in charges[:5]:
        fake.add_refund(charge["id"], 500)
    fake.add_dispute(charges[5]["id"])
    fake.add_adjustment(-250, currency, "Correction")
    fake.add_adjustment(1200, currency, "Goodwill credit")
    fake.add_stripe_fee(900, currency, "Radar fees")
    fake.add_stripe_fee(300, currency, "Billing fees")
    payout = fake.add_payout()

    line = journal._stripe_get_payment_method_line("inbound")
    payment_model = env["account.payment"].with_context(
        tracking_disable=True, mail_create_nolog=True, mail_notrack=True
    )
    for start in range(0, len(charges) if registered else 0, 1000):
        payments = payment_model.create(
            [
                {
                    "payment_type": "inbound",
                    "partner_type": "customer",
                    "partner_id": partner.id,
                    "amount": charge["amount"] / 100,
                    "currency_id": company.currency_id.id,
                    "date": fields.Date.context_today(account),
                    "journal_id": journal.id,
                    "payment_method_line_id": line.id,
                    "stripe_account_id": account.id,
                    "stripe_object_id": charge["id"],
                    "stripe_charge_id": charge["id"],
                }
                for charge in charges[start : start + 1000]
            ]
        )
        # What posting does, in two steps so that the entries are numbered here in
        # one go rather than by a sequence look-up each: setup speed only.
        payments._generate_journal_entry()
        for number, move in enumerate(payments.move_id, start=start + 1):
            move.name = f"{journal.code}/{move.date.year}/{number:06d}"
        payments.action_post()
        env.flush_all()
        env.invalidate_all()
    event_data = fake.event("payout.paid", payout)
    payload = json.dumps(event_data).encode()
    event, _new = env["stripe.event"]._receive(account, event_data, payload)
    env.flush_all()
    env.invalidate_all()
    # The planner's statistics as a database in use has them (autovacuum would
    # have analyzed these tables long ago); ANALYZE counts this transaction's rows.
    for table in ("account_move", "account_move_line", "account_partial_reconcile"):
        env.cr.execute(f"ANALYZE {table}")
    return account, event, payout


def create_invoices(env, partner, amounts):
    """Posted invoices of these amounts (minor units) for the partner: their ids.
    Set-up only, not timed."""
    income = env["account.account"].search(
        [
            ("company_ids", "in", env.company.id),
            ("account_type", "=", "income"),
        ],
        limit=1,
    )
    ids = []
    move_model = env["account.move"].with_context(
        tracking_disable=True, mail_create_nolog=True, mail_notrack=True
    )
    for start in range(0, len(amounts), 500):
        invoices = move_model.create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_line_ids": [
                        fields.Command.create(
                            {
                                "name": "Bench",
                                "price_unit": amount / 100,
                                "account_id": income.id,
                                "tax_ids": [fields.Command.clear()],
                            }
                        )
                    ],
                }
                for amount in amounts[start : start + 500]
            ]
        )
        invoices.action_post()
        ids += invoices.ids
        env.flush_all()
        env.invalidate_all()
    return ids


def run(env, fake, size, registered=True):
    """Set up, then time the processing of the payout event.

    :return: the figures of this size.
    """
    account, event, payout = setup(env, fake, size, registered)
    queries = sql_db.sql_counter
    with PeakRss() as memory:
        started = time.perf_counter()
        event._process_events()
        env.flush_all()
        elapsed = time.perf_counter() - started
    queries = sql_db.sql_counter - queries
    env.invalidate_all()
    record = event.payout_id
    balance = sum(
        env["account.move.line"]
        .search([("account_id", "=", account.journal_id.default_account_id.id)])
        .mapped("balance")
    )
    mirrored = round(balance * 100) == fake.balance(payout["currency"])
    unpaid = env["account.move"].search_count(
        [("move_type", "=", "out_invoice"), ("payment_state", "!=", "paid")]
    )
    if event.state != "done" or record.state != "reconciled" or not mirrored or unpaid:
        sys.exit(
            f"Payout of {size} transactions not reconciled: event {event.state} "
            f"({event.state_message}), payout {record.state} ({record.state_message}),"
            f" Stripe journal {balance} vs Stripe {fake.balance(payout['currency'])},"
            f" {unpaid} invoice(s) not paid"
        )
    pages = len(fake.requests_for("/v1/balance_transactions"))
    return {
        "size": size,
        "transactions": record.transaction_count,
        "pages": pages,
        "seconds": elapsed,
        "ms_per_txn": elapsed / size * 1000,
        "queries_per_txn": queries / size,
        "peak_mib": memory.added / 2**20,
    }


def setup_renewals(env, fake, size):
    """The renewal storm's set-up (not timed): ``size`` Stripe customers, each
    with a paid renewal invoice of 3 lines (one 19 % tax each) and its
    PaymentIntent; ``invoice.paid`` and ``payment_intent.succeeded`` of every
    renewal stored as the webhook stores them, in a shuffled order.

    :return: ``(account, stored events, Stripe invoices)``
    """
    company = env.company
    account = env["stripe.account"].create(
        {
            "name": f"Renewals {size}",
            "company_id": company.id,
            "api_key": API_KEY,
            "api_base": fake.api_base,
        }
    )
    account.action_setup_accounting()
    # Kept from one size to the next (the storm commits): created once.
    if not env["account.tax"].search_count([("name", "=", "VAT 19% (bench)")]):
        env["account.tax"].create(
            {
                "name": "VAT 19% (bench)",
                "amount": 19.0,
                "type_tax_use": "sale",
                "company_id": company.id,
            }
        )
    if not env["product.template"].search_count(
        [("stripe_product_id", "=", "prod_bench")]
    ):
        plan = env["product.product"].create({"name": "Bench plan"})
        plan.product_tmpl_id.stripe_product_id = "prod_bench"
    fake.reset()
    rate = fake.add_tax_rate(19)
    # A month-start storm is not the account's first month: its tax rate was
    # mapped to its Odoo tax by an earlier invoice.
    env["stripe.tax.rate"].create(
        {
            "account_id": account.id,
            "stripe_id": rate["id"],
            "name": "VAT",
            "percentage": 19.0,
            "tax_id": env["account.tax"]
            .search([("name", "=", "VAT 19% (bench)")], limit=1)
            .id,
        }
    )
    currency = company.currency_id.name.lower()
    deliveries = []
    invoices = []
    for i in range(size):
        customer = fake.add_customer(
            email=f"renewal{i}@bench.example", name=f"Subscriber {i}"
        )
        lines = [
            {
                "amount": 1000 + (i * 37 + k * 11) % 9000,
                "tax_rate": rate,
                "product": "prod_bench",
                "description": f"1 x Seat {k}",
            }
            for k in range(3)
        ]
        stripe_invoice = fake.add_invoice(
            customer, lines, currency=currency, default_tax_rates=[rate]
        )
        stripe_invoice, intent, _invoice_payment = fake.pay_invoice(
            stripe_invoice["id"]
        )
        invoices.append(stripe_invoice)
        deliveries.append(fake.event("invoice.paid", stripe_invoice))
        deliveries.append(fake.event("payment_intent.succeeded", intent))
    random.Random(size).shuffle(deliveries)
    event_model = env["stripe.event"]
    events = event_model.browse()
    for event_data in deliveries:
        event, _new = event_model._receive(
            account, event_data, json.dumps(event_data).encode()
        )
        events |= event
    env.flush_all()
    env.invalidate_all()
    return account, events, invoices


def process_queue(registry):
    """Process the event queue as one cron worker does, until nothing is left
    to do: batches of ``const.PROCESS_BATCH_SIZE`` events, each in its own
    committed transaction. Events another worker raced (retried a few seconds
    later) are waited for.

    :return: ``(batches, queries)``
    """
    queries = sql_db.sql_counter
    batches = 0
    idle_since = None
    while True:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            events = env["stripe.event"]
            if events.search_count(events._due_domain(), limit=1):
                if events._cron_process_events():
                    batches += 1
                    idle_since = None
                else:
                    time.sleep(0.1)  # another worker holds every due event
                continue
            open_states = ("pending", "waiting", "failed")
            if not events.search_count([("state", "in", open_states)], limit=1):
                break
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > 30:
            break  # what remains waits longer than a race: check_renewals says
        time.sleep(0.5)
    return batches, sql_db.sql_counter - queries


def receive_one_off(registry, fake, account_id, invoice_id, delay, found):
    """``delay`` seconds into a storm, a customer pays a one-off Odoo invoice
    (of 120.00, posted before the storm) through a payment link: its
    PaymentIntent (metadata ``odoo_invoice_id``) succeeds on Stripe and its
    ``payment_intent.succeeded`` is stored as the webhook stores it. ``found``
    gets the event's id and the moment it was stored (a thread of its own, as
    the HTTP worker that takes the webhook is)."""
    time.sleep(delay)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["stripe.account"].browse(account_id)
        charge = fake.add_charge(
            12000,
            env.company.currency_id.name.lower(),
            metadata={"odoo_invoice_id": str(invoice_id)},
        )
        intent = fake.get(charge["payment_intent"])
        event_data = fake.event("payment_intent.succeeded", intent)
        event, _new = env["stripe.event"]._receive(
            account, event_data, json.dumps(event_data).encode()
        )
        cr.commit()
        found.update(event_id=event.id, invoice_id=invoice_id, at=time.time())


def run_renewals(  # pylint: disable=too-many-arguments
    registry, fake, size, workers=1, one_off_after=None, kill_after=None
):
    """Set up (committed), then process the storm's events the way the
    processing cron does (``process_queue``), in this process or in
    ``workers`` processes at once (cron workers of their own). The tables are
    analyzed after the set-up, as PostgreSQL's autovacuum does after a bulk
    insert; the database keeps what the run booked (``make bench`` starts
    from a new one). ``one_off_after``: seconds into the storm when a one-off
    payment arrives (``receive_one_off``); the figures then say how long it
    waited. ``kill_after``: seconds into a storm of several workers when the
    first is killed (``kill -9``) and replaced; the checks then say whether
    anything was lost or booked twice."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account, events, invoices = setup_renewals(env, fake, size)
        account_id, event_ids = account.id, events.ids
        partner = env["res.partner"].create({"name": "One-off customer"})
        [one_off_invoice_id] = create_invoices(env, partner, [12000])
    with registry.cursor() as cr:
        cr.execute("ANALYZE")
    one_off = {}
    if one_off_after is not None:
        threading.Thread(
            target=receive_one_off,
            args=(
                registry,
                fake,
                account_id,
                one_off_invoice_id,
                one_off_after,
                one_off,
            ),
            daemon=True,
        ).start()
    with PeakRss() as memory:
        started = time.perf_counter()
        cpu_started = time.process_time()
        if workers == 1:
            batches, queries = process_queue(registry)
        else:
            # The fake Stripe API keeps serving from this process.
            def start_worker():
                return subprocess.Popen(
                    [sys.executable, __file__, "worker"], stdout=subprocess.PIPE
                )

            children = [start_worker() for _ in range(workers)]
            if kill_after:
                # kill -9 of a worker in the middle of a batch, then a new one:
                # what it had not committed is taken again, nothing twice.
                time.sleep(kill_after)
                children[0].kill()
                children[0].wait()
                children[0] = start_worker()
            outputs = [json.loads(child.communicate()[0]) for child in children]
            batches = [output["batches"] for output in outputs]
            queries = sum(output["queries"] for output in outputs)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        if workers > 1:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu += usage.ru_utime + usage.ru_stime
    finished = time.time()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["stripe.account"].browse(account_id)
        events = env["stripe.event"].browse(event_ids)
        check_renewals(
            env, fake, account, events, invoices, size, extra_fees=len(one_off) and 1
        )
        # Each event counts the attempt that ended it: the rest are races.
        attempts = sum(events.mapped("attempts")) - len(events)
        one_off_wait = None
        if one_off:
            event = env["stripe.event"].browse(one_off["event_id"])
            invoice = env["account.move"].browse(one_off["invoice_id"])
            if event.state != "done" or invoice.payment_state not in (
                "paid",
                "in_payment",
            ):
                sys.exit(
                    f"The one-off payment is {event.state} ({event.state_message})"
                )
            done_at = event.processed_at.replace(tzinfo=datetime.timezone.utc)
            one_off_wait = (
                done_at.timestamp() - one_off["at"],
                finished - one_off["at"],
            )
    return {
        "one_off_wait": one_off_wait,
        "size": size,
        "transactions": size,
        "pages": len(event_ids),
        "batches": batches,
        "workers": workers,
        "retries": attempts,
        "seconds": elapsed,
        "ms_per_txn": elapsed / size * 1000,
        "cpu_ms_per_txn": cpu / size * 1000,
        "queries_per_txn": queries / size,
        "peak_mib": memory.added / 2**20,
    }


def check_renewals(  # pylint: disable=too-many-arguments
    env, fake, account, events, invoices, size, extra_fees=0
):
    """Every renewal is an Odoo invoice of Stripe's total, paid, with its fee
    booked (and ``extra_fees`` other payments: the one-off's); the Stripe
    journal equals Stripe's balance; every event is done."""
    moves = env["account.move"].search(
        [("stripe_account_id", "=", account.id), ("move_type", "=", "out_invoice")]
    )
    paid = moves.filtered(lambda move: move.payment_state == "paid")
    exact = len(moves) == len(invoices) and all(
        round(move.amount_total * 100) == stripe_invoice["total"]
        for move, stripe_invoice in zip(
            moves.sorted("stripe_invoice_id"),
            sorted(invoices, key=lambda inv: inv["id"]),
            strict=True,
        )
    )
    fees = env["account.payment"].search_count(
        [("stripe_account_id", "=", account.id), ("stripe_fee_move_id", "!=", False)]
    )
    balance = sum(
        env["account.move.line"]
        .search([("account_id", "=", account.journal_id.default_account_id.id)])
        .mapped("balance")
    )
    currency = env.company.currency_id.name.lower()
    not_done = events.filtered(lambda event: event.state != "done")
    if (
        len(paid) != size
        or not exact
        or fees != size + extra_fees
        or round(balance * 100) != fake.balance(currency)
        or not_done
    ):
        sys.exit(
            f"Renewal storm of {size}: {len(paid)} invoices paid, totals exact: "
            f"{exact}, {fees} fees, Stripe journal {balance} vs Stripe "
            f"{fake.balance(currency)}, events not done: "
            f"{not_done[:3].mapped('state_message')}"
        )


def run_odoo_alone(registry, size):
    """The same accounting done by Odoo alone, no Stripe code: per renewal a
    customer invoice of 3 lines with a 19 % tax, posted; Odoo's payment
    registration on a bank journal; a fee entry of 2 lines, posted. Batches of
    ``const.PROCESS_BATCH_SIZE`` renewals per committed transaction, like the
    storm. What Odoo's own machinery costs on this machine: the floor of the
    renewal storm."""
    batch = 20
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        company = env.company
        tax = env["account.tax"].create(
            {"name": f"VAT 19% (Odoo alone {size})", "amount": 19.0}
        )
        product = env["product.product"].create({"name": "Odoo-alone plan"})
        bank = env["account.journal"].create(
            {"name": f"Odoo alone {size}", "type": "bank", "code": f"OA{size}"[:5]}
        )
        fee_account = env["account.account"].search(
            [
                *env["account.account"]._check_company_domain(company),
                ("account_type", "=", "expense"),
            ],
            limit=1,
        )
        partners = env["res.partner"].create(
            [
                {"name": f"Odoo-alone customer {i}", "email": f"alone{i}@bench.example"}
                for i in range(size)
            ]
        )
        ids = (tax.id, product.id, bank.id, fee_account.id, partners.ids)
    with registry.cursor() as cr:
        cr.execute("ANALYZE")
    tax_id, product_id, bank_id, fee_account_id, partner_ids = ids
    queries = sql_db.sql_counter
    started = time.perf_counter()
    for start in range(0, size, batch):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            bank = env["account.journal"].browse(bank_id)
            for i, partner_id in enumerate(partner_ids[start : start + batch]):
                invoice = env["account.move"].create(
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner_id,
                        "invoice_date": fields.Date.today(),
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "product_id": product_id,
                                    "name": f"1 x Seat {k}",
                                    "quantity": 1,
                                    "price_unit": (1000 + (i * 37 + k * 11) % 9000)
                                    / 100,
                                    "tax_ids": [Command.set([tax_id])],
                                }
                            )
                            for k in range(3)
                        ],
                    }
                )
                invoice.action_post()
                env["account.payment.register"].with_context(
                    active_model="account.move", active_ids=invoice.ids
                ).create({"journal_id": bank.id})._create_payments()
                env["account.move"].create(
                    {
                        "move_type": "entry",
                        "journal_id": bank.id,
                        "line_ids": [
                            Command.create(
                                {"account_id": fee_account_id, "debit": 1.0}
                            ),
                            Command.create(
                                {
                                    "account_id": bank.default_account_id.id,
                                    "credit": 1.0,
                                }
                            ),
                        ],
                    }
                ).action_post()
    elapsed = time.perf_counter() - started
    return {
        "size": size,
        "seconds": elapsed,
        "ms_per_txn": elapsed / size * 1000,
        "queries_per_txn": (sql_db.sql_counter - queries) / size,
    }


def run_payments_vs_wizard(registry, fake, count):
    """One payment event against Odoo's *Register Payment*, over two identical
    sets of ``count`` posted invoices (one line, no tax), side by side in one
    run, each committed as it would be:

    - Odoo alone: the *Register Payment* wizard on each invoice, one invoice a
      transaction (a user clicking through them, or an integration over
      XML-RPC), on a bank journal;
    - the connector: each invoice paid through a payment link, its
      ``payment_intent.succeeded`` (metadata ``odoo_invoice_id``) stored as the
      webhook stores it, then processed by the cron's batches: charge and fee
      read through the SDK, payment registered and reconciled, fee booked, the
      invoice's chatter note, the event's links.

    :return: the figures of both.
    """
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        company = env.company
        currency = company.currency_id.name.lower()
        account = env["stripe.account"].create(
            {
                "name": "Payments bench",
                "company_id": company.id,
                "api_key": API_KEY,
                "api_base": fake.api_base,
            }
        )
        account.action_setup_accounting()
        fake.reset()
        amounts = [1000 + (i * 37) % 9000 for i in range(count)]
        partner = env["res.partner"].create({"name": "Payment-link customer"})
        wizard_invoices = create_invoices(env, partner, amounts)
        link_invoices = create_invoices(env, partner, amounts)
        bank = env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
        )
        account_id, bank_id = account.id, bank.id
    with registry.cursor() as cr:
        cr.execute("ANALYZE")
    queries = sql_db.sql_counter
    started = time.perf_counter()
    for invoice_id in wizard_invoices:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["account.payment.register"].with_context(
                active_model="account.move", active_ids=[invoice_id]
            ).create({"journal_id": bank_id})._create_payments()
    wizard = {
        "seconds": time.perf_counter() - started,
        "queries": sql_db.sql_counter - queries,
    }
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["stripe.account"].browse(account_id)
        events = env["stripe.event"]
        for invoice_id, amount in zip(link_invoices, amounts, strict=True):
            charge = fake.add_charge(
                amount, currency, metadata={"odoo_invoice_id": str(invoice_id)}
            )
            event_data = fake.event(
                "payment_intent.succeeded", fake.get(charge["payment_intent"])
            )
            events |= events._receive(
                account, event_data, json.dumps(event_data).encode()
            )[0]
        event_ids = events.ids
    started = time.perf_counter()
    batches, queries = process_queue(registry)
    ours = {"seconds": time.perf_counter() - started, "queries": queries}
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        invoices = env["account.move"].browse(wizard_invoices + link_invoices)
        events = env["stripe.event"].browse(event_ids)
        unpaid = invoices.filtered(
            lambda m: m.payment_state not in ("paid", "in_payment")
        )
        fees = env["account.payment"].search_count(
            [
                ("stripe_account_id", "=", account_id),
                ("stripe_fee_move_id", "!=", False),
            ]
        )
        if unpaid or fees != count or set(events.mapped("state")) != {"done"}:
            sys.exit(
                f"Payments bench: {len(unpaid)} invoices unpaid, {fees} fees, "
                f"events {set(events.mapped('state'))}"
            )
    return {"count": count, "wizard": wizard, "ours": ours, "batches": batches}


def report_payments(result):
    count, wizard, ours = result["count"], result["wizard"], result["ours"]
    print()
    print(
        f"One payment event against Odoo's Register Payment, {count:,} invoices "
        "each (same amounts, one transaction per wizard, the cron's batches for "
        "the events):"
    )
    for name, figures in (
        ("Register Payment wizard, one invoice at a time", wizard),
        ("payment_intent.succeeded events (fee read and booked)", ours),
    ):
        print(
            f"  {name}: {figures['seconds'] / count * 1000:.1f} ms and "
            f"{figures['queries'] / count:.1f} queries per payment"
        )
    print(
        f"  event / wizard: {ours['seconds'] / wizard['seconds']:.2f} (time), "
        f"{ours['queries'] / wizard['queries']:.2f} (queries); "
        f"{result['batches']} batches"
    )


def open_registry():
    """Odoo's registry of the bench database (``STRIPE_BENCH_DB``, configured
    by ``ODOO_RC``), quiet but for warnings."""
    database = os.environ.get("STRIPE_BENCH_DB")
    rc_file = os.environ.get("ODOO_RC")
    if not (database and rc_file):
        sys.exit("Set STRIPE_BENCH_DB and ODOO_RC (make bench does).")
    config.parse_config(
        [
            "-c",
            rc_file,
            "-d",
            database,
            "--log-level=warn",
            "--log-handler=stripe:WARNING",
        ]
    )
    odoo.service.server.load_server_wide_modules()
    return odoo.modules.registry.Registry(database)


def main():
    registry = open_registry()
    if sys.argv[1:] == ["worker"]:
        # One cron worker of a storm run_renewals started: its figures as JSON.
        batches, queries = process_queue(registry)
        print(json.dumps({"batches": batches, "queries": queries}))
        return
    if sys.argv[1:] == ["mrr"] or "mrr" in (BENCH, os.environ.get("BENCH_ONLY")):
        run_mrr(registry)
        return
    if BENCH == "ack":
        run_ack(registry)
        return
    if BENCH == "tieout":
        report_tieout([run_tieout(registry, size) for size in TIEOUT_SIZES])
        return
    fake = load_fake_stripe()(api_keys={API_KEY}, seed=5).start()
    scenarios = [
        (
            "Payout import + reconciliation (all pages through the stripe SDK); "
            "the charges' payments registered by their webhooks",
            SIZES,
            True,
        ),
        (
            "Same, no webhook came: every PaymentIntent read, every invoice paid "
            "by Odoo's payment registration",
            UNREGISTERED_SIZES,
            False,
        ),
    ]
    if BENCH not in ("all", "payouts"):
        scenarios = []
    try:
        for title, sizes, registered in scenarios:
            results = []
            for size in sizes:
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    results.append(run(env, fake, size, registered))
                    cr.rollback()
            report(title, results)
        # Then what commits what it books (as the cron does).
        if BENCH in ("all", "payments", "renewals"):
            report_payments(run_payments_vs_wizard(registry, fake, PAYMENT_COUNT))
        if BENCH in ("all", "renewals"):
            results = [
                run_renewals(
                    registry,
                    fake,
                    size,
                    one_off_after=ONE_OFF_AFTER if size == RENEWAL_SIZES[-1] else None,
                )
                for size in RENEWAL_SIZES
            ]
            report(
                "Renewal storm: invoice.paid and payment_intent.succeeded of each "
                "renewal, shuffled, processed by the cron's batches (3 lines, one "
                "tax each; invoice created, posted and paid, fee booked); "
                "'transactions' are renewals, 'pages' events",
                results,
            )
            report_one_off(results[-1])
            report_odoo_alone(results, run_odoo_alone(registry, RENEWAL_SIZES[0]))
            if RENEWAL_WORKERS > 1:
                report_workers(
                    results[-1],
                    run_renewals(
                        registry, fake, RENEWAL_SIZES[-1], workers=RENEWAL_WORKERS
                    ),
                )
                killed = run_renewals(
                    registry,
                    fake,
                    RENEWAL_SIZES[0],
                    workers=RENEWAL_WORKERS,
                    kill_after=KILL_AFTER,
                )
                print()
                print(
                    f"{RENEWAL_WORKERS} workers on {RENEWAL_SIZES[0]:,} renewals, the "
                    f"first killed (kill -9) {KILL_AFTER:.0f} s in and replaced: "
                    f"{killed['seconds']:.1f} s; every renewal booked once (invoice "
                    "paid with Stripe's total, one payment and one fee each, the "
                    "Stripe journal equal to Stripe's balance, every event done)"
                )
    finally:
        fake.stop()
    if BENCH == "all":
        run_mrr(registry)
        run_ack(registry)
        report_tieout([run_tieout(registry, size) for size in TIEOUT_SIZES])


def report_one_off(storm):
    """How long a one-off payment received during the storm waited."""
    if not storm.get("one_off_wait"):
        return
    done, storm_end = storm["one_off_wait"]
    print()
    print(
        f"A one-off payment received {ONE_OFF_AFTER:.0f} s into the storm of "
        f"{storm['size']:,} renewals was done {done:.0f} s after its receipt "
        f"(the storm ended {storm_end:.0f} s after it)"
    )


def report_workers(alone, together):
    """The same storm processed by one cron worker, then by several at once."""
    print()
    print(
        f"10,000 renewals at {together['ms_per_txn']:.0f} ms each with "
        f"{together['workers']} workers: {together['ms_per_txn'] * 10 / 60:.1f} "
        f"min (one worker: {alone['ms_per_txn'] * 10 / 60:.1f} min)"
    )
    print(
        f"{together['workers']} cron workers at once, {together['size']:,} "
        f"renewals: {together['seconds']:.1f} s, {together['ms_per_txn']:.0f} ms "
        f"per renewal (one worker: {alone['ms_per_txn']:.0f} ms; speed-up "
        f"{alone['ms_per_txn'] / together['ms_per_txn']:.2f}); batches per worker: "
        f"{', '.join(str(b) for b in together['batches'])}; races between the "
        f"workers, retried: {together['retries']:,} (of {together['pages']:,} "
        f"events)"
    )


def report_odoo_alone(storm, floor):
    """The storm against Odoo's own cost of the same accounting."""
    print()
    print(
        f"Odoo alone, the same accounting without Stripe code, {floor['size']:,} "
        f"renewals (invoice of 3 lines posted, payment registered, fee entry "
        f"posted): {floor['seconds']:.2f} s, {floor['ms_per_txn']:.1f} ms and "
        f"{floor['queries_per_txn']:.1f} queries per renewal"
    )
    for ours in storm:
        print(
            f"storm at {ours['size']:,} / Odoo alone: "
            f"{ours['ms_per_txn'] / floor['ms_per_txn']:.2f} (time), "
            f"{ours['queries_per_txn'] / floor['queries_per_txn']:.2f} (queries)"
        )
    largest = storm[-1]
    print(
        f"10,000 renewals at {largest['ms_per_txn']:.0f} ms each: "
        f"{largest['ms_per_txn'] * 10 / 60:.0f} min on one cron worker; Odoo "
        f"alone: {floor['ms_per_txn'] * 10 / 60:.0f} min"
    )


def report(title, results):
    print()
    print(title)
    print(
        f"{'transactions':>12} {'pages':>5} {'wall s':>8} {'ms/txn':>7} "
        f"{'queries/txn':>11} {'peak MiB':>8}"
    )
    for result in results:
        print(
            f"{result['transactions']:>12,} {result['pages']:>5} "
            f"{result['seconds']:>8.2f} {result['ms_per_txn']:>7.3f} "
            f"{result['queries_per_txn']:>11.3f} {result['peak_mib']:>8.1f}"
        )
    if len(results) < 2:
        return
    small, large = results[0], results[-1]
    if "cpu_ms_per_txn" in large:
        print(
            "Odoo process CPU ms per transaction: "
            + ", ".join(f"{r['cpu_ms_per_txn']:.0f}" for r in results)
            + f" (ratio {large['cpu_ms_per_txn'] / small['cpu_ms_per_txn']:.2f}; "
            "wall time includes PostgreSQL and the fake Stripe API)"
        )
    print(
        f"time per transaction at {large['size']:,} / at {small['size']:,}: "
        f"{large['ms_per_txn'] / small['ms_per_txn']:.2f}"
    )
    marginal = (
        large["queries_per_txn"] * large["size"]
        - small["queries_per_txn"] * small["size"]
    ) / (large["size"] - small["size"])
    print(
        f"queries per additional transaction ({small['size']:,} -> "
        f"{large['size']:,}): {marginal:.3f}; the rest is a fixed cost per run"
    )


# === ACKNOWLEDGEMENT: the webhook against Odoo's /web/health === #

ACK_SECONDS = float(os.environ.get("BENCH_ACK_SECONDS", "10"))
ACK_CLIENTS = tuple(
    int(c) for c in os.environ.get("BENCH_ACK_CLIENTS", "10,50").split(",")
)
# Each case is measured in this many alternating slices of each endpoint.
ACK_SLICES = 5
ACK_SECRET = "whsec_bench_ack"


def free_port():
    """A TCP port of 127.0.0.1 nothing listens on now."""
    import socket  # pylint: disable=import-outside-toplevel

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_odoo_server(log_path):
    """The bench database served by Odoo itself as in production: 2 HTTP worker
    processes, no cron (events stay pending), on a free port.

    :return: ``(process, port)`` once ``/web/health`` answers.
    """
    import http.client  # pylint: disable=import-outside-toplevel

    port = free_port()
    odoo_bin = pathlib.Path(odoo.__file__).resolve().parent.parent / "odoo-bin"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                str(odoo_bin),
                "-c",
                os.environ["ODOO_RC"],
                "-d",
                os.environ["STRIPE_BENCH_DB"],
                "--workers=2",
                "--max-cron-threads=0",
                f"--http-port={port}",
                f"--gevent-port={free_port()}",
                "--log-level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"Odoo did not start (see {log_path})")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/web/health")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.5)
    process.terminate()
    sys.exit(f"Odoo did not answer /web/health in 120 s (see {log_path})")


async def ack_load(port, make_request, clients, seconds):
    """``clients`` concurrent clients, each sending a request as soon as its
    previous one is answered, for ``seconds`` (one connection per request: Odoo's
    workers speak HTTP/1.0).

    :param make_request: ``() -> (key, bytes)``, a request and what identifies it;
        None when there is no more to send.
    :return: ``(answers, seconds)``, answers as ``(key, status, body, latency,
        latency once connected)``.
    """
    import asyncio  # pylint: disable=import-outside-toplevel

    answers = []
    started = time.perf_counter()
    end = started + seconds

    async def client():
        while time.perf_counter() < end:
            made = make_request()
            if made is None:
                return
            key, request = made
            sent = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                connected = time.perf_counter()
                writer.write(request)
                await writer.drain()
                response = await reader.read(-1)
                writer.close()
            except OSError as error:
                answers.append((key, 0, str(error).encode(), 0.0, 0.0))
                continue
            head, _sep, body = response.partition(b"\r\n\r\n")
            status = int(head[9:12]) if head[9:12].isdigit() else 0
            done = time.perf_counter()
            answers.append((key, status, body, done - sent, done - connected))

    await asyncio.gather(*(client() for _ in range(clients)))
    return answers, time.perf_counter() - started


def ack_figures(answers, seconds):
    """Requests per second and latencies (ms) of the answered requests; how many
    were answered 5xx, another non-200 status, or not at all (connection reset
    or timed out: Odoo's listen backlog is 8 per worker)."""
    latencies = sorted(answer[3] for answer in answers if answer[1])
    served = sorted(answer[4] for answer in answers if answer[1])
    statuses = [answer[1] for answer in answers]
    return {
        "rps": len(latencies) / seconds,
        "p50": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
        "p99 served": served[int(len(served) * 0.99)] * 1000 if served else 0.0,
        "5xx": sum(1 for status in statuses if status >= 500),
        "other": sum(1 for status in statuses if 0 < status != 200 and status < 500),
        "unanswered": statuses.count(0),
        "slow": sum(1 for latency in latencies if latency >= 1.0),
    }


def run_ack(registry):
    """Acknowledgement at the cost of a health check: signed events posted to
    the webhook of an Odoo server with 2 HTTP workers, against its bare
    ``/web/health``, at each number of concurrent clients (``ACK_CLIENTS``),
    for ``ACK_SECONDS`` each, in ``ACK_SLICES`` alternating slices (other work on
    the machine weighs on both alike). Every event is new (unique id); afterwards some
    are delivered again (each must be answered as a duplicate), then each one
    answered must be stored exactly once. What is stored is deleted at the end.
    """
    import asyncio  # pylint: disable=import-outside-toplevel
    import itertools  # pylint: disable=import-outside-toplevel

    import stripe  # pylint: disable=import-outside-toplevel

    fake = load_fake_stripe()(seed=19)
    charge = fake.add_charge(14700, "usd", customer=fake.add_customer()["id"])
    template = json.dumps(
        {
            **fake.event(
                "payment_intent.succeeded", fake.get(charge["payment_intent"])
            ),
            "id": "evt_ACKTEMPLATE",
        }
    )
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["stripe.account"].create(
            {"name": "Bench acknowledgement", "webhook_secret": ACK_SECRET}
        )
        account_id = account.id
        cron_id = env.ref("stripe_connector.ir_cron_stripe_event_process").id
    log_path = MODULE_DIR / ".odoo" / "bench-ack-server.log"
    log_path.parent.mkdir(exist_ok=True)
    server, port = start_odoo_server(log_path)
    counter = itertools.count()
    path = f"/stripe/webhook/{account_id}"

    def webhook(stripe_id=None):
        stripe_id = stripe_id or f"evt_ack{next(counter):09d}"
        body = template.replace("evt_ACKTEMPLATE", stripe_id)
        signature = stripe.WebhookSignature.generate_signature_header(body, ACK_SECRET)
        body = body.encode()
        return stripe_id, (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json; charset=utf-8\r\n"
            f"Stripe-Signature: {signature}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n"
        ).encode() + body

    health_request = (
        b"GET /web/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )

    def health():
        return None, health_request

    results = []
    answered = {}  # Stripe id -> answers
    try:
        for make_request in (health, webhook):  # warm the workers up
            answers, _seconds = asyncio.run(ack_load(port, make_request, 4, 1.0))
        for key, status, body, *_latency in answers:
            answered.setdefault(key, []).append((status, body))
        for clients in ACK_CLIENTS:
            # In alternating slices, so that both see the machine alike.
            measured = {health: ([], 0.0), webhook: ([], 0.0)}
            for _slice in range(ACK_SLICES):
                for make_request, (answers, seconds) in measured.items():
                    more, duration = asyncio.run(
                        ack_load(port, make_request, clients, ACK_SECONDS / ACK_SLICES)
                    )
                    measured[make_request] = (answers + more, seconds + duration)
            health_figures = ack_figures(*measured[health])
            answers, seconds = measured[webhook]
            webhook_figures = ack_figures(answers, seconds)
            webhook_figures["not new"] = sum(
                1
                for _key, status, body, *_latency in answers
                if status == 200 and b'"duplicate": false' not in body
            )
            for key, status, body, *_latency in answers:
                answered.setdefault(key, []).append((status, body))
            results.append((clients, health_figures, webhook_figures))
        # Stripe delivers again: each answered 200 as a duplicate.
        again = iter(sorted(answered)[:200])

        def redelivery():
            stripe_id = next(again, None)
            return stripe_id and webhook(stripe_id)

        redeliveries, _seconds = asyncio.run(ack_load(port, redelivery, 10, 60.0))
    finally:
        server.terminate()
        server.wait(60)
    redelivered = [a for a in redeliveries if a[0] in answered]
    duplicates_ok = sum(
        1
        for _key, status, body, *_latency in redelivered
        if status == 200 and b'"duplicate": true' in body
    )
    with registry.cursor() as cr:
        cr.execute(
            "SELECT stripe_id, count(*) FROM stripe_event WHERE account_id = %s"
            " GROUP BY stripe_id",
            (account_id,),
        )
        stored = dict(cr.fetchall())
        cr.execute(
            "SELECT count(*) FROM ir_cron_trigger WHERE cron_id = %s",
            (cron_id,),
        )
        (triggers,) = cr.fetchone()
        cr.execute("DELETE FROM stripe_event WHERE account_id = %s", (account_id,))
        cr.execute("DELETE FROM stripe_account WHERE id = %s", (account_id,))
        cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s", (cron_id,))
    acknowledged = {
        key
        for key, replies in answered.items()
        if any(s == 200 and b'"duplicate": false' in b for s, b in replies)
    }
    print()
    print(
        f"Acknowledgement: signed payment_intent.succeeded events posted to the "
        f"webhook vs GET /web/health, Odoo with 2 HTTP workers "
        f"(--workers=2, no cron), {ACK_SECONDS:.0f} s per case in {ACK_SLICES} "
        f"alternating slices"
    )
    print(
        f"{'clients':>7} {'endpoint':>8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'p99 once connected':>18} {'5xx':>4} {'4xx':>4} {'unanswered':>10} "
        f"{'>= 1 s':>6}"
    )
    for clients, health_figures, webhook_figures in results:
        for name, figures in (("health", health_figures), ("webhook", webhook_figures)):
            print(
                f"{clients:>7} {name:>8} {figures['rps']:>8.0f} {figures['p50']:>7.1f}"
                f" {figures['p99']:>7.1f} {figures['p99 served']:>18.1f}"
                f" {figures['5xx']:>4} {figures['other']:>4}"
                f" {figures['unanswered']:>10} {figures['slow']:>6}"
            )
        rps_ratio = webhook_figures["rps"] / health_figures["rps"]
        p99_ratio = webhook_figures["p99"] / health_figures["p99"]
        served_ratio = webhook_figures["p99 served"] / health_figures["p99 served"]
        print(
            f"{clients:>7} webhook/health: {rps_ratio:.2f}x requests per second, "
            f"p99 {p99_ratio:.2f}x (once connected: {served_ratio:.2f}x)"
        )
    print(
        "(>= 1 s: mostly connections that waited for a retransmitted SYN: the "
        "server's listen backlog, 8 per worker, is full)"
    )
    print(
        f"events acknowledged: {len(acknowledged):,}; stored: {len(stored):,} "
        f"(each once: {all(n == 1 for n in stored.values())}; every acknowledged "
        f"one stored: {acknowledged <= set(stored)}; none unposted: "
        f"{set(stored) <= set(answered)}); delivered again: {len(redelivered)}, "
        f"answered 200 duplicate=true: {duplicates_ok}; new events answered as "
        f"duplicates: {sum(w['not new'] for _c, _h, w in results)}; cron wake-ups "
        f"pending: {triggers}"
    )


# === MRR REPORT: 10,000 subscriptions x 12 months === #

TIEOUT_SIZES = tuple(
    int(s) for s in os.environ.get("BENCH_TIEOUT_SIZES", "5000,50000").split(",")
)


def serve_tieout_ledger(size, month_start, conn):
    """In a process of its own (its memory is Stripe's, not Odoo's): a fake
    Stripe with ``size`` charges spread over the month, served until told to
    stop. Sends ``(api_base, [(charge id, txn id, amount, fee, created)])``."""
    fake = load_fake_stripe()(api_keys={API_KEY}, seed=7).start()
    interval = max(1, (28 * 86400) // size)
    charges = fake.add_many_charges(
        size,
        amount=lambda i: 1000 + (i * 37) % 9000,
        currency="usd",
        created=month_start + 3600,
        interval=interval,
    )
    conn.send(
        (
            fake.api_base,
            [
                (
                    charge["id"],
                    charge["balance_transaction"],
                    charge["amount"],
                    fake.get(charge["balance_transaction"])["fee"],
                    charge["created"],
                )
                for charge in charges
            ],
        )
    )
    del charges
    conn.recv()  # stop
    fake.stop()


def setup_tieout_books(env, account, month, charges):
    """What the webhooks and payouts would have booked for the charges: one
    posted payment each on the Stripe journal (entry of two lines), their
    balance transactions linked, the fees in one entry at the month's end.
    Written straight to the tables: setting up is not what is timed."""
    journal = account.journal_id
    company = account.company_id
    liquidity = journal.default_account_id.id
    partner = env["res.partner"].create({"name": "Tie-out bench customer"})
    receivable = partner.property_account_receivable_id.id
    currency = company.currency_id.id
    cr = env.cr
    uid = env.uid
    fee_total = sum(charge[3] for charge in charges) / 100
    last_day = date_utils.end_of(month, "month")
    fee_move = env["account.move"].create(
        {
            "journal_id": journal.id,
            "date": last_day,
            "ref": "Stripe fees (bench)",
            "line_ids": [
                (0, 0, {"account_id": account.fee_account_id.id, "debit": fee_total}),
                (0, 0, {"account_id": liquidity, "credit": fee_total}),
            ],
        }
    )
    fee_move.action_post()
    env.flush_all()
    for start in range(0, len(charges), 5000):
        chunk = charges[start : start + 5000]
        days = [
            datetime.datetime.fromtimestamp(created, datetime.UTC).date()
            for _c, _t, _a, _f, created in chunk
        ]
        execute_values(
            cr._obj,
            """
            INSERT INTO account_move (journal_id, company_id, currency_id, date,
                move_type, state, auto_post, name, ref, partner_id, create_uid,
                write_uid, create_date, write_date)
            VALUES %s RETURNING id
            """,
            [
                (
                    journal.id,
                    company.id,
                    currency,
                    day,
                    "entry",
                    "posted",
                    "no",
                    f"BENCH/{start + i:06d}",
                    charge_id,
                    partner.id,
                    uid,
                    uid,
                )
                for i, ((charge_id, *_rest), day) in enumerate(
                    zip(chunk, days, strict=True)
                )
            ],
            template="(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,now(),now())",
            page_size=len(chunk),
        )
        move_ids = [row[0] for row in cr.fetchall()]
        lines = []
        for move_id, (_c, _t, amount, _f, _cr), day in zip(
            move_ids, chunk, days, strict=True
        ):
            value = amount / 100
            for account_id, balance in ((liquidity, value), (receivable, -value)):
                lines.append(
                    (
                        move_id,
                        account_id,
                        journal.id,
                        company.id,
                        currency,
                        currency,
                        day,
                        balance,
                        max(balance, 0),
                        max(-balance, 0),
                        balance,
                        partner.id,
                    )
                )
        execute_values(
            cr._obj,
            """
            INSERT INTO account_move_line (move_id, account_id, journal_id,
                company_id, currency_id, company_currency_id, date, balance, debit,
                credit, amount_currency, partner_id, display_type, parent_state,
                create_uid, write_uid, create_date, write_date)
            VALUES %s
            """,
            lines,
            template="(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'product','posted',"
            f"{uid},{uid},now(),now())",
            page_size=len(lines),
        )
        execute_values(
            cr._obj,
            """
            INSERT INTO account_payment (move_id, journal_id, company_id, date,
                amount, currency_id, partner_id, partner_type, payment_type, state,
                stripe_account_id, stripe_object_id, stripe_charge_id,
                stripe_fee_move_id, create_uid, write_uid, create_date, write_date)
            VALUES %s RETURNING id
            """,
            [
                (
                    move_id,
                    journal.id,
                    company.id,
                    day,
                    amount / 100,
                    currency,
                    partner.id,
                    "customer",
                    "inbound",
                    "paid",
                    account.id,
                    charge_id,
                    charge_id,
                    fee_move.id,
                )
                for move_id, (charge_id, _t, amount, _f, _cr), day in zip(
                    move_ids, chunk, days, strict=True
                )
            ],
            template="(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
            f"{uid},{uid},now(),now())",
            page_size=len(chunk),
        )
        payment_ids = [row[0] for row in cr.fetchall()]
        execute_values(
            cr._obj,
            """
            INSERT INTO stripe_balance_transaction (account_id, company_id,
                currency_id, stripe_id, type, reporting_category, amount, fee, net,
                stripe_source_id, stripe_charge_id, payment_id, fee_move_id,
                link_state, create_uid, write_uid, create_date, write_date)
            VALUES %s
            """,
            [
                (
                    account.id,
                    company.id,
                    currency,
                    txn_id,
                    "charge",
                    "charge",
                    amount / 100,
                    fee / 100,
                    (amount - fee) / 100,
                    charge_id,
                    charge_id,
                    payment_id,
                    fee_move.id,
                    "linked",
                )
                for payment_id, (charge_id, txn_id, amount, fee, _cr) in zip(
                    payment_ids, chunk, strict=True
                )
            ],
            template="(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
            f"{uid},{uid},now(),now())",
            page_size=len(chunk),
        )
    for table in (
        "account_move",
        "account_move_line",
        "account_payment",
        "stripe_balance_transaction",
    ):
        cr.execute(f"ANALYZE {table}")
    env.invalidate_all()


def run_tieout(registry, size):
    """Time the month tie-out of ``size`` balance transactions: three report
    runs through the SDK, their files streamed into the rows table, the
    comparison in SQL; the fake Stripe in a process of its own."""
    today = datetime.date.today()
    month = date_utils.start_of(today, "month") - relativedelta(months=1)
    month_ts = int(
        datetime.datetime(month.year, month.month, 1, tzinfo=datetime.UTC).timestamp()
    )
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=serve_tieout_ledger, args=(size, month_ts, child), daemon=True
    )
    server.start()
    api_base, charges = parent.recv()
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env.company
            bank = env["account.journal"].search(
                [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
            )
            account = env["stripe.account"].create(
                {
                    "name": f"Tie-out bench {size}",
                    "company_id": company.id,
                    "api_key": API_KEY,
                    "api_base": api_base,
                    "payout_journal_id": bank.id,
                }
            )
            account.action_setup_accounting()
            setup_tieout_books(env, account, month, charges)
            del charges
            tieout = env["stripe.tieout"]._stripe_prepare(account, month)
            env.flush_all()
            queries_before = cr.sql_log_count
            with PeakRss() as rss:
                cpu = time.process_time()
                started = time.perf_counter()
                tieout.action_compute()
                env.flush_all()
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu
            result = {
                "size": size,
                "seconds": seconds,
                "cpu": cpu,
                "queries": cr.sql_log_count - queries_before,
                "mib": rss.added / 2**20,
                "state": tieout.state,
                "rows": tieout.transaction_count,
                "lines": len(tieout.line_ids),
                "items": len(tieout.item_ids),
            }
            cr.rollback()
    finally:
        parent.send("stop")
        server.join(10)
    return result


def report_tieout(results):
    print()
    print(
        "Month tie-out: balance.summary.1, balance_change_from_activity.itemized.3 "
        "and payout_reconciliation.itemized.5 run through the SDK, files streamed "
        "into a table, compared in SQL with the Stripe journal (the fake Stripe in "
        "its own process)"
    )
    print(
        f"{'transactions':>12}  {'wall s':>7}  {'CPU s':>6}  {'queries':>7}  "
        f"{'MiB +':>6}  state"
    )
    for result in results:
        print(
            f"{result['size']:>12,}  {result['seconds']:>7.2f}  {result['cpu']:>6.2f}"
            f"  {result['queries']:>7}  {result['mib']:>6.1f}  {result['state']} "
            f"({result['rows']:,} rows, {result['lines']} lines, "
            f"{result['items']} differences)"
        )


MRR_SUBSCRIPTIONS = int(os.environ.get("BENCH_MRR_SUBSCRIPTIONS", "10000"))
MRR_MONTHS = 12


def setup_mrr(env, count):
    """A Stripe account with ``count`` subscriptions (two per customer), each
    with a history of one state a month over the last 12 months (a random walk
    of plans and seats, some churning, a fifth in EUR), written straight to the
    tables: setting up is not what is timed.

    :return: the account.
    """
    import random  # pylint: disable=import-outside-toplevel

    from dateutil.relativedelta import (  # pylint: disable=import-outside-toplevel
        relativedelta,
    )
    from psycopg2.extras import (  # pylint: disable=import-outside-toplevel
        execute_values,
    )

    rng = random.Random(10)
    company = env.company
    account = env["stripe.account"].create(
        {"name": "Bench MRR", "company_id": company.id, "api_key": API_KEY}
    )
    usd = company.currency_id
    eur = env.ref("base.EUR")
    eur.active = True
    today = fields.Date.today()
    first = today.replace(day=1) - relativedelta(months=MRR_MONTHS - 1)
    env["res.currency.rate"].create(
        {"name": first, "rate": 0.9, "currency_id": eur.id, "company_id": company.id}
    )
    partners = env["res.partner"].create(
        [{"name": f"Customer {i}"} for i in range(count // 2)]
    )
    uid = env.uid
    now = fields.Datetime.now()
    sub_rows = [
        (
            f"sub_bench{i:06d}",
            account.id,
            company.id,
            partners[i // 2].id,
            "active",
            (eur if i % 5 == 0 else usd).id,
            uid,
            now,
            uid,
            now,
        )
        for i in range(count)
    ]
    execute_values(
        env.cr._obj,
        "INSERT INTO stripe_subscription (stripe_id, account_id, company_id, "
        "partner_id, status, currency_id, create_uid, create_date, write_uid, "
        "write_date) VALUES %s RETURNING id",
        sub_rows,
        page_size=1000,
    )
    env.cr.execute(
        "SELECT id FROM stripe_subscription WHERE account_id = %s ORDER BY id",
        (account.id,),
    )
    sub_ids = [row[0] for row in env.cr.fetchall()]
    history = []
    ended = []
    for sub_id in sub_ids:
        level = rng.choice((29.0, 49.0, 99.0, 199.0))
        for month in range(MRR_MONTHS):
            day = first + relativedelta(months=month, days=rng.randrange(27))
            when = fields.Datetime.to_datetime(day) + relativedelta(hours=12)
            roll = rng.random()
            if month and roll < 0.02:
                history.append((sub_id, when, "canceled", 0.0, 0.0, "event"))
                ended.append(sub_id)
                break
            if month and roll < 0.12:
                level = max(10.0, level + rng.choice((-20.0, 20.0, 50.0)))
            status = "past_due" if roll > 0.97 else "active"
            history.append((sub_id, when, status, level, level, "event"))
    execute_values(
        env.cr._obj,
        "INSERT INTO stripe_subscription_history (subscription_id, date, status, "
        "recurring_monthly, mrr, source, create_uid, create_date, write_uid, "
        "write_date) VALUES %s",
        [(*row, uid, now, uid, now) for row in history],
        page_size=5000,
    )
    if ended:
        env.cr.execute(
            "UPDATE stripe_subscription SET status = 'canceled' WHERE id IN %s",
            (tuple(ended),),
        )
    env.invalidate_all()
    return account, len(history)


def run_mrr(registry, count=MRR_SUBSCRIPTIONS):
    """Time the MRR report: the full build of ``count`` subscriptions x 12
    months, the rebuild after one subscription changes today, and the pivot's
    reads (``read_group`` as the pivot asks, by month and movement; by customer;
    the SaaS metrics), as the administrator (record rules on)."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account, history_count = setup_mrr(env, count)
        report_model = env["stripe.mrr.report"]
        started = time.perf_counter()
        rows = report_model._stripe_rebuild(full=True)
        env.flush_all()
        build = time.perf_counter() - started
        subscription = env["stripe.subscription"].search(
            [("account_id", "=", account.id), ("status", "=", "active")], limit=1
        )
        subscription._stripe_put_history(
            [
                {
                    "subscription_id": subscription.id,
                    "date": fields.Datetime.now(),
                    "status": "active",
                    "recurring_monthly": 999.0,
                    "mrr": 999.0,
                    "source": "event",
                }
            ]
        )
        started = time.perf_counter()
        report_model._stripe_rebuild(subscription)
        env.flush_all()
        incremental = time.perf_counter() - started
        cr.execute("ANALYZE stripe_mrr_report")
        admin = env.ref("base.user_admin")
        user_env = api.Environment(
            cr, admin.id, {"allowed_company_ids": [env.company.id]}
        )
        this_month = fields.Date.today().replace(day=1)
        reads = {}
        for name, model, domain, fields_, groupby in (
            (
                "pivot by month x movement",
                "stripe.mrr.report",
                [],
                ["mrr:sum", "mrr_change:sum"],
                ["date:month", "movement"],
            ),
            (
                "pivot by customer x month",
                "stripe.mrr.report",
                [],
                ["mrr:sum"],
                ["partner_id", "date:month"],
            ),
            (
                "pivot by customer, this month",
                "stripe.mrr.report",
                [("date", "=", this_month)],
                ["mrr:sum"],
                ["partner_id"],
            ),
            (
                "SaaS metrics by month",
                "stripe.mrr.summary",
                [],
                ["mrr:sum", "churn_mrr:sum", "active_count:sum"],
                ["date:month"],
            ),
        ):
            timings = []
            for _attempt in range(2):  # the first read warms the server's caches
                user_env.invalidate_all()
                started = time.perf_counter()
                groups = user_env[model].read_group(
                    domain, fields_, groupby, lazy=False
                )
                timings.append(time.perf_counter() - started)
            reads[name] = (timings, len(groups))
        cr.rollback()
    print()
    print(
        f"MRR report: {count:,} subscriptions, {history_count:,} history rows "
        f"({MRR_MONTHS} months)"
    )
    print(f"  full build: {build:.2f} s for {rows:,} rows")
    print(
        f"  one subscription changed today, its customer rebuilt: {incremental:.3f} s"
    )
    for name, ((first, second), groups) in reads.items():
        print(f"  {name}: {first:.3f} s, again {second:.3f} s ({groups:,} groups)")


if __name__ == "__main__":
    main()
