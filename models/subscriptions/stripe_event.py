from odoo import _, fields, models

from ... import const, utils
from ...exceptions import StripeNothingToDo


class StripeEvent(models.Model):
    """Subscription events: each ``customer.subscription.*`` event carries the
    whole subscription; its snapshot is applied (if not older than the one Odoo
    shows), put in the subscription's history at its time, and the customer's
    rows of the MRR report are built again.

    The invoices of a subscription that Stripe Billing mirrors
    (``invoice.finalized``, ``invoice.paid``) bring the usage of its metered
    items the same way."""

    _inherit = "stripe.event"

    subscription_id = fields.Many2one(
        "stripe.subscription", readonly=True, index="btree_not_null"
    )

    def _handle_subscription(self):
        data = self._get_object()
        if data.get("object") != "subscription" or not data.get("id"):
            raise StripeNothingToDo(_("The event carries no subscription."))
        subscription_model = self.env["stripe.subscription"]
        data, note = subscription_model._stripe_expand(self.account_id, data)
        subscription, newer = subscription_model._stripe_apply_snapshot(
            self.account_id, data, self.stripe_created, event=self
        )
        self.subscription_id = subscription
        if note:
            subscription.message_post(body=note)
        subscription._stripe_apply_mirrored_invoices()
        self.env["stripe.mrr.report"]._stripe_rebuild(subscription)
        if newer:
            message = _(
                "Subscription %(subscription)s: %(status)s, %(amount)s a month.",
                subscription=subscription.stripe_id,
                status=dict(const.SUBSCRIPTION_STATUSES)[subscription.status],
                amount=self._stripe_amount_in_words(
                    subscription.recurring_monthly, subscription.currency_id
                ),
            )
        else:
            message = _(
                "Subscription %(subscription)s: this state is older than the one "
                "shown (as of %(seen)s); kept in its history only.",
                subscription=subscription.stripe_id,
                seen=self._stripe_datetime_text(subscription.stripe_seen_at),
            )
        return f"{message} {note}" if note else message

    def _handle_invoice_finalized(self):
        message = super()._handle_invoice_finalized()
        return self._stripe_subscription_usage_message(message)

    def _handle_invoice_paid(self):
        message = super()._handle_invoice_paid()
        return self._stripe_subscription_usage_message(message)

    def _stripe_subscription_usage_message(self, message):
        """Once Billing has mirrored the event's Stripe invoice: the account's
        subscription of that invoice (when Odoo has it) takes the invoice's
        metered usage from the invoice's time on, and the customer's MRR report
        is built again.

        :param str message: Billing's message.
        :return: the message, with what changed in the subscription.
        """
        invoice = self._get_object()
        # Since 2025-03-31.basil the subscription is under parent.
        subscription_ref = utils.object_id(
            utils.get_path(invoice, "parent", "subscription_details", "subscription")
            or invoice.get("subscription")
        )
        if not subscription_ref:
            return message
        subscription = self.env["stripe.subscription"].search(
            [
                ("account_id", "=", self.account_id.id),
                ("stripe_id", "=", subscription_ref),
            ]
        )
        if not subscription:
            return message
        subscription._stripe_lock()
        monthly = subscription._stripe_apply_invoice_usage(invoice)
        if monthly is None:
            return message
        self.subscription_id = subscription
        self.env["stripe.mrr.report"]._stripe_rebuild(subscription)
        usage = _(
            "Subscription %(subscription)s takes this invoice's metered usage: "
            "%(amount)s a month from %(date)s.",
            subscription=subscription.stripe_id,
            amount=self._stripe_amount_in_words(monthly, subscription.currency_id),
            date=self._stripe_datetime_text(
                utils.timestamp_to_datetime(invoice.get("created"))
            ),
        )
        return f"{message} {usage}" if message else usage
