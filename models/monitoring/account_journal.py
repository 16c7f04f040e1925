from odoo import _, models
from odoo.tools.misc import format_datetime


class AccountJournal(models.Model):
    """The Stripe journal's card on the Accounting dashboard: its real balance
    beside Stripe's last known one.

    Odoo's bank card adds up statement lines and payments only; a Stripe journal
    also holds entries no payment makes (fees, dispute withdrawals, payout
    transfers), which a user without full accounting rights may not even read.
    The card shows the journal's posted balance instead, the one the balance
    check compares with Stripe's, and that check's result."""

    _inherit = "account.journal"

    # === DASHBOARD === #

    def _fill_bank_cash_dashboard_data(self, dashboard_data):
        res = super()._fill_bank_cash_dashboard_data(dashboard_data)
        # sudo: the card shows the Stripe journal's balance to whoever sees the
        # card, as Odoo's own card does; its entries are not disclosed.
        for journal in self.sudo().filtered("stripe_account_ids"):
            data = dashboard_data.get(journal.id)
            if data is not None:
                data.update(journal._stripe_dashboard_balances())
        return res

    def _stripe_dashboard_balances(self):
        """The figures of the Stripe card (sudo: see the caller).

        :return: the journal's posted balance, Stripe's balance at the last
            balance check, and the difference that check found, formatted; the
            check's date, for the tooltip.
        :rtype: dict
        """
        self.ensure_one()
        account = (
            self.stripe_account_ids.filtered("active")[:1]
            or (self.stripe_account_ids[:1])
        )
        check_model = self.env["stripe.balance.check"]
        currency = account.currency_id
        balance = check_model._stripe_journal_balance(account, self)
        check = check_model.search(
            [
                ("account_id", "=", account.id),
                ("state", "in", ("ok", "difference")),
            ],
            limit=1,
        )
        values = {
            "account_balance": currency.format(balance),
            "nb_lines_bank_account_balance": True,
            "stripe_balance": False,
            "stripe_balance_difference": False,
        }
        if check:
            values.update(
                stripe_balance=currency.format(check.stripe_balance),
                stripe_balance_difference=currency.format(check.difference),
                stripe_balance_differs=not currency.is_zero(check.difference),
                stripe_balance_title=_(
                    "Stripe's balance (available plus pending) at the last balance "
                    "check, on %s",
                    format_datetime(self.env, check.checked_at),
                ),
            )
        return values

    # === ACTION METHODS === #

    def action_stripe_open_balance_check(self):
        """The last balance check of the journal's Stripe account."""
        self.ensure_one()
        return self.stripe_account_ids[:1].action_view_last_balance_check()
