from odoo import fields, models


class StripePayout(models.Model):
    _inherit = "stripe.payout"

    tieout_differs = fields.Boolean(
        string="Differs from Stripe's Report",
        readonly=True,
        copy=False,
        help="A month tie-out found that Stripe's payout reconciliation report and "
        "the transactions booked in this payout differ.",
    )
    tieout_message = fields.Char(readonly=True, copy=False)

    def _stripe_import(self, account, arrival_from, arrival_to=None):
        """The imports never reach before the go-live date."""
        if account.go_live_date and arrival_from < account.go_live_date:
            arrival_from = account.go_live_date
        return super()._stripe_import(account, arrival_from, arrival_to)
