from collections import defaultdict

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ... import const, utils
from ...tools import billing as billing_tools


class AccountMove(models.Model):
    """Stripe Billing: customer invoices and credit notes that mirror Stripe's."""

    _inherit = "account.move"

    stripe_account_id = fields.Many2one(
        "stripe.account", readonly=True, copy=False, index="btree_not_null"
    )
    stripe_invoice_id = fields.Char(
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The Stripe invoice (in_...) this invoice mirrors.",
    )
    stripe_refund_ids = fields.Char(
        string="Stripe Refunds",
        readonly=True,
        copy=False,
        help="The refunds (re_...) the Stripe credit note lists.",
    )
    stripe_credit_note_id = fields.Char(
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The Stripe credit note (cn_...) this credit note mirrors.",
    )

    stripe_document_link = fields.Html(
        string="On Stripe",
        compute="_compute_stripe_document_link",
        sanitize=False,
        help="The Stripe invoice (or credit note) this document mirrors, opened in "
        "Stripe's dashboard.",
    )

    _sql_constraints = [
        (
            "stripe_invoice_uniq",
            "UNIQUE(stripe_account_id, stripe_invoice_id)",
            "A Stripe invoice is mirrored by one Odoo invoice per Stripe account.",
        ),
        (
            "stripe_credit_note_uniq",
            "UNIQUE(stripe_account_id, stripe_credit_note_id)",
            "A Stripe credit note is mirrored by one Odoo credit note per Stripe "
            "account.",
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("stripe_invoice_id", "stripe_credit_note_id", "ref")
    def _compute_stripe_document_link(self):
        for move in self:
            object_id = move.stripe_invoice_id or move.stripe_credit_note_id
            if not object_id or not move.stripe_account_id:
                move.stripe_document_link = False
                continue
            prefix = const.STRIPE_DASHBOARD_URL + (
                "/test" if move.stripe_account_id.mode == "test" else ""
            )
            path = "invoices" if move.stripe_invoice_id else "credit_notes"
            url = f"{prefix}/{path}/{object_id}"
            link = Markup(
                '<a href="%s" target="_blank" rel="noopener noreferrer">%s</a>'
            )
            number = move.ref if move.ref and move.ref != object_id else None
            move.stripe_document_link = (
                Markup("%s (%s)") % (link % (url, number), link % (url, object_id))
                if number
                else link % (url, object_id)
            )

    @api.model
    def _stripe_find_mirror(self, account, stripe_invoice_id):
        """The Odoo invoice mirroring a Stripe invoice, or an empty recordset."""
        if not stripe_invoice_id:
            return self.browse()
        return self.search(
            [
                ("stripe_account_id", "=", account.id),
                ("stripe_invoice_id", "=", stripe_invoice_id),
            ],
            limit=1,
        )

    @api.model
    def _stripe_mirror_invoice(self, account, stripe_invoice):
        """Create and post the Odoo invoice of a finalized Stripe invoice, once.

        The invoice is dated as Stripe finalized it, in its currency, on the
        account's Billing journal, with the Stripe number as reference. Its lines
        are Stripe's (all pages), each discount a line of its own, its taxes
        Stripe's tax rates mapped to Odoo taxes (``stripe.tax.rate``). Its total
        is Stripe's ``total`` to the minor unit: where Odoo rounds a tax
        differently, the tax line takes Stripe's amount.

        :param account: the ``stripe.account``.
        :param dict stripe_invoice: the Stripe invoice.
        :return: ``(invoice, messages)``; an existing mirror comes with no message.
        :raise UserError: something needed is missing (a tax rate Odoo cannot
            map, an inactive currency...): the message says what.
        """
        existing = self._stripe_find_mirror(account, stripe_invoice["id"])
        if existing:
            return existing, []
        prepared = self._stripe_prepare_mirror(account, stripe_invoice)
        moves, messages = self._stripe_create_mirrors([prepared])
        moves.action_post()
        return moves, moves._stripe_mirror_messages(messages)[0]

    @api.model
    def _stripe_prepare_mirror(self, account, stripe_invoice):
        """What the invoice mirroring a Stripe invoice is made of, read and mapped
        but not created (see ``_stripe_mirror_invoice``): the batch booking
        prepares each invoice of a batch apart, then creates them together.

        :return: ``(vals, Stripe lines, taxes, currency code, Stripe total)``.
        :raise UserError: see ``_stripe_mirror_invoice``.
        """
        if stripe_invoice.get("status") == "draft":
            raise UserError(
                _("Stripe invoice %s is a draft: not mirrored.", stripe_invoice["id"])
            )
        code = (stripe_invoice.get("currency") or "").upper()
        currency = account._stripe_billing_currency(code)
        lines = account._stripe_invoice_lines(stripe_invoice)
        taxes = account._stripe_map_tax_rates(
            [rate for line in lines for rate in billing_tools.line_tax_rate_ids(line)],
            stripe_invoice.get("default_tax_rates") or [],
        )
        partner = self.env["res.partner"]._stripe_partner_from_invoice(
            account, stripe_invoice
        )
        journal = account._stripe_billing_journal()
        date = account._stripe_local_date(
            utils.get_path(stripe_invoice, "status_transitions", "finalized_at")
            or stripe_invoice.get("effective_at")
            or stripe_invoice.get("created")
        )
        due = account._stripe_local_date(stripe_invoice.get("due_date")) or date
        line_vals = []
        for line in lines:
            line_vals += account._stripe_invoice_line_vals(line, taxes, currency)
        vals = {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "journal_id": journal.id,
            "currency_id": currency.id,
            "invoice_date": date,
            "date": date,
            "invoice_date_due": max(due, date),
            "ref": stripe_invoice.get("number") or stripe_invoice["id"],
            "invoice_origin": utils.get_path(
                stripe_invoice, "parent", "subscription_details", "subscription"
            )
            or stripe_invoice.get("subscription")
            or False,
            "narration": utils.clean_text(stripe_invoice.get("description")) or False,
            "stripe_account_id": account.id,
            "stripe_invoice_id": stripe_invoice["id"],
            # The account's responsible, not whoever processes the event (the
            # cron's OdooBot).
            "invoice_user_id": account.user_id.id or False,
            "invoice_line_ids": [Command.create(vals) for vals in line_vals],
        }
        return vals, lines, taxes, code, stripe_invoice.get("total") or 0

    @api.model
    def _stripe_create_mirrors(self, prepared):
        """Create the draft invoices of prepared mirrors in one ``create`` and
        give each Stripe's tax amounts (``_stripe_match_stripe_amounts``).

        :param list prepared: results of ``_stripe_prepare_mirror``.
        :return: ``(invoices, list of messages of each)``, in the same order.
        :raise UserError: an invoice's total differs from Stripe's.
        """
        moves = self.create([vals for vals, *_rest in prepared])
        messages = [
            move._stripe_match_stripe_amounts(lines, taxes, total, code)
            for move, (_vals, lines, taxes, code, total) in zip(
                moves, prepared, strict=True
            )
        ]
        return moves, messages

    def _stripe_mirror_messages(self, messages):
        """The messages of posted mirrors: what each mirrors, then what was
        corrected (``messages``, one list per invoice)."""
        result = []
        for move, corrections in zip(self, messages, strict=True):
            mirrors = _(
                "Invoice %(invoice)s of %(amount)s mirrors Stripe invoice %(number)s.",
                invoice=move.name,
                amount=move.currency_id.format(move.amount_total),
                number=move.ref,
            )
            result.append([mirrors, *corrections])
        return result

    def _stripe_match_stripe_amounts(self, lines, taxes, total, currency_code):
        """Give each tax line Stripe's amount for that tax, then check the
        untaxed amount and the total.

        Odoo computes a tax on each line (or on the total, as the company rounds)
        and a discount is a line of its own: its tax is rounded apart, where
        Stripe rounds the tax of the discounted amount. The difference, a minor
        unit or two, goes onto the tax line, as a user would correct it. A tax
        included in Stripe's prices is booked with its excluded twin on lines
        of Stripe's untaxed amounts (``stripe.account._stripe_line_taxes``), so
        that the untaxed amount is Stripe's too (Stripe's total less its taxes).

        :param list lines: Stripe's lines (invoice or credit note lines).
        :param dict taxes: Stripe tax rate id -> ``account.tax``.
        :param int total: Stripe's total, in minor units.
        :return: messages saying what was corrected.
        :raise UserError: the untaxed amount or the total still differs (it is
            never posted wrong).
        """
        self.ensure_one()
        currency = self.currency_id
        account = self.stripe_account_id
        expected = defaultdict(int)
        included = self.env["account.tax"]
        for line in lines:
            for rate_id, amount in billing_tools.line_tax_amounts(line):
                tax = taxes[rate_id]
                if tax.price_include:
                    included |= tax
                expected[account._stripe_excluded_tax(tax)] += amount
        sign = -1 if self.is_inbound() else 1
        # What to correct, read before anything is written: most invoices need
        # nothing, and opening the dynamic-lines sync costs as much as the
        # invoice's own creation.
        deltas = []
        corrections = []
        for tax, minor in expected.items():
            tax_lines = self.line_ids.filtered(lambda ln, t=tax: ln.tax_line_id == t)
            if not tax_lines:
                continue
            stripe_amount = float(utils.from_minor_units(minor, currency_code))
            odoo_amount = sign * sum(tax_lines.mapped("amount_currency"))
            delta = currency.round(stripe_amount - odoo_amount)
            if currency.is_zero(delta):
                continue
            deltas.append((tax_lines[0], delta))
            corrections.append(
                _(
                    "%(tax)s set to Stripe's %(stripe)s (Odoo computed %(odoo)s).",
                    tax=tax.name,
                    stripe=currency.format(stripe_amount),
                    odoo=currency.format(odoo_amount),
                )
            )
        if deltas:
            with self._sync_dynamic_line(
                existing_key_fname="term_key",
                needed_vals_fname="needed_terms",
                needed_dirty_fname="needed_terms_dirty",
                line_type="payment_term",
                container={"records": self},
            ):
                for tax_line, delta in deltas:
                    tax_line.amount_currency += sign * delta
            self._compute_amount()
        untaxed = total - sum(expected.values())
        if utils.to_minor_units(self.amount_untaxed, currency_code) != untaxed:
            raise UserError(
                _(
                    "The Odoo untaxed amount %(odoo)s differs from Stripe's "
                    "%(stripe)s: not posted. Check the tax mapping of the Stripe "
                    "account.",
                    odoo=currency.format(self.amount_untaxed),
                    stripe=currency.format(
                        float(utils.from_minor_units(untaxed, currency_code))
                    ),
                )
            )
        if utils.to_minor_units(self.amount_total, currency_code) != total:
            raise UserError(
                _(
                    "The Odoo total %(odoo)s differs from Stripe's %(stripe)s: not "
                    "posted. Check the tax mapping of the Stripe account.",
                    odoo=currency.format(self.amount_total),
                    stripe=currency.format(
                        float(utils.from_minor_units(total, currency_code))
                    ),
                )
            )
        messages = []
        if included:
            messages.append(
                _(
                    "Prices include %(taxes)s: lines booked at Stripe's untaxed "
                    "amounts (%(untaxed)s in all) with the tax excluded from the "
                    "price, so that the untaxed amount and the tax are Stripe's "
                    "(Stripe computes the tax of each line).",
                    taxes=", ".join(included.mapped("name")),
                    untaxed=currency.format(self.amount_untaxed),
                )
            )
        if corrections:
            messages.append(_("Tax rounded as Stripe does: %s", " ".join(corrections)))
        return messages

    @api.model
    def _stripe_mirror_credit_note(self, account, credit_note, invoice):
        """Create and post the Odoo credit note of a Stripe credit note, once:
        its lines (a line of the invoice credits that line's product, account
        and taxes), its taxes as Stripe computed them, its total Stripe's.

        :return: ``(credit note, messages)``.
        """
        code = (credit_note.get("currency") or "").upper()
        currency = invoice.currency_id
        lines = utils.get_path(credit_note, "lines", "data", default=[])
        if utils.get_path(credit_note, "lines", "has_more"):
            lines = account._stripe_list_all(
                _("the lines of credit note %s", credit_note["id"]),
                "credit_notes.line_items",
                credit_note["id"],
            )
        embedded = {
            rate["id"]: rate
            for line in lines
            for rate in line.get("tax_rates") or []
            if isinstance(rate, dict)
        }
        taxes = account._stripe_map_tax_rates(
            [rate for line in lines for rate in billing_tools.line_tax_rate_ids(line)],
            list(embedded.values()),
        )
        invoice_lines = {line.stripe_line_id: line for line in invoice.invoice_line_ids}
        line_vals = []
        for line in lines:
            source = invoice_lines.get(line.get("invoice_line_item"))
            amount = line.get("amount") or 0
            discount = line.get("discount_amount") or 0
            # A tax included in the price: Stripe's untaxed amount, excluded tax.
            line_taxes, included = account._stripe_line_taxes(line, taxes)
            vals = {
                "name": utils.clean_text(line.get("description"))
                or (source.name if source else _("Credit")),
                "quantity": 1,
                "price_unit": float(
                    utils.from_minor_units(amount - discount - included, code)
                ),
                "tax_ids": [Command.set(line_taxes.ids)],
            }
            if source:
                vals.update(
                    product_id=source.product_id.id,
                    account_id=source.account_id.id,
                    analytic_distribution=source.analytic_distribution,
                )
            else:
                product = account.subscription_product_id
                if product:
                    vals["product_id"] = product.id
                else:
                    vals["account_id"] = invoice.invoice_line_ids[:1].account_id.id
            line_vals.append(vals)
        date = account._stripe_local_date(
            credit_note.get("effective_at") or credit_note.get("created")
        )
        move = self.create(
            {
                "move_type": "out_refund",
                "partner_id": invoice.partner_id.id,
                "journal_id": invoice.journal_id.id,
                "currency_id": currency.id,
                "invoice_date": date,
                "date": date,
                "ref": credit_note.get("number") or credit_note["id"],
                "invoice_origin": invoice.name,
                "fiscal_position_id": invoice.fiscal_position_id.id,
                "stripe_account_id": account.id,
                "stripe_credit_note_id": credit_note["id"],
                "stripe_refund_ids": " ".join(
                    utils.object_id(refund.get("refund")) or ""
                    for refund in credit_note.get("refunds") or []
                ).strip()
                or False,
                "invoice_line_ids": [Command.create(vals) for vals in line_vals],
            }
        )
        messages = move._stripe_match_stripe_amounts(
            lines, taxes, credit_note.get("total") or 0, code
        )
        move.action_post()
        return move, messages

    def _stripe_write_off(self, account, writeoff_account, label):
        """Write off what is left to pay on this invoice: an entry in the
        company's miscellaneous journal, the bad debt account against the
        receivable, reconciled with the invoice.

        :return: the posted entry.
        """
        self.ensure_one()
        if not writeoff_account:
            raise UserError(
                _(
                    "Set a bad debt account on %s (Billing tab) to write off "
                    "uncollectible invoices.",
                    account.display_name,
                )
            )
        open_lines = self.line_ids.filtered(
            lambda line: line.display_type == "payment_term" and not line.reconciled
        )
        amount_currency = sum(open_lines.mapped("amount_residual_currency"))
        balance = sum(open_lines.mapped("amount_residual"))
        journal = self.env["account.journal"].search(
            [("type", "=", "general"), ("company_id", "=", self.company_id.id)],
            order="sequence, id",
            limit=1,
        )
        common = {
            "partner_id": self.commercial_partner_id.id,
            "currency_id": self.currency_id.id,
        }
        entry = self.create(
            {
                "move_type": "entry",
                "journal_id": journal.id,
                "date": fields.Date.context_today(self),
                "ref": label,
                "line_ids": [
                    Command.create(
                        {
                            **common,
                            "name": label,
                            "account_id": writeoff_account.id,
                            "amount_currency": amount_currency,
                            "balance": balance,
                        }
                    ),
                    Command.create(
                        {
                            **common,
                            "name": label,
                            "account_id": open_lines[:1].account_id.id,
                            "amount_currency": -amount_currency,
                            "balance": -balance,
                        }
                    ),
                ],
            }
        )
        entry.action_post()
        (
            entry.line_ids.filtered(
                lambda line: line.account_id == open_lines[:1].account_id
            )
            | open_lines
        ).reconcile()
        return entry


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    stripe_line_id = fields.Char(
        readonly=True,
        copy=False,
        help="The Stripe invoice line (il_...) this line mirrors.",
    )
