"""Benchmark: a balance check that must explain a month of Stripe transactions.

Run on a database with the module installed (``make bench`` makes one), the Odoo
config in ``ODOO_RC``::

    STRIPE_BENCH_DB=stripe_bench ODOO_RC=.odoorc PYTHONPATH=$ODOO_SRC \\
        .venv/bin/python bench/balance_check.py

The scenario is ``bench/run.py``'s month of a shop, before its payout is
reconciled: every charge registered as a payment by its webhook without an API
key (so no fee is booked), refunds, a dispute, adjustments and fees that no
webhook brought, and a payout not reconciled yet. Stripe's balance and the
Stripe journal then differ by all of that, and the check must list it: every
transaction read through the real ``stripe`` SDK from the fake Stripe API (100
per page), linked to what mirrors it in Odoo, and the journal searched for
entries no Stripe object explains. What is timed is *Check Balance*. Every run is
rolled back. Figures are printed, never asserted.
"""

import importlib.util
import os
import pathlib
import sys
import time

from odoo import SUPERUSER_ID, api, sql_db

SIZES = tuple(
    int(s) for s in os.environ.get("BENCH_SIZES", "1000,10000").split(",") if s
)
BENCH_DIR = pathlib.Path(__file__).resolve().parent


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(env, fake, bench, size):
    account, _event, _payout = bench.setup(env, fake, size)
    check_model = env["stripe.balance.check"]
    queries = sql_db.sql_counter
    with bench.PeakRss() as memory:
        started = time.perf_counter()
        check = check_model._stripe_run(account)
        env.flush_all()
        elapsed = time.perf_counter() - started
    queries = sql_db.sql_counter - queries
    if check.state != "difference" or check.remainder:
        sys.exit(
            f"Balance check of {size} transactions: {check.state}, {check.message}"
        )
    return {
        "size": size,
        "transactions": size,
        "pages": len(fake.requests_for("/v1/balance_transactions")),
        "seconds": elapsed,
        "ms_per_txn": elapsed / size * 1000,
        "queries_per_txn": queries / size,
        "peak_mib": memory.added / 2**20,
    }


def main():
    bench = load("bench_run", BENCH_DIR / "run.py")
    registry = bench.open_registry()
    fake = bench.load_fake_stripe()(api_keys={bench.API_KEY}, seed=5).start()
    results = []
    try:
        for size in SIZES:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                results.append(run(env, fake, bench, size))
                cr.rollback()
    finally:
        fake.stop()
    bench.report(
        "Balance check explaining a month of unbooked fees (Check Balance)", results
    )


if __name__ == "__main__":
    main()
