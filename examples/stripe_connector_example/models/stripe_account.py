from odoo import fields, models


class StripeAccount(models.Model):
    _inherit = "stripe.account"

    example_reserve_account_id = fields.Many2one(
        "account.account",
        string="Reserve Account",
        check_company=True,
        help="Where the funds Stripe holds in reserve (reporting category "
        "risk_reserved_funds) are booked when a payout carries them.",
    )
