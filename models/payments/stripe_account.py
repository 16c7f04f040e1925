from odoo import _, fields, models
from odoo.exceptions import UserError

from ... import utils


class StripeAccount(models.Model):
    """The journal entries of an account: what moves money in and out of the
    Stripe journal (fees, exchange differences, payments without invoice)."""

    _inherit = "stripe.account"

    # === STRIPE JOURNAL ENTRIES === #

    def _stripe_adjustment_account(self):
        """Account of the adjustments a payout books (the fee account by default)."""
        self.ensure_one()
        return self.payout_adjustment_account_id or self.fee_account_id

    def _stripe_dispute_counterpart_account(self):
        """Account of the disputed amounts a payout books when no dispute entry
        mirrors them: the disputed payments account, else the adjustment account."""
        self.ensure_one()
        return self.dispute_account_id or self._stripe_adjustment_account()

    def _stripe_get_journal(self):
        """Return the Stripe journal, or explain that it must be set."""
        self.ensure_one()
        if not self.journal_id:
            raise UserError(
                _(
                    "The Stripe account %s has no Stripe journal. Set one (or click "
                    "'Create Missing Journal and Accounts'), then retry.",
                    self.display_name,
                )
            )
        return self.journal_id

    def _stripe_entry_vals(self, date, ref, lines, currency_code=None):
        """The values of an entry on the Stripe journal that moves money out of
        (or into) the Stripe balance.

        Each line is a counterpart; the Stripe balance account takes the opposite
        of their total. A positive amount debits the counterpart (money leaves the
        Stripe balance: a fee, a disputed amount, a payout), a negative one credits
        it.

        :param date: the accounting date (``date`` or ``datetime``).
        :param str ref: the entry's reference.
        :param list lines: dicts with ``account_id``, ``amount`` (major units of
            the currency, ``Decimal`` or ``float``), ``name`` and optionally
            ``partner_id``.
        :param str currency_code: the amounts' currency (Stripe's code); the
            settlement currency by default.
        :return: the values of the ``account.move`` (see ``_stripe_post_entry``).
        """
        self.ensure_one()
        journal = self._stripe_get_journal()
        company = self.company_id
        currency = self.currency_id
        if currency_code and currency_code.upper() != currency.name:
            currency = (
                self.env["res.currency"].search(
                    [("name", "=", currency_code.upper())], limit=1
                )
                or currency
            )
        date = fields.Date.to_date(date)
        line_commands = []
        total_amount = total_balance = 0.0
        for line in lines:
            amount = currency.round(float(line["amount"]))
            balance = currency._convert(amount, company.currency_id, company, date)
            total_amount += amount
            total_balance += balance
            line_commands.append(
                fields.Command.create(
                    {
                        "name": line["name"],
                        "account_id": line["account_id"],
                        "partner_id": line.get("partner_id"),
                        "currency_id": currency.id,
                        "amount_currency": amount,
                        "balance": balance,
                    }
                )
            )
        line_commands.append(
            fields.Command.create(
                {
                    "name": ref,
                    "account_id": journal.default_account_id.id,
                    "currency_id": currency.id,
                    "amount_currency": -total_amount,
                    "balance": -total_balance,
                }
            )
        )
        return {
            "move_type": "entry",
            "journal_id": journal.id,
            "date": date,
            "ref": ref,
            "line_ids": line_commands,
        }

    def _stripe_post_entry(self, date, ref, lines, currency_code=None):
        """Post an entry on the Stripe journal that moves money out of (or into)
        the Stripe balance (see ``_stripe_entry_vals`` for the arguments).

        :return: the posted ``account.move``.
        """
        move = self.env["account.move"].create(
            self._stripe_entry_vals(date, ref, lines, currency_code)
        )
        move.action_post()
        return move

    def _stripe_book_settlement(self, payment, balance_transaction, fee_label=None):
        """Book what Stripe's balance transaction tells of a payment it settled (a
        customer payment or a refund): Stripe's conversion, and its fee, each once
        per payment. The one way a payment's settlement is booked: by the payment
        rules and the refunds.

        :param payment: the ``account.payment``.
        :param balance_transaction: Stripe's (dict), or anything else (unknown:
            nothing is booked now, the payout books it).
        :param str fee_label: the fee entry's label (default: the charge's).
        :return: the exchange entry and the fee entry (each possibly empty).
        :rtype: tuple
        """
        self.ensure_one()
        exchange_move = self._stripe_book_exchange_difference(
            payment, balance_transaction
        )
        fee_move = self.env["account.move"]
        if not payment.stripe_fee_move_id:
            fee_move = self._stripe_book_fee(
                balance_transaction,
                fee_label
                or _(
                    "Stripe fee for %s",
                    payment.stripe_charge_id or payment.stripe_object_id,
                ),
            )
            payment.stripe_fee_move_id = fee_move
        return exchange_move, fee_move

    def _stripe_book_fee(self, balance_transaction, label):
        """Book the fee of a balance transaction against the fee account.

        A positive fee (Stripe's processing fee) leaves the Stripe balance; a
        negative one (a fee Stripe returns) comes back.

        :param dict balance_transaction: the balance transaction, or ``None``.
        :param str label: the entry's reference and line label.
        :return: the posted entry, or an empty recordset when there is no fee.
        """
        vals = self._stripe_fee_entry_vals(balance_transaction, label)
        if not vals:
            return self.env["account.move"]
        move = self.env["account.move"].create(vals)
        move.action_post()
        return move

    def _stripe_fee_entry_vals(self, balance_transaction, label):
        """The values of the fee entry of a balance transaction (see
        ``_stripe_book_fee``), or None when it has no fee."""
        self.ensure_one()
        fee = (balance_transaction or {}).get("fee") or 0
        if not fee:
            return None
        if not self.fee_account_id:
            raise UserError(
                _("Set a fee account on %s to book Stripe fees.", self.display_name)
            )
        currency_code = balance_transaction["currency"]
        return self._stripe_entry_vals(
            date=utils.timestamp_to_datetime(balance_transaction.get("created"))
            or fields.Date.context_today(self),
            ref=label,
            currency_code=currency_code,
            lines=[
                {
                    "account_id": self.fee_account_id.id,
                    "amount": utils.from_minor_units(fee, currency_code),
                    "name": label,
                }
            ],
        )

    def _stripe_payment_vals(self, payment_type, partner, amount, currency, date):
        """Values of a customer payment on the Stripe journal (no invoice).

        :param str payment_type: ``inbound`` (money in) or ``outbound`` (a refund).
        """
        journal = self._stripe_get_journal()
        vals = {
            "payment_type": payment_type,
            "partner_type": "customer",
            "partner_id": partner.commercial_partner_id.id,
            "amount": amount,
            "currency_id": currency.id,
            "date": date,
            "journal_id": journal.id,
            "payment_method_line_id": journal._stripe_get_payment_method_line(
                payment_type
            ).id,
        }
        return vals

    def _stripe_payment_register_vals(self, lines, date):
        """Values of Odoo's payment registration (``account.payment.register``)
        of customer invoice lines on the Stripe journal.

        The lines to pay are given rather than taken from an ``active_ids``
        context (what the wizard's default_get does): an environment of its own
        per invoice, with all those derived from it, would pile up when a payout
        registers thousands of payments in one transaction, and Odoo looks each
        new environment up among them.
        """
        journal = self._stripe_get_journal()
        return {
            "line_ids": [fields.Command.set(lines.ids)],
            "journal_id": journal.id,
            "payment_method_line_id": journal._stripe_get_payment_method_line(
                "inbound"
            ).id,
            "payment_date": date,
        }

    def _stripe_payment_currency(self, currency, amount, balance_transaction, date):
        """The currency and amount a payment is registered in on the Stripe journal.

        The payment's own currency, unless the Stripe journal is kept in a foreign
        currency (its account forces it) and the payment is in a third one: then
        what Stripe settled in the journal's currency (from the balance
        transaction, else converted at Odoo's rate).

        :return: ``(res.currency, float)``
        """
        journal_currency = self._stripe_get_journal().default_account_id.currency_id
        if not journal_currency or journal_currency == currency:
            return currency, amount
        settled = balance_transaction or {}
        if (settled.get("currency") or "").upper() == journal_currency.name:
            return journal_currency, abs(
                float(utils.from_minor_units(settled["amount"], settled["currency"]))
            )
        return journal_currency, currency._convert(
            amount, journal_currency, self.company_id, date
        )

    def _stripe_book_exchange_difference(self, payment, balance_transaction):
        """Bring the Stripe journal to what Stripe settled for a payment.

        Odoo registers a payment in another currency at its own rate; Stripe
        converted it at another. The difference goes to the company's exchange
        gain or loss account, in one entry on the Stripe journal linked to the
        payment (payouts count it, so it is never booked twice).

        :param payment: the ``account.payment`` (customer payment or refund).
        :param dict balance_transaction: Stripe's, or ``None`` (nothing known yet:
            the payout books the difference).
        :return: the entry, or an empty recordset.
        """
        self.ensure_one()
        entry = self.env["account.move"]
        if not balance_transaction or payment.stripe_exchange_move_id:
            return entry
        code = (balance_transaction.get("currency") or "").upper()
        company = self.company_id
        liquidity = payment.move_id.line_ids.filtered(
            lambda line: line.account_id == self.journal_id.default_account_id
        )
        if liquidity.currency_id.name == code:
            booked = sum(liquidity.mapped("amount_currency"))
        elif company.currency_id.name == code:
            booked = sum(liquidity.mapped("balance"))
        else:
            return entry
        settled = float(utils.from_minor_units(balance_transaction["amount"], code))
        currency = (
            liquidity.currency_id
            if liquidity.currency_id.name == code
            else (company.currency_id)
        )
        difference = currency.round(settled - booked)
        if currency.is_zero(difference):
            return entry
        entry = self._stripe_post_exchange_difference(
            difference,
            payment.date,
            _("Stripe exchange difference %s", payment.stripe_object_id),
            _("Stripe's rate vs. Odoo's for %s", payment.stripe_object_id),
            code,
        )
        payment.stripe_exchange_move_id = entry
        return entry

    def _stripe_post_exchange_difference(
        self, difference, date, ref, label, currency_code
    ):
        """Post on the Stripe journal what Stripe settled beyond (positive) or
        short of (negative) what Odoo booked, against the company's exchange gain
        or loss account.

        :raise UserError: the company has no exchange difference accounts.
        """
        company = self.company_id
        counterpart = (
            company.income_currency_exchange_account_id
            if difference > 0
            else company.expense_currency_exchange_account_id
        )
        if not counterpart:
            raise UserError(
                _(
                    "Set the exchange gain and loss accounts of %s (Accounting "
                    "settings) to book Stripe's exchange differences.",
                    company.name,
                )
            )
        return self._stripe_post_entry(
            date=date,
            ref=ref,
            lines=[
                {"account_id": counterpart.id, "amount": -difference, "name": label}
            ],
            currency_code=currency_code,
        )
