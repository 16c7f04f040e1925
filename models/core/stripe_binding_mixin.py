from odoo import fields, models
from odoo.tools import SQL


class StripeBindingMixin(models.AbstractModel):
    """The Odoo record of one Stripe object (an event, a payout, a dispute...):
    its Stripe id, unique per Stripe account, and the row lock that makes two
    workers about the same object take turns."""

    _name = "stripe.binding.mixin"
    _inherit = ["stripe.owned.mixin"]
    _description = "Record of a Stripe Object"

    stripe_id = fields.Char(string="Stripe ID", required=True, readonly=True)

    _sql_constraints = [
        (
            "stripe_id_account_uniq",
            "UNIQUE(account_id, stripe_id)",
            "A Stripe object is recorded once per Stripe account.",
        ),
    ]

    def _stripe_lock(self, nowait=False):
        """Lock these records until the end of the transaction: two events about
        one Stripe object on two workers apply one after the other.

        :param bool nowait: fail at once when another transaction holds one
            (the caller's event is then put back in the queue and retried
            shortly) instead of waiting for it.
        :raise psycopg2.errors.LockNotAvailable: with ``nowait``, another
            transaction holds one (not logged as a bad query: expected).
        """
        if not self:
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM %s WHERE id IN %s FOR NO KEY UPDATE%s",
                SQL.identifier(self._table),
                tuple(self.ids),
                SQL(" NOWAIT") if nowait else SQL(),
            ),
            log_exceptions=False,
        )
