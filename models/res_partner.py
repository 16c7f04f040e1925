from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    stripe_customer_id = fields.Char(
        copy=False,
        index="btree_not_null",
        help="Stripe's customer id (cus_...). Payments of this Stripe customer are "
        "matched with this partner's open invoices. Filled in automatically once a "
        "payment of the customer has been matched.",
    )
