import json
from decimal import Decimal

from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ... import const, utils
from ...tools.subscription import (
    discount_coupon,
    discount_ends,
    invoice_recurring,
    item_monthly,
    item_terms,
    month_start,
    subscription_counts,
    subscription_discounts,
    subscription_monthly,
    tiered_amount,
    to_timestamp,
)


class StripeSubscription(models.Model):
    """A Stripe subscription, as its latest snapshot shows it, with the history of
    every state it went through (``history_ids``), from which the MRR report is
    built.

    Snapshots (events, imports) arrive in any order: the fields show the newest
    one by Stripe's timestamps, and every snapshot, old or new, takes its place in
    the history at its own time.

    What a subscription's snapshot leaves out: the tiers of its tiered prices
    (read from Stripe), and the usage of its metered items (taken from its
    invoices, as *Import Subscriptions* reads them and as Stripe Billing mirrors
    them)."""

    _name = "stripe.subscription"
    _description = "Stripe Subscription"
    _inherit = ["stripe.binding.mixin", "mail.thread"]
    _order = "stripe_created desc, id desc"
    _rec_name = "stripe_id"

    # === STRIPE DATA === #

    stripe_id = fields.Char(string="Subscription ID")
    partner_id = fields.Many2one(
        "res.partner", string="Customer", readonly=True, index=True, tracking=True
    )
    stripe_customer_id = fields.Char(readonly=True)
    status = fields.Selection(
        const.SUBSCRIPTION_STATUSES,
        required=True,
        readonly=True,
        index=True,
        tracking=True,
        help="Stripe's status. Trials count 0 in MRR until they convert; past_due "
        "counts until Stripe cancels; unpaid, paused, incomplete and canceled "
        "count 0.",
    )
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    company_currency_id = fields.Many2one(
        related="company_id.currency_id", string="Company Currency"
    )
    item_ids = fields.One2many(
        "stripe.subscription.item", "subscription_id", string="Items", readonly=True
    )
    discount_ids = fields.One2many(
        "stripe.subscription.discount",
        "subscription_id",
        string="Discounts",
        readonly=True,
    )
    product_id = fields.Many2one(
        "product.product",
        string="Main Product",
        readonly=True,
        help="The product of the subscription's first item.",
    )
    description = fields.Char(readonly=True)
    stripe_created = fields.Datetime(string="Created on Stripe", readonly=True)
    start_date = fields.Datetime(readonly=True)
    trial_start = fields.Datetime(readonly=True)
    trial_end = fields.Datetime(readonly=True, tracking=True)
    cancel_at_period_end = fields.Boolean(readonly=True, tracking=True)
    cancel_at = fields.Datetime(readonly=True)
    canceled_at = fields.Datetime(string="Canceled On", readonly=True)
    ended_at = fields.Datetime(string="Ended On", readonly=True, tracking=True)
    pause_collection = fields.Char(
        readonly=True, help="Stripe's pause_collection behavior, when paused."
    )
    current_period_start = fields.Datetime(readonly=True)
    current_period_end = fields.Datetime(readonly=True)
    recurring_monthly = fields.Monetary(
        string="Monthly Recurring",
        currency_field="currency_id",
        readonly=True,
        tracking=True,
        help="Normalized monthly amount after discounts (yearly / 12, weekly x 52 / "
        "12, daily x 365 / 12, interval counts honoured, metered items by their "
        "last invoiced usage), in the subscription's currency; 0 once canceled.",
    )
    recurring_monthly_company = fields.Monetary(
        string="Monthly Recurring (Company Currency)",
        currency_field="company_currency_id",
        compute="_compute_recurring_monthly_company",
        help="The monthly recurring amount in the company's currency at today's "
        "rate in Odoo.",
    )
    counts_in_mrr = fields.Boolean(
        string="Counts in MRR",
        readonly=True,
        help="Active or past due, and its collection not paused.",
    )
    # === SYNCHRONISATION === #

    stripe_seen_at = fields.Datetime(
        string="State As Of",
        readonly=True,
        help="Stripe's time of the snapshot these fields show (the event's "
        "creation); an older snapshot never overwrites them.",
    )
    history_ids = fields.One2many(
        "stripe.subscription.history", "subscription_id", readonly=True
    )
    mrr_rebuild_from = fields.Date(
        readonly=True,
        copy=False,
        help="First month of the MRR report to build again for this "
        "subscription's customer (its history changed).",
    )
    snapshot = fields.Json(
        readonly=True,
        copy=False,
        help="The subscription as Stripe last sent it (the snapshot the fields show).",
    )
    stripe_invoice_refs = fields.Json(
        readonly=True,
        copy=False,
        help="Ids of the Stripe invoices of this subscription that Odoo has read.",
    )
    metered_usage = fields.Json(
        readonly=True,
        copy=False,
        help="Subscription item id -> last invoiced amount (minor units) of its "
        "metered items.",
    )
    invoice_ids = fields.Many2many(
        "account.move", string="Invoices", compute="_compute_invoice_ids"
    )
    invoice_count = fields.Integer(compute="_compute_invoice_ids")
    event_ids = fields.One2many(
        "stripe.event", "subscription_id", string="Events", readonly=True
    )

    # === COMPUTE METHODS === #

    @api.depends("recurring_monthly", "currency_id", "company_id")
    def _compute_recurring_monthly_company(self):
        today = fields.Date.context_today(self)
        for subscription in self:
            subscription.recurring_monthly_company = (
                subscription.currency_id._convert(
                    subscription.recurring_monthly,
                    subscription.company_currency_id,
                    subscription.company_id,
                    today,
                )
                if subscription.currency_id and subscription.company_id
                else 0.0
            )

    def _compute_invoice_ids(self):
        moves = self.env["account.move"]
        for subscription in self:
            invoices = moves.search(subscription._stripe_invoice_domain())
            subscription.invoice_ids = invoices
            subscription.invoice_count = len(invoices)

    # === ACTION METHODS === #

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account.action_move_out_invoice_type"
        )
        action["domain"] = self._stripe_invoice_domain()
        action["context"] = {"create": False}
        return action

    def action_view_mrr(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_mrr_report_action"
        )
        action["domain"] = [("subscription_id", "=", self.id)]
        action["context"] = {}
        return action

    # === BUSINESS METHODS === #

    def _stripe_invoice_domain(self):
        """The Odoo invoices mirroring this subscription's Stripe invoices: those
        Stripe Billing marked with the subscription, and those of the Stripe
        invoices the import listed for it."""
        self.ensure_one()
        move_fields = self.env["account.move"]._fields
        domains = []
        if "stripe_subscription_id" in move_fields:
            domains.append([("stripe_subscription_id", "=", self.stripe_id)])
        if "stripe_invoice_id" in move_fields:
            # Stripe Billing's mirror names the subscription as the origin.
            domains.append(
                [
                    ("stripe_invoice_id", "!=", False),
                    ("invoice_origin", "=", self.stripe_id),
                ]
            )
            if self.stripe_invoice_refs:
                domains.append([("stripe_invoice_id", "in", self.stripe_invoice_refs)])
        if not domains:
            return [("id", "=", False)]
        return expression.AND(
            [expression.OR(domains), [("company_id", "=", self.company_id.id)]]
        )

    # === INTAKE === #

    @api.model
    def _stripe_apply_snapshot(
        self, account, data, seen_at, event=None, source="event"
    ):
        """Apply a Stripe subscription snapshot taken at ``seen_at``.

        The fields take it only if it is not older than the one they show (and a
        canceled subscription is never brought back by an older snapshot); the
        history takes it at its own time, whatever the order of arrival.

        :param account: the ``stripe.account``.
        :param dict data: the subscription as Stripe sends it (discounts expanded
            when they can be: see ``_stripe_expand``).
        :param datetime seen_at: Stripe's time of the snapshot (the event's
            ``created``; for an import, now).
        :param event: the ``stripe.event`` it comes from, if any.
        :param str source: ``event`` or ``import``.
        :return: the subscription and whether its fields took the snapshot.
        :rtype: tuple
        """
        # What the SDK reads comes with Decimal amounts: kept as JSON (strings).
        data = json.loads(json.dumps(data, default=str))
        domain = [("account_id", "=", account.id), ("stripe_id", "=", data["id"])]
        subscription = self.search(domain)
        if not subscription:
            try:
                with self.env.cr.savepoint():
                    subscription = self.with_context(mail_create_nolog=True).create(
                        dict(
                            subscription._stripe_prepare_vals(account, data, seen_at),
                            stripe_id=data["id"],
                            account_id=account.id,
                        )
                    )
                    subscription._stripe_sync_items(data, seen_at)
                    subscription._stripe_add_history(seen_at, data, event, source)
                    return subscription, True
            except pg_errors.UniqueViolation:
                subscription = self.search(domain)
                if not subscription:
                    raise  # created by a transaction this one cannot see yet
        subscription._stripe_lock()
        newer = subscription._stripe_is_newer(data, seen_at)
        if newer:
            subscription.write(
                subscription._stripe_prepare_vals(account, data, seen_at)
            )
            subscription._stripe_sync_items(data, seen_at)
        subscription._stripe_add_history(seen_at, data, event, source)
        return subscription, newer

    def _stripe_is_newer(self, data, seen_at):
        """Whether a snapshot taken at ``seen_at`` is not older than the one the
        fields show. A canceled (terminal) subscription never comes back: a
        snapshot with a live status is an older one."""
        self.ensure_one()
        if (
            self.status in const.SUBSCRIPTION_TERMINAL_STATUSES
            and data.get("status") not in const.SUBSCRIPTION_TERMINAL_STATUSES
        ):
            return False
        return not self.stripe_seen_at or seen_at >= self.stripe_seen_at

    @api.model
    def _stripe_prepare_vals(self, account, data, seen_at):
        now = to_timestamp(max(seen_at, fields.Datetime.now()))
        status = data.get("status")
        if status not in dict(const.SUBSCRIPTION_STATUSES):
            status = "incomplete"
        currency = self._stripe_currency(data.get("currency"))
        monthly = Decimal(0)
        if status not in const.SUBSCRIPTION_TERMINAL_STATUSES:
            monthly = subscription_monthly(data, now, self.metered_usage)
        customer_id = utils.object_id(data.get("customer"))
        partner = self._stripe_partner(account, data.get("customer"))
        items = utils.get_path(data, "items", "data", default=[]) or []
        starts = [
            i["current_period_start"] for i in items if i.get("current_period_start")
        ]
        ends = [i["current_period_end"] for i in items if i.get("current_period_end")]
        ts = utils.timestamp_to_datetime
        pause = data.get("pause_collection")
        return {
            "partner_id": partner.id or self.partner_id.id,
            "stripe_customer_id": customer_id or False,
            "status": status,
            "currency_id": currency.id,
            "description": utils.clean_text(data.get("description"), 255) or False,
            "stripe_created": ts(data.get("created")),
            "start_date": ts(data.get("start_date")),
            "trial_start": ts(data.get("trial_start")),
            "trial_end": ts(data.get("trial_end")),
            "cancel_at_period_end": bool(data.get("cancel_at_period_end")),
            "cancel_at": ts(data.get("cancel_at")),
            "canceled_at": ts(data.get("canceled_at")),
            "ended_at": ts(data.get("ended_at")),
            "pause_collection": (
                utils.clean_text(pause.get("behavior"), 64) or "paused"
            )
            if isinstance(pause, dict)
            else False,
            # Before 2025-03-31.basil the period is on the subscription.
            "current_period_start": ts(
                min(starts) if starts else data.get("current_period_start")
            ),
            "current_period_end": ts(
                max(ends) if ends else data.get("current_period_end")
            ),
            "recurring_monthly": float(
                monthly.scaleb(-utils.currency_exponent(currency.name))
            ),
            "counts_in_mrr": subscription_counts(data),
            "stripe_seen_at": seen_at,
            "snapshot": data,
        }

    def _stripe_sync_items(self, data, seen_at):
        """Make the items and discounts those of the snapshot."""
        self.ensure_one()
        at = to_timestamp(max(seen_at, fields.Datetime.now()))
        item_model = self.env["stripe.subscription.item"]
        items = utils.get_path(data, "items", "data", default=[]) or []
        existing = {item.stripe_id: item for item in self.item_ids}
        kept = item_model
        exponent = utils.currency_exponent(self.currency_id.name)
        for item in items:
            terms = item_terms(item)
            unit_amount = terms["unit_amount"]
            if terms["tiers"] is not None and item.get("quantity"):
                # Tiered: what a unit costs on average at this quantity.
                unit_amount = tiered_amount(
                    terms["tiers"], terms["tiers_mode"], item["quantity"]
                ) / int(item["quantity"])
            price = item.get("price") if isinstance(item.get("price"), dict) else {}
            product_ref = price.get("product") or utils.get_path(
                item, "plan", "product"
            )
            vals = {
                "stripe_id": item.get("id"),
                "stripe_price_id": utils.object_id(price)
                or utils.object_id(item.get("plan")),
                "stripe_product_id": utils.object_id(product_ref) or False,
                "product_id": self._stripe_product(product_ref).id,
                "name": utils.clean_text(
                    price.get("nickname")
                    or (isinstance(product_ref, dict) and product_ref.get("name"))
                    or utils.object_id(product_ref),
                    255,
                )
                or False,
                "quantity": item.get("quantity") or 0,
                "unit_amount": float(unit_amount.scaleb(-exponent)),
                "interval": terms["interval"]
                if terms["interval"] in const.SUBSCRIPTION_INTERVAL_MONTHLY
                else "month",
                "interval_count": int(terms["interval_count"] or 1),
                "usage_type": "metered"
                if terms["usage_type"] == "metered"
                else "licensed",
                "current_period_start": utils.timestamp_to_datetime(
                    item.get("current_period_start")
                ),
                "current_period_end": utils.timestamp_to_datetime(
                    item.get("current_period_end")
                ),
                "recurring_monthly": float(
                    item_monthly(item, at, self.metered_usage).scaleb(-exponent)
                ),
            }
            if vals["stripe_id"] in existing:
                existing[vals["stripe_id"]].write(vals)
                kept |= existing[vals["stripe_id"]]
            else:
                kept |= item_model.create(dict(vals, subscription_id=self.id))
        (self.item_ids - kept).unlink()
        self.product_id = kept[:1].product_id
        self.discount_ids.unlink()
        discount_vals = []
        for discount in subscription_discounts(data):
            coupon = discount_coupon(discount) or {}
            discount_vals.append(
                {
                    "subscription_id": self.id,
                    "stripe_id": utils.clean_text(discount.get("id"), 255) or False,
                    "stripe_coupon_id": utils.clean_text(coupon.get("id"), 255)
                    or False,
                    "name": utils.clean_text(coupon.get("name"), 255) or False,
                    "percent_off": coupon.get("percent_off") or 0.0,
                    "amount_off": float(
                        utils.from_minor_units(
                            coupon.get("amount_off") or 0,
                            coupon.get("currency") or self.currency_id.name,
                        )
                    ),
                    "duration": coupon.get("duration")
                    if coupon.get("duration") in ("once", "repeating", "forever")
                    else False,
                    "start": utils.timestamp_to_datetime(discount.get("start")),
                    "end": utils.timestamp_to_datetime(discount.get("end")),
                }
            )
        self.env["stripe.subscription.discount"].create(discount_vals)

    @api.model
    def _stripe_currency(self, code):
        code = (code or "").upper()
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code)], limit=1)
        )
        if not currency:
            raise ValueError(_("Unknown currency %s.", code or "-"))
        return currency

    @api.model
    def _stripe_expand(self, account, data, prices=None):
        """Complete a snapshot with what Stripe leaves out of it: the coupons of
        its discounts and the tiers of its tiered prices.

        :param dict prices: price id -> tiers already read (an import shares it
            between subscriptions).
        :return: the snapshot and a note for the user (empty when all is known).
        :rtype: tuple
        """
        data, note = self._stripe_expand_discounts(account, data)
        data, tiers_note = self._stripe_expand_tiers(account, data, prices)
        return data, " ".join(n for n in (note, tiers_note) if n)

    @api.model
    def _stripe_expand_discounts(self, account, data):
        """Read the coupons of a snapshot's discounts when the snapshot names them
        by id only (webhooks never expand them): the subscription is read again
        with its discounts expanded, and the snapshot's discounts are taken from
        it (the snapshot's list decides which discounts there are).

        :return: the snapshot and a note for the user (empty when all is known).
        :rtype: tuple
        """
        discounts = data.get("discounts") or []
        unknown = [
            utils.object_id(d)
            for d in discounts
            if not discount_coupon(d) and utils.object_id(d)
        ]
        if not unknown:
            return data, ""
        if not account.sudo().api_key:
            return data, _(
                "Discounts %s could not be read (the account has no API key): the "
                "monthly amount leaves them out.",
                ", ".join(unknown),
            )
        try:
            fresh = account._stripe_call(
                _("the subscription's discounts"),
                "subscriptions",
                "retrieve",
                data["id"],
                params={"expand": ["discounts.source.coupon"]},
            ).to_dict()
        except UserError as error:
            return data, _(
                "Discounts %(ids)s could not be read: %(error)s",
                ids=", ".join(unknown),
                error=error.args[0],
            )
        found = {
            d["id"]: d
            for d in fresh.get("discounts") or []
            if isinstance(d, dict) and d.get("id")
        }
        data = dict(
            data,
            discounts=[found.get(utils.object_id(d), d) for d in discounts],
        )
        missing = [d for d in unknown if d not in found]
        if missing:
            return data, _(
                "Discounts %s no longer exist on Stripe: the monthly amount leaves "
                "them out.",
                ", ".join(missing),
            )
        return data, ""

    # === IMPORT === #

    @api.model
    def _stripe_import(self, account):
        """Import every subscription of the account (every status, by pages) with
        its history as far as its invoices show it, then build the MRR report.

        :return: the subscriptions imported.
        """
        now = fields.Datetime.now()
        params = {
            "status": "all",
            "limit": const.API_PAGE_SIZE,
            "expand": ["data.discounts"],
        }
        subscriptions = self.browse()
        prices = {}  # price id -> tiers, read once for the whole import
        pages = account._stripe_pages(_("the subscriptions"), "subscriptions", params)
        for page in pages:
            for data in page:
                with self.env.cr.savepoint():
                    subscriptions |= self._stripe_import_one(account, data, now, prices)
        self.env["stripe.mrr.report"]._stripe_rebuild(subscriptions)
        return subscriptions

    @api.model
    def _stripe_import_one(self, account, data, now, prices=None):
        data, note = self._stripe_expand(account, data, prices)
        subscription = self._stripe_apply_snapshot(account, data, now, source="import")[
            0
        ]
        if note:
            subscription.message_post(body=note)
        invoices = []
        list_params = {"subscription": data["id"], "limit": const.API_PAGE_SIZE}
        for page in account._stripe_pages(
            _("the subscription's invoices"), "invoices", list_params
        ):
            invoices += page
        invoices.sort(key=lambda invoice: invoice.get("created") or 0)
        subscription.stripe_invoice_refs = sorted(
            set(subscription.stripe_invoice_refs or [])
            | {invoice["id"] for invoice in invoices}
        )
        usage_read = [subscription._stripe_apply_invoice(i) for i in invoices]
        if any(usage_read):
            # Metered items: the snapshot again, with their last invoiced usage.
            subscription._stripe_apply_snapshot(account, data, now, source="import")
        subscription._stripe_put_history(
            subscription._stripe_history_from_invoices(data, invoices)
        )
        return subscription

    def _stripe_history_from_invoices(self, data, invoices):
        """History rows of the past of an imported subscription: its trial, then
        the recurring amount each of its invoices billed, from the invoice's
        period on.

        :param dict data: the subscription now.
        :param list invoices: its Stripe invoices, oldest first.
        """
        self.ensure_one()
        exponent = utils.currency_exponent(self.currency_id.name)
        ts = utils.timestamp_to_datetime
        vals_list = []
        base = {
            "subscription_id": self.id,
            "source": "invoice",
            "product_id": self.product_id.id,
        }
        if data.get("trial_start"):
            vals_list.append(
                dict(
                    base,
                    date=ts(data["trial_start"]),
                    status="trialing",
                    recurring_monthly=0.0,
                    mrr=0.0,
                    quantity=0,
                )
            )
        for invoice in invoices:
            if invoice.get("status") in ("draft", "void"):
                continue
            facts = invoice_recurring(invoice)
            if not facts:
                continue
            when, monthly, quantity = facts
            monthly = float(monthly.scaleb(-exponent))
            vals_list.append(
                dict(
                    base,
                    date=ts(when),
                    status="active",
                    recurring_monthly=monthly,
                    mrr=monthly,
                    quantity=quantity,
                )
            )
        if not vals_list and data.get("status") not in (
            const.SUBSCRIPTION_TERMINAL_STATUSES
        ):
            start = ts(data.get("start_date") or data.get("created"))
            if start:
                vals_list.append(self._stripe_history_vals(start, data, "import"))
        return vals_list

    # === CUSTOMER AND PRODUCT MAPPING (shared with Stripe Billing) === #

    @api.model
    def _stripe_partner(self, account, customer):
        """The partner of a Stripe customer (id or expanded object): Stripe
        Billing's mapping (by customer id, else e-mail, else created), looked up
        here first by id so that a known customer costs no API call."""
        customer_id = utils.object_id(customer)
        if not customer_id:
            return self.env["res.partner"]
        partner_model = self.env["res.partner"]
        partner = partner_model._stripe_find_customer_partner(
            account, {"id": customer_id}
        )
        return partner or partner_model._stripe_partner_from_customer(account, customer)

    def _stripe_fill_missing_products(self):
        """A Stripe product mapped since (or a default subscription product set):
        the subscription and the states of its history recorded without product
        take the Odoo product of its first item's Stripe product now, as a state
        would be recorded today."""
        for subscription in self:
            items = utils.get_path(subscription.snapshot or {}, "items", "data") or []
            price = items[0].get("price") if items else None
            product_ref = price.get("product") if isinstance(price, dict) else None
            product = subscription._stripe_product(product_ref)
            if not product:
                continue
            blank = subscription.history_ids.filtered(lambda h: not h.product_id)
            if blank:
                blank.product_id = product
            if not subscription.product_id:
                subscription.product_id = product

    def _stripe_product(self, product):
        """The Odoo product of a Stripe product (id or expanded object), else the
        account's default subscription product (Stripe Billing's mapping)."""
        self.ensure_one()
        return self.env["product.product"]._stripe_find_product(
            self.account_id, utils.object_id(product)
        )

    # === HISTORY === #

    def _stripe_history_vals(self, when, data, source, event=None):
        """History values of a snapshot at ``when`` (naive UTC datetime)."""
        self.ensure_one()
        exponent = utils.currency_exponent(self.currency_id.name)
        status = data.get("status")
        if status not in dict(const.SUBSCRIPTION_STATUSES):
            status = "incomplete"
        monthly = Decimal(0)
        if status not in const.SUBSCRIPTION_TERMINAL_STATUSES:
            monthly = subscription_monthly(data, to_timestamp(when), self.metered_usage)
        monthly = float(monthly.scaleb(-exponent))
        items = utils.get_path(data, "items", "data", default=[]) or []
        price = items[0].get("price") if items else None
        product_ref = price.get("product") if isinstance(price, dict) else None
        return {
            "subscription_id": self.id,
            "date": when,
            "status": status,
            "recurring_monthly": monthly,
            "mrr": monthly if subscription_counts(data) else 0.0,
            "quantity": sum(int(item.get("quantity") or 0) for item in items),
            "product_id": self._stripe_product(product_ref).id,
            "source": source,
            "event_id": event.id if event else False,
        }

    def _stripe_effective_time(self, data, seen_at):
        """When a snapshot's state began: an ended subscription at its end,
        anything else at the snapshot's time."""
        if data.get("status") in const.SUBSCRIPTION_TERMINAL_STATUSES:
            ended = utils.timestamp_to_datetime(
                data.get("ended_at") or data.get("canceled_at")
            )
            if ended and ended <= seen_at:
                return ended
        return seen_at

    def _stripe_add_history(self, seen_at, data, event=None, source="event"):
        """Put a snapshot in the history at its time, with the end of each
        discount it carries (``discount_end`` rows) until the next snapshot.

        A snapshot that changes nothing against the state before it adds no row:
        duplicates and redeliveries leave the history as it is.
        """
        self.ensure_one()
        when = self._stripe_effective_time(data, seen_at)
        rows = self.history_ids.sorted(lambda r: (r.date, r.id))
        later = rows.filtered(lambda r: r.date > when and r.source != "discount_end")
        until = later[:1].date
        # Projections of an older snapshot after this one are this one's to make.
        stale = rows.filtered(
            lambda r: (
                r.source == "discount_end"
                and r.date > when
                and (not until or r.date < until)
            )
        )
        rows -= stale
        stale.unlink()
        vals_list = [self._stripe_history_vals(when, data, source, event)]
        for end in discount_ends(
            data, to_timestamp(when), until and to_timestamp(until)
        ):
            vals_list.append(
                self._stripe_history_vals(
                    utils.timestamp_to_datetime(end), data, "discount_end", event
                )
            )
        self._stripe_put_history(vals_list, rows)

    def _stripe_put_history(self, vals_list, rows=None):
        """Insert history rows (values of ``stripe.subscription.history``) at
        their dates, skipping those that change nothing against the state before
        them; mark the report to be built again from the first month changed.

        :return: whether a row was added or changed.
        """
        self.ensure_one()
        history_model = self.env["stripe.subscription.history"]
        if rows is None:
            rows = self.history_ids.sorted(lambda r: (r.date, r.id))
        changed = []
        for vals in vals_list:
            same_time = rows.filtered(lambda r, d=vals["date"]: r.date == d)[:1]
            if same_time:
                if (
                    same_time.status in const.SUBSCRIPTION_TERMINAL_STATUSES
                    and vals["status"] not in const.SUBSCRIPTION_TERMINAL_STATUSES
                ):
                    continue
                if not same_time._stripe_same_state(vals):
                    same_time.write(vals)
                    changed.append(vals["date"])
                continue
            before = rows.filtered(lambda r, d=vals["date"]: r.date < d)[-1:]
            if before and before._stripe_same_state(vals):
                continue
            rows |= history_model.create(vals)
            rows = rows.sorted(lambda r: (r.date, r.id))
            changed.append(vals["date"])
        if changed:
            first = month_start(min(changed))
            if not self.mrr_rebuild_from or first < self.mrr_rebuild_from:
                self.mrr_rebuild_from = first
        return bool(changed)

    # === TIERED PRICES === #

    @api.model
    def _stripe_expand_tiers(self, account, data, prices=None):
        """Read the tiers of a snapshot's tiered prices: Stripe shows them only
        when asked (``expand[]=tiers``), never in a webhook. A price's tiers never
        change on Stripe, so those of the snapshot Odoo keeps serve again; the
        others are read with the account's key. A price whose tiers cannot be
        read counts 0, and the note says so.

        :return: the snapshot and a note for the user (empty when all is known).
        :rtype: tuple
        """
        items = utils.get_path(data, "items", "data", default=[]) or []
        missing = {
            item["price"]["id"]
            for item in items
            if isinstance(item.get("price"), dict)
            and item["price"].get("id")
            and item_terms(item)["tiered"]
            and item_terms(item)["tiers"] is None
        }
        if not missing:
            return data, ""
        prices = {} if prices is None else prices
        known = self.search(
            [("account_id", "=", account.id), ("stripe_id", "=", data.get("id"))]
        ).snapshot
        for item in utils.get_path(known, "items", "data", default=[]) or []:
            price = item.get("price") if isinstance(item.get("price"), dict) else {}
            if price.get("id") in missing and isinstance(price.get("tiers"), list):
                prices.setdefault(price["id"], price["tiers"])
        errors = {}
        for price_id in sorted(missing - set(prices)):
            answer, error = account._stripe_read(
                _("the tiers of price %s", price_id),
                "prices",
                "retrieve",
                price_id,
                params={"expand": ["tiers"]},
            )
            tiers = (answer or {}).get("tiers")
            prices[price_id] = tiers if isinstance(tiers, list) else None
            if prices[price_id] is None:
                errors[price_id] = error or _("Stripe sent no tiers")
        new_items = []
        for item in items:
            price_id = utils.get_path(item, "price", "id")
            if price_id in missing and prices.get(price_id) is not None:
                price = dict(item["price"], tiers=prices[price_id])
                new_items.append(dict(item, price=price))
            else:
                new_items.append(item)
        data = dict(data, items=dict(data["items"], data=new_items))
        unread = sorted(p for p in missing if prices.get(p) is None)
        if not unread:
            return data, ""
        return data, _(
            "The tiers of price(s) %(prices)s could not be read (%(error)s): their "
            "items count 0 in the monthly amount until they are.",
            prices=", ".join(unread),
            error="; ".join(sorted(set(errors.values())))
            or _("read before, without success"),
        )

    # === METERED USAGE === #

    def _stripe_invoice_metered(self, invoice):
        """What a Stripe invoice of this subscription bills for its metered
        items (their lines summed: older API versions bill a graduated price in
        one line per tier), prorations left out.

        :return: subscription item id -> amount in minor units.
        :rtype: dict
        """
        self.ensure_one()
        metered = set(
            self.item_ids.filtered(lambda i: i.usage_type == "metered").mapped(
                "stripe_id"
            )
        )
        if not metered or invoice.get("status") in ("draft", "void"):
            return {}
        billed = {}
        for line in utils.get_path(invoice, "lines", "data", default=[]) or []:
            item_id = utils.object_id(
                utils.get_path(
                    line, "parent", "subscription_item_details", "subscription_item"
                )
                or line.get("subscription_item")
            )
            proration = utils.get_path(
                line, "parent", "subscription_item_details", "proration"
            ) or line.get("proration")
            if item_id in metered and not proration:
                billed[item_id] = billed.get(item_id, 0) + int(line.get("amount") or 0)
        return billed

    def _stripe_apply_invoice(self, invoice):
        """Take the last invoiced usage of metered items from a Stripe invoice of
        this subscription (its lines for the subscription's items); an invoice
        older than the one already read for an item leaves that item as it is.

        :param dict invoice: the Stripe invoice.
        :return: whether the usage changed.
        """
        self.ensure_one()
        billed = self._stripe_invoice_metered(invoice)
        if not billed:
            return False
        usage = dict(self.metered_usage or {})
        seen = dict(usage.pop("_invoice_created", {}) or {})
        created = invoice.get("created") or 0
        changed = False
        for item_id, amount in billed.items():
            if created < seen.get(item_id, 0):
                continue  # an older invoice than the one already read
            changed |= usage.get(item_id) != amount or seen.get(item_id) != created
            usage[item_id] = amount
            seen[item_id] = created
        if changed:
            usage["_invoice_created"] = seen
            self.metered_usage = usage
        return changed

    def _stripe_apply_invoice_usage(self, invoice):
        """A Stripe invoice of this subscription was mirrored: the monthly amount
        counts the usage it bills from the invoice's time on (a history row; the
        months before keep the usage they had), and, unless a newer invoice was
        read already, from now on.

        :param dict invoice: the Stripe invoice.
        :return: the monthly amount (subscription currency) from the invoice's
            time on, or ``None`` when nothing changed.
        """
        self.ensure_one()
        billed = self._stripe_invoice_metered(invoice)
        if not (billed and self.snapshot):
            return None
        changed = self._stripe_apply_invoice(invoice)
        if changed:
            self.write(
                self._stripe_prepare_vals(
                    self.account_id, self.snapshot, self.stripe_seen_at
                )
            )
            self._stripe_sync_items(self.snapshot, self.stripe_seen_at)
        when = utils.timestamp_to_datetime(invoice.get("created"))
        usage = dict(self.metered_usage or {}, **billed)
        vals = when and self._stripe_usage_history_vals(when, usage)
        if vals and self._stripe_put_history([vals]):
            return vals["recurring_monthly"]
        return self.recurring_monthly if changed else None

    def _stripe_usage_history_vals(self, when, usage):
        """History values of the subscription at ``when`` with the metered usage
        ``usage``: its state then (status, counting in MRR, product, quantity)
        from the history, its amount from the latest snapshot (a terminal one
        too: the invoice was of a time when it still ran).

        :return: the values, or ``None`` when nothing is known of that time.
        """
        self.ensure_one()
        before = self.history_ids.filtered(lambda r: r.date <= when).sorted(
            lambda r: (r.date, r.id)
        )[-1:]
        if not before or before.status in const.SUBSCRIPTION_TERMINAL_STATUSES:
            return None
        exponent = utils.currency_exponent(self.currency_id.name)
        monthly = float(
            subscription_monthly(self.snapshot, to_timestamp(when), usage).scaleb(
                -exponent
            )
        )
        # Paused collection counts 0 with an amount: the state then decides.
        counts = before.status in const.SUBSCRIPTION_MRR_STATUSES and not (
            before.recurring_monthly and not before.mrr
        )
        return {
            "subscription_id": self.id,
            "date": when,
            "status": before.status,
            "recurring_monthly": monthly,
            "mrr": monthly if counts else 0.0,
            "quantity": before.quantity,
            "product_id": before.product_id.id,
            "source": "invoice",
        }

    def _stripe_apply_mirrored_invoices(self):
        """Metered items with no usage yet: take it from the Stripe invoices of
        the subscription that Stripe Billing mirrored before Odoo knew the
        subscription (their events came first), oldest first.

        :return: whether the usage changed.
        """
        self.ensure_one()
        if self.metered_usage or "metered" not in self.item_ids.mapped("usage_type"):
            return False
        refs = [
            ref
            for ref in self.env["account.move"]
            .search(self._stripe_invoice_domain())
            .mapped("stripe_invoice_id")
            if ref
        ]
        if not refs:
            return False
        latest = {}
        for event in self.env["stripe.event"].search(
            [
                ("account_id", "=", self.account_id.id),
                ("object_type", "=", "invoice"),
                ("stripe_object_id", "in", refs),
            ],
            order="stripe_created desc, id desc",
        ):
            latest.setdefault(event.stripe_object_id, event)
        invoices = sorted(
            (event._get_object() for event in latest.values()),
            key=lambda invoice: invoice.get("created") or 0,
        )
        changed = False
        for invoice in invoices:
            changed |= self._stripe_apply_invoice_usage(invoice) is not None
        return changed


class StripeSubscriptionItem(models.Model):
    _name = "stripe.subscription.item"
    _description = "Stripe Subscription Item"
    _order = "subscription_id, id"

    subscription_id = fields.Many2one(
        "stripe.subscription", required=True, ondelete="cascade", index=True
    )
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    stripe_id = fields.Char(string="Item ID", readonly=True)
    stripe_price_id = fields.Char(readonly=True)
    stripe_product_id = fields.Char(readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    name = fields.Char(readonly=True)
    quantity = fields.Integer(readonly=True)
    unit_amount = fields.Monetary(readonly=True)
    interval = fields.Selection(
        [("day", "Day"), ("week", "Week"), ("month", "Month"), ("year", "Year")],
        readonly=True,
    )
    interval_count = fields.Integer(readonly=True, default=1)
    usage_type = fields.Selection(
        [("licensed", "Licensed"), ("metered", "Metered")], readonly=True
    )
    current_period_start = fields.Datetime(readonly=True)
    current_period_end = fields.Datetime(readonly=True)
    recurring_monthly = fields.Monetary(string="Monthly", readonly=True)


class StripeSubscriptionDiscount(models.Model):
    _name = "stripe.subscription.discount"
    _description = "Stripe Subscription Discount"
    _order = "subscription_id, id"

    subscription_id = fields.Many2one(
        "stripe.subscription", required=True, ondelete="cascade", index=True
    )
    stripe_id = fields.Char(string="Discount ID", readonly=True)
    stripe_coupon_id = fields.Char(string="Coupon Code", readonly=True)
    name = fields.Char(readonly=True)
    percent_off = fields.Float(readonly=True)
    amount_off = fields.Float(readonly=True)
    duration = fields.Selection(
        [("once", "Once"), ("repeating", "Repeating"), ("forever", "Forever")],
        readonly=True,
    )
    start = fields.Datetime(readonly=True)
    end = fields.Datetime(readonly=True)


class StripeSubscriptionHistory(models.Model):
    """One state a subscription went through, from its time on. The MRR report
    reads the state at each month's end from here, so that a change today leaves
    past months as they were."""

    _name = "stripe.subscription.history"
    _description = "Stripe Subscription History"
    _order = "date desc, id desc"

    subscription_id = fields.Many2one(
        "stripe.subscription", required=True, ondelete="cascade", index=True
    )
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    date = fields.Datetime(required=True, readonly=True, index=True)
    status = fields.Selection(const.SUBSCRIPTION_STATUSES, readonly=True)
    recurring_monthly = fields.Monetary(
        string="Monthly Recurring",
        readonly=True,
        help="Normalized monthly amount after the discounts in force then.",
    )
    mrr = fields.Monetary(
        string="MRR",
        readonly=True,
        help="What counts in MRR: the monthly recurring amount while active or "
        "past due, else 0.",
    )
    quantity = fields.Integer(readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    source = fields.Selection(
        [
            ("event", "Event"),
            ("import", "Import"),
            ("invoice", "Invoice"),
            ("discount_end", "Discount Ends"),
        ],
        readonly=True,
    )
    event_id = fields.Many2one("stripe.event", readonly=True, ondelete="set null")

    def _stripe_same_state(self, vals):
        self.ensure_one()
        currency = self.subscription_id.currency_id
        return (
            self.status == vals["status"]
            and not currency.compare_amounts(self.mrr, vals["mrr"])
            and not currency.compare_amounts(
                self.recurring_monthly, vals["recurring_monthly"]
            )
            and self.product_id.id == (vals.get("product_id") or False)
            and self.quantity == vals.get("quantity", self.quantity)
        )
