from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from .. import const, utils
from ..exceptions import StripeMatchError


class StripePayoutReconcile(models.TransientModel):
    """Reconcile one or several payouts: see their breakdown and what is already in
    Odoo, match the charges no payment mirrors, pick a manual payout's
    transactions, and confirm.

    Confirming books what is missing on the Stripe journal (payments, one fee
    entry, one adjustment entry) and moves each payout to its bank journal; it
    books nothing unless every payout's transactions add up to its amount.

    Reconciling a payout without a secret key: Odoo cannot list what Stripe
    paid out, but it knows the Stripe payments its webhooks registered. The user
    picks those the payout pays out; what they add up to beyond the payout is
    Stripe's fees, booked on the fee account. With a key, Odoo would import the
    payout's transactions itself, refunds, disputes and adjustments included, and
    book each fee exactly."""

    _name = "stripe.payout.reconcile"
    _description = "Reconcile Stripe Payouts"
    _check_company_auto = True

    payout_ids = fields.Many2many("stripe.payout", string="Payouts", required=True)
    company_id = fields.Many2one(
        "res.company",
        compute="_compute_company_id",
        store=True,
        precompute=True,
        help="The company of the payouts' Stripe accounts.",
    )
    payout_id = fields.Many2one("stripe.payout", compute="_compute_payout_id")
    is_multi = fields.Boolean(compute="_compute_payout_id")
    is_manual = fields.Boolean(compute="_compute_payout_id")
    account_id = fields.Many2one(related="payout_id.account_id")
    currency_id = fields.Many2one(related="payout_id.currency_id")
    amount = fields.Monetary(related="payout_id.amount", string="Payout Amount")
    arrival_date = fields.Date(related="payout_id.arrival_date")
    charge_amount = fields.Monetary(related="payout_id.charge_amount")
    refund_amount = fields.Monetary(related="payout_id.refund_amount")
    dispute_amount = fields.Monetary(related="payout_id.dispute_amount")
    fee_amount = fields.Monetary(related="payout_id.fee_amount")
    adjustment_amount = fields.Monetary(related="payout_id.adjustment_amount")
    other_amount = fields.Monetary(related="payout_id.other_amount")
    transaction_count = fields.Integer(related="payout_id.transaction_count")
    linked_count = fields.Integer(related="payout_id.linked_count")
    to_book_count = fields.Integer(related="payout_id.to_book_count")
    bank_journal_id = fields.Many2one(
        "account.journal",
        compute="_compute_bank_journal_id",
        store=True,
        readonly=False,
        check_company=True,
        domain="[('type', '=', 'bank')]",
        help="The bank journal the payouts arrive in.",
    )
    # A manual payout's transactions, picked by the user.
    transaction_ids = fields.Many2many(
        "stripe.balance.transaction",
        string="Transactions Paid Out",
        compute="_compute_transaction_ids",
        store=True,
        readonly=False,
    )
    net_amount = fields.Monetary(
        string="Transactions Total", compute="_compute_net_amount"
    )
    difference = fields.Monetary(compute="_compute_net_amount")
    charge_line_ids = fields.One2many(
        "stripe.payout.reconcile.charge",
        "wizard_id",
        string="Charges to Match",
        compute="_compute_charge_line_ids",
        store=True,
        readonly=False,
    )
    can_confirm = fields.Boolean(compute="_compute_blockers")
    blockers = fields.Text(compute="_compute_blockers")
    summary = fields.Html(compute="_compute_summary")
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
    def _compute_payout_id(self):
        for wizard in self:
            single = wizard.payout_ids if len(wizard.payout_ids) == 1 else False
            wizard.payout_id = single
            wizard.is_multi = len(wizard.payout_ids) > 1
            wizard.is_manual = bool(single) and not single.automatic

    @api.depends("payout_ids")
    def _compute_company_id(self):
        # Payouts of several companies: the first one's, and a blocker says so.
        for wizard in self:
            wizard.company_id = wizard.payout_ids.company_id[:1]

    @api.depends("payout_ids")
    def _compute_bank_journal_id(self):
        for wizard in self:
            journals = wizard.payout_ids.mapped(
                lambda p: p.bank_journal_id or p.account_id.payout_journal_id
            )
            single_company = len(wizard.payout_ids.company_id) == 1
            wizard.bank_journal_id = (
                journals if len(journals) == 1 and single_company else False
            )

    @api.depends("payout_ids")
    def _compute_transaction_ids(self):
        """A manual payout's transactions: those picked before, else every
        candidate when they add up to the payout exactly."""
        for wizard in self:
            payout = wizard.payout_ids if len(wizard.payout_ids) == 1 else None
            if not payout or payout.automatic:
                wizard.transaction_ids = False
                continue
            candidates = wizard._manual_candidates(payout)
            picked = candidates.filtered(lambda t, p=payout: t.payout_id == p)
            if not picked and not payout.currency_id.compare_amounts(
                sum(candidates.mapped("net")), payout.amount
            ):
                picked = candidates
            wizard.transaction_ids = picked

    @api.depends("payout_ids", "transaction_ids")
    def _compute_net_amount(self):
        for wizard in self:
            payouts = wizard.payout_ids
            if wizard.is_manual:
                net = sum(wizard.transaction_ids.mapped("net"))
            else:
                net = sum(payouts.mapped("net_amount"))
            wizard.net_amount = net
            wizard.difference = sum(payouts.mapped("amount")) - net

    @api.depends("payout_ids", "transaction_ids")
    def _compute_charge_line_ids(self):
        for wizard in self:
            if wizard.is_manual:
                charges = wizard.transaction_ids.filtered(
                    lambda t: (
                        t.link_state == "to_book"
                        and const.PAYOUT_BOOKING.get(t.reporting_category) == "payment"
                    )
                )[: const.RECONCILE_WIZARD_MAX_CHARGES]
            else:
                charges = self.env["stripe.balance.transaction"].search(
                    [
                        ("payout_id", "in", wizard.payout_ids.ids),
                        ("link_state", "=", "to_book"),
                        (
                            "reporting_category",
                            "in",
                            utils.booking_categories("payment"),
                        ),
                    ],
                    order="stripe_created, id",
                    limit=const.RECONCILE_WIZARD_MAX_CHARGES,
                )
            wizard.charge_line_ids = [Command.clear()] + [
                Command.create({"transaction_id": transaction.id})
                for transaction in charges
            ]

    @api.depends(
        "payout_ids", "transaction_ids", "bank_journal_id", "keyless_payment_ids"
    )
    def _compute_blockers(self):
        for wizard in self:
            if wizard.is_keyless:
                blockers = wizard._keyless_blockers()
                wizard.blockers = "\n".join(blockers)
                wizard.can_confirm = not blockers
                continue
            blockers = []
            if wizard.is_manual:
                payout = wizard.payout_ids
                if payout.currency_id.compare_amounts(wizard.net_amount, payout.amount):
                    blockers.append(
                        _(
                            "The transactions picked add up to %(net)s, the payout is "
                            "%(amount)s: a difference of %(difference)s. Pick the "
                            "transactions it pays out (import them from Stripe if "
                            "they are missing).",
                            net=payout.currency_id.format(wizard.net_amount),
                            amount=payout.currency_id.format(payout.amount),
                            difference=payout.currency_id.format(wizard.difference),
                        )
                    )
            else:
                for payout in wizard.payout_ids:
                    if not payout.transactions_imported:
                        blockers.append(payout._stripe_import_blocker())
                    elif payout.currency_id.compare_amounts(
                        payout.net_amount, payout.amount
                    ):
                        blockers.append(payout._stripe_difference_message())
            if len(wizard.payout_ids.company_id) > 1:
                blockers.append(_("Reconcile the payouts of one company at a time."))
            reconciled = wizard.payout_ids.filtered(lambda p: p._stripe_is_reconciled())
            if reconciled:
                blockers.append(
                    _(
                        "Already reconciled: %s.",
                        ", ".join(reconciled.mapped("stripe_id")),
                    )
                )
            if not wizard.bank_journal_id:
                blockers.append(_("Choose the bank journal the payouts arrive in."))
            wizard.blockers = "\n".join(blockers)
            wizard.can_confirm = not blockers

    @api.depends(
        "payout_ids", "transaction_ids", "bank_journal_id", "keyless_payment_ids"
    )
    def _compute_summary(self):
        for wizard in self:
            wizard.summary = (
                wizard._keyless_summary() if wizard.is_keyless else wizard._summary()
            )

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
            # Fees are what the payments add up to beyond the payout; short of
            # it, nothing is (a blocker asks for the missing payments).
            wizard.keyless_fees = (
                max(total - wizard.payout_ids.amount, 0.0) if wizard.is_keyless else 0.0
            )

    # === ACTION METHODS === #

    def action_confirm(self):
        """Reconcile the payouts; nothing is booked unless all of them add up."""
        self.ensure_one()
        if self.is_keyless:
            return self._confirm_keyless()
        if not self.can_confirm:
            raise UserError(self.blockers)
        if self.is_manual:
            self.payout_ids._stripe_assign_transactions(self.transaction_ids)
        invoices = {
            line.transaction_id.id: line.invoice_id
            for line in self.charge_line_ids
            if line.invoice_id
        }
        payouts = self.payout_ids
        payouts.bank_journal_id = self.bank_journal_id
        payouts.mapped(lambda payout: payout._stripe_reconcile(invoices))
        if len(payouts) == 1:
            return {
                "type": "ir.actions.act_window",
                "res_model": "stripe.payout",
                "res_id": payouts.id,
                "view_mode": "form",
            }
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_payout_action"
        )
        action["domain"] = [("id", "in", payouts.ids)]
        return action

    def action_import_transactions(self):
        """Import the account's recent transactions from Stripe (for a manual
        payout), then show the wizard again with them."""
        self.ensure_one()
        payout = self.payout_id
        if not payout:
            raise UserError(_("Import transactions for one payout at a time."))
        if not payout.account_id.has_api_key:
            raise UserError(
                _(
                    "The Stripe account %s has no API key.",
                    payout.account_id.display_name,
                )
            )
        payout._stripe_import_recent_transactions()
        return payout.action_open_reconcile_wizard()

    # === HELPERS === #

    def _keyless_blockers(self):
        """What stops a payout of an account without a key from being reconciled
        with the payments picked."""
        self.ensure_one()
        payout = self.payout_ids
        currency = payout.currency_id
        blockers = []
        if not self.keyless_payment_ids:
            blockers.append(
                _(
                    "This Stripe account has no secret key: Odoo cannot read "
                    "what payout %s pays out. Pick the Stripe payments it pays "
                    "out below.",
                    payout.stripe_id,
                )
            )
        elif currency.compare_amounts(self.keyless_total, payout.amount) < 0:
            blockers.append(
                _(
                    "The payments picked add up to %(total)s, less than the "
                    "payout of %(amount)s: pick the others it pays out.",
                    total=currency.format(self.keyless_total),
                    amount=currency.format(payout.amount),
                )
            )
        if not self.bank_journal_id:
            blockers.append(_("Choose the bank journal the payouts arrive in."))
        if payout._stripe_is_reconciled():
            blockers.append(_("Already reconciled: %s.", payout.stripe_id))
        return blockers

    def _keyless_summary(self):
        """What confirming books for a payout of an account without a key."""
        self.ensure_one()
        currency = self.payout_ids.currency_id
        items = [
            _(
                "%(count)s Stripe payment(s) of %(total)s, registered by the "
                "webhooks, are counted as paid out; nothing more is booked for "
                "them.",
                count=len(self.keyless_payment_ids),
                total=currency.format(self.keyless_total),
            ),
            _(
                "The rest, %s, is booked as Stripe's fees on the fee account.",
                currency.format(max(self.keyless_fees, 0.0)),
            ),
        ]
        if self.bank_journal_id:
            items.append(
                _(
                    "The payout amount moves from the Stripe journal to "
                    "%(journal)s; the bank statement line of that amount around "
                    "the arrival date is matched with it.",
                    journal=self.bank_journal_id.display_name,
                )
            )
        return Markup("<ul>%s</ul>") % Markup().join(
            Markup("<li>%s</li>") % item for item in items
        )

    def _confirm_keyless(self):
        """Without a key: the payments picked (and the fees, the rest) become the
        payout's transactions, then the payout is reconciled as any other."""
        if not self.can_confirm:
            raise UserError(self.blockers)
        payout = self.payout_ids
        payout._stripe_lock(nowait=True)
        transactions = self._keyless_transactions()
        (payout.transaction_ids - transactions).payout_id = False
        transactions.payout_id = payout
        payout.transactions_imported = True
        payout.bank_journal_id = self.bank_journal_id
        payout._stripe_update_breakdown()
        payout._stripe_reconcile()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stripe.payout",
            "res_id": payout.id,
            "view_mode": "form",
        }

    @api.model
    def _manual_candidates(self, payout):
        """Transactions a manual payout may pay out: the account's transactions in
        its currency, created before it, not paid out by another payout."""
        return self.env["stripe.balance.transaction"].search(
            [
                ("account_id", "=", payout.account_id.id),
                ("currency_id", "=", payout.currency_id.id),
                ("payout_id", "in", (False, payout._origin.id)),
                ("type", "!=", "payout"),
                (
                    "stripe_created",
                    "<=",
                    payout.stripe_created or fields.Datetime.now(),
                ),
            ],
            order="stripe_created, id",
        )

    def _summary(self):
        """What confirming books, in words, for the payouts (or the transactions
        picked for a manual payout)."""
        self.ensure_one()
        if not self.payout_ids:
            return False
        transaction_model = self.env["stripe.balance.transaction"]
        if self.is_manual:
            domain = [("id", "in", self.transaction_ids.ids)]
        else:
            domain = [
                ("payout_id", "in", self.payout_ids.ids),
                ("type", "!=", "payout"),
            ]
        counts = dict(
            transaction_model._read_group(
                [*domain, ("link_state", "=", "to_book")],
                ["reporting_category"],
                ["__count"],
            )
        )
        linked = transaction_model.search_count(
            [*domain, ("link_state", "=", "linked")]
        )
        by_booking = {}
        for category, count in counts.items():
            how = const.PAYOUT_BOOKING.get(category, "adjustment")
            by_booking[how] = by_booking.get(how, 0) + count
        items = [
            _(
                "%s transaction(s) are already in Odoo (payments, refunds, entries): "
                "nothing more is booked for them.",
                linked,
            )
        ]
        texts = {
            "payment": _(
                "%s charge(s) no payment mirrors yet: each pays the invoice picked "
                "below, else the invoice or order the payment rules find, else it is "
                "booked as a customer payment without invoice, to reconcile later "
                "from the customer's outstanding credits."
            ),
            "refund": _("%s refund(s): booked as outbound payments to the customer."),
            "refund_failure": _(
                "%s failed refund(s): the money came back; booked as inbound "
                "payments of the customer."
            ),
            "dispute": _(
                "%s dispute movement(s): booked on the disputed payments account."
            ),
            "fee": _("%s Stripe fee transaction(s): booked on the fee account."),
            "adjustment": _(
                "%s adjustment(s) and other movement(s): booked on the adjustment "
                "account."
            ),
        }
        for how, text in texts.items():
            if by_booking.get(how):
                items.append(text % by_booking[how])
        items.append(
            _(
                "Fees not booked yet: one entry on the fee account, one line per fee "
                "type."
            )
        )
        if self.bank_journal_id:
            items.append(
                _(
                    "The payout amount moves from the Stripe journal to %(journal)s "
                    "through the liquidity transfer account; the bank statement line "
                    "of that amount around the arrival date is matched with it, now "
                    "or when it is imported.",
                    journal=self.bank_journal_id.display_name,
                )
            )
        return Markup("<ul>%s</ul>") % Markup().join(
            Markup("<li>%s</li>") % item for item in items
        )

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
                    # The wizard's payout is a NewId while the form computes.
                    ("payout_id", "!=", payout._origin.id),
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
                    "stripe_source_id": payment.stripe_charge_id
                    or payment.stripe_object_id,
                    "stripe_charge_id": payment.stripe_charge_id,
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
                    # Dated as the payout, for the fees report.
                    "stripe_created": payout.stripe_created or fields.Datetime.now(),
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


class StripePayoutReconcileCharge(models.TransientModel):
    """A charge of a payout that no Odoo payment mirrors: a user may pick the
    invoice it pays; otherwise the payment rules decide."""

    _name = "stripe.payout.reconcile.charge"
    _description = "Charge to Match in a Payout"

    wizard_id = fields.Many2one(
        "stripe.payout.reconcile", required=True, ondelete="cascade"
    )
    transaction_id = fields.Many2one(
        "stripe.balance.transaction", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="wizard_id.company_id", store=True, precompute=True
    )
    currency_id = fields.Many2one(related="transaction_id.currency_id")
    amount = fields.Monetary(related="transaction_id.amount")
    stripe_charge_id = fields.Char(
        related="transaction_id.stripe_source_id", string="Charge"
    )
    stripe_created = fields.Datetime(related="transaction_id.stripe_created")
    description = fields.Char(compute="_compute_proposal")
    partner_id = fields.Many2one(
        "res.partner", string="Customer", compute="_compute_proposal"
    )
    proposal = fields.Char(
        string="Without a pick",
        compute="_compute_proposal",
        help="What the payment rules do with this charge when no invoice is picked.",
    )
    invoice_id = fields.Many2one(
        "account.move",
        domain="[('move_type', 'in', ('out_invoice', 'out_receipt')), "
        "('state', '=', 'posted'), ('payment_state', 'in', ('not_paid', 'partial')), "
        "('company_id', '=', company_id)]",
        help="The invoice this charge pays.",
    )

    # === COMPUTE METHODS === #

    @api.depends("transaction_id")
    def _compute_proposal(self):
        for line in self:
            transaction = line.transaction_id
            source = dict(transaction.source_data or {})
            # A proposal: the rules find, and neither read nor create anything.
            rules = self.env["stripe.payment.rules"]._stripe_bind(
                transaction.account_id, proposal=True
            )
            facts = rules._stripe_payment_facts(source) if source else None
            line.description = source.get("description") if source else False
            if not facts or not facts.amount:
                line.partner_id = False
                line.proposal = _("Customer payment without invoice")
                continue
            partner = rules._stripe_find_partner(facts, [])
            line.partner_id = partner
            currency = self.env["res.currency"].search(
                [("name", "=", facts.currency)], limit=1
            )
            amount = float(utils.from_minor_units(facts.amount, facts.currency))
            try:
                target = rules._stripe_find_payment_target(facts, amount, currency)
            except StripeMatchError:
                target = None
            if target and target._name in ("account.move", "sale.order"):
                line.proposal = _("Pays %s", target.display_name)
            else:
                line.proposal = _(
                    "Customer payment of %s without invoice",
                    partner.display_name if partner else _("an unknown customer"),
                )
