"""Small pure helpers of Stripe Billing: read invoices, lines and credit notes
across API versions. No Odoo environment, no I/O."""

from fractions import Fraction

from ..utils import get_path, object_id


def line_tax_amounts(line):
    """The taxes of an invoice or credit note line as ``(tax rate id, amount)``.

    Since ``2025-03-31.basil``: ``taxes[]`` of type ``tax_rate_details``; before:
    ``tax_amounts[]`` naming the rate (an id, or the rate expanded).

    :param dict line: a ``line_item`` or ``credit_note_line_item``.
    :rtype: list[tuple[str, int]]
    """
    taxes = line.get("taxes")
    if taxes:
        return [
            (get_path(tax, "tax_rate_details", "tax_rate"), tax.get("amount") or 0)
            for tax in taxes
            if get_path(tax, "tax_rate_details", "tax_rate")
        ]
    return [
        (object_id(tax.get("tax_rate")), tax.get("amount") or 0)
        for tax in line.get("tax_amounts") or []
        if object_id(tax.get("tax_rate"))
    ]


def untaxed_shares(amount, discounts, included_tax):
    """Split the untaxed amount of a line whose taxes are included in its price.

    Stripe taxes a line's discounted amount and includes the tax in it: the
    untaxed amount is ``amount - sum(discounts) - included_tax``, exactly. Each
    discount takes its share of it, rounded to the minor unit; the line takes
    the rest, so that line and discounts add up to Stripe's untaxed amount.

    :param int amount: the line's amount, tax included, in minor units.
    :param list[int] discounts: the discounts' amounts (> 0), tax included.
    :param int included_tax: Stripe's tax included in the line, in minor units.
    :return: ``(the line's untaxed amount, [each discount's untaxed amount])``.
    :rtype: tuple[int, list[int]]
    """
    discounted = amount - sum(discounts)
    untaxed = discounted - included_tax
    shares = [
        round(Fraction(discount) * untaxed / discounted) if discounted else 0
        for discount in discounts
    ]
    return untaxed + sum(shares), shares


def line_tax_rate_ids(line):
    """The ids of the tax rates of a line, in order, without repeats: those its
    taxes name, and its ``tax_rates`` (a credit note line lists them expanded)."""
    ids = [rate_id for rate_id, _amount in line_tax_amounts(line)]
    ids += [object_id(rate) for rate in line.get("tax_rates") or []]
    return list(dict.fromkeys(rate_id for rate_id in ids if rate_id))


def line_product_id(line):
    """The Stripe product (``prod_``) of an invoice line, across API versions."""
    return (
        object_id(get_path(line, "pricing", "price_details", "product"))
        or object_id(get_path(line, "price", "product"))
        or object_id(get_path(line, "plan", "product"))
    )


def line_unit_amount(line):
    """The line's unit amount in minor units, as a decimal string, or None."""
    return get_path(line, "pricing", "unit_amount_decimal") or get_path(
        line, "price", "unit_amount_decimal"
    )


def line_is_proration(line):
    """Whether a line is a proration (subscription change within a period)."""
    parent = line.get("parent") or {}
    for key in ("subscription_item_details", "invoice_item_details"):
        if isinstance(parent.get(key), dict) and parent[key].get("proration"):
            return True
    return bool(line.get("proration"))


def line_discounts(line):
    """The discounts of a line as ``(discount id, amount)``, amounts > 0."""
    return [
        (object_id(discount.get("discount")), discount.get("amount") or 0)
        for discount in line.get("discount_amounts") or []
        if discount.get("amount")
    ]


def invoice_customer(invoice):
    """The invoice's customer as a customer-shaped dict (``id``, ``email``,
    ``name``, ``phone``, ``address``, ``tax_ids``) from its ``customer_*``
    fields, or the expanded customer itself."""
    customer = invoice.get("customer")
    if isinstance(customer, dict):
        return customer
    return {
        "id": customer,
        "email": invoice.get("customer_email"),
        "name": invoice.get("customer_name"),
        "phone": invoice.get("customer_phone"),
        "address": invoice.get("customer_address"),
        "tax_ids": invoice.get("customer_tax_ids") or [],
    }


def invoice_payment_intents(invoice):
    """The PaymentIntent an invoice names itself (API versions before
    ``2025-03-31.basil``); later versions link them by ``invoice_payment``."""
    intent = object_id(invoice.get("payment_intent"))
    return [intent] if intent else []


def invoice_id_of_payment(obj):
    """The Stripe invoice a PaymentIntent or charge names (versions before
    ``2025-03-31.basil``), or None."""
    return object_id(obj.get("invoice"))


def paid_in_full_by_stripe(invoice):
    """Whether a Stripe invoice was paid, in full, through Stripe: no credit
    balance or credit note took part, nothing paid outside Stripe."""
    total = invoice.get("total") or 0
    return (
        invoice.get("status") == "paid"
        and total > 0
        and invoice.get("amount_paid") == total == invoice.get("amount_due")
        and not invoice.get("amount_paid_off_stripe")
        and not invoice.get("paid_out_of_band")
    )
