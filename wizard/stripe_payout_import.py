from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class StripePayoutImport(models.TransientModel):
    """Import the payouts of a date range from Stripe (those the webhooks missed,
    or older ones), with their transactions."""

    _name = "stripe.payout.import"
    _description = "Import Stripe Payouts"

    account_id = fields.Many2one(
        "stripe.account", string="Stripe Account", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, precompute=True
    )
    date_from = fields.Date(
        string="Arrival From",
        required=True,
        default=lambda self: fields.Date.context_today(self) - timedelta(days=30),
    )
    date_to = fields.Date(
        string="Arrival To",
        required=True,
        default=fields.Date.context_today,
    )

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for wizard in self:
            if wizard.date_from > wizard.date_to:
                raise ValidationError(_("The first arrival date is after the last."))

    def action_import(self):
        self.ensure_one()
        account = self.account_id
        payouts = (
            self.env["stripe.payout"]
            .with_company(account.company_id)
            ._stripe_import(account, self.date_from, self.date_to)
        )
        if not payouts:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "info",
                    "title": _("Import Payouts"),
                    "message": _("Stripe has no payout arriving in these dates."),
                    "next": {"type": "ir.actions.act_window_close"},
                },
            }
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_payout_action"
        )
        action["domain"] = [("id", "in", payouts.ids)]
        return action
