from odoo import fields, models


class StripeAccountMixin(models.AbstractModel):
    """What belongs to a Stripe account: events, disputes, payouts, balance
    transactions. They live in its company, and follow its record rules."""

    _name = "stripe.account.mixin"
    _description = "Belongs to a Stripe Account"
    _check_company_auto = True

    account_id = fields.Many2one(
        "stripe.account",
        string="Stripe Account",
        required=True,
        readonly=True,
        ondelete="restrict",
        index=True,
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True, precompute=True
    )
