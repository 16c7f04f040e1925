"""The facts the module reads from Stripe's objects, typed (``utils`` reads them).
No Odoo environment, no I/O."""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class PaymentFacts:
    """What Odoo needs to book a payment, from any Stripe object that reports one
    (a PaymentIntent, a Charge, a Checkout Session: ``utils.payment_facts``).

    The payment rules complete it (``stripe.payment.rules._stripe_complete_facts``)
    with what they read from Stripe; a missing fact is ``None``.
    """

    #: The Stripe object a payment is registered once for: the PaymentIntent,
    #: else the charge, else the Checkout Session.
    key: str | None = None
    payment_intent_id: str | None = None
    charge_id: str | None = None
    #: In the currency's minor units.
    amount: int | None = None
    #: Upper case.
    currency: str | None = None
    #: ``(source, metadata dict)`` pairs, in order of precedence.
    metadata: list = field(default_factory=list)
    #: Free texts that may name a document (descriptions, client reference).
    references: list = field(default_factory=list)
    customer_id: str | None = None
    email: str | None = None
    #: Unix time the Stripe object was created.
    created: int | None = None
    #: The balance transaction's id, and Stripe's balance transaction itself when
    #: the object carries it expanded or it was read (fee, exchange rate).
    balance_transaction_id: str | None = None
    balance_transaction: dict | None = None
    intent_description: str | None = None
    #: The kind of the object the facts were read from (``payment_intent``...).
    source: str | None = None
    #: When Stripe reported the payment (the event's time, naive UTC).
    reported: datetime | None = None
    #: Why Stripe could not be read while completing the facts, if it could not.
    api_error: str | None = None
    #: The facts were completed from Stripe already (read once).
    completed: bool = False
    #: Stripe Billing: the Stripe invoice the object names (API versions before
    #: 2025-03-31.basil), and the one it pays once found (``False``: none).
    stripe_invoice_named: str | None = None
    stripe_invoice_id: str | bool | None = None

    def settled_as_paid(self):
        """Whether Stripe's balance transaction (read) settled the payment as it
        was paid: same currency, same amount (no conversion by Stripe)."""
        transaction = self.balance_transaction
        return (
            isinstance(transaction, dict)
            and not self.api_error
            and (transaction.get("currency") or "").upper() == self.currency
            and transaction.get("amount") == self.amount
        )

    def add_balance_transaction(self, balance_transaction):
        """Take a balance transaction as Stripe gives it (an id, or expanded),
        without replacing one known already."""
        if isinstance(balance_transaction, dict):
            self.balance_transaction_id = (
                self.balance_transaction_id or balance_transaction.get("id")
            )
            self.balance_transaction = self.balance_transaction or balance_transaction
        elif isinstance(balance_transaction, str):
            self.balance_transaction_id = (
                self.balance_transaction_id or balance_transaction
            )


@dataclass
class BalanceTransactionFacts:
    """What Odoo keeps of a Stripe balance transaction
    (``utils.balance_transaction_facts``); amounts in minor units."""

    stripe_id: str
    type: str = ""
    reporting_category: str | None = None
    currency: str = ""
    amount: int = 0
    fee: int = 0
    net: int = 0
    exchange_rate: float | None = None
    #: Dicts ``type``, ``amount`` (minor units), ``description``, adding up to
    #: ``fee``.
    fee_details: list = field(default_factory=list)
    description: str | None = None
    #: The Stripe object that moved the balance, and its kind (``charge``...).
    source_id: str | None = None
    source_type: str | None = None
    #: The charge, PaymentIntent and customer it is about, when known.
    charge_id: str | None = None
    payment_intent_id: str | None = None
    customer_id: str | None = None
    created: int | None = None
    available_on: int | None = None
    status: str | None = None
    #: The expanded source reduced to ``const.SOURCE_KEPT_KEYS``, or ``None``.
    source: dict | None = None
