from odoo import api, fields, models


class ResPartner(models.Model):
    """A customer's Stripe subscriptions: the smart button and the current MRR."""

    _inherit = "res.partner"

    stripe_subscription_ids = fields.One2many(
        "stripe.subscription", "partner_id", string="Stripe Subscriptions"
    )
    stripe_subscription_count = fields.Integer(
        string="Subscriptions", compute="_compute_stripe_mrr"
    )
    stripe_mrr = fields.Monetary(
        string="Current MRR",
        currency_field="stripe_mrr_currency_id",
        compute="_compute_stripe_mrr",
        help="Monthly recurring revenue of the customer's Stripe subscriptions that "
        "count in MRR now (active or past due), in the company currency.",
    )
    stripe_mrr_currency_id = fields.Many2one(
        "res.currency", compute="_compute_stripe_mrr"
    )

    # === COMPUTE METHODS === #

    @api.depends_context("company")
    @api.depends("stripe_subscription_ids.recurring_monthly")
    def _compute_stripe_mrr(self):
        subscription_model = self.env["stripe.subscription"]
        if not subscription_model.has_access("read"):
            self.stripe_subscription_count = 0
            self.stripe_mrr = 0.0
            self.stripe_mrr_currency_id = self.env.company.currency_id
            return
        for partner in self:
            partners = partner.commercial_partner_id | partner
            subscriptions = subscription_model.search(
                [("partner_id", "child_of", partners.ids)]
            )
            partner.stripe_subscription_count = len(subscriptions)
            partner.stripe_mrr = sum(
                subscriptions.filtered("counts_in_mrr").mapped(
                    "recurring_monthly_company"
                )
            )
            partner.stripe_mrr_currency_id = self.env.company.currency_id

    # === ACTION METHODS === #

    def action_view_stripe_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_subscription_action"
        )
        action["domain"] = [
            ("partner_id", "child_of", (self.commercial_partner_id | self).ids)
        ]
        action["context"] = {"create": False}
        return action
