from odoo import _, models
from odoo.exceptions import UserError

from odoo.addons.stripe_connector.tools.payout import PayoutBooker


class StripePayout(models.Model):
    """A payout booker: the funds Stripe holds in reserve go to a reserve
    account, not to the adjustments."""

    _inherit = "stripe.payout"

    def _stripe_payout_bookers(self):
        return [
            *super()._stripe_payout_bookers(),
            PayoutBooker(
                ("risk_reserved_funds", "risk_reserved_funds_release"),
                "_example_book_reserves",
            ),
        ]

    def _example_book_reserves(self, transactions, picks):  # pylint: disable=unused-argument
        """One entry for the payout's reserve transactions, on the reserve
        account; *Undo* reverses it with the rest."""
        if not transactions:
            return self.env["account.move"]
        account = self.account_id
        if not account.example_reserve_account_id:
            raise UserError(_("Set a reserve account on %s.", account.display_name))
        move = account._stripe_post_entry(
            date=self._stripe_booking_date(),
            ref=_("Stripe payout %s: reserves", self.stripe_id),
            lines=[
                {
                    "account_id": account.example_reserve_account_id.id,
                    # Money held back leaves the balance: the reserve is debited.
                    "amount": -sum(transactions.mapped("amount")),
                    "name": _(
                        "Stripe reserve: %s",
                        ", ".join(transactions.mapped("stripe_id")),
                    ),
                }
            ],
            currency_code=self.currency_id.name,
        )
        transactions.write({"move_id": move.id, "source_data": False})
        return move
