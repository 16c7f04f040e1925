from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    stripe_account_count = fields.Integer(compute="_compute_stripe_account_count")

    @api.depends("company_id")
    def _compute_stripe_account_count(self):
        for settings in self:
            settings.stripe_account_count = self.env["stripe.account"].search_count(
                [("company_id", "=", settings.company_id.id)]
            )

    def action_open_stripe_accounts(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_account_action"
        )
