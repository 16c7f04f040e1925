from odoo import _, api, models

from ... import const, utils
from ...exceptions import StripeMatchError, StripeNotYet
from ...tools import billing as billing_tools

FAILURE_EVENT_TYPES = (
    "payment_intent.payment_failed",
    "checkout.session.async_payment_failed",
)


class StripePaymentRules(models.AbstractModel):
    """Stripe Billing's payment rule: a payment of a Stripe invoice pays the
    Odoo invoice that mirrors it, whether the payment reaches Odoo through its
    event, a payout or the reconcile wizard."""

    _inherit = "stripe.payment.rules"

    @api.model
    def _stripe_payment_facts(self, obj):
        """Also the Stripe invoice a PaymentIntent or charge names (API versions
        before ``2025-03-31.basil``): ``stripe_invoice_named``."""
        facts = super()._stripe_payment_facts(obj)
        if isinstance(obj, dict) and obj.get("object") in ("payment_intent", "charge"):
            facts.stripe_invoice_named = billing_tools.invoice_id_of_payment(obj)
        return facts

    def _stripe_find_payment_target(self, facts, amount, currency):
        """A payment of a Stripe invoice pays its mirrored invoice; mirrored now
        (with a key), or it waits for it. A PaymentIntent nothing links to an
        Odoo document may be an invoice's (since ``2025-03-31.basil`` only
        ``invoice_payment.paid`` tells): its event waits for that event instead
        of failing, when the account mirrors Stripe invoices.

        A proposal (the reconcile wizard's) only finds an invoice mirrored
        already."""
        if self._stripe_picked_document() or utils.metadata_references(
            facts.metadata, const.METADATA_KEYS
        ):
            # A document picked by a user, or named by the integrator, wins.
            return super()._stripe_find_payment_target(facts, amount, currency)
        account = self._stripe_account()
        if self._stripe_is_proposal():
            # A proposal (the reconcile wizard) reads nothing and mirrors
            # nothing: the invoice mirrored already, if Odoo knows the link.
            move = account._stripe_billing_find_mirror(
                account._stripe_billing_invoice_of(facts, offline=True)
            )
            return move or super()._stripe_find_payment_target(facts, amount, currency)
        event = self._stripe_event()
        failure = bool(event) and event.type in FAILURE_EVENT_TYPES
        stripe_invoice_id = account._stripe_billing_invoice_of(facts)
        if stripe_invoice_id:
            move = account._stripe_billing_find_mirror(stripe_invoice_id)
            if move:
                account._stripe_billing_wake([stripe_invoice_id], exclude=event)
                return move
            if not failure:
                stripe_invoice = account._stripe_billing_read_invoice(stripe_invoice_id)
                if stripe_invoice:
                    if event:
                        move, _messages = event._stripe_billing_mirror(stripe_invoice)
                    else:
                        move, _messages = account._stripe_billing_mirror(stripe_invoice)
                    return move
                reason = _(
                    "The payment is for Stripe invoice %s: waiting for the "
                    "invoice's event to mirror it.",
                    stripe_invoice_id,
                )
                raise (StripeNotYet(reason) if event else StripeMatchError(reason))
        try:
            return super()._stripe_find_payment_target(facts, amount, currency)
        except StripeMatchError as error:
            if (
                not event
                or failure
                or not account._stripe_billing_may_be_invoice_payment(facts)
            ):
                raise
            duration = event._stripe_duration_text(const.PAYMENT_LINK_WAIT)
            if event._stripe_wait_over():
                raise StripeMatchError(
                    _(
                        "%(error)s No invoice_payment.paid event linked it to a "
                        "Stripe invoice within %(duration)s: pick the invoice it "
                        "pays and click Retry.",
                        error=error.args[0],
                        duration=duration,
                    ),
                    error.candidates,
                ) from error
            raise StripeNotYet(
                _(
                    "%(error)s It may pay a Stripe invoice (the PaymentIntent of a "
                    "subscription names no invoice since API version "
                    "2025-03-31.basil): waiting up to %(duration)s for the "
                    "invoice_payment.paid event that tells.",
                    error=error.args[0],
                    duration=duration,
                ),
                give_up_after=const.PAYMENT_LINK_WAIT,
                to_check=True,
            ) from error
