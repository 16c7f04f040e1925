import logging
from decimal import Decimal

from odoo import _, fields, models
from odoo.exceptions import UserError

from .. import billing_utils, utils

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
            for page in self._stripe_pages(service_path, params, what, *args)
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

    def _stripe_invoice_line_vals(self, line, taxes, currency):
        """Odoo invoice lines of a Stripe invoice line: the line itself and one
        line per discount it got, with its taxes.

        The quantity is Stripe's when the unit amount times the quantity gives
        the line's amount exactly; otherwise the line is one unit of its amount
        (its label says the quantity), so that the line is Stripe's to the
        minor unit.
        """
        code = currency.name
        amount = utils.from_minor_units(line.get("amount") or 0, code)
        quantity = Decimal(
            str(line.get("quantity_decimal") or line.get("quantity") or 1)
        )
        unit = billing_utils.line_unit_amount(line)
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
        if billing_utils.line_is_proration(line) and "prorat" not in label.lower():
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
            self, billing_utils.line_product_id(line)
        )
        tax_ids = [taxes[rate].id for rate in billing_utils.line_tax_rate_ids(line)]
        common = {"tax_ids": [fields.Command.set(tax_ids)]}
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
        for discount_id, discount in billing_utils.line_discounts(line):
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
