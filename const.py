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

# API version of the webhook endpoint that *Create Webhook* makes in Stripe: the
# version this module was written for (the one the stripe SDK 16.x pins), so that
# events have the shapes the API answers have. It is also the newest version the
# handlers know the shapes of: events rendered in a later version may have moved
# fields, and their account gets an alert. Older versions are read defensively.
WEBHOOK_API_VERSION = "2026-10-28.endive"

# === EVENT PROCESSING === #

# The event-type table: event type -> method of ``stripe.event`` that handles it,
# read through ``stripe.event._get_event_handlers()`` (which another addon extends
# with ``super()``). Types not listed here are stored and marked ``ignored``. The
# order of the keys is the order in which they are documented in README.rst.
EVENT_HANDLERS = {
    # Payments
    "payment_intent.succeeded": "_handle_payment_intent_succeeded",
    "payment_intent.payment_failed": "_handle_payment_intent_payment_failed",
    "charge.succeeded": "_handle_charge_succeeded",
    "charge.captured": "_handle_charge_captured",
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
    # Stripe Billing
    "invoice.finalized": "_handle_invoice_finalized",
    "invoice.paid": "_handle_invoice_paid",
    "invoice.payment_succeeded": "_handle_invoice_paid",
    "invoice_payment.paid": "_handle_invoice_payment_paid",
    "invoice.payment_failed": "_handle_invoice_payment_failed",
    "invoice.voided": "_handle_invoice_voided",
    "invoice.marked_uncollectible": "_handle_invoice_marked_uncollectible",
    "credit_note.created": "_handle_credit_note_created",
    "credit_note.voided": "_handle_credit_note_voided",
    "customer.created": "_handle_customer_updated",
    "customer.updated": "_handle_customer_updated",
    # Subscriptions: each event carries the whole subscription; the handler
    # applies the snapshot, whatever the type.
    "customer.subscription.created": "_handle_subscription",
    "customer.subscription.updated": "_handle_subscription",
    "customer.subscription.deleted": "_handle_subscription",
    "customer.subscription.paused": "_handle_subscription",
    "customer.subscription.resumed": "_handle_subscription",
    "customer.subscription.trial_will_end": "_handle_subscription",
    "customer.subscription.pending_update_applied": "_handle_subscription",
    "customer.subscription.pending_update_expired": "_handle_subscription",
}

# Stripe Billing's types in the table (an account that received one uses Billing).
BILLING_EVENT_TYPES = tuple(
    event_type
    for event_type, handler in EVENT_HANDLERS.items()
    if handler.startswith(
        ("_handle_invoice", "_handle_credit_note", "_handle_customer_updated")
    )
)

# The processing queue's lane of each handled event type (see ``tools/queue``):
# a batch takes due events from every lane, so that a storm of renewals never
# starves a one-off payment. A payment of a Stripe invoice travels in the
# Billing lane with its invoice.
EVENT_LANES = {
    event_type: (
        "billing"
        if event_type in BILLING_EVENT_TYPES or handler == "_handle_subscription"
        else "payouts"
        if handler == "_handle_payout"
        else "payments"
    )
    for event_type, handler in EVENT_HANDLERS.items()
}

# Event types whose handler books no money (a failed payment only leaves a note).
NO_MONEY_EVENT_TYPES = (
    "payment_intent.payment_failed",
    "checkout.session.async_payment_failed",
)

# Event states the processing cron takes when their time has come.
DUE_EVENT_STATES = ("pending", "waiting", "failed")

# Number of events a cron run takes in one batch (one transaction, one savepoint per
# event), from every lane in turn (``tools/queue``), with the other due events of
# their routing keys; the cron framework commits between batches and calls again
# while some remain. A batch also stops starting new events after
# PROCESS_BATCH_SECONDS. The batch bookers (``stripe.event._stripe_batch_bookers``)
# book together what at least BATCH_BOOKING_MIN events of a batch would book one
# by one: the larger the batch, the cheaper each event (Odoo creates, posts and
# reconciles many documents for little more than one), the longer a worker holds
# the journals' sequences before it commits.
PROCESS_BATCH_SIZE = 200
PROCESS_BATCH_SECONDS = 60
BATCH_BOOKING_MIN = 2
# The class of the PostgreSQL advisory locks that keep one routing key with one
# worker (``pg_try_advisory_xact_lock(class, hashtext(key))``).
QUEUE_LOCK_CLASS = 783121

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

# A payment that names no document (no metadata, an unknown customer) may be
# named by a related event: its Checkout Session's checkout.session.completed, or
# the invoice_payment.paid of the Stripe invoice it pays. Stripe sends those
# within seconds to minutes of the payment; an hour covers delivery delays and a
# first round of Stripe's retries. Then the payment's event fails and a person
# is told (pick the document, Retry), rather than after three days of silence.
PAYMENT_LINK_WAIT = 3600  # seconds

# Days the daily cron looks back for events the webhook never delivered (Stripe
# keeps events for 30 days).
MISSED_EVENTS_DAYS = 3

# Delay before retrying an event that lost a race with another worker (PostgreSQL
# serialization failure or lock timeout). Not counted as an attempt.
CONCURRENCY_RETRY_DELAY = 5  # seconds

# A wake-up of the processing cron wanted later (a retry) is not added when one is
# already pending at that time or up to this many seconds after it (Odoo's cron
# threads look at later wake-ups about once a minute anyway).
TRIGGER_GRACE = 10  # seconds

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

# The customer documents a Stripe payment may pay, and the payment states of
# those that still wait for money.
CUSTOMER_INVOICE_TYPES = ("out_invoice", "out_receipt")
OPEN_PAYMENT_STATES = ("not_paid", "partial")
# The invoices a refund may give money back for: paid, wholly or in part.
REFUNDABLE_PAYMENT_STATES = ("paid", "in_payment", "partial")

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

# Where a payout status stands in a payout's life. Events arrive in any order: a
# snapshot never moves a payout back (a late ``payout.paid`` after
# ``payout.failed`` leaves it failed).
PAYOUT_STATUS_RANK = {
    "pending": 0,
    "in_transit": 1,
    "paid": 2,
    "failed": 3,
    "canceled": 3,
}

# Stripe's ``reconciliation_status`` of a payout, in the same spirit. Only an
# automatic payout whose reconciliation is ``completed`` can have its balance
# transactions listed (``GET /v1/balance_transactions?payout=``).
PAYOUT_RECONCILIATION_RANK = {
    "not_applicable": 0,
    "in_progress": 0,
    "completed": 1,
}

# Payouts that did not reach the bank: their money is back in the Stripe balance.
PAYOUT_RETURNED_STATUSES = ("failed", "canceled")

# Balance transaction types of payouts themselves (the payout's own debit, and the
# credit that returns a failed or canceled payout). The payout's transfer mirrors
# them; they are never booked one by one.
PAYOUT_TRANSACTION_TYPES = ("payout", "payout_cancel", "payout_failure")

# Reporting category -> column of a payout's breakdown. Any other category falls in
# "other". Stripe's reporting categories: https://docs.stripe.com/reports/reporting-categories
PAYOUT_BREAKDOWN = {
    "charge": "charge",
    "refund": "refund",
    "refund_failure": "refund",
    "dispute": "dispute",
    "dispute_reversal": "dispute",
    "fee": "fee",
    "other_adjustment": "adjustment",
    "partial_capture_reversal": "adjustment",
}

# Reporting category -> how a balance transaction that no Odoo document mirrors yet
# is booked when its payout is reconciled. Any other category is booked on the
# account's adjustment account.
#   payment: a customer payment (matched with its invoice by the payment rules)
#   refund: an outbound customer payment
#   refund_failure: an inbound customer payment (the refund came back)
#   dispute: the disputed-payments account (else the adjustment account)
#   fee: the fee account, in the payout's fee entry
#   payout: nothing; the payout's own transfer (or its reversal) mirrors it
PAYOUT_BOOKING = {
    "charge": "payment",
    "refund": "refund",
    "refund_failure": "refund_failure",
    "dispute": "dispute",
    "dispute_reversal": "dispute",
    "fee": "fee",
    "payout": "payout",
    "payout_reversal": "payout",
}

# Reporting category of a balance transaction that carries none (older API
# versions), from its type.
TRANSACTION_TYPE_CATEGORY = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund_failure",
    "payment_failure_refund": "refund_failure",
    "stripe_fee": "fee",
    "stripe_fx_fee": "fee",
    "tax_fee": "fee",
    "payout": "payout",
    "payout_cancel": "payout_reversal",
    "payout_failure": "payout_reversal",
}

# Fee type given to a fee that comes without ``fee_details``.
DEFAULT_FEE_TYPE = "stripe_fee"

# The daily cron imports the payouts that arrived in the last days, so that a
# missed webhook never leaves a gap.
PAYOUT_BACKFILL_DAYS = 7

# A manual payout's transactions cannot be listed by payout; the reconcile wizard
# imports the account's transactions created in the days before the payout.
MANUAL_PAYOUT_LOOKBACK_DAYS = 31

_CHARGE_CHILD_KEYS = (
    "object",
    "id",
    "amount",
    "currency",
    "charge",
    "payment_intent",
    "status",
    "created",
)

# What Odoo keeps of an expanded source that no Odoo document mirrors yet: enough
# to match and book it at payout time without asking Stripe again.
SOURCE_KEPT_KEYS = {
    "charge": (
        "object",
        "id",
        "amount",
        "amount_captured",
        "currency",
        "customer",
        "payment_intent",
        "metadata",
        "description",
        "billing_details",
        "receipt_email",
        "created",
    ),
    # A refund and a dispute are about a charge: the same keys tell which.
    "refund": _CHARGE_CHILD_KEYS,
    "dispute": _CHARGE_CHILD_KEYS,
}

# The reconcile wizard lists at most this many charges for a user to match by hand;
# the others follow the payment rules (then become customer payments).
RECONCILE_WIZARD_MAX_CHARGES = 200

# Source id prefix -> kind of Stripe object, for sources that are not expanded.
SOURCE_PREFIXES = {
    "ch_": "charge",
    "py_": "charge",
    "re_": "refund",
    "pyr_": "refund",
    "dp_": "dispute",
    "du_": "dispute",
    "po_": "payout",
    "tr_": "transfer",
    "fee_": "application_fee",
}

# === STRIPE API === #

# Page size for list calls; Stripe's maximum.
API_PAGE_SIZE = 100

# Retries the SDK makes by itself on network errors, 409 and 5xx answers and answers
# carrying ``Stripe-Should-Retry: true``, with its own exponential backoff.
API_MAX_NETWORK_RETRIES = 3

# A 429 (rate limit) without that header the SDK does not retry: Odoo sends the same
# request again, up to API_RATE_LIMIT_RETRIES times, after a delay starting at
# API_RATE_LIMIT_BASE_DELAY and doubling, capped at API_RATE_LIMIT_MAX_DELAY.
API_RATE_LIMIT_RETRIES = 4
API_RATE_LIMIT_BASE_DELAY = 0.5  # seconds: 0.5, 1, 2, 4 before the 4 retries
API_RATE_LIMIT_MAX_DELAY = 4  # seconds

# === STRIPE BILLING === #

# Descriptions Stripe gives the PaymentIntents of invoices: without a key, such a
# PaymentIntent that matches nothing waits for ``invoice_payment.paid``.
# How far a Stripe invoice's status is along its life: it only moves forward
# (draft -> open -> uncollectible -> paid or void; paid and void are final), so
# of two snapshots of one invoice the further status is the newer. Without a key,
# that is how the newest known state of an invoice is told (ties: the latest
# event).
BILLING_INVOICE_STATUS_RANK = {
    "draft": 0,
    "open": 1,
    "uncollectible": 2,
    "paid": 3,
    "void": 3,
}

BILLING_INTENT_DESCRIPTIONS = frozenset(
    {"Subscription creation", "Subscription update", "Payment for Invoice"}
)

# A refund of a mirrored Stripe invoice's payment, without a key to read Stripe's
# credit notes, waits this long for the credit note that lists it (the refund
# carries no link to it). Stripe sends credit_note.created in the same second as
# the refund's events when the credit note makes the refund; an hour covers
# delivery delays and a first round of Stripe's retries. A refund made on the
# payment itself (no credit note) is credited the usual way afterwards.
BILLING_REFUND_CREDIT_NOTE_WAIT = 3600  # seconds

# === MONITORING === #

# The balance check lists the Stripe transactions Odoo has not booked, from the
# creation of the last reconciled payout less these days (a transaction may wait
# that long for its payout: Stripe's payout schedules hold funds 2 to 14 days).
BALANCE_CHECK_LOOKBACK_DAYS = 14

# At most this many causes of each kind are kept on a balance check (the total of
# the others is still counted).
BALANCE_CHECK_MAX_CAUSES = 200

# The webhook counts as silent when no event arrived for longer than
# WEBHOOK_SILENCE_FACTOR times the mean interval between the events of the last
# WEBHOOK_TRAFFIC_DAYS days (at a steady rate, a silence that long has a chance
# of e**-7, about 1 in 1,000), and never sooner than WEBHOOK_SILENCE_MIN_HOURS.
# Accounts with fewer than WEBHOOK_SILENCE_MIN_EVENTS events in that time have
# no usual traffic to judge by.
WEBHOOK_TRAFFIC_DAYS = 30
WEBHOOK_SILENCE_FACTOR = 7
WEBHOOK_SILENCE_MIN_HOURS = 12
WEBHOOK_SILENCE_MIN_EVENTS = 10

# The API versions of the events received in the last hours are looked at by the
# hourly watch.
API_VERSION_WATCH_HOURS = 24

# Events the catch-up fetched that Stripe created less than this long ago do not
# count as missed by the webhook (they may still be on their way).
MISSED_EVENTS_GRACE_MINUTES = 60

# Days of payments drawn in the overview's sparkline.
OVERVIEW_SPARKLINE_DAYS = 30

# === SCREENS === #

# Code of the *Stripe* payment method (account.payment.method) of Stripe journals.
STRIPE_PAYMENT_METHOD_CODE = "stripe_connector"

# Stripe's dashboard; test mode pages are under /test.
STRIPE_DASHBOARD_URL = "https://dashboard.stripe.com"
# What a secret API key starts with: secret or restricted, test or live.
STRIPE_SECRET_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")

# Prefix of the transactions a payout reconciled without secret key is given in
# Odoo (the payments a user picked, and the fees: the rest of the payout); type of
# that fee transaction.
KEYLESS_TRANSACTION_PREFIX = "odoo_"
KEYLESS_FEE_TYPE = "odoo_keyless_fees"

# === PAYMENT LINKS === #

# The payment method types a payment link may offer (Stripe Checkout's
# ``allowed_payment_method_types``; the API version this module pins has no
# ``payment_method_types`` any more), each with the currencies Stripe's Checkout
# accepts it in (None: any currency). A type the account offers is left out of a
# session in another currency. ``customer_balance`` is a bank transfer to the
# virtual account Stripe gives the customer; it needs a Stripe customer.
PAYMENT_LINK_METHODS = {
    "card": None,
    "sepa_debit": ("EUR",),
    "us_bank_account": ("USD",),
    "bacs_debit": ("GBP",),
    "customer_balance": ("EUR", "USD", "GBP", "JPY", "MXN"),
}

# Bank transfer type of ``customer_balance`` per currency; the EU one also needs
# the country of the bank account (the company's, one of those Stripe offers).
PAYMENT_LINK_BANK_TRANSFER_TYPES = {
    "EUR": "eu_bank_transfer",
    "USD": "us_bank_transfer",
    "GBP": "gb_bank_transfer",
    "JPY": "jp_bank_transfer",
    "MXN": "mx_bank_transfer",
}
PAYMENT_LINK_EU_TRANSFER_COUNTRIES = ("DE", "FR", "IE", "NL")

# An open Checkout Session is reused while it lives at least this much longer
# (a customer who opens the link gets time to pay).
PAYMENT_LINK_SESSION_MARGIN = 600  # seconds

# === SUBSCRIPTIONS === #

# Stripe's subscription statuses, in Stripe's words.
SUBSCRIPTION_STATUSES = [
    ("incomplete", "Incomplete"),
    ("incomplete_expired", "Incomplete Expired"),
    ("trialing", "Trialing"),
    ("active", "Active"),
    ("past_due", "Past Due"),
    ("unpaid", "Unpaid"),
    ("paused", "Paused"),
    ("canceled", "Canceled"),
]

# Statuses whose recurring amount counts in MRR. A trial counts 0 until it
# converts; past_due counts until Stripe cancels; unpaid (Stripe stopped trying)
# and paused count 0.
SUBSCRIPTION_MRR_STATUSES = ("active", "past_due")

# A subscription in one of these never comes back (a returning customer gets a new
# one): a later snapshot with another status is an older one, delivered late.
SUBSCRIPTION_TERMINAL_STATUSES = ("canceled", "incomplete_expired")

# Billing interval -> (multiplier, divisor) that makes one interval's amount a
# monthly one: yearly / 12, weekly x 52 / 12, daily x 365 / 12.
SUBSCRIPTION_INTERVAL_MONTHLY = {
    "day": (365, 12),
    "week": (52, 12),
    "month": (1, 1),
    "year": (1, 12),
}
