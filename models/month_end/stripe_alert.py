from odoo import fields, models


class StripeAlert(models.Model):
    _inherit = "stripe.alert"

    cause = fields.Selection(
        selection_add=[("tieout_differs", "Month Does Not Tie")],
        ondelete={"tieout_differs": "cascade"},
    )
