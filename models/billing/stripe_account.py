import logging
from decimal import Decimal

from odoo import _, fields, models
from odoo.exceptions import UserError

from ... import const, utils
from ...exceptions import StripeNothingToDo
from ...tools import billing as billing_tools

_logger = logging.getLogger(__name__)


class StripeAccount(models.Model):
    """Stripe Billing settings of a Stripe account, and how a Stripe invoice's
    pieces become an Odoo invoice's."""

    _inherit = "stripe.account"

    subscription_product_id = fields.Many2one(
        "product.product",
        string="Default Subscription Product",
        check_company=True,
        tracking=True,
        help="Product of the Stripe invoice lines whose Stripe product no Odoo "
        "product names (field Stripe Product on the product).",
    )
    billing_journal_id = fields.Many2one(
        "account.journal",
        check_company=True,
        domain="[('type', '=', 'sale')]",
        tracking=True,
        help="Sales journal of the invoices mirroring Stripe invoices. Empty: the "
        "company's first sales journal.",
    )
    tax_rate_ids = fields.One2many(
        "stripe.tax.rate",
        "account_id",
        string="Tax Rates",
        help="Stripe tax rates and the Odoo taxes they are booked with.",
    )
    uncollectible_policy = fields.Selection(
        [
            ("activity", "Leave open, with an activity"),
            ("write_off", "Write off"),
        ],
        string="Uncollectible Invoices",
        default="activity",
        required=True,
        tracking=True,
        help="What an invoice Stripe marks uncollectible becomes: left open with "
        "an activity for the responsible, or written off on the account below.",
    )
    uncollectible_account_id = fields.Many2one(
        "account.account",
        string="Bad Debt Account",
        check_company=True,
        domain="[('deprecated', '=', False), ('account_type', 'in', "
        "('expense', 'expense_direct_cost'))]",
        tracking=True,
    )

    # === ACTION METHODS === #

    def action_import_invoices(self):
        """Open a new import of Stripe invoices for this account."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Import Stripe Invoices"),
            "res_model": "stripe.billing.import",
            "view_mode": "form",
            "target": "current",
            "context": {"default_account_id": self.id},
        }

    # === BILLING HELPERS === #

    def _stripe_billing_journal(self):
        self.ensure_one()
        journal = self.billing_journal_id or self.env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", self.company_id.id)],
            order="sequence, id",
            limit=1,
        )
        if not journal:
            raise UserError(
                _(
                    "The company %s has no sales journal for Stripe invoices.",
                    self.company_id.name,
                )
            )
        return journal

    def _stripe_billing_currency(self, code):
        return (
            self.env["stripe.payment.rules"]
            ._stripe_bind(self)
            ._stripe_get_currency(code)
        )

    def _stripe_local_date(self, timestamp):
        """The day of a Stripe timestamp in the company's time zone (the
        responsible user's), or False."""
        moment = utils.timestamp_to_datetime(timestamp)
        if not moment:
            return False
        tz = self.user_id.tz or self.env.user.tz or "UTC"
        return fields.Date.context_today(self.with_context(tz=tz), timestamp=moment)

    def _stripe_list_all(self, what, service_path, *args, **params):
        """Every object of a Stripe list, page after page (see
        ``_stripe_pages``, the one paginator).

        :param str service_path: dotted path below ``client.v1``, e.g.
            ``invoices.line_items``.
        :raise UserError: Stripe could not be read.
        """
        self.ensure_one()
        return [
            obj
            for page in self._stripe_pages(what, service_path, params, *args)
            for obj in page
        ]

    def _stripe_invoice_lines(self, stripe_invoice):
        """All the lines of a Stripe invoice: those it carries, or, when it has
        more than one page of them, all pages through the API."""
        lines = utils.get_path(stripe_invoice, "lines", "data", default=[])
        if not utils.get_path(stripe_invoice, "lines", "has_more"):
            return lines
        if not self.has_api_key:
            raise UserError(
                _(
                    "Stripe invoice %(invoice)s has more lines than its event "
                    "carries (%(count)s): set a secret key on %(account)s so that "
                    "Odoo reads them all, then retry.",
                    invoice=stripe_invoice["id"],
                    count=len(lines),
                    account=self.display_name,
                )
            )
        return self._stripe_list_all(
            _("the lines of invoice %s", stripe_invoice["id"]),
            "invoices.line_items",
            stripe_invoice["id"],
        )

    def _stripe_map_tax_rates(self, rate_ids, known_rates):
        """The Odoo tax of each Stripe tax rate.

        A rate's mapping on the account wins (a user may correct it); else its
        percentage and inclusion come from ``known_rates`` (the invoice's
        ``default_tax_rates``, a credit note line's ``tax_rates``), else from the
        API, and it maps to the company's sales tax of that percentage and
        inclusion; the mapping is kept on the account.

        :param list rate_ids: ``txr_`` ids.
        :param list known_rates: tax rate dicts.
        :return: dict ``txr_`` id -> ``account.tax``.
        :raise UserError: a rate is known by none of these, or no Odoo tax fits:
            the message names it.
        """
        self.ensure_one()
        if not rate_ids:
            return {}
        mapping = self.env["stripe.tax.rate"].search(
            [("account_id", "=", self.id), ("stripe_id", "in", rate_ids)]
        )
        result = {rate.stripe_id: rate.tax_id for rate in mapping if rate.tax_id}
        known = {rate["id"]: rate for rate in known_rates if isinstance(rate, dict)}
        for rate_id in rate_ids:
            if rate_id in result:
                continue
            stored = mapping.filtered(lambda r, i=rate_id: r.stripe_id == i)
            rate = known.get(rate_id) or self._stripe_fetch_tax_rate(rate_id)
            if not rate and stored:
                rate = {
                    "id": rate_id,
                    "percentage": stored.percentage,
                    "inclusive": stored.inclusive,
                    "display_name": stored.name,
                }
            if not rate:
                raise UserError(
                    _(
                        "Stripe tax rate %(rate)s is unknown to Odoo: the invoice "
                        "does not list it in its default tax rates and Stripe "
                        "could not be read. Add it to the tax rates of "
                        "%(account)s (Billing tab) with its Odoo tax, then retry.",
                        rate=rate_id,
                        account=self.display_name,
                    )
                )
            tax = self._stripe_find_tax(rate)
            if not tax:
                raise UserError(
                    _(
                        "No sales tax of %(percentage)s%% (%(inclusion)s) in "
                        "%(company)s for Stripe tax rate %(rate)s (%(name)s). "
                        "Create it, or pick the tax of this rate on %(account)s "
                        "(Billing tab), then retry.",
                        percentage=rate.get("percentage"),
                        inclusion=_("included in price")
                        if rate.get("inclusive")
                        else _("excluded from price"),
                        company=self.company_id.name,
                        rate=rate_id,
                        name=rate.get("display_name") or "",
                        account=self.display_name,
                    )
                )
            vals = {
                "name": utils.clean_text(rate.get("display_name"), 255) or rate_id,
                "percentage": float(rate.get("percentage") or 0.0),
                "inclusive": bool(rate.get("inclusive")),
                "tax_id": tax.id,
            }
            if stored:
                stored.write(vals)
            else:
                self.env["stripe.tax.rate"].create(
                    {"account_id": self.id, "stripe_id": rate_id, **vals}
                )
            result[rate_id] = tax
        return result

    def _stripe_fetch_tax_rate(self, rate_id):
        if not self.has_api_key:
            return None
        return self._stripe_read(
            _("tax rate %s", rate_id), "tax_rates", "retrieve", rate_id
        )[0]

    def _stripe_find_tax(self, rate):
        """The company's sales tax of the rate's percentage and inclusion."""
        taxes = self.env["account.tax"].search(
            [
                ("company_id", "=", self.company_id.id),
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("amount", "=", float(rate.get("percentage") or 0.0)),
            ],
            order="sequence, id",
        )
        return taxes.filtered(
            lambda tax: tax.price_include == bool(rate.get("inclusive"))
        )[:1]

    def _stripe_excluded_tax(self, tax):
        """The sales tax to book a Stripe tax included in the price with: the
        company's tax of the same kind and percentage, excluded from the price
        (of the same tax group first).

        Stripe computes an included tax on each line; Odoo may compute it on
        the invoice's total, and derives the untaxed amount of an included tax
        from the price. A line booked at Stripe's untaxed amount with the
        excluded tax carries Stripe's untaxed amount exactly, and its tax line
        Stripe's tax.

        :param tax: an ``account.tax`` included in the price.
        :raise UserError: the company has no such tax: the message names it.
        """
        if not tax.price_include:
            return tax
        candidates = (
            self.env["account.tax"]
            .search(
                [
                    ("company_id", "=", tax.company_id.id),
                    ("type_tax_use", "=", tax.type_tax_use),
                    ("amount_type", "=", tax.amount_type),
                    ("amount", "=", tax.amount),
                    ("id", "!=", tax.id),
                ],
                order="sequence, id",
            )
            .filtered(lambda t: not t.price_include)
        )
        excluded = (
            candidates.filtered(lambda t: t.tax_group_id == tax.tax_group_id)
            or candidates
        )[:1]
        if not excluded:
            raise UserError(
                _(
                    "Stripe computes the tax included in a price on each line: "
                    "Odoo books these lines at Stripe's untaxed amount with the "
                    "same tax excluded from the price. Create a sales tax of "
                    "%(percentage)s%% excluded from price in %(company)s (like "
                    "%(tax)s, with the same accounts), then retry.",
                    percentage=tax.amount,
                    company=tax.company_id.name,
                    tax=tax.name,
                )
            )
        return excluded

    def _stripe_line_taxes(self, line, taxes):
        """The Odoo taxes of a Stripe line, and Stripe's tax included in its
        amount: a tax included in the price is replaced by its excluded twin
        (``_stripe_excluded_tax``).

        :return: ``(account.tax, included tax in minor units)``.
        """
        amounts = dict(billing_tools.line_tax_amounts(line))
        odoo_taxes = self.env["account.tax"]
        included = 0
        for rate in billing_tools.line_tax_rate_ids(line):
            tax = taxes[rate]
            if tax.price_include:
                included += amounts.get(rate, 0)
            odoo_taxes |= self._stripe_excluded_tax(tax)
        return odoo_taxes, included

    def _stripe_invoice_line_vals(self, line, taxes, currency):
        """Odoo invoice lines of a Stripe invoice line: the line itself and one
        line per discount it got, with its taxes.

        The quantity is Stripe's when the unit amount times the quantity gives
        the line's amount exactly; otherwise the line is one unit of its amount
        (its label says the quantity), so that the line is Stripe's to the
        minor unit. A line whose taxes are included in its price is booked at
        Stripe's untaxed amount (its amount less Stripe's tax of the line) with
        the excluded twin of its taxes, its discounts at their untaxed share:
        the untaxed amount and the tax are then Stripe's, whatever the
        company's tax rounding.
        """
        code = currency.name
        line_taxes, included = self._stripe_line_taxes(line, taxes)
        discounts = billing_tools.line_discounts(line)
        minor = line.get("amount") or 0
        unit = billing_tools.line_unit_amount(line)
        if included:
            minor, shares = billing_tools.untaxed_shares(
                minor, [discount for _id, discount in discounts], included
            )
            discounts = [
                (discount_id, share)
                for (discount_id, _discount), share in zip(
                    discounts, shares, strict=True
                )
            ]
            unit = None
        amount = utils.from_minor_units(minor, code)
        quantity = Decimal(
            str(line.get("quantity_decimal") or line.get("quantity") or 1)
        )
        price_unit = amount
        label = utils.clean_text(line.get("description")) or _("Stripe invoice line")
        if quantity and quantity != 1:
            unit = (
                Decimal(str(unit)).scaleb(-utils.currency_exponent(code))
                if unit is not None
                else amount / quantity
            )
            digits = self.env["decimal.precision"].precision_get("Product Price")
            if unit == round(unit, digits) and unit * quantity == amount:
                price_unit = unit
            else:
                quantity = Decimal(1)
        else:
            quantity = quantity or Decimal(1)
        period = line.get("period") or {}
        start = self._stripe_local_date(period.get("start"))
        end = self._stripe_local_date(period.get("end"))
        if start and end and end > start:
            label = _(
                "%(label)s (%(start)s to %(end)s)",
                label=label,
                start=fields.Date.to_string(start),
                end=fields.Date.to_string(end),
            )
        if billing_tools.line_is_proration(line) and "prorat" not in label.lower():
            label = _("%s (proration)", label)
        digits = self.env["decimal.precision"].precision_get("Product Price")
        if round(price_unit, digits) != price_unit:
            raise UserError(
                _(
                    "The unit price %(price)s %(currency)s of line %(line)s has more "
                    "decimals than Odoo's Product Price accuracy (%(digits)s). Raise "
                    "it to the currency's decimals (Settings > Technical > Decimal "
                    "Accuracy), then retry.",
                    price=price_unit,
                    currency=code,
                    line=line.get("id"),
                    digits=digits,
                )
            )
        product = self.env["product.product"]._stripe_find_product(
            self, billing_tools.line_product_id(line)
        )
        common = {"tax_ids": [fields.Command.set(line_taxes.ids)]}
        if product:
            common["product_id"] = product.id
        else:
            common["account_id"] = self._stripe_billing_journal().default_account_id.id
        vals = [
            {
                **common,
                "name": label,
                "quantity": float(quantity),
                "price_unit": float(price_unit),
                "stripe_line_id": line.get("id"),
            }
        ]
        for discount_id, discount in discounts:
            vals.append(
                {
                    **common,
                    "name": _(
                        "Discount %(discount)s on %(label)s",
                        discount=discount_id or "",
                        label=utils.clean_text(line.get("description")) or "",
                    ),
                    "quantity": 1.0,
                    "price_unit": -float(utils.from_minor_units(discount, code)),
                }
            )
        return vals

    # === BILLING LOOKUPS === #
    # Shared by the Billing event handlers and the payment rules (which also
    # book the payouts' charges and propose in the reconcile wizard).

    def _stripe_billing_owner(self, currency_code):
        """The Odoo Stripe account that mirrors a Stripe invoice of this
        currency: when several Odoo accounts share one Stripe account (one per
        settlement currency), the one settling in that currency, else the
        oldest of them; each of their endpoints gets the event."""
        self.ensure_one()
        code = (currency_code or "").upper()
        group = self | self._stripe_sibling_accounts()
        return (
            group.filtered(lambda a: a.currency_id.name == code)[:1]
            or group.sorted("id")[:1]
        )

    def _stripe_billing_find_mirror(self, stripe_invoice_id):
        """The Odoo invoice mirroring a Stripe invoice, whichever of the Odoo
        accounts of this Stripe account mirrored it."""
        self.ensure_one()
        if not stripe_invoice_id:
            return self.env["account.move"]
        return self.env["account.move"].search(
            [
                (
                    "stripe_account_id",
                    "in",
                    (self | self._stripe_sibling_accounts()).ids,
                ),
                ("stripe_invoice_id", "=", stripe_invoice_id),
            ],
            limit=1,
        )

    def _stripe_billing_read_invoice(self, stripe_invoice_id):
        """The Stripe invoice in its newest known state: read through the API
        with a key, else the newest snapshot the events Odoo received carry,
        else None.

        Without a key, the newest snapshot is the one of the furthest status
        (``const.BILLING_INVOICE_STATUS_RANK``: an invoice only moves forward,
        from draft to open, to uncollectible, to paid or void), then of the
        latest event (Stripe's ``created``): an older event delivered late never
        wins over a later state."""
        self.ensure_one()
        if self.has_api_key:
            return self._stripe_call(
                _("invoice %s", stripe_invoice_id),
                "invoices",
                "retrieve",
                stripe_invoice_id,
            ).to_dict()
        events = self.env["stripe.event"].search(
            [
                ("account_id", "=", self.id),
                ("stripe_object_id", "=", stripe_invoice_id),
                ("object_type", "=", "invoice"),
            ],
            order="stripe_created desc, id desc",
        )
        snapshots = [event._get_object() for event in events]
        if not snapshots:
            return None
        ranks = const.BILLING_INVOICE_STATUS_RANK
        # max() keeps the first of equal ranks: the latest event's.
        return max(snapshots, key=lambda snapshot: ranks.get(snapshot.get("status"), 0))

    def _stripe_billing_wake(self, object_ids, exclude=None):
        """Look again now at the events waiting for these Stripe objects.

        :param exclude: the ``stripe.event`` asking (it is not woken).
        """
        self.ensure_one()
        object_ids = [object_id for object_id in object_ids if object_id]
        if not object_ids:
            return
        event_model = self.env["stripe.event"]
        waiting = event_model.search(
            [
                ("account_id", "=", self.id),
                ("state", "=", "waiting"),
                ("stripe_object_id", "in", object_ids),
                ("id", "!=", (exclude and exclude._origin.id) or 0),
            ]
        )
        if waiting:
            waiting.write({"next_attempt_at": fields.Datetime.now()})
            event_model._trigger_processing()

    def _stripe_billing_invoice_of(self, facts, offline=False):
        """The Stripe invoice a payment pays, as far as Odoo can tell: a link
        recorded before, the ``invoice`` the PaymentIntent or charge names (API
        versions before ``2025-03-31.basil``, in ``facts`` as
        ``stripe_invoice_named``), else, with a key, Stripe's
        ``invoice_payments`` of the PaymentIntent.

        :param bool offline: look only at what Odoo knows, record nothing (a
            proposal).
        :return: the ``in_`` id, or None.
        """
        self.ensure_one()
        if facts.stripe_invoice_id is not None:  # looked up before
            return facts.stripe_invoice_id or None
        links = self.env["stripe.invoice.payment"]
        intent_id = facts.payment_intent_id
        found = links._stripe_invoice_of(self, intent_id)
        if not found and facts.stripe_invoice_named:
            found = facts.stripe_invoice_named
            if intent_id and not offline:
                links._stripe_link(self, found, intent_id)
        if offline:
            return found
        if not found and intent_id and facts.customer_id and self.has_api_key:
            try:
                invoice_payments = self._stripe_list_all(
                    _("the invoice payments of %s", intent_id),
                    "invoice_payments",
                    payment={"type": "payment_intent", "payment_intent": intent_id},
                )
            except UserError:
                _logger.info(
                    "Invoice payments of %s not read", intent_id, exc_info=True
                )
                invoice_payments = []
            for invoice_payment in invoice_payments:
                found = utils.object_id(invoice_payment.get("invoice"))
                links._stripe_link(self, found, intent_id, invoice_payment["id"])
        facts.stripe_invoice_id = found or False
        return found

    def _stripe_billing_may_be_invoice_payment(self, facts):
        """A PaymentIntent of a customer, with no Odoo metadata, on an account
        that receives Stripe invoices, without a key to ask Stripe."""
        self.ensure_one()
        if self.has_api_key or not facts.customer_id:
            return False
        if utils.metadata_references(facts.metadata, const.METADATA_KEYS):
            return False
        if (facts.intent_description or "") in const.BILLING_INTENT_DESCRIPTIONS:
            return True
        return bool(
            self.env["stripe.event"].search_count(
                [
                    ("account_id", "=", self.id),
                    ("type", "in", list(const.BILLING_EVENT_TYPES)),
                ],
                limit=1,
            )
        )

    def _stripe_billing_mirror(self, stripe_invoice, event=None):
        """Mirror a Stripe invoice (once), record the PaymentIntent it names
        (older API versions) and wake the events waiting for it.

        :param event: the ``stripe.event`` asking, if any: an invoice another
            Odoo account of this Stripe account mirrors (see
            ``_stripe_billing_owner``) is then ignored by it; without an event
            (a payout, the reconcile wizard), that account mirrors it.
        :return: ``(invoice, messages)``; an existing mirror comes with no
            message.
        """
        self.ensure_one()
        owner = self._stripe_billing_owner(stripe_invoice.get("currency"))
        move = self._stripe_billing_find_mirror(stripe_invoice["id"])
        messages = []
        if not move:
            if event and owner != self:
                raise StripeNothingToDo(
                    _(
                        "Invoices in %(currency)s are mirrored by the Stripe account "
                        "%(account)s.",
                        currency=(stripe_invoice.get("currency") or "").upper(),
                        account=owner.display_name,
                    )
                )
            move, messages = self.env["account.move"]._stripe_mirror_invoice(
                owner, stripe_invoice
            )
        links = self.env["stripe.invoice.payment"]
        intents = billing_tools.invoice_payment_intents(stripe_invoice)
        for intent_id in intents:
            links._stripe_link(self, stripe_invoice["id"], intent_id)
        if messages:
            self._stripe_billing_wake(
                [
                    stripe_invoice["id"],
                    *intents,
                    *links._stripe_intents_of(self, stripe_invoice["id"]),
                    *self._stripe_billing_waiting_credit_notes(stripe_invoice["id"]),
                ],
                exclude=event,
            )
        return move, messages

    def _stripe_billing_waiting_credit_notes(self, stripe_invoice_id):
        """The credit notes whose events wait for this Stripe invoice's mirror
        (``credit_note.created`` delivered before the invoice's events).

        :return: ``cn_`` ids.
        """
        self.ensure_one()
        events = self.env["stripe.event"].search(
            [
                ("account_id", "=", self.id),
                ("state", "=", "waiting"),
                ("object_type", "=", "credit_note"),
            ]
        )
        return [
            event.stripe_object_id
            for event in events
            if utils.object_id(event._get_object().get("invoice")) == stripe_invoice_id
        ]
