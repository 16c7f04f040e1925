from odoo import fields, models


class AccountJournal(models.Model):
    _inherit = "account.journal"

    stripe_lock_date = fields.Date(
        readonly=True,
        copy=False,
        help="Set when a Stripe month tie-out is closed: no entry of this journal "
        "may be dated on or before it; what arrives later for a closed month is "
        "booked on the first open day, with a note linking the tie-out.",
    )
    stripe_lock_tieout_id = fields.Many2one(
        "stripe.tieout", string="Closed Tie-out", readonly=True, copy=False
    )
