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

    def _stripe_schedule_activity(self, summary, note):
        """Give the account's responsible user a to-do on this record, unless one
        is already open for them (the record must have activities)."""
        self.ensure_one()
        user = self.account_id.user_id
        if not user or self.activity_ids.filtered(lambda a: a.user_id == user):
            return
        self.activity_schedule(
            "mail.mail_activity_data_todo", summary=summary, note=note, user_id=user.id
        )
