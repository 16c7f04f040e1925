from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .. import const


class StripePayoutReconcile(models.TransientModel):
    """Reconciling a payout without a secret key: Odoo cannot list what Stripe
    paid out, but it knows the Stripe payments its webhooks registered. The user
    picks those the payout pays out; what they add up to beyond the payout is
    Stripe's fees, booked on the fee account. With a key, Odoo would import the
    payout's transactions itself, refunds, disputes and adjustments included, and
    book each fee exactly."""

    _inherit = "stripe.payout.reconcile"

    has_api_key = fields.Boolean(related="account_id.has_api_key")
    is_keyless = fields.Boolean(
        compute="_compute_is_keyless",
        help="One payout of an account without secret key, whose transactions are "
        "not known: the user picks the payments it pays out.",
    )
    keyless_candidate_ids = fields.Many2many(
        "account.payment", compute="_compute_keyless_candidate_ids"
    )
    keyless_payment_ids = fields.Many2many(
        "account.payment",
        "stripe_payout_reconcile_keyless_payment_rel",
        "wizard_id",
        "payment_id",
        string="Stripe Payments Paid Out",
        help="The Stripe payments (and refunds) Odoo registered that this payout "
        "pays out.",
    )
    keyless_total = fields.Monetary(
        string="Payments Picked", compute="_compute_keyless_total"
    )
    keyless_fees = fields.Monetary(
        string="Stripe Fees",
        compute="_compute_keyless_total",
        help="What the payments picked add up to beyond the payout: booked as "
        "Stripe's fees.",
    )

    # === COMPUTE METHODS === #

    @api.depends("payout_ids")
    def _compute_is_keyless(self):
        for wizard in self:
            payout = wizard.payout_ids if len(wizard.payout_ids) == 1 else None
            wizard.is_keyless = bool(
                payout
                and not payout.account_id.has_api_key
                and not payout.transactions_imported
            )

    @api.depends("payout_ids", "is_keyless")
    def _compute_keyless_candidate_ids(self):
        for wizard in self:
            wizard.keyless_candidate_ids = (
                wizard._keyless_candidates(wizard.payout_ids)
                if wizard.is_keyless
                else False
            )

    @api.depends("keyless_payment_ids", "payout_ids")
    def _compute_keyless_total(self):
        for wizard in self:
            total = sum(
                payment.amount if payment.payment_type == "inbound" else -payment.amount
                for payment in wizard.keyless_payment_ids
            )
            wizard.keyless_total = total
            wizard.keyless_fees = (
                total - wizard.payout_ids.amount if wizard.is_keyless else 0.0
            )

    @api.depends("keyless_payment_ids")
    def _compute_blockers(self):
        res = super()._compute_blockers()
        for wizard in self.filtered("is_keyless"):
            payout = wizard.payout_ids
            currency = payout.currency_id
            blockers = []
            if not wizard.keyless_payment_ids:
                blockers.append(
                    _(
                        "This Stripe account has no secret key: Odoo cannot read "
                        "what payout %s pays out. Pick the Stripe payments it pays "
                        "out below.",
                        payout.stripe_id,
                    )
                )
            elif currency.compare_amounts(wizard.keyless_total, payout.amount) < 0:
                blockers.append(
                    _(
                        "The payments picked add up to %(total)s, less than the "
                        "payout of %(amount)s: pick the others it pays out.",
                        total=currency.format(wizard.keyless_total),
                        amount=currency.format(payout.amount),
                    )
                )
            if not wizard.bank_journal_id:
                blockers.append(_("Choose the bank journal the payouts arrive in."))
            if payout._stripe_is_reconciled():
                blockers.append(_("Already reconciled: %s.", payout.stripe_id))
            wizard.blockers = "\n".join(blockers)
            wizard.can_confirm = not blockers
        return res

    @api.depends("keyless_payment_ids")
    def _compute_summary(self):
        res = super()._compute_summary()
        for wizard in self.filtered("is_keyless"):
            currency = wizard.payout_ids.currency_id
            items = [
                _(
                    "%(count)s Stripe payment(s) of %(total)s, registered by the "
                    "webhooks, are counted as paid out; nothing more is booked for "
                    "them.",
                    count=len(wizard.keyless_payment_ids),
                    total=currency.format(wizard.keyless_total),
                ),
                _(
                    "The rest, %s, is booked as Stripe's fees on the fee account.",
                    currency.format(max(wizard.keyless_fees, 0.0)),
                ),
            ]
            if wizard.bank_journal_id:
                items.append(
                    _(
                        "The payout amount moves from the Stripe journal to "
                        "%(journal)s; the bank statement line of that amount around "
                        "the arrival date is matched with it.",
                        journal=wizard.bank_journal_id.display_name,
                    )
                )
            wizard.summary = Markup("<ul>%s</ul>") % Markup().join(
                Markup("<li>%s</li>") % item for item in items
            )
        return res

    # === ACTION METHODS === #

    def action_confirm(self):
        """Without a key: the payments picked (and the fees, the rest) become the
        payout's transactions, then the payout is reconciled as any other."""
        self.ensure_one()
        if not self.is_keyless:
            return super().action_confirm()
        if not self.can_confirm:
            raise UserError(self.blockers)
        payout = self.payout_ids
        payout._stripe_lock()
        transactions = self._keyless_transactions()
        (payout.transaction_ids - transactions).payout_id = False
        transactions.payout_id = payout
        payout.write(
            {"transactions_imported": True, "bank_journal_id": self.bank_journal_id.id}
        )
        payout._stripe_update_breakdown()
        payout._stripe_reconcile()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stripe.payout",
            "res_id": payout.id,
            "view_mode": "form",
        }

    # === HELPERS === #

    @api.model
    def _keyless_candidates(self, payout):
        """The Stripe payments and refunds Odoo registered on the account's Stripe
        journal, in the payout's currency, up to its arrival, not paid out by
        another payout."""
        account = payout.account_id
        payments = self.env["account.payment"].search(
            [
                ("stripe_account_id", "=", account.id),
                ("journal_id", "=", account.journal_id.id),
                ("state", "in", ("in_process", "paid")),
                ("currency_id", "=", payout.currency_id.id),
                ("date", "<=", payout.arrival_date or fields.Date.context_today(self)),
            ],
            order="date, id",
        )
        paid_out = (
            self.env["stripe.balance.transaction"]
            .search(
                [
                    ("payment_id", "in", payments.ids),
                    ("payout_id", "!=", False),
                    ("payout_id", "!=", payout.id),
                ]
            )
            .payment_id
        )
        return payments - paid_out

    def _keyless_transactions(self):
        """Balance transactions standing for the payments picked and for the fees
        (what the payments add up to beyond the payout); their ids start with
        ``const.KEYLESS_TRANSACTION_PREFIX``: Stripe's own are never these."""
        payout = self.payout_ids
        transaction_model = self.env["stripe.balance.transaction"]
        prefix = const.KEYLESS_TRANSACTION_PREFIX
        vals_list = []
        for payment in self.keyless_payment_ids:
            inbound = payment.payment_type == "inbound"
            amount = payment.amount if inbound else -payment.amount
            vals_list.append(
                {
                    "stripe_id": f"{prefix}{payment.stripe_object_id or payment.id}",
                    "type": "charge" if inbound else "refund",
                    "reporting_category": "charge" if inbound else "refund",
                    "description": payment.memo or payment.name,
                    "amount": amount,
                    "fee": 0.0,
                    "net": amount,
                    "source_id": payment.stripe_charge_id or payment.stripe_object_id,
                    "charge_id": payment.stripe_charge_id,
                    "payment_id": payment.id,
                    "stripe_created": payment.create_date,
                }
            )
        fees = payout.currency_id.round(self.keyless_total - payout.amount)
        if fees:
            vals_list.append(
                {
                    "stripe_id": f"{prefix}{payout.stripe_id}_fees",
                    "type": const.KEYLESS_FEE_TYPE,
                    "reporting_category": "fee",
                    "description": _("Stripe fees of payout %s", payout.stripe_id),
                    "amount": -fees,
                    "fee": 0.0,
                    "net": -fees,
                }
            )
        common = {
            "account_id": payout.account_id.id,
            "currency_id": payout.currency_id.id,
            "status": "available",
        }
        # Picked again after an undo: the same rows, updated.
        existing = {
            transaction.stripe_id: transaction
            for transaction in transaction_model.search(
                [
                    ("account_id", "=", payout.account_id.id),
                    ("stripe_id", "in", [vals["stripe_id"] for vals in vals_list]),
                ]
            )
        }
        transactions = transaction_model
        for vals in vals_list:
            transaction = existing.get(vals["stripe_id"])
            if transaction:
                transaction.write(vals)
            else:
                transaction = transaction_model.create(dict(common, **vals))
            transactions |= transaction
        return transactions


class StripePayout(models.Model):
    _inherit = "stripe.payout"

    def _stripe_fee_transaction_labels(self):
        return dict(
            super()._stripe_fee_transaction_labels(),
            **{
                const.KEYLESS_FEE_TYPE: _(
                    "Stripe fees (payout reconciled without secret key)"
                )
            },
        )
