import io
import re
from collections import defaultdict
from datetime import date, datetime, time

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, tools
from odoo.osv import expression
from odoo.tools import SQL, format_date

from ... import const
from ...tools.subscription import month_start

MOVEMENTS = [
    ("new", "New"),
    ("expansion", "Expansion"),
    ("contraction", "Contraction"),
    ("churn", "Churn"),
    ("reactivation", "Reactivation"),
    ("none", "No Change"),
]


# Movement -> the column of the report that carries its MRR change.
MOVEMENT_COLUMNS = {
    "new": "new_mrr",
    "expansion": "expansion_mrr",
    "contraction": "contraction_mrr",
    "churn": "churn_mrr",
    "reactivation": "reactivation_mrr",
}


def next_month(month):
    """First day of the month after ``month`` (a first day)."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month):
    """First day of the month before ``month`` (a first day)."""
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def movement(previous, level, customer_previous, customer_level, customer_had_mrr):
    """The MRR movement of one subscription over one month.

    Movements are the customer's: a subscription that starts while its customer
    already pays is expansion; one that ends while the customer keeps others is
    contraction; a customer's first MRR is new; MRR of a customer all of whose
    subscriptions had churned is a reactivation.

    :param previous: the subscription's level at the end of the previous month.
    :param level: its level at the end of this month.
    :param customer_previous: the customer's total at the end of the previous
        month.
    :param customer_level: the customer's total at the end of this month.
    :param bool customer_had_mrr: whether the customer had MRR in any earlier
        month.
    """
    if previous <= 0 < level:
        if customer_previous > 0:
            return "expansion"
        return "reactivation" if customer_had_mrr else "new"
    if level <= 0 < previous:
        return "contraction" if customer_level > 0 else "churn"
    if level > previous:
        return "expansion"
    if level < previous:
        return "contraction"
    return "none"


# Levels: what the report holds at a month's end (start, for start_mrr). Summed
# over the subscriptions of one month, never over months (see read_group).
LEVEL_FIELDS = ("mrr", "arr", "active_count")
START_LEVEL_FIELDS = ("start_mrr",)
# A grouping whose groups hold one month each (rows are dated the 1st).
MONTH_GROUPING = re.compile(r"^date(:(day|week|month))?$")
# read_group's aggregate specifications: "mrr", "mrr:sum", "total:sum(mrr)".
AGGREGATE_SPEC = re.compile(r"^(?P<key>\w+)(?::\w+(?:\((?P<field>\w+)\))?)?$")


class StripeMrrReport(models.Model):
    """The MRR report: one row per subscription and month it was live or churned
    in, with its level at the month's end in the company currency.

    A stored table, not a SQL view: each row keeps the level (at that month's rate)
    it had when built, a change rebuilds only the changed customer's rows from
    the changed month on (``_stripe_rebuild``), and the pivot reads indexed rows."""

    _name = "stripe.mrr.report"
    _description = "Stripe MRR Report"
    _order = "date desc, subscription_id"
    _rec_name = "subscription_id"

    date = fields.Date(string="Month", required=True, readonly=True, index=True)
    # Indexes: the month (the pivot's filter), (company, month) for the record
    # rule, (subscription, month) unique; no more, so that building stays fast.
    account_id = fields.Many2one("stripe.account", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    subscription_id = fields.Many2one(
        "stripe.subscription", readonly=True, ondelete="cascade"
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    currency_id = fields.Many2one(
        "res.currency",
        string="Subscription Currency",
        readonly=True,
        help="The currency the subscription is billed in.",
    )
    company_currency_id = fields.Many2one("res.currency", readonly=True)
    status = fields.Selection(
        const.SUBSCRIPTION_STATUSES, string="Status at Month End", readonly=True
    )
    mrr = fields.Monetary(
        string="MRR",
        currency_field="company_currency_id",
        readonly=True,
        help="Level at the end of the month, in the company currency at that "
        "month's rate; 0 in the churn month.",
    )
    arr = fields.Monetary(
        string="ARR", currency_field="company_currency_id", readonly=True
    )
    start_mrr = fields.Monetary(
        string="Starting MRR",
        currency_field="company_currency_id",
        readonly=True,
        help="Level at the end of the previous month.",
    )
    mrr_change = fields.Monetary(
        string="MRR Change", currency_field="company_currency_id", readonly=True
    )
    movement = fields.Selection(MOVEMENTS, readonly=True)
    new_mrr = fields.Monetary(
        string="New MRR", currency_field="company_currency_id", readonly=True
    )
    expansion_mrr = fields.Monetary(
        string="Expansion MRR", currency_field="company_currency_id", readonly=True
    )
    contraction_mrr = fields.Monetary(
        string="Contraction MRR", currency_field="company_currency_id", readonly=True
    )
    churn_mrr = fields.Monetary(
        string="Churned MRR", currency_field="company_currency_id", readonly=True
    )
    reactivation_mrr = fields.Monetary(
        string="Reactivation MRR", currency_field="company_currency_id", readonly=True
    )
    active_count = fields.Integer(
        string="Active Subscriptions",
        readonly=True,
        help="1 when the subscription counts in MRR at the month's end.",
    )

    _sql_constraints = [
        (
            "subscription_month_uniq",
            "UNIQUE(subscription_id, date)",
            "One MRR row per subscription and month.",
        ),
    ]

    # === CRUD METHODS === #

    @api.model
    def read_group(  # pylint: disable=redefined-outer-name
        self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True
    ):
        """Levels are never added up across months (see ``_stripe_fix_levels``):
        a group of several months (the pivot's *Total* column, a group by
        customer or product, the grand total) gives the level of the last month
        of the report read (the first month's, for the starting MRR), while the
        changes (``mrr_change``, new, churned...) add up."""
        groups = super().read_group(
            domain,
            fields,
            groupby,
            offset=offset,
            limit=limit,
            orderby=orderby,
            lazy=lazy,
        )
        groupby = [groupby] if isinstance(groupby, str) else list(groupby or [])
        groupby = groupby[:1] if lazy else groupby
        if not any(MONTH_GROUPING.match(spec) for spec in groupby):
            self._stripe_fix_levels(domain, fields, groupby, groups, super().read_group)
        return groups

    @api.model
    def _stripe_fix_levels(self, domain, specs, groupby, groups, read):
        """Give the groups of several months the level of one month.

        A level (``mrr``, ``arr``, ``active_count``: at the end of the month;
        ``start_mrr``: at its start) is a stock: summing it over months counts
        the same MRR once a month (898 of MRR read as 5,078 over six months). The
        level of a group is the one of the report's last month in ``domain``
        (its first month for ``start_mrr``), so that the *Total* column is the
        last column, and the grand total the MRR at the end of the period: one
        more read of the same groups, on that month only. Groups of quarters or
        years take their own last (first) month: a query each.

        :param list domain: the domain of the read.
        :param list specs: its aggregate specifications (``mrr``, ``mrr:sum``,
            ``total:sum(mrr)``).
        :param list groupby: the groupings of ``groups``.
        :param list groups: the groups ``read_group`` returns, changed in place.
        :param read: Odoo's own ``read_group``, which reads the levels.
        """
        levels = {}  # output key -> (field, "last" or "first")
        for spec in specs or []:
            match = AGGREGATE_SPEC.match(spec.strip())
            if not match:
                continue
            key, name = match["key"], match["field"] or match["key"]
            if name in LEVEL_FIELDS:
                levels[key] = (name, "last")
            elif name in START_LEVEL_FIELDS:
                levels[key] = (name, "first")
        if not levels or not groups:
            return
        by_period = any(spec.split(":")[0] == "date" for spec in groupby)
        [(first, last)] = self._read_group(domain, [], ["date:min", "date:max"])
        for when, month in (("last", last), ("first", first)):
            keys = [key for key, (_name, w) in levels.items() if w == when]
            if not keys:
                continue
            aggregates = [
                f"stripe_level_{index}:sum({levels[key][0]})"
                for index, key in enumerate(keys)
            ]
            if by_period:
                for group in groups:
                    group_domain = group.get("__domain", domain)
                    [(group_first, group_last)] = self._read_group(
                        group_domain, [], ["date:min", "date:max"]
                    )
                    [row] = read(
                        expression.AND(
                            [
                                group_domain,
                                [
                                    (
                                        "date",
                                        "=",
                                        group_last if when == "last" else group_first,
                                    )
                                ],
                            ]
                        ),
                        aggregates,
                        [],
                        lazy=False,
                    )
                    self._stripe_set_levels(group, keys, row)
                continue
            rows = read(
                expression.AND([domain, [("date", "=", month)]]),
                aggregates,
                groupby,
                lazy=False,
            )
            index = {self._stripe_group_key(row, groupby): row for row in rows}
            for group in groups:
                row = index.get(self._stripe_group_key(group, groupby))
                self._stripe_set_levels(group, keys, row)

    @api.model
    def _stripe_group_key(self, group, groupby):
        """What identifies a group of ``read_group`` (a many2one by its id)."""
        return tuple(
            value[0] if isinstance(value, (tuple, list)) else value
            for value in (group.get(spec) for spec in groupby)
        )

    @api.model
    def _stripe_set_levels(self, group, keys, row):
        for index, key in enumerate(keys):
            if key in group:
                group[key] = (row or {}).get(f"stripe_level_{index}") or 0

    def init(self):
        tools.create_index(
            self.env.cr,
            "stripe_mrr_report_company_date_idx",
            self._table,
            ["company_id", "date"],
        )

    # === ACTION METHODS === #

    @api.model
    def action_open_by_product(self):
        """*MRR by Product*; when MRR has no product (no Odoo product names the
        Stripe products, no default subscription product), a note says why its
        rows show *None* and what to do."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_mrr_report_action_product"
        )
        unmapped = self.search_count([("product_id", "=", False), ("mrr", "!=", 0)])
        if not unmapped:
            return action
        mapped = self.search_count([("product_id", "!=", False), ("mrr", "!=", 0)])
        if mapped:
            message = self.env._(
                "Part of the MRR shows under None: its Stripe products are not "
                "mapped to Odoo products."
            )
        else:
            message = self.env._(
                "All the MRR shows under None: no Stripe product is mapped to an "
                "Odoo product."
            )
        message += " " + self.env._(
            "Set the Stripe product id (prod_...) in the field Stripe Product of "
            "the Odoo products, or a Default Subscription Product on the Stripe "
            "account (Billing tab), then click Rebuild MRR Report on the account."
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("MRR without product"),
                "message": message,
                "type": "warning",
                "sticky": True,
                "next": action,
            },
        }

    # === BUILD === #

    @api.model
    def _stripe_rebuild(self, subscriptions=None, full=False):
        """Bring the report up to date.

        Customers (partners; a subscription without partner is a customer of its
        own) whose subscriptions' history changed since the last build
        (``mrr_rebuild_from``), or those of ``subscriptions``, or all with
        ``full``: their rows are computed again from the first changed month on,
        until the current month. Rows of earlier months are kept as they are (the
        levels they had at their month's rate).

        :return: the number of rows written.
        """
        subscription_model = self.env["stripe.subscription"].sudo()
        self.env.flush_all()
        if full:
            dirty = subscription_model.search([("account_id", "!=", False)])
        elif subscriptions is not None:
            dirty = subscriptions.sudo().filtered("mrr_rebuild_from")
        else:
            dirty = subscription_model.search([("mrr_rebuild_from", "!=", False)])
        if not dirty:
            return 0
        # Every subscription of the customers concerned, and where each customer's
        # rebuild starts.
        partners = dirty.partner_id
        group_subs = dirty
        if partners:
            group_subs |= subscription_model.search(
                [("partner_id", "in", partners.ids)]
            )
        starts = {}
        for subscription in dirty:
            key = subscription.partner_id.id or -subscription.id
            start = None if full else subscription.mrr_rebuild_from
            if key in starts and starts[key] is not None and start is not None:
                starts[key] = min(starts[key], start)
            elif key not in starts or start is None:
                starts[key] = start
        count = self._stripe_build(group_subs, starts)
        dirty.with_context(tracking_disable=True).write({"mrr_rebuild_from": False})
        return count

    @api.model
    def _cron_extend(self):
        """Daily: give live subscriptions their row of a month that began."""
        current = month_start(fields.Date.context_today(self))
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT s.id FROM stripe_subscription s
                 WHERE s.status NOT IN %s
                   AND NOT EXISTS (SELECT 1 FROM stripe_mrr_report r
                                    WHERE r.subscription_id = s.id AND r.date = %s)
                """,
                const.SUBSCRIPTION_TERMINAL_STATUSES,
                current,
            )
        )
        # sudo: the report is the system's bookkeeping, whoever triggers it.
        subscriptions = (
            self.env["stripe.subscription"]
            .sudo()
            .browse([row[0] for row in self.env.cr.fetchall()])
        )
        for subscription in subscriptions.filtered(
            lambda s: not s.mrr_rebuild_from or s.mrr_rebuild_from > current
        ):
            subscription.mrr_rebuild_from = current
        self._stripe_rebuild()

    def _stripe_build(self, subscriptions, starts):  # pylint: disable=too-many-locals
        """Compute and write the rows of ``subscriptions`` (all the subscriptions
        of some customers).

        :param dict starts: customer key (partner id, or minus the subscription id
            for one without partner) -> first month to write (``None``: all).
        :return: the number of rows written.
        """
        cr = self.env.cr
        today = fields.Date.context_today(self)
        current = month_start(today)
        subs = {}
        cr.execute(
            SQL(
                """
                SELECT s.id, s.partner_id, s.account_id, s.company_id, s.currency_id,
                       c.currency_id
                  FROM stripe_subscription s
                  JOIN res_company c ON c.id = s.company_id
                 WHERE s.id IN %s
                """,
                tuple(subscriptions.ids) or (0,),
            )
        )
        for (
            sub_id,
            partner_id,
            account_id,
            company_id,
            currency_id,
            ccy,
        ) in cr.fetchall():
            subs[sub_id] = {
                "partner_id": partner_id,
                "account_id": account_id,
                "company_id": company_id,
                "currency_id": currency_id,
                "company_currency_id": ccy,
                "key": partner_id or -sub_id,
                "history": [],
            }
        cr.execute(
            SQL(
                """
                SELECT subscription_id, date, status, mrr, product_id
                  FROM stripe_subscription_history
                 WHERE subscription_id IN %s
                 ORDER BY subscription_id, date, id
                """,
                tuple(subs) or (0,),
            )
        )
        for sub_id, when, status, mrr, product_id in cr.fetchall():
            subs[sub_id]["history"].append((when, status, mrr or 0.0, product_id))
        # Rows kept (before each customer's start): their levels stand.
        kept = {}
        if any(start is not None for start in starts.values()):
            cr.execute(
                SQL(
                    "SELECT subscription_id, date, mrr FROM stripe_mrr_report "
                    "WHERE subscription_id = ANY(%s)",
                    list(subs),
                )
            )
            for sub_id, month, mrr in cr.fetchall():
                kept[sub_id, month] = mrr
        rates = self._stripe_rates(subs, current, today)
        levels = {}  # sub id -> [(month, level, status, product)]
        for sub_id, sub in subs.items():
            start = starts.get(sub["key"])
            months = []
            for month, mrr, status, product in self._stripe_month_states(
                sub["history"], current
            ):
                if start is not None and month < start and (sub_id, month) in kept:
                    level = kept[sub_id, month]
                else:
                    rate = rates[sub["currency_id"], sub["company_currency_id"], month]
                    level = round(mrr * rate, 2)
                months.append((month, level, status, product))
            levels[sub_id] = months
        rows = self._stripe_rows(subs, levels, starts)
        # Replace the rows of each customer from its start on (one statement per
        # start month).
        by_start = defaultdict(list)
        for sub_id, sub in subs.items():
            by_start[starts.get(sub["key"])].append(sub_id)
        for start, ids in by_start.items():
            cr.execute(
                SQL(
                    "DELETE FROM stripe_mrr_report WHERE subscription_id = ANY(%s) %s",
                    ids,
                    SQL("AND date >= %s", start) if start else SQL(""),
                )
            )
        self._stripe_insert(rows)
        self.env.invalidate_all()
        return len(rows)

    @api.model
    def _stripe_month_states(self, history, current):
        """The state of a subscription at the end of each month it was live or
        ended in, until the ``current`` month.

        :param list history: ``(datetime, status, mrr, product)``, oldest first.
        :return: ``(month, mrr, status, product)`` per month.
        """
        if not history:
            return
        month = month_start(history[0][0])
        index = 0
        state = None
        while month <= current:
            end = datetime.combine(next_month(month), time.min)
            while index < len(history) and history[index][0] < end:
                state = history[index]
                index += 1
            _date, status, mrr, product = state
            yield month, mrr, status, product
            if status in const.SUBSCRIPTION_TERMINAL_STATUSES:
                return
            month = next_month(month)

    def _stripe_rates(self, subs, current, today):
        """(currency, company currency, month) -> rate at the month's last day
        (today for the current month), Odoo's rates of the company."""
        currency_model = self.env["res.currency"]
        company_of = {
            (s["currency_id"], s["company_currency_id"]): s["company_id"]
            for s in subs.values()
        }
        first = min(
            (month_start(s["history"][0][0]) for s in subs.values() if s["history"]),
            default=current,
        )
        rates = defaultdict(lambda: 1.0)
        for (currency_id, company_currency_id), company_id in company_of.items():
            if currency_id == company_currency_id:
                continue
            currency = currency_model.browse(currency_id)
            company_currency = currency_model.browse(company_currency_id)
            company = self.env["res.company"].browse(company_id)
            month = first
            while month <= current:
                day = min(month + relativedelta(months=1, days=-1), today)
                rates[currency_id, company_currency_id, month] = (
                    currency_model._get_conversion_rate(
                        currency, company_currency, company, day
                    )
                )
                month += relativedelta(months=1)
        return rates

    @api.model
    def _stripe_rows(self, subs, levels, starts):  # pylint: disable=too-many-locals
        """Rows with their movements, from each customer's start on."""
        by_customer = defaultdict(list)
        for sub_id, sub in subs.items():
            by_customer[sub["key"]].append(sub_id)
        rows = []
        for key, sub_ids in by_customer.items():
            totals = defaultdict(float)
            for sub_id in sub_ids:
                for month, level, _status, _product in levels[sub_id]:
                    totals[month] += level
            paid_months = sorted(month for month, total in totals.items() if total > 0)
            start = starts.get(key)
            for sub_id in sub_ids:
                sub = subs[sub_id]
                previous = {}
                last = None
                for month, level, status, product in levels[sub_id]:
                    prior = previous_month(month)
                    before = previous.get(prior, 0.0) if last == prior else 0.0
                    last = month
                    previous[month] = level
                    if start is not None and month < start:
                        continue
                    kind = movement(
                        before,
                        level,
                        totals.get(prior, 0.0),
                        totals.get(month, 0.0),
                        bool(paid_months and paid_months[0] < month),
                    )
                    change = round(level - before, 2)
                    row = {
                        "date": month,
                        "account_id": sub["account_id"],
                        "company_id": sub["company_id"],
                        "subscription_id": sub_id,
                        "partner_id": sub["partner_id"],
                        "product_id": product,
                        "currency_id": sub["currency_id"],
                        "company_currency_id": sub["company_currency_id"],
                        "status": status,
                        "mrr": level,
                        "arr": round(level * 12, 2),
                        "start_mrr": before,
                        "mrr_change": change,
                        "movement": kind,
                        "active_count": 1 if level > 0 else 0,
                    }
                    for name, column in MOVEMENT_COLUMNS.items():
                        row[column] = change if kind == name else 0.0
                    rows.append(row)
        return rows

    def _stripe_insert(self, rows):
        """Write rows with PostgreSQL's COPY (the ORM's create would take minutes
        for a whole account's history)."""
        if not rows:
            return
        columns = [*rows[0], "create_uid", "create_date", "write_uid", "write_date"]
        audit = (
            self.env.uid,
            fields.Datetime.now(),
            self.env.uid,
            fields.Datetime.now(),
        )

        def text(value):
            if value is None or value is False:
                return "\\N"
            return str(value)

        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(map(text, (*row.values(), *audit))))
            buffer.write("\n")
        buffer.seek(0)
        self.env.cr._obj.copy_expert(
            "COPY stripe_mrr_report (%s) FROM STDIN" % ", ".join(columns), buffer
        )


class StripeMrrSummary(models.Model):
    """The figures a SaaS CFO reads, per month and Stripe account: MRR, ARR,
    active subscriptions and customers, the MRR movements and net revenue
    retention (what last month's customers pay now against then)."""

    _name = "stripe.mrr.summary"
    _description = "Stripe MRR Summary"
    _auto = False
    _order = "date desc, account_id"

    date = fields.Date(string="Month", readonly=True)
    account_id = fields.Many2one("stripe.account", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    company_currency_id = fields.Many2one("res.currency", readonly=True)
    mrr = fields.Monetary(
        string="MRR", currency_field="company_currency_id", readonly=True
    )
    arr = fields.Monetary(
        string="ARR", currency_field="company_currency_id", readonly=True
    )
    active_count = fields.Integer(string="Active Subscriptions", readonly=True)
    customer_count = fields.Integer(string="Paying Customers", readonly=True)
    start_mrr = fields.Monetary(
        string="Starting MRR", currency_field="company_currency_id", readonly=True
    )
    new_mrr = fields.Monetary(
        string="New MRR", currency_field="company_currency_id", readonly=True
    )
    expansion_mrr = fields.Monetary(
        string="Expansion MRR", currency_field="company_currency_id", readonly=True
    )
    contraction_mrr = fields.Monetary(
        string="Contraction MRR", currency_field="company_currency_id", readonly=True
    )
    churn_mrr = fields.Monetary(
        string="Churned MRR", currency_field="company_currency_id", readonly=True
    )
    reactivation_mrr = fields.Monetary(
        string="Reactivation MRR", currency_field="company_currency_id", readonly=True
    )
    net_new_mrr = fields.Monetary(
        string="Net New MRR", currency_field="company_currency_id", readonly=True
    )
    nrr = fields.Float(
        string="Net Revenue Retention (%)",
        readonly=True,
        aggregator=None,
        help="(Starting MRR + expansion + contraction + churn) / starting MRR: "
        "what last month's customers pay now, against what they paid then.",
    )
    churn_rate = fields.Float(
        string="MRR Churn Rate (%)",
        readonly=True,
        aggregator=None,
        help="Churned MRR / starting MRR: the share of last month's MRR lost to "
        "cancellations.",
    )
    has_base = fields.Boolean(
        readonly=True,
        help="Whether the month started with MRR: without it, retention and churn "
        "rate have no meaning and are left blank.",
    )
    month = fields.Char(
        string="Month in Words", compute="_compute_month", help="The month, in words."
    )

    @api.depends("date")
    def _compute_month(self):
        for row in self:
            # "December 2026", in the user's language.
            row.month = (
                format_date(self.env, row.date, date_format="MMMM y")
                if row.date
                else False
            )

    @property
    def _table_query(self):
        return """
            SELECT MIN(r.id) AS id, r.date, r.account_id, r.company_id,
                   r.company_currency_id,
                   SUM(r.mrr) AS mrr, SUM(r.arr) AS arr,
                   SUM(r.active_count) AS active_count,
                   COUNT(DISTINCT CASE WHEN r.mrr > 0
                         THEN COALESCE(r.partner_id, -r.subscription_id) END)
                       AS customer_count,
                   SUM(r.start_mrr) AS start_mrr,
                   SUM(r.new_mrr) AS new_mrr,
                   SUM(r.expansion_mrr) AS expansion_mrr,
                   SUM(r.contraction_mrr) AS contraction_mrr,
                   SUM(r.churn_mrr) AS churn_mrr,
                   SUM(r.reactivation_mrr) AS reactivation_mrr,
                   SUM(r.mrr_change) AS net_new_mrr,
                   CASE WHEN SUM(r.start_mrr) > 0
                        THEN ROUND(100 * (SUM(r.start_mrr) + SUM(r.expansion_mrr)
                                          + SUM(r.contraction_mrr)
                                          + SUM(r.churn_mrr))
                                   / SUM(r.start_mrr), 2)
                   END AS nrr,
                   CASE WHEN SUM(r.start_mrr) > 0
                        THEN ROUND(-100 * SUM(r.churn_mrr) / SUM(r.start_mrr), 2)
                   END AS churn_rate,
                   SUM(r.start_mrr) > 0 AS has_base
              FROM stripe_mrr_report r
             GROUP BY r.date, r.account_id, r.company_id, r.company_currency_id
        """
