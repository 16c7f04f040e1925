"""Self-test of ``tests/fake_stripe.py``, driven only through the real SDK.

Run it with the project's interpreter::

    .venv/bin/python tests/fake_stripe_selftest.py

It starts a :class:`FakeStripe`, talks to it exclusively through
``stripe.StripeClient(key, base_addresses={"api": fake.api_base},
max_network_retries=2)`` and the ``client.v1.<service>`` call forms the
connector uses, asserts what each answer must be, and prints timings.

``tests/test_fake_stripe.py`` runs the same checks (not the timing of a large
payout) as a test case, under both test runners; this file is not named
``test_*.py`` so that neither collects it twice.
"""

import logging
import time

import stripe

if __package__:  # imported by tests/test_fake_stripe.py
    from .fake_stripe import FakeStripe, fast_sdk_retries
else:  # run as a script: its own folder is on sys.path
    from fake_stripe import FakeStripe, fast_sdk_retries

_logger = logging.getLogger("fake_stripe_selftest")

API_KEY = "sk_test_123"
T0 = 1_760_000_000  # a fixed "created" origin, so the expected order is known


def make_client(fake, api_key=API_KEY, retries=2):
    """The client exactly as the connector builds it."""
    return stripe.StripeClient(
        api_key, base_addresses={"api": fake.api_base}, max_network_retries=retries
    )


def check_payout_pagination(fake, client):
    """250 transactions of a payout: 3 pages of 100, newest first, expanded."""
    fake.reset()
    charges = fake.add_many_charges(249, amount=1000, created=T0, interval=60)
    payout = fake.add_payout()
    fake.requests.clear()
    page = client.v1.balance_transactions.list(
        params={"payout": payout["id"], "limit": 100, "expand": ["data.source"]}
    )
    txns = list(page.auto_paging_iter())
    expected = [payout["balance_transaction"]] + [
        charge["balance_transaction"] for charge in reversed(charges)
    ]
    assert [txn.id for txn in txns] == expected
    requests = fake.requests_for("/v1/balance_transactions")
    assert len(requests) == 3, requests
    assert all(req.query["limit"] == "100" for req in requests)
    assert all(req.query["expand"] == ["data.source"] for req in requests)
    assert requests[1].query["starting_after"] == expected[99]
    assert txns[0].type == "payout" and txns[0].source.id == payout["id"]
    assert txns[1].source.object == "charge"
    assert txns[1].source.id == charges[-1]["id"]
    assert sum(txn.net for txn in txns) == 0  # the payout's own txn balances it
    assert payout["amount"] == sum(txn.net for txn in txns[1:])
    assert client.v1.payouts.retrieve(payout["id"]).reconciliation_status == (
        "completed"
    )
    # ending_before walks back, still newest first within a page
    back = client.v1.balance_transactions.list(
        params={"payout": payout["id"], "limit": 5, "ending_before": expected[10]}
    )
    assert [txn.id for txn in back.data] == expected[5:10] and back.has_more


def check_charge_shapes(fake, client):
    """Charge, PaymentIntent, Refund, Customer: fields and expansions."""
    fake.reset()
    customer = fake.add_customer(email="ann@example.com", name="Ann")
    charge = fake.add_charge(
        10000,
        "usd",
        fee=320,
        metadata={"odoo_ref": "INV/2025/0001"},
        customer=customer["id"],
        exchange_rate=0.9,
        settlement_currency="eur",
    )
    remote = client.v1.charges.retrieve(
        charge["id"], params={"expand": ["balance_transaction"]}
    )
    txn = remote.balance_transaction
    assert (txn.amount, txn.currency, txn.fee, txn.net) == (9000, "eur", 320, 8680)
    assert txn.exchange_rate == 0.9 and txn.reporting_category == "charge"
    assert txn.fee_details[0].type == "stripe_fee"
    assert not remote.metadata, "Stripe copies no PaymentIntent metadata"
    assert remote.billing_details.email == "ann@example.com"
    assert client.v1.customers.retrieve(customer["id"]).email == "ann@example.com"

    intent = client.v1.payment_intents.retrieve(
        charge["payment_intent"],
        params={"expand": ["latest_charge.balance_transaction"]},
    )
    assert intent.status == "succeeded" and "charges" not in intent
    assert intent.metadata.odoo_ref == "INV/2025/0001"
    assert intent.latest_charge.balance_transaction.id == txn.id
    found = client.v1.charges.list(params={"payment_intent": intent.id})
    assert [c.id for c in found.data] == [charge["id"]]

    refund = fake.add_refund(charge["id"], 2500)
    refunds = client.v1.refunds.list(params={"charge": charge["id"]})
    assert [r.id for r in refunds.data] == [refund["id"]]
    refund_txn = client.v1.refunds.retrieve(
        refund["id"], params={"expand": ["balance_transaction"]}
    ).balance_transaction
    assert (refund_txn.type, refund_txn.amount, refund_txn.net) == (
        "refund",
        -2250,
        -2250,
    )
    remote = client.v1.charges.retrieve(charge["id"])
    assert remote.amount_refunded == 2500 and not remote.refunded
    assert fake.balance("eur") == 8680 - 2250


def check_disputes_balance_events(fake, client):
    """Dispute transactions, /v1/balance against the nets, event filters."""
    fake.reset()
    charge = fake.add_charge(5000, "eur", fee=100)
    dispute = fake.add_dispute(charge["id"])
    remote = client.v1.disputes.retrieve(dispute["id"])
    (withdrawal,) = remote.balance_transactions
    assert (withdrawal.type, withdrawal.reporting_category) == ("adjustment", "dispute")
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-5000, 1500, -6500)
    fake.win_dispute(dispute["id"])
    remote = client.v1.disputes.retrieve(dispute["id"])
    assert remote.status == "won" and remote.balance_transactions[1].net == 6500
    fake.add_adjustment(-300, "eur", "Correction")

    balance = client.v1.balance.retrieve()
    nets = sum(txn["net"] for txn in fake.objects("balance_transaction"))
    assert nets == fake.balance("eur") == 4900 - 300
    assert sum(part.amount for part in balance.available + balance.pending) == nets

    missed = fake.event("payment_intent.succeeded", charge, delivered=False)
    fake.event("charge.succeeded", charge)
    events = client.v1.events.list(
        params={
            "types": ["payment_intent.succeeded", "charge.succeeded"],
            "created": {"gte": missed["created"] - 1},
            "delivery_success": False,
        }
    )
    assert [event.id for event in events.data] == [missed["id"]]
    assert client.v1.events.retrieve(missed["id"]).data.object.id == charge["id"]
    assert len(client.v1.events.list(params={"type": "charge.*"}).data) == 1


def check_retries(fake, client):
    """429/500/hang-ups are retried by the SDK itself; fast with the patch."""
    fake.reset()
    fake.add_charge(1000, "eur")
    with fast_sdk_retries():
        fake.requests.clear()
        fake.fail_next(2, status=429, path_prefix="/v1/balance")
        started = time.perf_counter()
        client.v1.balance.retrieve()
        elapsed = time.perf_counter() - started
        assert len(fake.requests) == 3 and elapsed < 0.5, elapsed
        _logger.info("429 twice then 200, patched delays: %.3f s", elapsed)

        fake.fail_next(1, status=500, should_retry=None)
        fake.fail_next(1, status="disconnect")
        client.v1.balance.retrieve()

        fake.requests.clear()
        fake.fail_next(1, status=429, should_retry=None)  # no header: no retry
        try:
            client.v1.balance.retrieve()
        except stripe.RateLimitError:
            assert len(fake.requests) == 1
        else:
            raise AssertionError("a 429 without Stripe-Should-Retry was retried")

        fake.fail_next(3, status=429)  # more failures than max_network_retries
        try:
            client.v1.balance.retrieve()
        except stripe.RateLimitError as error:
            # the SDK builds RateLimitError without ``code``: read the body
            assert error.json_body["error"]["code"] == "rate_limit"
        else:
            raise AssertionError("expected RateLimitError")

    fake.fail_next(1, status=429)
    started = time.perf_counter()
    client.v1.balance.retrieve()
    elapsed = time.perf_counter() - started
    assert elapsed >= stripe.HTTPClient.INITIAL_DELAY, elapsed
    _logger.info("one 429 retry with the SDK's default delays: %.3f s", elapsed)


def check_errors(fake, client):
    """401, 404, manual payout filter, bad limit, unknown parameter."""
    fake.reset()
    fake.add_charge(1000, "eur")
    manual = fake.add_payout(automatic=False)
    assert manual["reconciliation_status"] == "not_applicable"

    try:
        make_client(fake, api_key="sk_test_wrong").v1.balance.retrieve()
    except stripe.AuthenticationError as error:
        assert error.http_status == 401
    else:
        raise AssertionError("expected AuthenticationError")

    def expect_invalid(call, status, code=None, contains=""):
        try:
            call()
        except stripe.InvalidRequestError as error:
            assert error.http_status == status, error.http_status
            assert error.code == code, error.code
            assert contains in error.user_message, error.user_message
        else:
            raise AssertionError("expected InvalidRequestError")

    expect_invalid(
        lambda: client.v1.charges.retrieve("ch_missing"),
        404,
        "resource_missing",
        "No such charge: 'ch_missing'",
    )
    expect_invalid(
        lambda: client.v1.balance_transactions.list(params={"payout": manual["id"]}),
        400,
        contains="only be filtered on automatic transfers",
    )
    expect_invalid(
        lambda: client.v1.payouts.list(params={"limit": 101}), 400, contains="100"
    )
    expect_invalid(
        lambda: client.v1.charges.list(params={"payout": manual["id"]}),
        400,
        "parameter_unknown",
    )


def time_large_payout(fake, client, n=10_000):
    """Benchmark: build n charges, pay them out, list them by pages of 100."""
    fake.reset()
    started = time.perf_counter()
    fake.add_many_charges(n, created=T0, interval=1)
    payout = fake.add_payout()
    built = time.perf_counter() - started
    for expand in ([], ["data.source"]):
        fake.requests.clear()
        started = time.perf_counter()
        params = {"payout": payout["id"], "limit": 100, "expand": expand}
        count = sum(
            1
            for _txn in client.v1.balance_transactions.list(
                params=params
            ).auto_paging_iter()
        )
        listed = time.perf_counter() - started
        assert count == n + 1 and len(fake.requests) == n // 100 + 1
        _logger.info(
            "%d transactions of a payout listed by 100 (expand=%s): %.2f s, "
            "%d requests",
            count,
            expand,
            listed,
            len(fake.requests),
        )
    _logger.info("%d charges + payout built in %.3f s", n, built)


def main():
    logging.basicConfig(format="%(message)s")  # the SDK's own INFO lines stay off
    _logger.setLevel(logging.INFO)
    with FakeStripe(api_keys={API_KEY}, seed=1) as fake:
        client = make_client(fake)
        for check in (
            check_payout_pagination,
            check_charge_shapes,
            check_disputes_balance_events,
            check_retries,
            check_errors,
            time_large_payout,
        ):
            check(fake, client)
            _logger.info("ok  %s", check.__name__)
    _logger.info("fake_stripe self-test passed")


if __name__ == "__main__":
    main()
