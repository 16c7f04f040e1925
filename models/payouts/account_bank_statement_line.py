from odoo import api, models


class AccountBankStatementLine(models.Model):
    _inherit = "account.bank.statement.line"

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        statement_lines = super().create(vals_list)
        statement_lines._stripe_match_payouts()
        return statement_lines

    # === BUSINESS METHODS === #

    def _stripe_match_payouts(self):
        """A bank line that arrives after its Stripe payout was reconciled takes the
        payout's transfer (one search for the whole batch of lines)."""
        if not self:
            return
        # sudo: matching a bank line with the payout it pays is bookkeeping Stripe's
        # reconciliation does on behalf of whoever imports the statement, who needs
        # not be a Stripe user.
        payouts = (
            self.env["stripe.payout"]
            .sudo()
            .search(
                [
                    ("bank_journal_id", "in", self.journal_id.ids),
                    ("state", "=", "reconciled"),
                    ("transfer_move_id", "!=", False),
                    ("transfer_reversal_move_id", "=", False),
                    ("statement_line_id", "=", False),
                ],
                order="arrival_date, id",
            )
        )
        for payout in payouts:
            payout._stripe_match_statement_line(self.sudo())
