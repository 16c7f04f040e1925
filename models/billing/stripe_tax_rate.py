from odoo import fields, models


class StripeTaxRate(models.Model):
    """A Stripe tax rate (txr_...) and the Odoo tax its amounts are booked with.

    Filled in as Stripe invoices name the rates (the company's sales tax of the
    same percentage and price inclusion); a user may pick another tax."""

    _name = "stripe.tax.rate"
    _description = "Stripe Tax Rate"
    _inherit = ["stripe.binding.mixin"]
    _order = "account_id, name, id"

    stripe_id = fields.Char(string="Stripe Tax Rate", readonly=False)
    name = fields.Char(required=True)
    percentage = fields.Float(digits=(16, 4))
    inclusive = fields.Boolean(string="Included in Price")
    tax_id = fields.Many2one(
        "account.tax",
        string="Odoo Tax",
        check_company=True,
        domain="[('type_tax_use', '=', 'sale')]",
    )
    account_id = fields.Many2one(readonly=False)
