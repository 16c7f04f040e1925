from odoo import _, api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    stripe_account_count = fields.Integer(compute="_compute_stripe_account_count")
    stripe_account_summary = fields.Char(compute="_compute_stripe_account_summary")

    # === COMPUTE METHODS === #

    @api.depends("company_id")
    def _compute_stripe_account_count(self):
        for settings in self:
            settings.stripe_account_count = self.env["stripe.account"].search_count(
                [("company_id", "=", settings.company_id.id)]
            )

    @api.depends("company_id")
    def _compute_stripe_account_summary(self):
        for settings in self:
            count = self.env["stripe.account"].search_count(
                [("company_id", "=", settings.company_id.id)]
            )
            if not count:
                summary = _("No Stripe account is configured for this company yet.")
            elif count == 1:
                summary = _("1 Stripe account is configured for this company.")
            else:
                summary = _(
                    "%s Stripe accounts are configured for this company.", count
                )
            settings.stripe_account_summary = summary

    # === ACTION METHODS === #

    def action_open_stripe_accounts(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_account_action"
        )
