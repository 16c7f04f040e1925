from odoo import fields, models


class StripeAccount(models.Model):
    """Stripe Billing settings of a Stripe account."""

    _inherit = "stripe.account"

    subscription_product_id = fields.Many2one(
        "product.product",
        string="Default Subscription Product",
        check_company=True,
        tracking=True,
        help="Product of the Stripe invoice lines whose Stripe product no Odoo "
        "product names (field Stripe Product on the product).",
    )
