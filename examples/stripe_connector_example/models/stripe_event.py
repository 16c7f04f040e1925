from odoo import _, api, models

from odoo.addons.stripe_connector.exceptions import StripeNotYet


class StripeEvent(models.Model):
    """A new event type: Radar's early fraud warning puts a to-do on the payment."""

    _inherit = "stripe.event"

    @api.model
    def _get_event_handlers(self):
        handlers = super()._get_event_handlers()
        handlers["radar.early_fraud_warning.created"] = "_handle_early_fraud_warning"
        return handlers

    def _handle_early_fraud_warning(self):
        warning = self._get_object()
        payment = self.env["account.payment"].search(
            [
                ("stripe_account_id", "=", self.account_id.id),
                ("stripe_charge_id", "=", warning.get("charge")),
            ],
            limit=1,
        )
        if not payment:
            # The payment's own event may still be on its way.
            raise StripeNotYet(
                _("Waiting for the payment of charge %s.", warning.get("charge")),
                seconds=60,
                give_up_after=3600,
            )
        self._stripe_schedule_activity_on(
            payment,
            _("Early fraud warning on %s", payment.name),
            _(
                "Stripe's Radar reports charge %(charge)s as likely fraud "
                "(%(type)s): refund it before a dispute comes.",
                charge=warning.get("charge"),
                type=warning.get("fraud_type"),
            ),
        )
        self._link_documents(payments=payment)
        return _("Early fraud warning on %s: a to-do is scheduled.", payment.name)
