import logging
from collections import defaultdict
from datetime import datetime, time, timedelta, timezone

from psycopg2 import errors as pg_errors

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ... import const, utils
from ...tools.payout import PayoutBooker

_logger = logging.getLogger(__name__)


BREAKDOWN_FIELDS = {
    "charge": "charge_amount",
    "refund": "refund_amount",
    "dispute": "dispute_amount",
    "fee": "fee_amount",
    "adjustment": "adjustment_amount",
}


class StripePayout(models.Model):
    """A Stripe payout: money leaving the Stripe balance for the bank.

    A payout pays out a set of balance transactions (charges, refunds, disputes,
    fees, adjustments) whose nets add up to its amount. Reconciling it mirrors each
    of them on the Stripe journal (what the webhooks did not book yet), books the
    fees in one entry, and moves the amount from the Stripe journal to the bank
    journal through the liquidity transfer account, matched with the bank statement
    line when it comes. So the Stripe journal balance stays equal to Stripe's.

    Reconciling a payout: what no Odoo document mirrors yet is booked on the
    Stripe journal, the fees in one entry, and the payout moves to the bank
    journal through the liquidity transfer account, matched with the bank
    statement line. Undo and a payout that fails afterwards reverse it."""

    _name = "stripe.payout"
    _description = "Stripe Payout"
    _inherit = ["stripe.binding.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "arrival_date desc, id desc"
    _rec_name = "stripe_id"

    # === STRIPE DATA === #

    stripe_id = fields.Char(string="Payout ID")
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    amount = fields.Monetary(readonly=True, tracking=True)
    arrival_date = fields.Date(
        readonly=True, index=True, help="When the bank should receive the money."
    )
    stripe_created = fields.Datetime(string="Created on Stripe", readonly=True)
    status = fields.Selection(
        [
            ("pending", "Pending"),
            ("in_transit", "In Transit"),
            ("paid", "Paid"),
            ("failed", "Failed"),
            ("canceled", "Canceled"),
        ],
        string="Stripe Status",
        required=True,
        default="pending",
        readonly=True,
        tracking=True,
    )
    automatic = fields.Boolean(
        readonly=True,
        help="Stripe's automatic payouts can list their transactions; manual ones "
        "cannot, and a user picks them when reconciling.",
    )
    method = fields.Char(readonly=True, help="standard or instant")
    reconciliation_status = fields.Selection(
        [
            ("not_applicable", "Not Applicable"),
            ("in_progress", "In Progress"),
            ("completed", "Completed"),
        ],
        string="Stripe Reconciliation",
        readonly=True,
        help="Stripe lists an automatic payout's transactions once its own "
        "reconciliation is completed.",
    )
    description = fields.Char(readonly=True)
    failure_code = fields.Char(readonly=True)
    failure_message = fields.Char(readonly=True)
    stripe_balance_transaction_id = fields.Char(
        string="Payout Transaction",
        readonly=True,
        help="The balance transaction of the payout itself.",
    )
    # === RECONCILIATION === #

    state = fields.Selection(
        [
            ("to_reconcile", "To Reconcile"),
            ("reconciled", "Reconciled"),
            ("error", "Needs Attention"),
        ],
        required=True,
        default="to_reconcile",
        readonly=True,
        index=True,
        tracking=True,
        help="To Reconcile: waiting for its transactions, for Stripe to pay it, or "
        "for a user.\nReconciled: every transaction is mirrored on the Stripe "
        "journal and the amount moved to the bank journal.\nNeeds Attention: "
        "reconciling failed, or the payout failed or was canceled after it was "
        "reconciled and its transfer is reversed (the message says why).",
    )
    state_message = fields.Text(string="Message", readonly=True)
    bank_journal_id = fields.Many2one(
        "account.journal",
        check_company=True,
        domain="[('type', '=', 'bank')]",
        help="The bank journal the payout arrives in.",
    )
    transactions_imported = fields.Boolean(readonly=True, copy=False)
    transaction_ids = fields.One2many("stripe.balance.transaction", "payout_id")
    has_api_key = fields.Boolean(related="account_id.has_api_key")
    transaction_count = fields.Integer(readonly=True)
    linked_count = fields.Integer(
        string="Already in Odoo",
        readonly=True,
        help="Transactions an Odoo payment, refund or entry already mirrors.",
    )
    to_book_count = fields.Integer(
        string="To Book",
        readonly=True,
        help="Transactions nothing mirrors yet; reconciling books them.",
    )
    # Breakdown of the transactions' nets (settlement currency): adds up to the net.
    charge_amount = fields.Monetary(string="Charges", readonly=True)
    refund_amount = fields.Monetary(string="Refunds", readonly=True)
    dispute_amount = fields.Monetary(string="Disputes", readonly=True)
    fee_amount = fields.Monetary(string="Fees", readonly=True)
    adjustment_amount = fields.Monetary(string="Adjustments", readonly=True)
    other_amount = fields.Monetary(
        string="Other",
        readonly=True,
        help="Returned payouts, transfers, reserves and other movements.",
    )
    net_amount = fields.Monetary(
        string="Transactions Total",
        readonly=True,
        help="The sum of the transactions' nets: equal to the payout's amount once "
        "every transaction is imported.",
    )
    difference = fields.Monetary(compute="_compute_difference")
    fee_move_id = fields.Many2one("account.move", string="Fee Entry", readonly=True)
    adjustment_move_id = fields.Many2one(
        "account.move", string="Adjustment Entry", readonly=True
    )
    exchange_move_id = fields.Many2one(
        "account.move", string="Exchange Difference Entry", readonly=True
    )
    transfer_move_id = fields.Many2one(
        "account.move",
        string="Transfer Entry",
        readonly=True,
        help="Moves the payout from the Stripe journal to the liquidity transfer "
        "account, until the bank statement line takes it.",
    )
    transfer_reversal_move_id = fields.Many2one(
        "account.move", string="Transfer Reversal", readonly=True
    )
    statement_line_id = fields.Many2one(
        "account.bank.statement.line", string="Bank Statement Line", readonly=True
    )
    bank_state = fields.Selection(
        [
            ("none", "Not Transferred"),
            ("waiting", "Waiting for the Bank"),
            ("matched", "Matched"),
        ],
        string="Bank",
        compute="_compute_bank_state",
    )
    move_ids = fields.Many2many(
        "account.move",
        string="Journal Entries",
        readonly=True,
        copy=False,
        help="Every entry reconciling this payout made, reversals included.",
    )
    payment_ids = fields.Many2many(
        "account.payment",
        string="Payments Registered",
        readonly=True,
        copy=False,
        help="Payments reconciling this payout registered for transactions no "
        "webhook had brought.",
    )
    move_count = fields.Integer(compute="_compute_move_count")
    can_undo = fields.Boolean(
        compute="_compute_can_undo",
        help="Reconciling booked entries or payments that Undo would reverse.",
    )

    # === COMPUTE METHODS === #

    @api.depends("amount", "net_amount", "transactions_imported")
    def _compute_difference(self):
        for payout in self:
            payout.difference = payout.currency_id.round(
                payout.amount - payout.net_amount
            )

    @api.depends("transfer_move_id", "transfer_reversal_move_id", "statement_line_id")
    def _compute_bank_state(self):
        for payout in self:
            if payout.statement_line_id:
                payout.bank_state = "matched"
            elif payout.transfer_move_id and not payout.transfer_reversal_move_id:
                payout.bank_state = "waiting"
            else:
                payout.bank_state = "none"

    @api.depends("move_ids", "payment_ids")
    def _compute_move_count(self):
        for payout in self:
            payout.move_count = len(payout.move_ids) + len(payout.payment_ids)

    @api.depends(
        "fee_move_id",
        "adjustment_move_id",
        "exchange_move_id",
        "transfer_move_id",
        "payment_ids.state",
        "move_ids.state",
        "move_ids.reversal_move_ids",
    )
    def _compute_can_undo(self):
        for payout in self:
            payout.can_undo = bool(
                payout._stripe_standing_moves()
                or payout.payment_ids.filtered(lambda p: p.state != "canceled")
            )

    # === ACTION METHODS === #

    def action_open_reconcile_wizard(self):
        """Open the reconcile wizard on these payouts, their links refreshed."""
        payouts = self.filtered(lambda p: not p._stripe_is_reconciled())
        if not payouts:
            raise UserError(_("These payouts are already reconciled."))
        for payout in payouts:
            payout._stripe_refresh_links()
            if (
                len(payouts) == 1
                and not payout.automatic
                and payout.account_id.has_api_key
                and not self.env["stripe.payout.reconcile"]._manual_candidates(payout)
            ):
                payout._stripe_import_recent_transactions()
        return {
            "type": "ir.actions.act_window",
            "name": _("Reconcile Payouts")
            if len(payouts) > 1
            else _("Reconcile Payout %s", payouts.stripe_id),
            "res_model": "stripe.payout.reconcile",
            "view_mode": "form",
            "target": "new",
            "context": {"default_payout_ids": payouts.ids},
        }

    def action_import_transactions(self):
        """Import the transactions of automatic payouts again (those not reconciled)."""
        for payout in self.filtered(lambda p: not p._stripe_is_reconciled()):
            blocker = payout._stripe_import_blocker()
            if blocker:
                raise UserError(blocker)
            payout._stripe_import_transactions()
        return True

    def action_undo(self):
        """Reverse what reconciling booked; the payouts can be reconciled again."""
        payouts = self.filtered("can_undo")
        if not payouts:
            raise UserError(_("Nothing to undo for these payouts."))
        for payout in payouts:
            payout._stripe_undo()
        return True

    def action_view_transactions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_balance_transaction_action"
        )
        action["domain"] = [("payout_id", "=", self.id)]
        action["context"] = {"search_default_group_link_state": 1}
        return action

    def action_view_entries(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Entries of %s", self.stripe_id),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("id", "in", (self.move_ids | self.payment_ids.move_id).ids)],
            "context": {"create": False},
        }

    # === INTAKE === #

    @api.model
    def _stripe_store(self, account, data):
        """Create or update a payout from a Stripe payout object.

        Events arrive in any order: the Stripe status and reconciliation status
        never move back (see ``utils.later_status``).

        :param account: the ``stripe.account``.
        :param dict data: the payout as Stripe sends it.
        :return: the ``stripe.payout``.
        """
        vals = self._stripe_prepare_vals(account, data)
        domain = [("account_id", "=", account.id), ("stripe_id", "=", data["id"])]
        payout = self.search(domain)
        if not payout:
            try:
                with self.env.cr.savepoint():
                    return self.with_context(mail_create_nolog=True).create(
                        dict(vals, bank_journal_id=account.payout_journal_id.id)
                    )
            except pg_errors.UniqueViolation:
                payout = self.search(domain)
                if not payout:
                    raise  # created by a transaction this one cannot see yet
        vals["status"] = utils.later_status(
            payout.status, vals["status"], const.PAYOUT_STATUS_RANK
        )
        vals["reconciliation_status"] = utils.later_status(
            payout.reconciliation_status,
            vals["reconciliation_status"],
            const.PAYOUT_RECONCILIATION_RANK,
        )
        payout.write(vals)
        return payout

    @api.model
    def _stripe_prepare_vals(self, account, data):
        currency = self.env["stripe.balance.transaction"]._stripe_currencies(
            {data["currency"].upper()}
        )[data["currency"].upper()]
        arrival = utils.timestamp_to_datetime(data.get("arrival_date"))
        return {
            "stripe_id": data["id"],
            "account_id": account.id,
            "currency_id": currency.id,
            "amount": float(utils.from_minor_units(data["amount"], data["currency"])),
            "arrival_date": arrival.date() if arrival else False,
            "stripe_created": utils.timestamp_to_datetime(data.get("created")),
            "status": const.PAYOUT_STATUS_MAPPING.get(data.get("status"), "pending"),
            "automatic": bool(data.get("automatic")),
            "method": utils.clean_text(data.get("method"), 64) or False,
            "reconciliation_status": data.get("reconciliation_status")
            if data.get("reconciliation_status") in const.PAYOUT_RECONCILIATION_RANK
            else False,
            "description": utils.clean_text(data.get("description"), 255) or False,
            "failure_code": utils.clean_text(data.get("failure_code"), 64) or False,
            "failure_message": utils.clean_text(data.get("failure_message"), 1024)
            or False,
            "stripe_balance_transaction_id": utils.object_id(
                data.get("balance_transaction")
            ),
        }

    @api.model
    def _stripe_check_currency(self, account, data):
        """Return why the account does not handle a payout, or ``None``.

        One ``stripe.account`` mirrors one settlement currency (its journal's); a
        Stripe account that settles in several currencies has one per currency.
        """
        code = (data.get("currency") or "").upper()
        if code == account.currency_id.name:
            return None
        return _(
            "Payout %(payout)s is in %(currency)s; %(account)s settles in "
            "%(settlement)s. A Stripe account in Odoo whose journal is in "
            "%(currency)s takes it.",
            payout=data.get("id"),
            currency=code,
            account=account.display_name,
            settlement=account.currency_id.name,
        )

    @api.model
    def _stripe_import(self, account, arrival_from, arrival_to=None):
        """Import the account's payouts that arrive in a date range, and take each
        as far as it can go (transactions, reconciliation).

        Each payout is processed in its own savepoint: one that fails is marked
        *Needs Attention* and the others go on; one that another transaction holds
        (its event on another worker, a user reconciling it) is skipped, with a
        log line, and left to that one.

        :param account: the ``stripe.account`` (it needs an API key).
        :param date arrival_from: first arrival date.
        :param date arrival_to: last arrival date, or ``None`` (no limit).
        :return: the payouts imported.
        """
        arrival = {"gte": self._stripe_timestamp(arrival_from)}
        if arrival_to:
            arrival["lte"] = self._stripe_timestamp(arrival_to + timedelta(days=1)) - 1
        params = {"arrival_date": arrival, "limit": const.API_PAGE_SIZE}
        payouts = self.browse()
        for page in account._stripe_pages(_("the payouts"), "payouts", params):
            for data in page:
                if self._stripe_check_currency(account, data):
                    continue
                try:
                    with self.env.cr.savepoint():
                        payout = self._stripe_store(account, data)
                        payout._stripe_process_safely()
                except (
                    pg_errors.LockNotAvailable,
                    pg_errors.SerializationFailure,
                    pg_errors.DeadlockDetected,
                    pg_errors.UniqueViolation,
                ) as error:
                    # Another transaction holds the payout (its event on another
                    # worker, a user reconciling it): it is left to that one.
                    _logger.info(
                        "Stripe payout %s skipped: another transaction holds it (%s)",
                        data["id"],
                        type(error).__name__,
                    )
                    continue
                payouts |= payout
        return payouts

    @api.model
    def _cron_backfill(self):
        """Import the payouts of the last days for every account with an API key,
        so that a missed webhook never leaves a gap."""
        since = fields.Date.context_today(self) - timedelta(
            days=const.PAYOUT_BACKFILL_DAYS
        )
        for api_account in self.env["stripe.account"]._stripe_api_accounts():
            account = api_account._stripe_in_own_lang()
            try:
                account.env["stripe.payout"]._stripe_import(account, since)
            except UserError as error:
                _logger.warning(
                    "Stripe payout backfill of %s failed: %s", account.name, error
                )

    @api.model
    def _stripe_timestamp(self, date):
        return int(datetime.combine(date, time.min, timezone.utc).timestamp())

    # === PROCESSING === #

    def _stripe_process(self):
        """Take the payout as far as its Stripe state allows.

        Import its transactions (automatic payouts, once Stripe's reconciliation is
        completed), reconcile it once paid (failed or canceled payouts without a
        transfer) when the account reconciles payouts automatically, or reverse its
        transfer when it failed after it was reconciled.

        :return: what was done.
        :rtype: str
        :raise UserError: Stripe did not list the transactions (nothing imported).
        """
        self.ensure_one()
        if self.status in const.PAYOUT_RETURNED_STATUSES and self.bank_state != "none":
            return self._stripe_reverse_transfer()
        if self._stripe_is_reconciled():
            return _("Payout %s is already reconciled.", self.stripe_id)
        messages = []
        if not self.transactions_imported:
            blocker = self._stripe_import_blocker()
            if blocker:
                self.state_message = blocker
                return " ".join([*messages, blocker])
            self._stripe_import_transactions()
            if self.state == "error":
                # What failed before was the import.
                self.state = "to_reconcile"
            messages.append(
                _(
                    "Imported %(count)s transactions of payout %(payout)s.",
                    count=self.transaction_count,
                    payout=self.stripe_id,
                )
            )
        if self.status not in ("paid", *const.PAYOUT_RETURNED_STATUSES):
            message = _("It is reconciled once Stripe reports it paid.")
            self.state_message = message
        elif not self.account_id.payout_auto_reconcile:
            message = _("Automatic reconciliation is off: click Reconcile.")
            self.state_message = message
        else:
            message = self._stripe_reconcile_safely()
        return " ".join([*messages, message])

    def _stripe_process_safely(self):
        """``_stripe_process`` in a savepoint; a failure marks the payout instead of
        raising (imports and crons go on with the next payout)."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                return self._stripe_process()
        except UserError as error:
            self._stripe_set_error(error.args[0])
            return error.args[0]

    def _stripe_is_reconciled(self):
        """Whether reconciling booked the payout: *Reconciled*, or *Needs
        Attention* because it failed or was canceled afterwards (its transfer
        reversed). Either way, nothing more is booked for it."""
        self.ensure_one()
        return self.state == "reconciled" or bool(self.transfer_reversal_move_id)

    def _stripe_import_blocker(self):
        """Why the payout's transactions cannot be imported now, or ``None``."""
        self.ensure_one()
        if not self.automatic:
            return _(
                "Manual payout: Stripe cannot list its transactions. Click Reconcile "
                "and pick the transactions it pays out."
            )
        if not self.account_id.has_api_key:
            return _(
                "The Stripe account %s has no API key: Odoo cannot read the payout's "
                "transactions.",
                self.account_id.display_name,
            )
        if self.reconciliation_status != "completed":
            return _(
                "Stripe has not finished reconciling payout %s; its transactions are "
                "imported when it has (payout.reconciliation_completed, or the daily "
                "import).",
                self.stripe_id,
            )
        return None

    def _stripe_import_transactions(self):
        """Import the payout's balance transactions from Stripe, 100 at a time.

        Each page is stored, linked and flushed before the next one is asked for,
        so memory stays flat. The whole import runs in a savepoint: it completes or
        leaves nothing behind.

        :raise UserError: Stripe still refuses after the retries.
        """
        self.ensure_one()
        self._stripe_lock(nowait=True)
        transaction_model = self.env["stripe.balance.transaction"]
        params = {
            "payout": self.stripe_id,
            "limit": const.API_PAGE_SIZE,
            "expand": ["data.source"],
        }
        what = _("the balance transactions of payout %s", self.stripe_id)
        with self.env.cr.savepoint():
            for page in self.account_id._stripe_pages(
                what, "balance_transactions", params
            ):
                transaction_model._stripe_store(self.account_id, page, payout=self)
                # Written to the database, then out of memory: the next page
                # starts from an empty cache.
                self.env.invalidate_all()
            self.transactions_imported = True
            self._stripe_update_breakdown()

    def _stripe_import_recent_transactions(self):
        """Import the account's transactions created in the days before a manual
        payout, for a user to pick those it pays out.

        :return: how many transactions were listed.
        """
        self.ensure_one()
        created_to = self.stripe_created or fields.Datetime.now()
        created_from = created_to - timedelta(days=const.MANUAL_PAYOUT_LOOKBACK_DAYS)
        params = {
            "created": {
                "gte": int(created_from.replace(tzinfo=timezone.utc).timestamp()),
                "lte": int(created_to.replace(tzinfo=timezone.utc).timestamp()),
            },
            "currency": self.currency_id.name.lower(),
            "limit": const.API_PAGE_SIZE,
            "expand": ["data.source"],
        }
        count = 0
        transaction_model = self.env["stripe.balance.transaction"]
        with self.env.cr.savepoint():
            for page in self.account_id._stripe_pages(
                _("the transactions"), "balance_transactions", params
            ):
                transaction_model._stripe_store(self.account_id, page)
                count += len(page)
                self.env.invalidate_all()
        return count

    def _stripe_assign_transactions(self, transactions):
        """Make ``transactions`` the ones a manual payout pays out (a user's pick);
        the ones picked before and not any more are free again."""
        self.ensure_one()
        if self.automatic:
            raise UserError(
                _(
                    "Stripe lists the transactions of automatic payout %s.",
                    self.stripe_id,
                )
            )
        (self.transaction_ids - transactions).payout_id = False
        transactions.payout_id = self
        self.transactions_imported = True
        self._stripe_update_breakdown()

    def _stripe_update_breakdown(self):
        """Fill the breakdown and counts from the payout's transactions (one SQL
        aggregate, whatever their number). The payout's own transaction is left
        out: the others add up to its amount."""
        transaction_model = self.env["stripe.balance.transaction"]
        transaction_model.flush_model()
        columns = defaultdict(list)
        for category, column in const.PAYOUT_BREAKDOWN.items():
            columns[column].append(category)
        sums = [
            SQL(
                "COALESCE(SUM(amount) FILTER (WHERE reporting_category IN %s), 0)",
                tuple(categories),
            )
            for categories in columns.values()
        ]
        self.env.cr.execute(
            SQL(
                """
                SELECT payout_id, COUNT(*), COALESCE(SUM(net), 0),
                       COALESCE(SUM(fee), 0),
                       COUNT(*) FILTER (WHERE link_state = 'linked'),
                       %s
                  FROM stripe_balance_transaction
                 WHERE payout_id IN %s AND type != 'payout'
                 GROUP BY payout_id
                """,
                SQL(", ").join(sums),
                tuple(self.ids),
            )
        )
        results = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for payout in self:
            count, net, fee, linked, *column_sums = results.get(
                payout.id, (0, 0, 0, 0, *[0] * len(columns))
            )
            vals = {
                "transaction_count": count,
                "linked_count": linked,
                "to_book_count": count - linked,
                "net_amount": float(net),
            }
            for column, total in zip(columns, column_sums, strict=True):
                vals[BREAKDOWN_FIELDS[column]] = float(total)
            vals["fee_amount"] -= float(fee)
            vals["other_amount"] = float(net) - sum(
                vals[name] for name in BREAKDOWN_FIELDS.values()
            )
            payout.write(vals)

    def _stripe_refresh_links(self):
        """Link the transactions nothing mirrored at import to what mirrors them now
        (a webhook may have come since) and refresh the counts."""
        self.ensure_one()
        if not self.transactions_imported:
            return
        self.env["stripe.balance.transaction"].search(
            [("payout_id", "=", self.id), ("link_state", "=", "to_book")]
        )._stripe_relink()
        self._stripe_update_breakdown()

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
        self._stripe_lock(nowait=True)
        self._stripe_refresh_links()
        self._stripe_check_ready()
        account = self.account_id
        moves, payments = self._stripe_run_bookers(invoices or {})
        # Stripe's conversion of payments in another currency, booked with them.
        moves |= payments.stripe_exchange_move_id
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
        """The ordered bookers of the transactions a payout pays out that no Odoo
        document mirrors yet (see ``PayoutBooker``). Another addon adds one (a
        reporting category this module books as an adjustment, or not at all) by
        overriding this method and adding to the list ``super()`` returns.

        :return: a new list on each call (safe to change).
        :rtype: list[PayoutBooker]
        """
        # The module's own, in booking order, from the booking ways of
        # const.PAYOUT_BOOKING (one table of which category is booked how).
        ways = [
            ("_stripe_book_payments", ("payment", "refund", "refund_failure")),
            ("_stripe_book_adjustments", ("dispute",)),
            ("_stripe_book_fees", ("fee",)),
            (None, ("payout",)),  # the payout's own transfer mirrors them
        ]
        return [
            PayoutBooker(
                tuple(
                    category
                    for category, way in const.PAYOUT_BOOKING.items()
                    if way in booked_ways
                ),
                method,
                default=method == "_stripe_book_adjustments",
            )
            for method, booked_ways in ways
        ]

    @api.model
    def _stripe_booker_of(self, bookers):
        """``{reporting category: booker}``, and the booker of the categories no
        booker names.

        :rtype: tuple
        """
        by_category = {}
        default = None
        for booker in bookers:
            for category in booker.categories:
                # A later booker (another addon's) takes a category over.
                by_category[category] = booker
            if booker.default and default is None:
                default = booker
        return by_category, default

    def _stripe_run_bookers(self, picks):
        """Book the payout's transactions nothing mirrors yet, booker by booker.

        :param dict picks: ``{transaction id: invoice}`` a user picked.
        :return: the entries and the payments they posted.
        :rtype: tuple
        """
        bookers = self._stripe_payout_bookers()
        by_category, default = self._stripe_booker_of(bookers)
        to_book = self.env["stripe.balance.transaction"].search(
            [
                ("payout_id", "=", self.id),
                ("link_state", "=", "to_book"),
                ("type", "not in", const.PAYOUT_TRANSACTION_TYPES),
            ],
            order="stripe_created, id",
        )
        moves = self.env["account.move"]
        payments = self.env["account.payment"]
        for booker in bookers:
            if not booker.method:
                continue
            # What is still to book when its turn comes: a booker before it may
            # have linked some (a dispute's entry, a refund's payment).
            transactions = to_book.filtered(
                lambda transaction, booker=booker: (
                    by_category.get(transaction.reporting_category, default) == booker
                    and transaction.link_state == "to_book"
                )
            )
            posted = getattr(self, booker.method)(transactions, picks)
            if posted._name == "account.payment":
                payments |= posted
            else:
                moves |= posted
        return moves, payments

    def _stripe_check_all_booked(self):
        """After booking, nothing but what the payout's transfer mirrors may be
        left to book.

        :raise UserError: transactions were left unbooked (listed); the caller
            rolls the booking back.
        """
        self.ensure_one()
        by_category, default = self._stripe_booker_of(self._stripe_payout_bookers())
        left = (
            self.env["stripe.balance.transaction"]
            .search(
                [("payout_id", "=", self.id), ("link_state", "=", "to_book")],
                order="stripe_created, id",
            )
            .filtered(
                lambda transaction: (
                    transaction.type not in const.PAYOUT_TRANSACTION_TYPES
                    and getattr(
                        by_category.get(transaction.reporting_category, default),
                        "method",
                        True,
                    )
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

    def _stripe_book_payments(self, transactions, picks):
        """Register a payment for each charge, refund and refund failure nothing
        mirrors yet (see ``stripe.balance.transaction._stripe_book_payment``).

        :return: the payments.
        """
        payments = self.env["account.payment"]
        for transaction in transactions:
            payments |= transaction._stripe_book_payment(picks.get(transaction.id))
        return payments

    def _stripe_book_adjustments(self, transactions, picks):  # pylint: disable=unused-argument
        """Book in one entry the disputes and adjustments nothing mirrors yet:
        disputed amounts on the disputed-payments account (with the customer),
        anything else on the adjustment account. Fees are in the fee entry.

        :return: the entry, or an empty recordset.
        """
        if not transactions:
            return self.env["account.move"]
        account = self.account_id
        partners = self._stripe_charge_partners(transactions.mapped("stripe_charge_id"))
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
            partner = partners.get(
                transaction.stripe_charge_id, self.env["res.partner"]
            )
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
        self.adjustment_move_id = move
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

    def _stripe_book_fees(self, transactions, picks):  # pylint: disable=unused-argument
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
        fee_transactions = transactions
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
        self.fee_move_id = move
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
            const.KEYLESS_FEE_TYPE: _(
                "Stripe fees (payout reconciled without secret key)"
            ),
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
        window = timedelta(days=self.account_id.payout_bank_line_days)
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

    def _stripe_standing_moves(self):
        """The entries reconciling the payout posted that still stand: those of
        every booker, the exchange and transfer entries, and the exchange entries
        of the payments it registered (the payments themselves are cancelled)."""
        self.ensure_one()
        payments = self.payment_ids.filtered(lambda p: p.state != "canceled")
        return (
            self.move_ids
            | self.fee_move_id
            | self.adjustment_move_id
            | self.exchange_move_id
            | self.transfer_move_id
            | payments.stripe_exchange_move_id
        ).filtered(
            lambda move: (
                move.state == "posted"
                and not move.reversal_move_ids
                and not move.reversed_entry_id
                and move not in payments.move_id
            )
        )

    def _stripe_undo(self):
        """Reverse what reconciling the payout booked, with Odoo's reversal: its
        entries (and the exchange entries of the payments it registered) are
        reversed, its payments cancelled, its statement line freed, its
        transactions unlinked from them. The payout is back to *To Reconcile*."""
        self.ensure_one()
        self._stripe_lock(nowait=True)
        if self.statement_line_id:
            self.statement_line_id.action_undo_reconciliation()
        payments = self.payment_ids.filtered(lambda p: p.state != "canceled")
        to_reverse = self._stripe_standing_moves()
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
        # Whatever a booker posted is unlinked from what it booked, so that the
        # next reconciliation (or a late event) books it again.
        booked = to_reverse
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
        # Reconciled without a key: the payments picked and the fees were the
        # payout's stand-in transactions. They go, so that the payments can be
        # picked again (and those picked wrongly left out).
        keyless = self.transaction_ids.filtered(
            lambda t: t.stripe_id.startswith(const.KEYLESS_TRANSACTION_PREFIX)
        )
        if keyless:
            # sudo: nobody deletes Stripe's transactions; these stand-ins are
            # Odoo's own, made by the reconcile wizard.
            keyless.sudo().unlink()
            self.transactions_imported = False
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
                    self.env._(
                        "%(move)s reversed by %(reversal)s",
                        move=move.name,
                        reversal=rev.name,
                    )
                    for move, rev in zip(to_reverse, reversals, strict=True)
                ]
                + [self.env._("%s cancelled", payment.name) for payment in payments]
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
