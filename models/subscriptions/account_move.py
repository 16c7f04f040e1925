from odoo import api, fields, models


class AccountMove(models.Model):
    """The subscription of an invoice mirroring a Stripe subscription invoice."""

    _inherit = "account.move"

    stripe_mirrored_subscription_id = fields.Many2one(
        "stripe.subscription",
        string="Subscription",
        compute="_compute_stripe_mirrored_subscription_id",
        help="The Stripe subscription this invoice bills (Stripe Billing names it "
        "as the invoice's origin).",
    )

    @api.depends("stripe_invoice_id", "invoice_origin", "stripe_account_id")
    def _compute_stripe_mirrored_subscription_id(self):
        mirrors = self.filtered(
            lambda m: (
                m.stripe_invoice_id
                and m.stripe_account_id
                and (m.invoice_origin or "").startswith("sub_")
            )
        )
        (self - mirrors).stripe_mirrored_subscription_id = False
        if not mirrors:
            return
        subscriptions = self.env["stripe.subscription"].search(
            [
                ("account_id", "in", mirrors.stripe_account_id.ids),
                ("stripe_id", "in", mirrors.mapped("invoice_origin")),
            ]
        )
        by_key = {(s.account_id.id, s.stripe_id): s for s in subscriptions}
        for move in mirrors:
            move.stripe_mirrored_subscription_id = by_key.get(
                (move.stripe_account_id.id, move.invoice_origin), False
            )
