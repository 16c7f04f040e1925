from odoo import api, fields, models


class StripeTieoutLine(models.Model):
    """One reporting category of a month tie-out: Stripe's total, what Odoo
    booked for it on the Stripe journal, and the difference."""

    _name = "stripe.tieout.line"
    _description = "Stripe Tie-out Line"
    _order = "tieout_id, sequence, id"

    tieout_id = fields.Many2one(
        "stripe.tieout", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer()
    currency_id = fields.Many2one(related="tieout_id.currency_id")
    company_id = fields.Many2one(related="tieout_id.company_id", store=True)
    reporting_category = fields.Char(
        required=True, help="Stripe's reporting category (charge, refund, fee...)."
    )
    account_label = fields.Char(
        string="Odoo Accounts", compute="_compute_account_label"
    )
    stripe_amount = fields.Monetary(string="Stripe")
    odoo_amount = fields.Monetary(string="Odoo")
    difference = fields.Monetary(compute="_compute_difference", store=True)
    explanation = fields.Text(
        help="Why the difference is right: a difference explained does not "
        "prevent closing the month, and the reason is kept."
    )
    item_count = fields.Integer(compute="_compute_item_count")

    @api.depends("stripe_amount", "odoo_amount")
    def _compute_difference(self):
        for line in self:
            line.difference = line.currency_id.round(
                line.stripe_amount - line.odoo_amount
            )

    def _compute_account_label(self):
        for line in self:
            account = line.tieout_id.account_id
            journal = account.journal_id.default_account_id
            counterpart = {
                "fee": account.fee_account_id,
                "dispute": account.dispute_account_id,
                "dispute_reversal": account.dispute_account_id,
                "payout": line.tieout_id.company_id.transfer_account_id,
            }.get(line.reporting_category)
            line.account_label = " / ".join(
                filter(
                    None,
                    [
                        journal.display_name,
                        counterpart.display_name if counterpart else None,
                    ],
                )
            )

    def _compute_item_count(self):
        for line in self:
            line.item_count = len(
                line.tieout_id.item_ids.filtered(
                    lambda item, c=line.reporting_category: item.reporting_category == c
                )
            )

    def action_view_items(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.reporting_category,
            "res_model": "stripe.tieout.item",
            "view_mode": "list,form",
            "domain": [
                ("tieout_id", "=", self.tieout_id.id),
                ("reporting_category", "=", self.reporting_category),
            ],
        }
