from collections import defaultdict
from datetime import timedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .. import const, utils

# The bookers ``_stripe_reconcile`` calls by name (see ``_stripe_payout_bookers``).
BUILT_IN_BOOKERS = {
    "_stripe_book_payments",
    "_stripe_book_adjustments",
    "_stripe_book_fees",
}


class StripePayout(models.Model):
    """Reconciling a payout: what no Odoo document mirrors yet is booked on the
    Stripe journal, the fees in one entry, and the payout moves to the bank
    journal through the liquidity transfer account, matched with the bank
    statement line. Undo and a payout that fails afterwards reverse it."""

    _inherit = "stripe.payout"

    # === RECONCILIATION === #

    def _stripe_reconcile_safely(self):
        """Reconcile in a savepoint; on a user error, book nothing and mark the
        payout *Needs Attention* with the reason.

        :return: what was done, or why not.
        """
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                return self._stripe_reconcile()
        except UserError as error:
            self._stripe_set_error(error.args[0])
            return _(
                "Payout %(payout)s needs attention: %(reason)s",
                payout=self.stripe_id,
                reason=error.args[0],
            )

    def _stripe_reconcile(self, invoices=None):
        """Mirror every transaction of the payout on the Stripe journal and move the
        payout to the bank journal.

        1. what no Odoo document mirrors yet is booked: charges, refunds and
           refund failures as payments, disputes and adjustments in one entry;
        2. the fees not booked yet go to the fee account in one entry, one line per
           fee type;
        3. differences between what payments booked and what Stripe settled go to
           the exchange difference accounts;
        4. the payout leaves the Stripe journal for the liquidity transfer account
           (not for a failed or canceled payout), and the bank statement line of
           its arrival takes it when the bank journal has it.

        Reconciling a reconciled payout books nothing more.

        :param dict invoices: ``{transaction id: invoice}`` picked by a user for
            charges no payment mirrors yet.
        :return: what was booked.
        :rtype: str
        :raise UserError: the transactions do not add up to the payout (nothing is
            booked), or the configuration misses an account or journal.
        """
        self.ensure_one()
        if self._stripe_is_reconciled():
            return _(
                "Payout %s is already reconciled; nothing more booked.", self.stripe_id
            )
        self._stripe_lock()
        self._stripe_refresh_links()
        self._stripe_check_ready()
        account = self.account_id
        payments = self._stripe_book_payments(invoices or {})
        # Stripe's conversion of payments in another currency, booked with them.
        moves = payments.stripe_exchange_move_id
        for field, move in (
            ("adjustment_move_id", self._stripe_book_adjustments()),
            ("fee_move_id", self._stripe_book_fees()),
        ):
            if move:
                self[field] = move
                moves |= move
        # Bookers another addon adds to the table.
        for method in dict.fromkeys(self._stripe_payout_bookers().values()):
            if method and method not in BUILT_IN_BOOKERS:
                moves |= getattr(self, method)()
        exchange_move = self._stripe_book_exchange_difference()
        if exchange_move:
            self.exchange_move_id = exchange_move
            moves |= exchange_move
        self._stripe_check_all_booked()
        if self.status not in const.PAYOUT_RETURNED_STATUSES:
            self.transfer_move_id = self._stripe_book_transfer()
            moves |= self.transfer_move_id
        self.write(
            {
                "state": "reconciled",
                "move_ids": [Command.link(move.id) for move in moves],
                "payment_ids": [Command.link(payment.id) for payment in payments],
            }
        )
        self.activity_ids.action_feedback(_("Reconciled."))
        self._stripe_update_breakdown()
        message = _(
            "Payout %(payout)s reconciled: its %(count)s transactions are mirrored on "
            "%(journal)s.",
            payout=self.stripe_id,
            count=self.transaction_count,
            journal=account.journal_id.display_name,
        )
        if moves or payments:
            message += " " + _(
                "Booked now: %s.",
                ", ".join(moves.mapped("name") + payments.mapped("name")),
            )
        if self.transfer_move_id:
            statement_line = self._stripe_match_statement_line()
            message += " " + (
                _("Matched with bank statement line %s.", statement_line.display_name)
                if statement_line
                else _(
                    "The transfer waits for the bank statement line of %(amount)s on "
                    "%(journal)s.",
                    amount=self.currency_id.format(self.amount),
                    journal=self.bank_journal_id.display_name,
                )
            )
        self.state_message = message
        self.message_post(body=message)
        return message

    @api.model
    def _stripe_payout_bookers(self):
        """How a payout books the transactions nothing mirrors yet: booking way
        (the values of ``const.PAYOUT_BOOKING``, and ``adjustment`` for the
        categories it does not list) -> the method of ``stripe.payout`` that books
        the transactions of that way (it reads its categories through
        ``_stripe_booker_categories``), or ``False`` for what the payout's own
        transfer mirrors. Another addon adds a way (a new reporting category) by
        overriding this method and ``const.PAYOUT_BOOKING``'s entry; its booker
        returns the entries it posted. A way without booker leaves its
        transactions unbooked: the payout then needs attention.

        :return: a new dict on each call (safe to update).
        :rtype: dict
        """
        return {
            "payment": "_stripe_book_payments",
            "refund": "_stripe_book_payments",
            "refund_failure": "_stripe_book_payments",
            "dispute": "_stripe_book_adjustments",
            "adjustment": "_stripe_book_adjustments",
            "fee": "_stripe_book_fees",
            "payout": False,
        }

    @api.model
    def _stripe_booker_categories(self, method):
        """The reporting categories of ``const.PAYOUT_BOOKING`` that a booker books
        (see ``_stripe_payout_bookers``).

        :rtype: list[str]
        """
        bookers = self._stripe_payout_bookers()
        return [
            category
            for category, how in const.PAYOUT_BOOKING.items()
            if bookers.get(how) == method
        ]

    def _stripe_check_all_booked(self):
        """After booking, nothing but what the payout's transfer mirrors may be
        left to book.

        :raise UserError: transactions were left unbooked (listed); the caller
            rolls the booking back.
        """
        self.ensure_one()
        bookers = self._stripe_payout_bookers()
        left = (
            self.env["stripe.balance.transaction"]
            .search(
                [("payout_id", "=", self.id), ("link_state", "=", "to_book")],
                order="stripe_created, id",
            )
            .filtered(
                lambda transaction: (
                    transaction.type not in const.PAYOUT_TRANSACTION_TYPES
                    and bookers.get(
                        const.PAYOUT_BOOKING.get(
                            transaction.reporting_category, "adjustment"
                        ),
                        True,
                    )
                    is not False
                )
            )
        )
        if left:
            raise UserError(
                _(
                    "Payout %(payout)s was not reconciled: nothing books %(count)s "
                    "of its transactions (%(transactions)s). Nothing was booked.",
                    payout=self.stripe_id,
                    count=len(left),
                    transactions=", ".join(
                        f"{transaction.stripe_id} ({transaction.reporting_category})"
                        for transaction in left[:20]
                    )
                    + (", ..." if len(left) > 20 else ""),
                )
            )

    def _stripe_check_ready(self):
        """Refuse to reconcile what would not mirror Stripe exactly.

        :raise UserError: transactions missing or not adding up to the payout, or
            missing configuration.
        """
        self.ensure_one()
        account = self.account_id
        if not self.transactions_imported:
            raise UserError(
                self._stripe_import_blocker() or _("No transaction imported.")
            )
        if self.currency_id.compare_amounts(self.amount, self.net_amount):
            raise UserError(self._stripe_difference_message())
        if not account.fee_account_id:
            raise UserError(
                _("Set a fee account on %s to book Stripe fees.", account.display_name)
            )
        if self.status not in const.PAYOUT_RETURNED_STATUSES:
            if not self.bank_journal_id:
                raise UserError(
                    _(
                        "Set the bank journal of payout %(payout)s (the payout bank "
                        "journal of %(account)s).",
                        payout=self.stripe_id,
                        account=account.display_name,
                    )
                )
            if not self.company_id.transfer_account_id:
                raise UserError(
                    _(
                        "Set the liquidity transfer account of %s (Accounting "
                        "settings).",
                        self.company_id.name,
                    )
                )

    def _stripe_difference_message(self):
        """Say by how much the transactions miss the payout's amount, and why."""
        self.ensure_one()
        currency = self.currency_id
        difference = currency.round(self.amount - self.net_amount)
        if not self.transaction_count:
            why = _(
                "No transaction is imported: Stripe may not have finished reconciling "
                "the payout, or this manual payout's transactions are not picked yet."
            )
        elif difference > 0:
            why = _(
                "Transactions worth %s are missing: import the payout's transactions "
                "again, or pick the missing ones.",
                currency.format(difference),
            )
        else:
            why = _(
                "Transactions worth %s too many are counted: some belong to another "
                "payout.",
                currency.format(-difference),
            )
        return _(
            "The %(count)s transactions of payout %(payout)s add up to %(net)s, the "
            "payout is %(amount)s: a difference of %(difference)s. %(why)s Nothing "
            "was booked.",
            count=self.transaction_count,
            payout=self.stripe_id,
            net=currency.format(self.net_amount),
            amount=currency.format(self.amount),
            difference=currency.format(difference),
            why=why,
        )

    def _stripe_book_payments(self, invoices):
        """Register a payment for each charge, refund and refund failure nothing
        mirrors yet (see ``stripe.balance.transaction._stripe_book_payment``).

        :return: the payments.
        """
        transactions = self.env["stripe.balance.transaction"].search(
            [
                ("payout_id", "=", self.id),
                ("link_state", "=", "to_book"),
                (
                    "reporting_category",
                    "in",
                    self._stripe_booker_categories("_stripe_book_payments"),
                ),
            ],
            order="stripe_created, id",
        )
        payments = self.env["account.payment"]
        for transaction in transactions:
            payments |= transaction._stripe_book_payment(invoices.get(transaction.id))
        return payments

    def _stripe_book_adjustments(self):
        """Book in one entry the disputes and adjustments nothing mirrors yet:
        disputed amounts on the disputed-payments account (with the customer),
        anything else on the adjustment account. Fees are in the fee entry.

        :return: the entry, or an empty recordset.
        """
        # Its own categories, and those not in the table (adjustments).
        transactions = self.env["stripe.balance.transaction"].search(
            [
                ("payout_id", "=", self.id),
                ("link_state", "=", "to_book"),
                ("type", "not in", const.PAYOUT_TRANSACTION_TYPES),
                "|",
                (
                    "reporting_category",
                    "in",
                    self._stripe_booker_categories("_stripe_book_adjustments"),
                ),
                ("reporting_category", "not in", list(const.PAYOUT_BOOKING)),
            ],
            order="stripe_created, id",
        )
        if not transactions:
            return self.env["account.move"]
        account = self.account_id
        partners = self._stripe_charge_partners(transactions.mapped("charge_id"))
        groups = defaultdict(lambda: self.env["stripe.balance.transaction"])
        for transaction in transactions:
            dispute = (
                const.PAYOUT_BOOKING.get(transaction.reporting_category) == "dispute"
            )
            counterpart = (
                account._stripe_dispute_counterpart_account()
                if dispute
                else account._stripe_adjustment_account()
            )
            partner = partners.get(transaction.charge_id, self.env["res.partner"])
            groups[counterpart, partner, transaction.reporting_category] |= transaction
        lines = []
        for (counterpart, partner, category), group in groups.items():
            lines.append(
                {
                    "account_id": counterpart.id,
                    "partner_id": partner.id,
                    # A transaction that credits the balance (positive) is money
                    # coming in: the counterpart is credited.
                    "amount": -sum(group.mapped("amount")),
                    "name": group.description
                    if len(group) == 1 and group.description
                    else _(
                        "Stripe %(category)s: %(transactions)s",
                        category=category,
                        transactions=", ".join(group.mapped("stripe_id")[:5])
                        + ("..." if len(group) > 5 else ""),
                    ),
                }
            )
        move = account._stripe_post_entry(
            date=self._stripe_booking_date(),
            ref=_("Stripe payout %s: adjustments", self.stripe_id),
            lines=lines,
            currency_code=self.currency_id.name,
        )
        transactions.write({"move_id": move.id, "source_data": False})
        return move

    def _stripe_charge_partners(self, charge_ids):
        """Customers of charges, from the payments registered for them (one search).

        :return: ``{charge id: res.partner}``
        """
        charge_ids = [charge_id for charge_id in charge_ids if charge_id]
        if not charge_ids:
            return {}
        payments = self.env["account.payment"].search_fetch(
            [
                ("stripe_account_id", "=", self.account_id.id),
                ("stripe_charge_id", "in", charge_ids),
                ("payment_type", "=", "inbound"),
            ],
            ["stripe_charge_id", "partner_id"],
        )
        return {payment.stripe_charge_id: payment.partner_id for payment in payments}

    def _stripe_book_fees(self):
        """Book in one entry the fees of the payout's transactions that no entry
        booked yet: one line per fee type (Stripe's ``fee_details``), plus one per
        type of fee transaction (Radar or Billing fees, charged as transactions of
        their own). The fee entry then counts as the fee entry of the payments
        concerned, so a late webhook books nothing more.

        :return: the entry, or an empty recordset.
        """
        self.env.flush_all()
        code = self.currency_id.name
        # One table per query, here and below: however stale PostgreSQL's
        # statistics (a first month of payments, all new), no plan can turn
        # quadratic. The payout's transactions whose fee no entry of their own
        # booked, then those of them whose payment has a fee entry (a webhook with
        # an API key booked it).
        self.env.cr.execute(
            SQL(
                """
                SELECT id, payment_id, fee_details
                  FROM stripe_balance_transaction
                 WHERE payout_id = %s AND type != 'payout' AND fee != 0
                   AND fee_move_id IS NULL
                """,
                self.id,
            )
        )
        rows = self.env.cr.fetchall()
        booked_payments = set(
            self.env["account.payment"]
            .search(
                [
                    ("id", "in", list({row[1] for row in rows if row[1]})),
                    ("stripe_fee_move_id", "!=", False),
                ]
            )
            .ids
        )
        rows = [row for row in rows if row[1] not in booked_payments]
        minor_by_type = defaultdict(int)
        for _id, _payment_id, details in rows:
            for detail in details or []:
                minor_by_type[detail["type"]] += detail["amount"]
        totals = [
            (fee_type, utils.from_minor_units(amount, code))
            for fee_type, amount in minor_by_type.items()
        ]
        fee_transactions = self.env["stripe.balance.transaction"].search(
            [
                ("payout_id", "=", self.id),
                ("link_state", "=", "to_book"),
                (
                    "reporting_category",
                    "in",
                    self._stripe_booker_categories("_stripe_book_fees"),
                ),
            ]
        )
        # (kind, type) -> amount: fee details and fee transactions of the same
        # type (``stripe_fee``) stay on lines of their own.
        by_type = defaultdict(float)
        for fee_type, amount in totals:
            by_type["detail", fee_type] += float(amount)
        for transaction in fee_transactions:
            by_type["transaction", transaction.type] -= transaction.amount
        labels = {
            "detail": self._stripe_fee_type_labels(),
            "transaction": self._stripe_fee_transaction_labels(),
        }
        lines = [
            {
                "account_id": self.account_id.fee_account_id.id,
                "amount": amount,
                "name": _(
                    "%(fees)s, payout %(payout)s",
                    fees=labels[kind].get(fee_type) or fee_type,
                    payout=self.stripe_id,
                ),
            }
            for (kind, fee_type), amount in sorted(by_type.items())
            if amount
        ]
        if not lines:
            return self.env["account.move"]
        move = self.account_id._stripe_post_entry(
            date=self._stripe_booking_date(),
            ref=_("Stripe payout %s: fees", self.stripe_id),
            lines=lines,
            currency_code=code,
        )
        transactions = self.env["stripe.balance.transaction"].browse(
            [row[0] for row in rows]
        )
        transactions.fee_move_id = move
        fee_transactions.write({"move_id": move.id, "source_data": False})
        payments = self.env["account.payment"].browse(
            {row[1] for row in rows if row[1]}
        )
        payments.stripe_fee_move_id = move
        return move

    @api.model
    def _stripe_fee_type_labels(self):
        """Names of Stripe's fee types (``fee_details[].type``) on fee lines."""
        return {
            "stripe_fee": _("Stripe fees"),
            "application_fee": _("Application fees"),
            "tax": _("Tax on Stripe fees"),
            "payment_method_passthrough_fee": _("Payment method fees"),
            "stripe_fx_fee": _("Stripe currency conversion fees"),
        }

    @api.model
    def _stripe_fee_transaction_labels(self):
        """Names of Stripe's fee transactions (``type`` of a transaction in the
        ``fee`` reporting category) on fee lines."""
        return {
            "stripe_fee": _("Stripe fees charged separately (Radar, Billing...)"),
            "stripe_fx_fee": _("Stripe currency conversion fees charged separately"),
            "tax_fee": _("Tax on Stripe fees charged separately"),
        }

    def _stripe_book_exchange_difference(self):
        """Book what Stripe settled beyond (or short of) what the payments booked on
        the Stripe journal: a payment in another currency booked at Odoo's rate
        (no API key at payment time) against Stripe's own rate.

        :return: the entry, or an empty recordset.
        """
        self.env.flush_all()
        account = self.account_id
        company = self.company_id
        # What Stripe settled per payment, then what each payment's entry put on
        # the Stripe balance account (one table per query, see _stripe_book_fees).
        settled = self.env["stripe.balance.transaction"]._read_group(
            [("payout_id", "=", self.id), ("payment_id", "!=", False)],
            ["payment_id"],
            ["amount:sum"],
        )
        payments = self.env["account.payment"].browse(
            [payment.id for payment, _amount in settled]
        )
        payments.fetch(["move_id", "stripe_exchange_move_id"])
        # A payment's own exchange entry (booked when Stripe's rate was known at
        # payment time) counts as booked for it.
        payment_of_move = {payment.move_id.id: payment.id for payment in payments}
        payment_of_move.update(
            {
                payment.stripe_exchange_move_id.id: payment.id
                for payment in payments
                if payment.stripe_exchange_move_id
            }
        )
        booked = defaultdict(float)
        for move, currency, amount_currency, balance in self.env[
            "account.move.line"
        ]._read_group(
            [
                ("move_id", "in", list(payment_of_move)),
                ("account_id", "=", account.journal_id.default_account_id.id),
                ("parent_state", "=", "posted"),
            ],
            ["move_id", "currency_id"],
            ["amount_currency:sum", "balance:sum"],
        ):
            payment_id = payment_of_move[move.id]
            if currency == self.currency_id:
                booked[payment_id] += amount_currency
            elif self.currency_id == company.currency_id:
                booked[payment_id] += balance
        difference = self.currency_id.round(
            sum(
                amount - booked[payment.id]
                for payment, amount in settled
                if payment.id in booked
            )
        )
        if self.currency_id.is_zero(difference):
            return self.env["account.move"]
        return account._stripe_post_exchange_difference(
            difference,
            self._stripe_booking_date(),
            _("Stripe payout %s: exchange differences", self.stripe_id),
            _(
                "Stripe's settled amounts vs. payments booked, payout %s",
                self.stripe_id,
            ),
            self.currency_id.name,
        )

    def _stripe_book_transfer(self):
        """Move the payout from the Stripe journal to the liquidity transfer account,
        where the bank statement line takes it."""
        return self.account_id._stripe_post_entry(
            date=self.arrival_date or self._stripe_booking_date(),
            ref=_("Stripe payout %s", self.stripe_id),
            lines=[
                {
                    "account_id": self.company_id.transfer_account_id.id,
                    "amount": self.amount,
                    "name": _(
                        "Stripe payout %(payout)s to %(journal)s",
                        payout=self.stripe_id,
                        journal=self.bank_journal_id.display_name,
                    ),
                }
            ],
            currency_code=self.currency_id.name,
        )

    def _stripe_booking_date(self):
        created = self.stripe_created or fields.Datetime.now()
        return fields.Date.to_date(created)

    def _stripe_set_error(self, message):
        """Mark the payout *Needs Attention* and tell the account's responsible."""
        self.ensure_one()
        self.write({"state": "error", "state_message": message})
        self._stripe_notify_responsible(message)

    def _stripe_notify_responsible(self, message):
        """Post ``message`` and give the account's responsible an activity (one)."""
        self.ensure_one()
        self.message_post(body=message)
        self._stripe_schedule_activity(
            _("Stripe payout %s needs attention", self.stripe_id), message
        )

    # === BANK STATEMENT === #

    def _stripe_transfer_line(self):
        """The transfer entry's open line on the liquidity transfer account."""
        self.ensure_one()
        return self.transfer_move_id.line_ids.filtered(
            lambda line: (
                line.account_id == self.company_id.transfer_account_id
                and not line.reconciled
            )
        )

    def _stripe_match_statement_line(self, candidates=None):
        """Reconcile the transfer with the bank statement line of the payout.

        The line is on the payout's bank journal, not reconciled yet, of the
        payout's amount, dated within the account's window around the arrival
        date (the closest date wins). Its suspense line takes the liquidity
        transfer account and is reconciled with the transfer.

        :param candidates: statement lines to look among (new ones); by default
            the bank journal's.
        :return: the statement line matched, or an empty recordset.
        """
        self.ensure_one()
        statement_lines = self.env["account.bank.statement.line"]
        transfer_line = self._stripe_transfer_line()
        if self.statement_line_id or not transfer_line or not self.bank_journal_id:
            return statement_lines
        window = timedelta(days=self.account_id.payout_match_days)
        arrival = self.arrival_date or self._stripe_booking_date()
        domain = [
            ("journal_id", "=", self.bank_journal_id.id),
            ("is_reconciled", "=", False),
            ("date", ">=", arrival - window),
            ("date", "<=", arrival + window),
        ]
        if candidates is None:
            candidates = statement_lines.search(domain)
        else:
            candidates = candidates.filtered_domain(domain)
        candidates = candidates.filtered(
            lambda line: (
                self._stripe_statement_amount(line) is not None
                and not self.currency_id.compare_amounts(
                    self._stripe_statement_amount(line), self.amount
                )
            )
        ).sorted(lambda line: (abs((line.date - arrival).days), line.id))
        for statement_line in candidates:
            _liquidity, suspense, other = statement_line._seek_for_lines()
            if len(suspense) == 1 and not other:
                suspense.account_id = transfer_line.account_id
                (suspense | transfer_line).reconcile()
                self.statement_line_id = statement_line
                return statement_line
        return statement_lines

    def _stripe_statement_amount(self, statement_line):
        """A statement line's amount in the payout's currency (``None`` if it is
        in another currency)."""
        if statement_line.foreign_currency_id == self.currency_id:
            return statement_line.amount_currency
        journal_currency = (
            statement_line.journal_id.currency_id
            or statement_line.company_id.currency_id
        )
        return statement_line.amount if journal_currency == self.currency_id else None

    # === REVERSALS === #

    def _stripe_reverse_transfer(self):
        """A payout that failed or was canceled after its transfer was booked: the
        money is back in the Stripe balance, so the transfer is reversed (and its
        bank statement line freed). Its transactions stay mirrored, and Stripe's
        credit that returns the payout is mirrored by the reversal; the payout
        needs attention (the bank details, say) and the responsible gets an
        activity.

        :return: what was done.
        """
        self.ensure_one()
        status = dict(self._fields["status"].selection)[self.status]
        if self.statement_line_id:
            self.statement_line_id.action_undo_reconciliation()
            self.statement_line_id = False
        reversal = self.transfer_move_id._reverse_moves(
            [
                {
                    "date": fields.Date.context_today(self),
                    "ref": _(
                        "Stripe payout %(payout)s: %(status)s",
                        payout=self.stripe_id,
                        status=status,
                    ),
                }
            ],
            cancel=True,
        )
        self.write(
            {
                "transfer_reversal_move_id": reversal.id,
                "move_ids": [Command.link(reversal.id)],
            }
        )
        message = _(
            "Stripe reports payout %(payout)s %(status)s (%(reason)s): the money is "
            "back in the Stripe balance, so the transfer %(transfer)s was reversed by "
            "%(reversal)s. Stripe pays it out again with a later payout; check the "
            "bank details in Stripe.",
            payout=self.stripe_id,
            status=status.lower(),
            reason=self.failure_message or self.failure_code or _("no reason given"),
            transfer=self.transfer_move_id.name,
            reversal=reversal.name,
        )
        self._stripe_set_error(message)
        return message

    def _stripe_undo(self):
        """Reverse what reconciling the payout booked, with Odoo's reversal: its
        entries (and the exchange entries of the payments it registered) are
        reversed, its payments cancelled, its statement line freed, its
        transactions unlinked from them. The payout is back to *To Reconcile*."""
        self.ensure_one()
        self._stripe_lock()
        if self.statement_line_id:
            self.statement_line_id.action_undo_reconciliation()
        payments = self.payment_ids.filtered(lambda p: p.state != "canceled")
        to_reverse = (
            self.fee_move_id
            | self.adjustment_move_id
            | self.exchange_move_id
            | self.transfer_move_id
            | payments.stripe_exchange_move_id
        ).filtered(lambda move: move.state == "posted" and not move.reversal_move_ids)
        reversals = self.env["account.move"]
        if to_reverse:
            reversals = to_reverse._reverse_moves(
                [
                    {
                        "date": fields.Date.context_today(self),
                        "ref": _("Undo of %s", move.ref or move.name),
                    }
                    for move in to_reverse
                ],
                cancel=True,
            )
        booked = self.fee_move_id | self.adjustment_move_id
        transaction_model = self.env["stripe.balance.transaction"]
        transaction_model.search(
            [("payout_id", "=", self.id), ("fee_move_id", "in", booked.ids)]
        ).fee_move_id = False
        transaction_model.search(
            [("payout_id", "=", self.id), ("move_id", "in", booked.ids)]
        ).move_id = False
        transaction_model.search(
            [("payout_id", "=", self.id), ("payment_id", "in", payments.ids)]
        ).payment_id = False
        self.env["account.payment"].search(
            [("stripe_fee_move_id", "in", booked.ids)]
        ).stripe_fee_move_id = False
        # A dispute whose event came after the payout took the payout's entry for
        # its withdrawal (or reinstatement): that step is booked again by whoever
        # comes next, the dispute's event or the payout.
        dispute_model = self.env["stripe.dispute"]
        dispute_model.search([("withdrawal_move_id", "in", booked.ids)]).write(
            {"withdrawal_transaction": False, "withdrawal_move_id": False}
        )
        dispute_model.search([("reinstatement_move_id", "in", booked.ids)]).write(
            {"reinstatement_transaction": False, "reinstatement_move_id": False}
        )
        if payments:
            payments.action_draft()
            payments.action_cancel()
            # The Stripe objects can be registered again (the memo keeps their id).
            payments.write(
                {
                    "stripe_object_id": False,
                    "stripe_charge_id": False,
                    "stripe_exchange_move_id": False,
                }
            )
        message = _(
            "Reconciliation undone by %(user)s: %(documents)s.",
            user=self.env.user.name,
            documents=", ".join(
                [
                    _(
                        "%(move)s reversed by %(reversal)s",
                        move=move.name,
                        reversal=rev.name,
                    )
                    for move, rev in zip(to_reverse, reversals, strict=True)
                ]
                + [_("%s cancelled", payment.name) for payment in payments]
            )
            or _("nothing to reverse"),
        )
        self.write(
            {
                "state": "to_reconcile",
                "state_message": message,
                "fee_move_id": False,
                "adjustment_move_id": False,
                "exchange_move_id": False,
                "transfer_move_id": False,
                "transfer_reversal_move_id": False,
                "statement_line_id": False,
                "move_ids": [Command.link(move.id) for move in reversals],
            }
        )
        self.activity_ids.action_feedback(message)
        self._stripe_update_breakdown()
        self.message_post(body=message)
        return message
