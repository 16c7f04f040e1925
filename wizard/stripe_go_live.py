from odoo import _, api, fields, models
from odoo.exceptions import UserError


class StripeGoLive(models.TransientModel):
    """*Start with Stripe on DATE*: open the Stripe journal with Stripe's balance
    at that date, against an account the user picks, and record the date.
    Transactions from before it are in that opening balance: a payout that
    carries them later links them to the opening entry instead of looking for
    their payments, and the catch-up and the imports never reach before it."""

    _name = "stripe.go.live"
    _description = "Start with Stripe"

    account_id = fields.Many2one("stripe.account", required=True, readonly=True)
    company_id = fields.Many2one(related="account_id.company_id")
    date = fields.Date(
        required=True,
        default=fields.Date.context_today,
        help="The first day Odoo books Stripe's activity.",
    )
    counterpart_account_id = fields.Many2one(
        "account.account",
        required=True,
        check_company=True,
        help="Where the opening balance comes from (an opening balance or "
        "suspense account).",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        account = self.env["stripe.account"].browse(values.get("account_id"))
        if account and "counterpart_account_id" in fields_list:
            values.setdefault(
                "counterpart_account_id",
                account.company_id.get_unaffected_earnings_account().id,
            )
        return values

    def action_confirm(self):
        """Read Stripe's balance at the date, post the opening entry, record the
        date.

        :raise UserError: the account already went live, or Stripe has no data
            for that date yet.
        """
        self.ensure_one()
        account = self.account_id
        if account.go_live_date:
            raise UserError(
                _(
                    "%(account)s already started with Stripe on %(date)s.",
                    account=account.display_name,
                    date=account.go_live_date,
                )
            )
        journal = account.journal_id
        if not journal:
            raise UserError(
                _("Set the Stripe journal of %s first.", account.display_name)
            )
        balance = float(account._stripe_balance_at(self.date))
        currency = journal.currency_id or account.company_id.currency_id
        move = self._stripe_opening_move(journal, currency, balance)
        account.write({"go_live_date": self.date, "go_live_move_id": move.id})
        account.message_post(
            body=_(
                "Started with Stripe on %(date)s: the Stripe journal opens with "
                "Stripe's balance, %(amount)s (%(move)s).",
                date=self.date,
                amount=currency.format(balance),
                move=move.name,
            )
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": move.id,
            "view_mode": "form",
        }

    def _stripe_opening_move(self, journal, currency, balance):
        company = self.account_id.company_id
        company_amount = currency._convert(
            balance, company.currency_id, company, self.date
        )
        foreign = currency != company.currency_id

        def line(account, sign):
            vals = {
                "name": _("Stripe balance at %s", self.date),
                "account_id": account.id,
                "debit": max(sign * company_amount, 0.0),
                "credit": max(-sign * company_amount, 0.0),
            }
            if foreign:
                vals.update(currency_id=currency.id, amount_currency=sign * balance)
            return (0, 0, vals)

        move = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": journal.id,
                "date": self.date,
                "ref": _("Stripe opening balance"),
                "line_ids": [
                    line(journal.default_account_id, 1),
                    line(self.counterpart_account_id, -1),
                ],
            }
        )
        move.action_post()
        return move
