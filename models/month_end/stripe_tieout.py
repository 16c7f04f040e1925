import logging
from datetime import timedelta

from psycopg2.extras import execute_values

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, date_utils

from ... import utils
from ...tools import reporting

_logger = logging.getLogger(__name__)

#: Rows sent to PostgreSQL per INSERT while a report file streams in.
ROW_CHUNK = 2000


class StripeTieout(models.Model):
    """A month of one Stripe account tied out to Odoo, category by category.

    Stripe's own reports (the Reporting API) give the month's starting and ending
    balance and every balance transaction with its reporting category; each is
    compared with what Odoo booked on the Stripe journal for it (the payment,
    refund, dispute or fee entry that mirrors it). The rows of a report are
    streamed into a table and compared in SQL: a month of 50,000 transactions
    stays flat in memory. What differs is listed transaction by transaction
    (``item_ids``); the month is closed once nothing differs, or every difference
    is explained."""

    _name = "stripe.tieout"
    _description = "Stripe Month Tie-out"
    _inherit = ["stripe.owned.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "date_from desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    date_from = fields.Date(required=True, readonly=True)
    date_to = fields.Date(required=True, readonly=True)
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("waiting", "Waiting for Stripe"),
            ("differs", "Differs"),
            ("ties", "Ties"),
            ("closed", "Closed"),
        ],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        index=True,
    )
    state_message = fields.Text(string="Message", readonly=True)
    data_available_until = fields.Datetime(
        readonly=True, help="Until when Stripe's reports had data when last asked."
    )
    line_ids = fields.One2many("stripe.tieout.line", "tieout_id", readonly=True)
    item_ids = fields.One2many(
        "stripe.tieout.item", "tieout_id", string="Differences", readonly=True
    )
    item_count = fields.Integer(compute="_compute_item_count")
    stripe_start_balance = fields.Monetary(string="Stripe Starting Balance")
    stripe_end_balance = fields.Monetary(string="Stripe Ending Balance")
    odoo_start_balance = fields.Monetary(string="Odoo Starting Balance")
    odoo_end_balance = fields.Monetary(string="Odoo Ending Balance")
    start_difference = fields.Monetary(compute="_compute_balance_differences")
    end_difference = fields.Monetary(compute="_compute_balance_differences")
    balance_explanation = fields.Text(
        help="Why the starting or ending balance differs, when it does: kept with "
        "the closed month."
    )
    transaction_count = fields.Integer(readonly=True)
    computed_at = fields.Datetime(readonly=True)
    closed_at = fields.Datetime(readonly=True)
    closed_by_id = fields.Many2one("res.users", readonly=True)

    _sql_constraints = [
        (
            "month_uniq",
            "UNIQUE(account_id, currency_id, date_from)",
            "One tie-out per Stripe account, currency and month.",
        ),
    ]

    # === CRUD / INIT === #

    def init(self):
        # The rows of Stripe's reports while a tie-out compares them: a plain
        # table (no ORM), filled by bulk INSERTs, emptied after each comparison.
        self.env.cr.execute(
            """
            CREATE UNLOGGED TABLE IF NOT EXISTS stripe_tieout_row (
                tieout_id integer NOT NULL,
                report varchar NOT NULL,
                txn varchar NOT NULL,
                category varchar,
                source varchar,
                charge varchar,
                intent varchar,
                payout varchar,
                created timestamp,
                gross numeric,
                fee numeric,
                net numeric
            );
            CREATE INDEX IF NOT EXISTS stripe_tieout_row_tieout_idx
                ON stripe_tieout_row (tieout_id, report);
            """
        )

    # === COMPUTE METHODS === #

    @api.depends("account_id", "date_from", "currency_id")
    def _compute_name(self):
        for tieout in self:
            tieout.name = "%s %s %s" % (
                tieout.account_id.name or "",
                (tieout.date_from and tieout.date_from.strftime("%Y-%m")) or "",
                tieout.currency_id.name or "",
            )

    def _compute_item_count(self):
        for tieout in self:
            tieout.item_count = len(tieout.item_ids)

    @api.depends(
        "stripe_start_balance",
        "stripe_end_balance",
        "odoo_start_balance",
        "odoo_end_balance",
    )
    def _compute_balance_differences(self):
        for tieout in self:
            tieout.start_difference = (
                tieout.stripe_start_balance - tieout.odoo_start_balance
            )
            tieout.end_difference = tieout.stripe_end_balance - tieout.odoo_end_balance

    # === ACTION METHODS === #

    def action_compute(self):
        """Ask Stripe for the month's reports and compare them with Odoo; when
        Stripe's data does not reach the month's end yet, wait (``waiting``)."""
        for tieout in self:
            if tieout.state == "closed":
                raise UserError(_("Tie-out %s is closed.", tieout.name))
            tieout._stripe_compute()
        return True

    def action_close(self):
        """Close the month: refused while a difference is neither zero nor
        explained. Locks the Stripe journal up to the month's end (see
        ``account.journal.stripe_lock_date``): what arrives later for the month
        is booked on the first open day, with a note linking this tie-out."""
        for tieout in self:
            if tieout.state not in ("ties", "differs"):
                raise UserError(_("Compute tie-out %s before closing it.", tieout.name))
            unexplained = tieout._stripe_unexplained()
            if unexplained:
                raise UserError(
                    _(
                        "Tie-out %(name)s cannot be closed: book or explain these "
                        "differences first: %(what)s.",
                        name=tieout.name,
                        what=", ".join(unexplained),
                    )
                )
            # sudo: closing the month is the Stripe manager's decision; the lock
            # is the module's own field on the Stripe journal, nothing else of
            # the journal is written.
            journal = tieout.account_id.journal_id.sudo()
            if (
                not journal.stripe_lock_date
                or journal.stripe_lock_date < tieout.date_to
            ):
                journal.write(
                    {
                        "stripe_lock_date": tieout.date_to,
                        "stripe_lock_tieout_id": tieout.id,
                    }
                )
            tieout.write(
                {
                    "state": "closed",
                    "closed_at": fields.Datetime.now(),
                    "closed_by_id": self.env.user.id,
                }
            )
            explained = len(tieout.line_ids.filtered("explanation")) + len(
                tieout.item_ids.filtered("explanation")
            )
            tieout.message_post(
                body=_(
                    "Month closed; the Stripe journal %(journal)s is locked up to "
                    "%(date)s. Differences explained: %(count)s.",
                    journal=journal.display_name,
                    date=tieout.date_to,
                    count=explained,
                )
            )
        return True

    def action_view_items(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Differences"),
            "res_model": "stripe.tieout.item",
            "view_mode": "list,form",
            "domain": [("tieout_id", "=", self.id)],
        }

    # === BUSINESS METHODS === #

    @api.model
    def _stripe_prepare(self, account, month_start):
        """The tie-out of ``account`` for the month starting ``month_start``
        (created if needed)."""
        currency = account.journal_id.currency_id or account.company_id.currency_id
        tieout = self.search(
            [
                ("account_id", "=", account.id),
                ("currency_id", "=", currency.id),
                ("date_from", "=", month_start),
            ],
            limit=1,
        )
        if not tieout:
            tieout = self.create(
                {
                    "account_id": account.id,
                    "currency_id": currency.id,
                    "date_from": month_start,
                    "date_to": date_utils.end_of(month_start, "month"),
                }
            )
        return tieout

    def _stripe_unexplained(self):
        """Names of the differences that neither are zero nor explained."""
        self.ensure_one()
        names = [
            line.reporting_category
            for line in self.line_ids
            if not self.currency_id.is_zero(line.difference) and not line.explanation
        ]
        names += [
            item.display_name
            for item in self.item_ids
            if item.kind == "payout" and not item.explanation
        ]
        for label, amount in (
            (_("starting balance"), self.start_difference),
            (_("ending balance"), self.end_difference),
        ):
            if not self.currency_id.is_zero(amount) and not self.balance_explanation:
                names.append(label)
        return names

    def _stripe_exponent(self):
        return utils.currency_exponent(self.currency_id.name)

    def _stripe_compute(self):
        self.ensure_one()
        account = self.account_id
        interval_start = reporting.utc_timestamp(self.date_from)
        interval_end = reporting.utc_timestamp(self.date_to + timedelta(days=1))
        available_start, available_end = account._stripe_report_availability(
            reporting.ACTIVITY_ITEMIZED
        )
        self.data_available_until = utils.timestamp_to_datetime(available_end)
        if available_end < interval_end:
            self.write(
                {
                    "state": "waiting",
                    "state_message": _(
                        "Stripe's reports have data until %(until)s UTC; the month "
                        "ends %(end)s. The tie-out is prepared once it does.",
                        until=self.data_available_until,
                        end=self.date_to,
                    ),
                }
            )
            return
        code = self.currency_id.name.lower()
        params = {
            # Nothing happened before Stripe's data starts.
            "interval_start": min(
                max(interval_start, available_start), interval_end - 1
            ),
            "interval_end": interval_end,
            "currency": code,
        }
        exponent = self._stripe_exponent()
        summary = reporting.summary(
            account._stripe_report_lines(
                reporting.BALANCE_SUMMARY,
                dict(params, columns=list(reporting.SUMMARY_COLUMNS)),
            ),
            exponent,
        )
        cr = self.env.cr
        cr.execute("DELETE FROM stripe_tieout_row WHERE tieout_id = %s", [self.id])
        count = self._stripe_load_rows(
            "activity",
            account._stripe_report_lines(
                reporting.ACTIVITY_ITEMIZED,
                dict(params, columns=list(reporting.ACTIVITY_COLUMNS)),
            ),
            reporting.ACTIVITY_COLUMNS,
        )
        self._stripe_load_rows(
            "payout",
            account._stripe_report_lines(
                reporting.PAYOUT_ITEMIZED,
                dict(params, columns=list(reporting.PAYOUT_COLUMNS)),
            ),
            reporting.PAYOUT_COLUMNS,
        )
        self.env.flush_all()
        # What users explained stays explained when the month is computed again.
        line_reasons = {
            line.reporting_category: line.explanation
            for line in self.line_ids
            if line.explanation
        }
        item_reasons = {
            item._stripe_key(): item.explanation
            for item in self.item_ids
            if item.explanation
        }
        self.line_ids.unlink()
        self.item_ids.unlink()
        scale = 10**exponent
        stripe_totals, odoo_totals = self._stripe_compare()
        stripe_totals["payout"] = stripe_totals.get("payout", 0) + (
            summary.get("payouts", 0) / scale
        )
        categories = sorted(
            set(stripe_totals) | set(odoo_totals), key=reporting.category_key
        )
        self.env["stripe.tieout.line"].create(
            [
                {
                    "tieout_id": self.id,
                    "sequence": index,
                    "reporting_category": category,
                    "stripe_amount": stripe_totals.get(category, 0.0),
                    "odoo_amount": odoo_totals.get(category, 0.0),
                    "explanation": line_reasons.get(category, False),
                }
                for index, category in enumerate(categories)
            ]
        )
        self._stripe_compare_payouts()
        for item in self.item_ids:
            if item._stripe_key() in item_reasons:
                item.explanation = item_reasons[item._stripe_key()]
        cr.execute("DELETE FROM stripe_tieout_row WHERE tieout_id = %s", [self.id])
        start, end = self._stripe_journal_balances()
        self.write(
            {
                "stripe_start_balance": summary.get("starting_balance", 0) / scale,
                "stripe_end_balance": summary.get("ending_balance", 0) / scale,
                "odoo_start_balance": start,
                "odoo_end_balance": end,
                "transaction_count": count,
                "computed_at": fields.Datetime.now(),
            }
        )
        differs = (
            any(not self.currency_id.is_zero(line.difference) for line in self.line_ids)
            or self.item_ids.filtered(lambda item: item.kind == "payout")
            or not self.currency_id.is_zero(self.start_difference)
            or not self.currency_id.is_zero(self.end_difference)
        )
        self.write(
            {
                "state": "differs" if differs else "ties",
                "state_message": _(
                    "%(count)s transactions compared; %(items)s differences.",
                    count=count,
                    items=len(self.item_ids),
                )
                if differs
                else _("%s transactions compared: Stripe and Odoo agree.", count),
            }
        )
        if differs:
            account._stripe_alert(
                "tieout_differs",
                _("Stripe month %s does not tie", self.name),
                self.state_message,
                record=self,
            )
        else:
            account._stripe_alert_resolve(
                "tieout_differs", _("The month ties."), record=self
            )

    def _stripe_load_rows(self, report, lines, columns):
        """Stream a report's rows into ``stripe_tieout_row``, a chunk at a time.

        :return: the number of rows.
        """
        exponent = self._stripe_exponent()
        scale = 10**exponent
        cr = self.env.cr
        chunk, count = [], 0
        for row in reporting.rows(lines, columns):
            values = dict(zip(columns, row, strict=True))
            chunk.append(
                (
                    self.id,
                    report,
                    values["balance_transaction_id"],
                    values.get("reporting_category"),
                    values.get("source_id") or None,
                    values.get("charge_id") or None,
                    values.get("payment_intent_id") or None,
                    values.get("automatic_payout_id") or None,
                    reporting.parse_utc(values.get("created_utc")),
                    reporting.to_minor(values.get("gross"), exponent) / scale,
                    reporting.to_minor(values.get("fee"), exponent) / scale,
                    reporting.to_minor(values.get("net"), exponent) / scale,
                )
            )
            if len(chunk) >= ROW_CHUNK:
                count += self._stripe_insert_rows(cr, chunk)
                chunk = []
        if chunk:
            count += self._stripe_insert_rows(cr, chunk)
        # The planner must know how many rows came (thousands, not a handful).
        cr.execute("ANALYZE stripe_tieout_row")
        return count

    @staticmethod
    def _stripe_insert_rows(cr, chunk):
        execute_values(
            cr._obj,  # pylint: disable=protected-access
            """
            INSERT INTO stripe_tieout_row (tieout_id, report, txn, category, source,
                charge, intent, payout, created, gross, fee, net) VALUES %s
            """,
            chunk,
            page_size=len(chunk),
        )
        return len(chunk)

    def _stripe_compare(self):
        """Compare the activity rows with the Stripe journal, in SQL.

        Each row is linked to the entries that mirror it: its *gross* entry (the
        payment, refund, dispute or adjustment entry, with the exchange
        difference entry of its payment) and its *fee* entry. Entries are
        compared as groups: what Stripe says of the rows a group mirrors against
        what the group's lines on the Stripe journal's account hold in the month.
        Rows no entry mirrors, entries no row explains and groups that differ
        become ``stripe.tieout.item`` records.

        :return: ``({category: Stripe total}, {category: Odoo total})``
        """
        self.ensure_one()
        account = self.account_id
        journal = account.journal_id
        in_company = not journal.currency_id or (
            journal.currency_id == self.company_id.currency_id
        )
        amount_field = SQL("aml.balance" if in_company else "aml.amount_currency")
        cr = self.env.cr
        cr.execute(
            SQL(
                """
            DROP TABLE IF EXISTS stripe_tieout_link;
            CREATE TEMP TABLE stripe_tieout_link ON COMMIT DROP AS
            WITH r AS (
                SELECT txn, category, source, charge, intent, created, gross, fee
                  FROM stripe_tieout_row WHERE tieout_id = %(tieout)s
                   AND report = 'activity'
            ), bt AS (
                SELECT b.stripe_id, b.payment_id, b.move_id, b.fee_move_id
                  FROM stripe_balance_transaction b
                  JOIN r ON r.txn = b.stripe_id
                 WHERE b.account_id = %(account)s
            ), keyed AS (
                -- The payment of a charge (by charge or PaymentIntent) or of a
                -- refund (by its id): three equality joins, each on an index.
                SELECT DISTINCT ON (txn) txn, payment_id FROM (
                    SELECT r.txn, p.id AS payment_id
                      FROM r JOIN account_payment p
                        ON p.stripe_account_id = %(account)s
                       AND p.stripe_object_id = r.source
                       AND p.state IN ('in_process', 'paid')
                    UNION ALL
                    SELECT r.txn, p.id
                      FROM r JOIN account_payment p
                        ON p.stripe_charge_id = r.source
                       AND p.stripe_account_id = %(account)s
                       AND p.state IN ('in_process', 'paid')
                     WHERE r.category = 'charge'
                    UNION ALL
                    SELECT r.txn, p.id
                      FROM r JOIN account_payment p
                        ON p.stripe_account_id = %(account)s
                       AND p.stripe_object_id = r.intent
                       AND p.state IN ('in_process', 'paid')
                     WHERE r.category = 'charge'
                ) found
                 ORDER BY txn, payment_id
            ), dispute AS (
                SELECT d.withdrawal_transaction AS txn, d.withdrawal_move_id AS move_id
                  FROM stripe_dispute d
                 WHERE d.account_id = %(account)s AND d.withdrawal_move_id IS NOT NULL
                UNION ALL
                SELECT d.reinstatement_transaction, d.reinstatement_move_id
                  FROM stripe_dispute d
                 WHERE d.account_id = %(account)s
                   AND d.reinstatement_move_id IS NOT NULL
            )
            SELECT r.txn, r.category, r.source, r.created, r.gross, r.fee,
                   COALESCE(pb.move_id, bt.move_id, pk.move_id, dispute.move_id)
                       AS gross_move,
                   COALESCE(pb.stripe_exchange_move_id, pk.stripe_exchange_move_id)
                       AS exchange_move,
                   CASE WHEN r.fee != 0 THEN COALESCE(
                       bt.fee_move_id, pb.stripe_fee_move_id, pk.stripe_fee_move_id,
                       CASE WHEN dispute.move_id IS NOT NULL THEN dispute.move_id END)
                   END AS fee_move
              FROM r
              LEFT JOIN bt ON bt.stripe_id = r.txn
              LEFT JOIN account_payment pb ON pb.id = bt.payment_id
              LEFT JOIN keyed ON keyed.txn = r.txn
              LEFT JOIN account_payment pk ON pk.id = keyed.payment_id
              LEFT JOIN dispute ON dispute.txn = r.txn;
            CREATE INDEX ON stripe_tieout_link (gross_move);
            ANALYZE stripe_tieout_link;
            """,
                tieout=self.id,
                account=account.id,
            )
        )
        cr.execute(
            SQL(
                """
            DROP TABLE IF EXISTS stripe_tieout_member;
            CREATE TEMP TABLE stripe_tieout_member ON COMMIT DROP AS
                -- Every entry a row links to, and the group it counts in.
                SELECT gross_move AS move_id, gross_move AS grp FROM stripe_tieout_link
                 WHERE gross_move IS NOT NULL
                UNION
                SELECT exchange_move, gross_move FROM stripe_tieout_link
                 WHERE exchange_move IS NOT NULL AND gross_move IS NOT NULL
                UNION
                SELECT fee_move, fee_move FROM stripe_tieout_link
                 WHERE fee_move IS NOT NULL;
            CREATE INDEX ON stripe_tieout_member (move_id);
            ANALYZE stripe_tieout_member;
            DROP TABLE IF EXISTS stripe_tieout_group;
            CREATE TEMP TABLE stripe_tieout_group ON COMMIT DROP AS
            WITH stripe_side AS (
                SELECT grp, category, SUM(amount) AS amount, SUM(fee) AS fee
                  FROM (
                    SELECT gross_move AS grp, category, gross AS amount, 0 AS fee
                      FROM stripe_tieout_link WHERE gross_move IS NOT NULL
                    UNION ALL
                    SELECT fee_move, 'fee', 0, -fee
                      FROM stripe_tieout_link WHERE fee_move IS NOT NULL
                  ) parts
                 GROUP BY grp, category
            ), odoo_side AS (
                SELECT COALESCE(member.grp, aml.move_id) AS grp,
                       SUM(%(amount)s) AS amount,
                       bool_or(member.grp IS NULL) AS unlinked
                  FROM account_move_line aml
                  LEFT JOIN stripe_tieout_member member
                    ON member.move_id = aml.move_id
                 WHERE aml.journal_id = %(journal)s
                   AND aml.account_id = %(liquidity)s
                   AND aml.parent_state = 'posted'
                   AND aml.date BETWEEN %(date_from)s AND %(date_to)s
                 GROUP BY 1
            ), stripe_total AS (
                SELECT grp, SUM(amount + fee) AS amount,
                       SUM(fee) AS fee, MIN(category) FILTER (WHERE category != 'fee')
                           AS category
                  FROM stripe_side GROUP BY grp
            )
            SELECT COALESCE(s.grp, o.grp) AS grp, s.category,
                   COALESCE(s.amount, 0) AS stripe_amount,
                   COALESCE(s.fee, 0) AS stripe_fee,
                   COALESCE(o.amount, 0) AS odoo_amount,
                   s.grp IS NULL AS odoo_only
              FROM stripe_total s
              FULL JOIN odoo_side o ON o.grp = s.grp;
            """,
                amount=amount_field,
                journal=journal.id,
                liquidity=journal.default_account_id.id,
                date_from=self.date_from,
                date_to=self.date_to,
            )
        )
        # The Stripe totals, by category: gross of each row, fees apart.
        cr.execute(
            """
            SELECT category, SUM(gross) FROM stripe_tieout_link GROUP BY category
            UNION ALL
            SELECT 'fee', -SUM(fee) FROM stripe_tieout_link HAVING SUM(fee) != 0
            """
        )
        stripe_totals = {}
        for category, amount in cr.fetchall():
            stripe_totals[category] = stripe_totals.get(category, 0.0) + float(amount)
        # The Odoo totals: a group's fee share goes to fees, the rest to its
        # category; an entry no row explains goes where its counterpart says.
        odoo_only_category = self._stripe_odoo_only_category_sql()
        cr.execute(
            SQL(
                """
            WITH g AS (
                SELECT g.*, CASE WHEN g.odoo_only THEN (%(classify)s) END AS guess
                  FROM stripe_tieout_group g
            )
            SELECT category, SUM(amount) FROM (
                SELECT COALESCE(guess, 'other_adjustment') AS category,
                       odoo_amount AS amount
                  FROM g WHERE odoo_only
                UNION ALL
                SELECT category, odoo_amount - stripe_fee
                  FROM g WHERE NOT odoo_only AND category IS NOT NULL
                UNION ALL
                SELECT 'fee', stripe_fee
                  FROM g WHERE NOT odoo_only AND category IS NOT NULL
                UNION ALL
                SELECT 'fee', odoo_amount
                  FROM g WHERE NOT odoo_only AND category IS NULL
            ) parts
             GROUP BY category
            """,
                classify=odoo_only_category,
            )
        )
        odoo_totals = {}
        for category, amount in cr.fetchall():
            if amount is not None:
                odoo_totals[category] = odoo_totals.get(category, 0.0) + float(amount)
        self._stripe_create_items()
        return stripe_totals, odoo_totals

    def _stripe_odoo_only_category_sql(self):
        """SQL giving the category of an entry no row explains (``g.grp``): from
        the document it belongs to, else its counterpart account."""
        account = self.account_id
        return SQL(
            """
            SELECT CASE
                WHEN EXISTS (SELECT 1 FROM stripe_payout sp
                              WHERE sp.account_id = %(account)s
                                AND g.grp IN (sp.transfer_move_id,
                                              sp.transfer_reversal_move_id))
                    THEN 'payout'
                WHEN EXISTS (SELECT 1 FROM account_move_line l
                              WHERE l.move_id = g.grp
                                AND l.account_id = %(fee_account)s) THEN 'fee'
                WHEN EXISTS (SELECT 1 FROM account_move_line l
                              WHERE l.move_id = g.grp
                                AND l.account_id = %(dispute_account)s) THEN 'dispute'
                WHEN EXISTS (SELECT 1 FROM account_payment p
                              WHERE p.move_id = g.grp
                                AND p.payment_type = 'inbound') THEN 'charge'
                WHEN EXISTS (SELECT 1 FROM account_payment p
                              WHERE p.move_id = g.grp
                                AND p.payment_type = 'outbound') THEN 'refund'
                WHEN %(opening)s = g.grp THEN 'opening_balance'
                END
            """,
            account=account.id,
            fee_account=account.fee_account_id.id or 0,
            dispute_account=account.dispute_account_id.id or 0,
            opening=account.go_live_move_id.id or 0,
        )

    def _stripe_create_items(self):
        """The drill-down: one item per row or entry that differs."""
        self.ensure_one()
        cr = self.env.cr
        classify = self._stripe_odoo_only_category_sql()
        cr.execute(
            SQL(
                """
            INSERT INTO stripe_tieout_item (tieout_id, account_id, company_id, kind,
                reporting_category, stripe_transaction_id, stripe_source_id,
                stripe_amount, odoo_amount, move_id, date, create_uid, write_uid,
                create_date, write_date)
            -- In Stripe, not in Odoo: rows no entry mirrors.
            SELECT %(tieout)s, %(account)s, %(company)s, 'missing_in_odoo',
                   l.category, l.txn, l.source, l.gross - l.fee, 0, NULL::integer,
                   l.created::date, %(uid)s, %(uid)s, now() at time zone 'utc',
                   now() at time zone 'utc'
              FROM stripe_tieout_link l WHERE l.gross_move IS NULL
            UNION ALL
            -- A fee Stripe took that no entry booked yet (without a key, fees
            -- are booked with their payout).
            SELECT %(tieout)s, %(account)s, %(company)s, 'missing_in_odoo',
                   'fee', l.txn, l.source, -l.fee, 0, NULL::integer,
                   l.created::date, %(uid)s, %(uid)s, now() at time zone 'utc',
                   now() at time zone 'utc'
              FROM stripe_tieout_link l
             WHERE l.gross_move IS NOT NULL AND l.fee != 0 AND l.fee_move IS NULL
            UNION ALL
            -- In Odoo, not in Stripe: entries of the month no row explains
            -- (payouts are tied by their own report, the opening entry by the
            -- starting balance).
            SELECT %(tieout)s, %(account)s, %(company)s, 'missing_in_stripe',
                   COALESCE((%(classify)s), 'other_adjustment'), NULL::varchar,
                   NULL::varchar, 0,
                   g.odoo_amount, g.grp, m.date, %(uid)s, %(uid)s,
                   now() at time zone 'utc', now() at time zone 'utc'
              FROM stripe_tieout_group g JOIN account_move m ON m.id = g.grp
             WHERE g.odoo_only
               AND COALESCE((%(classify)s), '') NOT IN ('payout', 'opening_balance')
            UNION ALL
            -- Booked with another amount, or on another date (outside the month).
            SELECT %(tieout)s, %(account)s, %(company)s,
                   CASE WHEN g.odoo_amount = 0 THEN 'date' ELSE 'amount' END,
                   COALESCE(g.category, 'fee'),
                   (SELECT MIN(l.txn) FROM stripe_tieout_link l
                     WHERE g.grp IN (l.gross_move, l.fee_move)),
                   (SELECT MIN(l.source) FROM stripe_tieout_link l
                     WHERE g.grp IN (l.gross_move, l.fee_move)),
                   g.stripe_amount, g.odoo_amount, g.grp, m.date, %(uid)s, %(uid)s,
                   now() at time zone 'utc', now() at time zone 'utc'
              FROM stripe_tieout_group g JOIN account_move m ON m.id = g.grp
             WHERE NOT g.odoo_only AND round(g.stripe_amount - g.odoo_amount, 6) != 0
            """,
                tieout=self.id,
                account=self.account_id.id,
                company=self.company_id.id,
                uid=self.env.uid,
                classify=classify,
            )
        )
        self.env["stripe.tieout.item"].invalidate_model()
        self.invalidate_recordset(["item_ids"])

    def _stripe_compare_payouts(self):
        """Each automatic payout of the month: the rows of Stripe's payout
        reconciliation report against the transactions Odoo booked in it. A
        payout whose rows and bookings differ is flagged, here and on the
        payout."""
        self.ensure_one()
        # A payout flagged by an earlier computation of the month and tied now
        # is flagged no more.
        self.env["stripe.payout"].search(
            [
                ("account_id", "=", self.account_id.id),
                ("tieout_differs", "=", True),
                ("arrival_date", ">=", self.date_from),
                ("arrival_date", "<=", self.date_to),
            ]
        ).write({"tieout_differs": False, "tieout_message": False})
        cr = self.env.cr
        cr.execute(
            """
            WITH rep AS (
                SELECT payout, txn FROM stripe_tieout_row
                 WHERE tieout_id = %(tieout)s AND report = 'payout'
                   AND payout IS NOT NULL
            ), odoo AS (
                SELECT p.stripe_id AS payout, b.stripe_id AS txn, b.net
                  FROM stripe_balance_transaction b
                  JOIN stripe_payout p ON p.id = b.payout_id
                 WHERE p.account_id = %(account)s AND p.automatic
                   AND p.stripe_id IN (SELECT DISTINCT payout FROM rep)
                   AND b.type != 'payout'
            )
            SELECT COALESCE(rep.payout, odoo.payout), COALESCE(rep.txn, odoo.txn),
                   rep.txn IS NULL, odoo.txn IS NULL
              FROM rep FULL JOIN odoo
                ON odoo.payout = rep.payout AND odoo.txn = rep.txn
             WHERE rep.txn IS NULL OR odoo.txn IS NULL
            """,
            {"tieout": self.id, "account": self.account_id.id},
        )
        found = cr.fetchall()
        payouts = self.env["stripe.payout"].search(
            [
                ("account_id", "=", self.account_id.id),
                ("stripe_id", "in", list({row[0] for row in found})),
            ]
        )
        by_id = {payout.stripe_id: payout for payout in payouts}
        vals_list = []
        for payout_id, txn, not_in_report, not_in_odoo in found:
            payout = by_id.get(payout_id)
            vals_list.append(
                {
                    "tieout_id": self.id,
                    "account_id": self.account_id.id,
                    "kind": "payout",
                    "reporting_category": "payout",
                    "payout_id": payout.id if payout else False,
                    "stripe_transaction_id": txn,
                    "note": _("Booked in the payout, not in Stripe's report")
                    if not_in_report
                    else _("In Stripe's report of the payout, not booked in it")
                    if not_in_odoo
                    else False,
                }
            )
        self.env["stripe.tieout.item"].create(vals_list)
        for payout in payouts:
            payout.write(
                {
                    "tieout_differs": True,
                    "tieout_message": _(
                        "Stripe's payout reconciliation report and the transactions "
                        "booked in this payout differ (tie-out %s).",
                        self.name,
                    ),
                }
            )

    def _stripe_journal_balances(self):
        """The Stripe journal's balance before the month and at its end."""
        self.ensure_one()
        journal = self.account_id.journal_id
        in_company = not journal.currency_id or (
            journal.currency_id == self.company_id.currency_id
        )
        amount = SQL("balance" if in_company else "amount_currency")
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            SELECT COALESCE(SUM(%(amount)s) FILTER (WHERE date < %(start)s), 0),
                   COALESCE(SUM(%(amount)s), 0)
              FROM account_move_line
             WHERE account_id = %(liquidity)s AND parent_state = 'posted'
               AND company_id = %(company)s AND date <= %(end)s
            """,
                amount=amount,
                start=self.date_from,
                end=self.date_to,
                liquidity=journal.default_account_id.id,
                company=self.company_id.id,
            )
        )
        start, end = self.env.cr.fetchone()
        return float(start), float(end)

    @api.model
    def _cron_prepare_last_month(self):
        """Monthly: prepare and compute last month's tie-out of every account
        with a key, once Stripe's data covers it (else it waits and is looked at
        again the next day: the cron runs daily, a computed month is left)."""
        month_start = date_utils.start_of(
            fields.Date.context_today(self), "month"
        ) - timedelta(days=1)
        month_start = date_utils.start_of(month_start, "month")
        for account in self.env["stripe.account"]._stripe_api_accounts():
            tieout = self._stripe_prepare(account, month_start)
            if tieout.state not in ("draft", "waiting"):
                continue
            try:
                with self.env.cr.savepoint():
                    tieout.with_company(account.company_id)._stripe_compute()
            except UserError as error:
                _logger.warning("Stripe tie-out %s: %s", tieout.name, error)
