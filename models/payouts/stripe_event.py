from odoo import fields, models

from ...exceptions import StripeNothingToDo


class StripeEvent(models.Model):
    """Payout events: every ``payout.*`` event brings the payout up to date with its
    snapshot, then ``stripe.payout`` takes it as far as it can go (import its
    transactions, reconcile it, reverse its transfer if it failed)."""

    _inherit = "stripe.event"

    payout_id = fields.Many2one("stripe.payout", readonly=True, index="btree_not_null")

    def _handle_payout(self):
        data = self._get_object()
        payout_model = self.env["stripe.payout"]
        mismatch = payout_model._stripe_check_currency(self.account_id, data)
        if mismatch:
            raise StripeNothingToDo(mismatch)
        payout = payout_model._stripe_store(self.account_id, data)
        self.payout_id = payout
        message = payout._stripe_process()
        self._link_documents(moves=payout.move_ids, payments=payout.payment_ids)
        return message
