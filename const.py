"""Data only: the tables the rest of the module reads.

Nothing here imports Odoo; every value is a plain constant so that a reader finds
in one place which Stripe events are handled, by which method, and how Stripe's
vocabulary maps onto ours.
"""

# === WEBHOOK INTAKE === #

# Stripe's own default (``stripe.Webhook.DEFAULT_TOLERANCE``); never 0, which would
# disable the timestamp check.
WEBHOOK_TOLERANCE = 300  # seconds
WEBHOOK_MAX_BODY = 1024 * 1024  # bytes (1 MiB); larger bodies are answered 413

# === EVENT PROCESSING === #

# Event type -> method of ``stripe.event`` that handles it. Types not listed here
# are stored and marked ``ignored``. The order of the keys is the order in which
# they are documented in README.rst.
EVENT_HANDLERS = {
    # Payments
    "payment_intent.succeeded": "_handle_payment_intent_succeeded",
    "payment_intent.payment_failed": "_handle_payment_intent_payment_failed",
    "charge.succeeded": "_handle_charge_succeeded",
    "checkout.session.completed": "_handle_checkout_session_completed",
    "checkout.session.async_payment_succeeded": "_handle_checkout_session_completed",
    "checkout.session.async_payment_failed": (
        "_handle_checkout_session_async_payment_failed"
    ),
    # Refunds
    "refund.created": "_handle_refund",
    "refund.updated": "_handle_refund",
    "refund.failed": "_handle_refund",
    "charge.refunded": "_handle_charge_refunded",
    # Disputes
    "charge.dispute.created": "_handle_dispute",
    "charge.dispute.updated": "_handle_dispute",
    "charge.dispute.funds_withdrawn": "_handle_dispute",
    "charge.dispute.funds_reinstated": "_handle_dispute",
    "charge.dispute.closed": "_handle_dispute",
    # Payouts
    "payout.paid": "_handle_payout",
    "payout.reconciliation_completed": "_handle_payout",
    "payout.failed": "_handle_payout",
    "payout.canceled": "_handle_payout",
    "payout.updated": "_handle_payout",
}

# Number of events a cron run takes in one batch (one transaction, one savepoint per
# event); the cron framework commits between batches and calls again while some
# remain.
PROCESS_BATCH_SIZE = 50

# A failing event is retried automatically this many times in all, with an
# exponential backoff starting at RETRY_BASE_DELAY seconds; then an activity is
# scheduled for the account's responsible user.
MAX_ATTEMPTS = 5
RETRY_BASE_DELAY = 60  # seconds: 1, 2, 4, 8 minutes between the 5 attempts

# An event waiting for something that has not arrived yet (a refund before its
# payment) is looked at again with the same backoff, capped, for as long as Stripe
# itself would keep retrying a delivery; after that it fails.
WAIT_BASE_DELAY = 30  # seconds
WAIT_MAX_DELAY = 3600  # seconds
WAIT_GIVE_UP_AFTER = 3 * 24 * 3600  # seconds (three days)

# Days the daily cron looks back for events the webhook never delivered (Stripe
# keeps events for 30 days).
MISSED_EVENTS_DAYS = 3

# Delay before retrying an event that lost a race with another worker (PostgreSQL
# serialization failure or lock timeout). Not counted as an attempt.
CONCURRENCY_RETRY_DELAY = 5  # seconds

# === AMOUNTS === #

# Stripe's exponent table (https://docs.stripe.com/currencies). Every currency not
# listed has two decimals. Special cases, pinned in tests:
# - ISK: effectively zero-decimal, but Stripe's API keeps it two-decimal for
#   backwards compatibility (an amount of 100 is 1 krona, always a multiple of 100);
# - HUF and TWD: two-decimal in the API; only payouts must be whole units;
# - UGX: zero-decimal in the API.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

# === DOCUMENT MATCHING === #

# Metadata keys Odoo understands, in order of precedence (public contract).
METADATA_KEYS = (
    "odoo_invoice_id",
    "odoo_invoice",
    "odoo_sale_order_id",
    "odoo_sale_order",
)

# === PAYOUTS === #

# Stripe payout status -> ``stripe.payout`` status.
PAYOUT_STATUS_MAPPING = {
    "pending": "pending",
    "in_transit": "in_transit",
    "paid": "paid",
    "failed": "failed",
    "canceled": "canceled",
}

# === STRIPE API === #

# Page size for list calls; Stripe's maximum.
API_PAGE_SIZE = 100

# Retries the SDK makes by itself on network errors, 409, 429 and 5xx answers, with
# its own exponential backoff and Stripe's ``Stripe-Should-Retry`` hints.
API_MAX_NETWORK_RETRIES = 3
