"""What a payout's reconciliation is made of. No Odoo environment, no I/O."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PayoutBooker:
    """One way of booking a payout's balance transactions that no Odoo document
    mirrors yet (``stripe.payout._stripe_payout_bookers()``).

    :param tuple categories: the Stripe reporting categories it books.
    :param str method: the method of ``stripe.payout`` that books them, called as
        ``method(transactions, picks)`` with the payout's transactions of those
        categories left to book (possibly none) and the invoices a user picked
        (``{transaction id: account.move}``); it returns what it posted (journal
        entries or payments), which the payout keeps and *Undo* reverses. ``None``:
        nothing books them one by one, the payout's own transfer mirrors them.
    :param bool default: it also books the categories no booker names.
    """

    categories: tuple
    method: str | None
    default: bool = False
