"""A month tie-out on the demo database, for the README's screenshot: a fake
Stripe (tests/fake_stripe.py) is given the demo account's own balance
transactions and payouts as its ledger, and the current month is tied out
against it. Run in ``odoo-bin shell`` on the demo database (``make run`` first)::

    .venv/bin/python $ODOO_SRC/odoo-bin shell -c .odoorc -d stripe_demo \\
        < dev/tieout_demo.py
"""

import importlib.util
import pathlib
import time

from odoo import fields
from odoo.tools import date_utils

spec = importlib.util.spec_from_file_location(
    "fake_stripe", pathlib.Path("tests/fake_stripe.py").resolve()
)
fake_stripe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake_stripe)

account = env["stripe.account"].search([], limit=1)  # noqa: F821
fake = fake_stripe.FakeStripe().start()
transactions = env["stripe.balance.transaction"].search(  # noqa: F821
    [("account_id", "=", account.id)]
)
payouts = {}
for txn in transactions:
    code = txn.currency_id.name.lower()
    scale = 100
    created = int(txn.stripe_created.timestamp())
    fake._store(  # pylint: disable=protected-access
        {
            "id": txn.stripe_id,
            "object": "balance_transaction",
            "amount": round(txn.amount * scale),
            "available_on": created,
            "balance_type": "payments",
            "created": created,
            "currency": code,
            "description": txn.description,
            "exchange_rate": None,
            "fee": round(txn.fee * scale),
            "fee_details": [],
            "net": round(txn.net * scale),
            "reporting_category": txn.reporting_category,
            "source": txn.stripe_source_id,
            "status": "available",
            "type": txn.type,
        }
    )
    if txn.payout_id:
        payouts.setdefault(txn.payout_id, []).append(txn.stripe_id)
for payout, ids in payouts.items():
    fake._store(  # pylint: disable=protected-access
        {
            "id": payout.stripe_id,
            "object": "payout",
            "amount": round(payout.amount * 100),
            "arrival_date": int(
                fields.Datetime.to_datetime(payout.arrival_date).timestamp()
            ),
            "automatic": True,
            "currency": payout.currency_id.name.lower(),
        }
    )
    fake._payout_txns[payout.stripe_id] = ids  # pylint: disable=protected-access
    for txn_id in ids:
        fake._paid_out[txn_id] = payout.stripe_id  # pylint: disable=protected-access
fake.report_data_available_end = int(time.time()) + 86400
fake.report_run_polls = 0
account.sudo().write({"api_key": "sk_test_demo", "api_base": fake.api_base})
today = fields.Date.today()
currency = account.journal_id.currency_id or account.company_id.currency_id
tieout = env["stripe.tieout"].create(  # noqa: F821
    {
        "account_id": account.id,
        "currency_id": currency.id,
        "date_from": date_utils.start_of(today, "month"),
        "date_to": today,
    }
)
tieout.action_compute()
account.sudo().write({"api_key": False, "api_base": "https://api.stripe.com"})
env.cr.commit()  # noqa: F821
fake.stop()
print("tie-out", tieout.id, tieout.state, tieout.state_message)
