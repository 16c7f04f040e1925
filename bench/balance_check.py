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

import odoo
from odoo import SUPERUSER_ID, api, sql_db
from odoo.tools import config

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
        "pages": len(fake.requests_for("/v1/balance_transactions")),
        "seconds": elapsed,
        "ms_per_txn": elapsed / size * 1000,
        "queries_per_txn": queries / size,
        "peak_mib": memory.added / 2**20,
    }


def main():
    database = os.environ.get("STRIPE_BENCH_DB")
    rc_file = os.environ.get("ODOO_RC")
    if not (database and rc_file):
        sys.exit("Set STRIPE_BENCH_DB and ODOO_RC.")
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
    bench = load("bench_run", BENCH_DIR / "run.py")
    odoo.service.server.load_server_wide_modules()
    registry = odoo.modules.registry.Registry(database)
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
    print()
    print("Balance check explaining a month of unbooked fees (Check Balance)")
    print(
        f"{'transactions':>12} {'pages':>5} {'wall s':>8} {'ms/txn':>7} "
        f"{'queries/txn':>11} {'peak MiB':>8}"
    )
    for row in results:
        print(
            f"{row['size']:>12,} {row['pages']:>5} {row['seconds']:>8.2f} "
            f"{row['ms_per_txn']:>7.2f} {row['queries_per_txn']:>11.2f} "
            f"{row['peak_mib']:>8.0f}"
        )


if __name__ == "__main__":
    main()
