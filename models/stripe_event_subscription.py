from odoo import _, api, fields, models

from .. import const
from ..exceptions import StripeEventIgnored


class StripeEvent(models.Model):
    """Subscription events: each ``customer.subscription.*`` event carries the
    whole subscription; its snapshot is applied (if not older than the one Odoo
    shows), put in the subscription's history at its time, and the customer's
    rows of the MRR report are built again."""

    _inherit = "stripe.event"

    subscription_id = fields.Many2one(
        "stripe.subscription", readonly=True, index="btree_not_null"
    )

    @api.model
    def _get_event_handlers(self):
        handlers = super()._get_event_handlers()
        handlers.update(const.SUBSCRIPTION_EVENT_HANDLERS)
        return handlers

    def _handle_subscription(self):
        data = self._get_object()
        if data.get("object") != "subscription" or not data.get("id"):
            raise StripeEventIgnored(_("The event carries no subscription."))
        subscription_model = self.env["stripe.subscription"]
        data, note = subscription_model._stripe_expand(self.account_id, data)
        subscription, newer = subscription_model._stripe_sync(
            self.account_id, data, self.stripe_created, event=self
        )
        self.subscription_id = subscription
        self.env["stripe.mrr.report"]._stripe_rebuild(subscription)
        if newer:
            message = _(
                "Subscription %(subscription)s: %(status)s, %(amount)s %(currency)s "
                "a month.",
                subscription=subscription.stripe_id,
                status=dict(const.SUBSCRIPTION_STATUSES)[subscription.status],
                amount=subscription.currency_id.round(subscription.recurring_monthly),
                currency=subscription.currency_id.name,
            )
        else:
            message = _(
                "Subscription %(subscription)s: this state is older than the one "
                "shown (as of %(seen)s); kept in its history only.",
                subscription=subscription.stripe_id,
                seen=subscription.stripe_seen_at,
            )
        return f"{message} {note}" if note else message
