import logging
from collections import defaultdict
from datetime import datetime, time, timedelta, timezone

from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .. import const, utils

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
    """

    _name = "stripe.payout"
    _description = "Stripe Payout"
    _inherit = ["stripe.account.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "arrival_date desc, id desc"
    _rec_name = "stripe_id"

    # === STRIPE DATA === #

    stripe_id = fields.Char(string="Payout ID", required=True, readonly=True)
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
    balance_transaction_ref = fields.Char(
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

    _sql_constraints = [
        (
            "stripe_id_account_uniq",
            "UNIQUE(account_id, stripe_id)",
            "A Stripe payout is stored once per Stripe account.",
        ),
    ]

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
    )
    def _compute_can_undo(self):
        for payout in self:
            payout.can_undo = bool(
                payout.fee_move_id
                or payout.adjustment_move_id
                or payout.exchange_move_id
                or payout.transfer_move_id
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
    def _stripe_sync(self, account, data):
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
            "balance_transaction_ref": utils.object_id(data.get("balance_transaction")),
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
        for page in account._stripe_pages("payouts", params, _("the payouts")):
            for data in page:
                if self._stripe_check_currency(account, data):
                    continue
                try:
                    with self.env.cr.savepoint():
                        payout = self._stripe_sync(account, data)
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
        for account in self.env["stripe.account"]._stripe_api_accounts():
            try:
                self.with_company(account.company_id)._stripe_import(account, since)
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
        self._stripe_lock()
        transaction_model = self.env["stripe.balance.transaction"]
        params = {
            "payout": self.stripe_id,
            "limit": const.API_PAGE_SIZE,
            "expand": ["data.source"],
        }
        what = _("the balance transactions of payout %s", self.stripe_id)
        with self.env.cr.savepoint():
            for page in self.account_id._stripe_pages(
                "balance_transactions", params, what
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
                "balance_transactions", params, _("the transactions")
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

    def _stripe_lock(self):
        """Lock the payout against a concurrent import or reconciliation (another
        event about it on another worker): that one retries shortly instead.

        :raise psycopg2.errors.LockNotAvailable: another transaction holds it (not
            logged as a bad query: the caller expects it).
        """
        self.env.cr.execute(
            SQL(
                "SELECT id FROM stripe_payout WHERE id IN %s FOR NO KEY UPDATE NOWAIT",
                tuple(self.ids),
            ),
            log_exceptions=False,
        )

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
