from odoo import api, models


class StripeBalanceTransaction(models.Model):
    _inherit = "stripe.balance.transaction"

    @api.model
    def _stripe_store(self, account, objects, payout=None):
        """A transaction from before the go-live date is in the opening balance:
        it is linked to the opening entry (gross and fee), never looked for as a
        payment nor booked again when its payout is reconciled."""
        transactions = super()._stripe_store(account, objects, payout=payout)
        opening = account.go_live_move_id
        if opening:
            before = transactions.filtered(
                lambda t: (
                    t.link_state == "to_book"
                    and t.type != "payout"
                    and t.stripe_created
                    and t.stripe_created.date() < account.go_live_date
                )
            )
            if before:
                before.write(
                    {
                        "move_id": opening.id,
                        "fee_move_id": opening.id,
                        "source_data": False,
                    }
                )
        return transactions
