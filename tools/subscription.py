"""Pure helpers of subscriptions: a Stripe subscription snapshot (or invoice)
-> its normalized monthly amount. No Odoo environment, no I/O."""

from datetime import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from .. import const, utils


def month_start(value):
    """First day of the month of a date or datetime, as a ``date``."""
    return (
        value.replace(day=1)
        if not isinstance(value, datetime)
        else (value.date().replace(day=1))
    )


def monthly_factor(interval, interval_count):
    """What one billing interval's amount is multiplied by to make it monthly.

    ``monthly_factor("year", 1) == 1/12``, ``monthly_factor("month", 3) == 1/3``,
    ``monthly_factor("week", 2) == 52/24``.

    :rtype: Decimal
    """
    multiplier, divisor = const.SUBSCRIPTION_INTERVAL_MONTHLY.get(
        interval or "month", (1, 1)
    )
    count = max(int(interval_count or 1), 1)
    return Decimal(multiplier) / Decimal(divisor * count)


def _decimal_amount(obj, key):
    """``<key>_decimal`` (a string, sub-minor precision) else ``<key>`` (an
    integer) of a Stripe object, in minor units; ``None`` when both are null."""
    value = obj.get(key + "_decimal")
    if value is None:
        value = obj.get(key)
    return None if value is None else Decimal(str(value))


def tiered_amount(tiers, tiers_mode, quantity):
    """Amount of ``quantity`` units of a tiered price, in minor units.

    A tier holds the units up to its ``up_to`` (``None``, or ``"inf"``, for the
    last one), from the previous tier's ``up_to`` plus one. ``volume``: every
    unit at the unit amount of the tier the quantity falls in, plus that tier's
    flat amount. ``graduated``: each tier's units at its own unit amount, plus
    the flat amount of each tier reached (the first one always is, as Stripe
    bills it, even for no unit).

    :param list tiers: the price's ``tiers`` (as ``expand[]=tiers`` returns them).
    :param str tiers_mode: ``graduated`` or ``volume``.
    :rtype: Decimal
    """
    quantity = max(int(quantity or 0), 0)
    total = Decimal(0)
    lower = 0
    for tier in tiers:
        up_to = tier.get("up_to")
        up_to = None if up_to in (None, "inf") else int(up_to)
        unit = _decimal_amount(tier, "unit_amount") or Decimal(0)
        flat = _decimal_amount(tier, "flat_amount") or Decimal(0)
        last = up_to is None or quantity <= up_to
        if tiers_mode == "volume":
            if last:
                return unit * quantity + flat
            continue
        total += unit * ((quantity if last else up_to) - lower) + flat
        if last:
            return total
        lower = up_to
    return total


def transformed_quantity(quantity, transform):
    """A per-unit price's quantity after its ``transform_quantity`` (package
    pricing: ``divide_by`` units make one, rounded ``up`` or ``down``)."""
    quantity = int(quantity or 0)
    divide_by = int((transform or {}).get("divide_by") or 0)
    if divide_by <= 0:
        return quantity
    packages, rest = divmod(quantity, divide_by)
    return packages + (1 if rest and transform.get("round") == "up" else 0)


def item_terms(item):
    """Billing terms of a subscription item, from its price (or its legacy plan).

    :return: ``interval``, ``interval_count``, ``usage_type``, ``unit_amount``
        (Decimal, minor units), ``transform_quantity`` of the item, and for a
        tiered price its ``tiers_mode`` and ``tiers`` (``None`` when the price
        was not read with its tiers expanded).
    :rtype: dict
    """
    price = item.get("price") if isinstance(item.get("price"), dict) else {}
    plan = item.get("plan") if isinstance(item.get("plan"), dict) else {}
    recurring = price.get("recurring") or {}
    unit = price.get("unit_amount_decimal")
    if unit is None:
        unit = price.get("unit_amount")
    if unit is None and plan:
        unit = plan.get("amount_decimal") or plan.get("amount")
    tiered = (price.get("billing_scheme") or plan.get("billing_scheme")) == "tiered"
    tiers = price.get("tiers") if "tiers" in price else plan.get("tiers")
    # The legacy plan calls it transform_usage.
    transform = price.get("transform_quantity") or plan.get("transform_usage")
    return {
        "tiered": tiered,
        "tiers_mode": (price.get("tiers_mode") or plan.get("tiers_mode"))
        if tiered
        else None,
        "tiers": tiers if tiered and isinstance(tiers, list) else None,
        "transform_quantity": transform if isinstance(transform, dict) else None,
        "interval": recurring.get("interval") or plan.get("interval") or "month",
        "interval_count": recurring.get("interval_count")
        or plan.get("interval_count")
        or 1,
        "usage_type": recurring.get("usage_type")
        or plan.get("usage_type")
        or "licensed",
        "unit_amount": Decimal(str(unit or 0)),
    }


def discount_coupon(discount):
    """The coupon of a discount object (``coupon`` before 2024-09 API versions,
    ``source.coupon`` since), when expanded; else ``None``."""
    if not isinstance(discount, dict):
        return None
    coupon = discount.get("coupon") or utils.get_path(discount, "source", "coupon")
    return coupon if isinstance(coupon, dict) else None


def discount_applies(discount, at):
    """Whether a discount lowers the recurring amount at ``at`` (a timestamp).

    A coupon of duration ``once`` lowers one invoice, not the recurring amount;
    a ``repeating`` one ends at its ``end``; ``forever`` never ends.
    """
    coupon = discount_coupon(discount)
    if not coupon or coupon.get("duration") == "once":
        return False
    start, end = discount.get("start"), discount.get("end")
    return (not start or start <= at) and (not end or end > at)


def apply_discounts(amount, discounts, at, factor):
    """Lower ``amount`` (minor units, Decimal) by the discounts in force at ``at``,
    in Stripe's order; ``amount_off`` is per invoice, made monthly with
    ``factor``. Never below zero."""
    for discount in discounts:
        if not discount_applies(discount, at):
            continue
        coupon = discount_coupon(discount)
        if coupon.get("percent_off"):
            amount -= amount * Decimal(str(coupon["percent_off"])) / 100
        elif coupon.get("amount_off"):
            amount -= Decimal(int(coupon["amount_off"])) * factor
    return max(amount, Decimal(0))


def subscription_discounts(data):
    """The expanded discounts of a subscription snapshot: ``discounts`` (newer API
    versions), and the single ``discount`` of older ones."""
    discounts = [d for d in data.get("discounts") or [] if isinstance(d, dict)]
    legacy = data.get("discount")
    if isinstance(legacy, dict) and legacy.get("id") not in {
        d.get("id") for d in discounts
    }:
        discounts.append(legacy)
    return discounts


def item_monthly(item, at, usage=None):
    """Monthly amount of one subscription item at ``at``, after its own
    discounts, in minor units.

    :param dict usage: subscription item id -> last invoiced amount (minor
        units) of metered items.
    :rtype: Decimal
    """
    terms = item_terms(item)
    if terms["usage_type"] == "metered":
        amount = Decimal(int((usage or {}).get(item.get("id")) or 0))
    elif terms["tiered"]:
        # Tiers not read (see ``stripe.subscription._stripe_expand``): 0, and
        # the subscription says so, rather than a guess.
        amount = (
            tiered_amount(terms["tiers"], terms["tiers_mode"], item.get("quantity"))
            if terms["tiers"] is not None
            else Decimal(0)
        )
    else:
        amount = terms["unit_amount"] * transformed_quantity(
            item.get("quantity"), terms["transform_quantity"]
        )
    amount = apply_discounts(
        amount, [d for d in item.get("discounts") or [] if isinstance(d, dict)], at, 1
    )
    return amount * monthly_factor(terms["interval"], terms["interval_count"])


def subscription_monthly(data, at, usage=None):
    """Normalized monthly amount of a subscription snapshot at ``at`` (a Unix
    timestamp), after the discounts in force then, in minor units of its currency.

    Yearly / 12, weekly x 52 / 12, daily x 365 / 12, interval counts honoured;
    metered items by their last invoiced usage (``usage``).

    :rtype: Decimal
    """
    items = utils.get_path(data, "items", "data", default=[]) or []
    total = sum((item_monthly(item, at, usage) for item in items), Decimal(0))
    main = item_terms(items[0]) if items else {"interval": "month", "interval_count": 1}
    return apply_discounts(
        total,
        subscription_discounts(data),
        at,
        monthly_factor(main["interval"], main["interval_count"]),
    )


def subscription_counts(data):
    """Whether a snapshot's recurring amount counts in MRR: active or past_due,
    and its collection not paused."""
    return data.get("status") in const.SUBSCRIPTION_MRR_STATUSES and not data.get(
        "pause_collection"
    )


def discount_ends(data, after, before=None):
    """Timestamps, after ``after`` (and before ``before``), at which a discount of
    the snapshot ends."""
    discounts = subscription_discounts(data) + [
        d
        for item in utils.get_path(data, "items", "data", default=[]) or []
        for d in item.get("discounts") or []
        if isinstance(d, dict)
    ]
    return sorted(
        {
            d["end"]
            for d in discounts
            if discount_applies(d, after)
            and d.get("end")
            and d["end"] > after
            and (not before or d["end"] < before)
        }
    )


def period_factor(start, end):
    """Monthly factor of an invoice line's period (Unix timestamps): a period of
    whole months or years, of weeks, else of days.

    :rtype: Decimal
    """
    first = datetime.utcfromtimestamp(start)
    last = datetime.utcfromtimestamp(end)
    delta = relativedelta(last, first)
    months = delta.years * 12 + delta.months
    if months and abs(delta.days) <= 1 and not delta.hours % 24:
        return monthly_factor("month", months)
    days = max(round((end - start) / 86400), 1)
    if days % 7 == 0:
        return monthly_factor("week", days // 7)
    return monthly_factor("day", days)


def invoice_recurring(invoice):
    """What a Stripe invoice of a subscription says of its recurring amount: the
    start of the period it bills, the monthly amount of its subscription lines
    after their discounts (prorations left out), and the quantity.

    :return: ``(timestamp, monthly in minor units, quantity)``, or ``None`` when
        the invoice has no subscription line.
    """
    total = Decimal(0)
    quantity = 0
    start = None
    for line in utils.get_path(invoice, "lines", "data", default=[]) or []:
        details = utils.get_path(line, "parent", "subscription_item_details") or {}
        is_subscription = bool(details) or line.get("type") == "subscription"
        if not is_subscription or details.get("proration") or line.get("proration"):
            continue
        period = line.get("period") or {}
        if not (period.get("start") and period.get("end")):
            continue
        amount = Decimal(int(line.get("amount") or 0)) - sum(
            Decimal(int(d.get("amount") or 0))
            for d in line.get("discount_amounts") or []
            if isinstance(d, dict)
        )
        price = line.get("price") if isinstance(line.get("price"), dict) else None
        if price and price.get("recurring"):
            terms = item_terms({"price": price})
            factor = monthly_factor(terms["interval"], terms["interval_count"])
        else:
            factor = period_factor(period["start"], period["end"])
        total += amount * factor
        quantity += int(line.get("quantity") or 0)
        start = min(start or period["start"], period["start"])
    if start is None:
        return None
    return start, max(total, Decimal(0)), quantity


def to_timestamp(value):
    """A naive UTC datetime -> Unix timestamp."""
    return int((value - datetime(1970, 1, 1)).total_seconds())
