"""Stripe's Reporting API as the month-end tie-out reads it: report types, the
columns asked for, and the CSV rows turned into minor units. No Odoo, no I/O:
rows come from any iterator of text lines (a streamed file), one at a time."""

import csv
from datetime import UTC, datetime
from decimal import Decimal

BALANCE_SUMMARY = "balance.summary.1"
ACTIVITY_ITEMIZED = "balance_change_from_activity.itemized.3"
PAYOUT_ITEMIZED = "payout_reconciliation.itemized.5"

#: The columns asked for, per report type (Stripe's documented names).
SUMMARY_COLUMNS = ("category", "description", "net_amount", "currency")
ACTIVITY_COLUMNS = (
    "balance_transaction_id",
    "reporting_category",
    "created_utc",
    "currency",
    "net",
    "gross",
    "fee",
    "source_id",
    "charge_id",
    "payment_intent_id",
)
PAYOUT_COLUMNS = (
    "automatic_payout_id",
    "balance_transaction_id",
    "currency",
    "net",
    "reporting_category",
)

#: The tie-out's lines, in the order they are shown; categories Stripe reports
#: that are not here are shown after them, by name.
CATEGORY_ORDER = (
    "charge",
    "refund",
    "refund_failure",
    "partial_capture_reversal",
    "dispute",
    "dispute_reversal",
    "fee",
    "other_adjustment",
    "transfer",
    "transfer_reversal",
    "connect_collection_transfer",
    "platform_earning",
    "platform_earning_refund",
    "tax",
    "payout",
)


def to_minor(text, exponent):
    """A report amount in major units (``-12.34``) -> integer minor units."""
    if not text:
        return 0
    return int(Decimal(text).scaleb(exponent))


def parse_utc(text):
    """``2026-11-03 10:00:00`` (a report's ``*_utc`` column) -> naive UTC
    datetime, as Odoo stores them."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S") if text else None


def utc_timestamp(day):
    """Midnight UTC of a date, as a unix timestamp (a report's interval)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def rows(lines, columns):
    """Yield each CSV row of a report as a tuple in ``columns`` order.

    :param lines: an iterator of text lines (the file, streamed).
    :param columns: the columns wanted; the header says where each is.
    :raise ValueError: the file lacks one of them.
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    try:
        positions = [header.index(column) for column in columns]
    except ValueError as error:
        raise ValueError(f"report columns {header} lack one of {columns}") from error
    for row in reader:
        if row:
            yield tuple(row[position] for position in positions)


def summary(lines, exponent):
    """``balance.summary.1`` -> ``{category: minor units}`` (``starting_balance``,
    ``activity``, ``payouts``, ``ending_balance``)."""
    return {
        category: to_minor(amount, exponent)
        for category, _description, amount, _currency in rows(lines, SUMMARY_COLUMNS)
    }


def category_key(category):
    """Sort key of a tie-out line."""
    if category in CATEGORY_ORDER:
        return (CATEGORY_ORDER.index(category), category)
    return (len(CATEGORY_ORDER), category)
