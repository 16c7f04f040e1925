from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import LazyTranslate

from ... import const, utils

_lt = LazyTranslate(__name__)

# Stripe's dispute statuses and reasons, in words (docs: the Dispute object).
DISPUTE_STATUSES = {
    "warning_needs_response": _lt("Inquiry: respond to the bank"),
    "warning_under_review": _lt("Inquiry under review"),
    "warning_closed": _lt("Inquiry closed"),
    "needs_response": _lt("Needs your response"),
    "under_review": _lt("Under review by the bank"),
    "won": _lt("Won"),
    "lost": _lt("Lost"),
    "prevented": _lt("Prevented"),
}
DISPUTE_REASONS = {
    "bank_cannot_process": _lt("The bank cannot process it"),
    "check_returned": _lt("Check returned"),
    "credit_not_processed": _lt("Refund not processed"),
    "customer_initiated": _lt("Initiated by the customer"),
    "debit_not_authorized": _lt("Debit not authorized"),
    "duplicate": _lt("Duplicate payment"),
    "fraudulent": _lt("Fraudulent: the cardholder did not make it"),
    "general": _lt("General"),
    "incorrect_account_details": _lt("Incorrect account details"),
    "insufficient_funds": _lt("Insufficient funds"),
    "noncompliant": _lt("Non-compliant with the network's rules"),
    "product_not_received": _lt("Product not received"),
    "product_unacceptable": _lt("Product unacceptable"),
    "subscription_canceled": _lt("Subscription canceled"),
    "unrecognized": _lt("Payment not recognized"),
}
# The statuses that wait for the merchant's evidence.
DISPUTE_RESPONSE_STATUSES = ("needs_response", "warning_needs_response")


class StripeDispute(models.Model):
    """A Stripe dispute (chargeback) and what Odoo booked for each of its steps.

    Stripe moves money with balance transactions embedded in the dispute object: a
    withdrawal (disputed amount and dispute fee out) and, if the dispute is won, a
    reinstatement (amount, and usually the fee, back). Each one is booked once,
    whatever event carries it and in whatever order events arrive; a lost dispute
    then books the loss once."""

    _name = "stripe.dispute"
    _description = "Stripe Dispute"
    _inherit = ["stripe.binding.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "stripe_created desc, id desc"
    _rec_name = "stripe_id"

    stripe_id = fields.Char(string="Dispute ID")
    stripe_charge_id = fields.Char(readonly=True, index=True)
    payment_id = fields.Many2one(
        "account.payment", string="Disputed Payment", readonly=True, index=True
    )
    invoice_ids = fields.Many2many(
        "account.move", string="Invoices", compute="_compute_invoice_ids"
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    amount = fields.Monetary(readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    reason = fields.Char(string="Reason Code", readonly=True)
    reason_label = fields.Char(string="Reason", compute="_compute_labels")
    status = fields.Char(string="Stripe Status Code", readonly=True, tracking=True)
    status_label = fields.Char(string="Stripe Status", compute="_compute_labels")
    evidence_due_by = fields.Datetime(
        string="Respond By",
        readonly=True,
        help="Stripe's deadline for the evidence (evidence_details.due_by): "
        "respond in Stripe's dashboard before then, or the dispute is lost.",
    )
    needs_response = fields.Boolean(compute="_compute_labels")
    fee = fields.Monetary(
        string="Dispute Fee",
        currency_field="fee_currency_id",
        readonly=True,
        help="What Stripe charged for the dispute (the fee of its withdrawal), in "
        "the currency of the Stripe balance.",
    )
    fee_currency_id = fields.Many2one("res.currency", readonly=True)
    dashboard_url = fields.Char(
        string="Dispute in Stripe", compute="_compute_dashboard_url"
    )
    stripe_created = fields.Datetime(string="Opened On", readonly=True)
    status_updated = fields.Datetime(readonly=True)
    state = fields.Selection(
        [
            ("open", "Open"),
            ("withdrawn", "Funds Withdrawn"),
            ("won", "Won"),
            ("lost", "Lost"),
        ],
        default="open",
        required=True,
        readonly=True,
        tracking=True,
    )
    withdrawal_transaction = fields.Char(readonly=True, copy=False)
    withdrawal_move_id = fields.Many2one("account.move", readonly=True, copy=False)
    reinstatement_transaction = fields.Char(readonly=True, copy=False)
    reinstatement_move_id = fields.Many2one("account.move", readonly=True, copy=False)
    loss_move_ids = fields.Many2many(
        "account.move",
        "stripe_dispute_loss_move_rel",
        string="Loss Entries",
        readonly=True,
        copy=False,
    )

    # === COMPUTE METHODS === #

    @api.depends("payment_id")
    def _compute_invoice_ids(self):
        for dispute in self:
            dispute.invoice_ids = dispute.payment_id.reconciled_invoice_ids.filtered(
                lambda move: move.move_type in const.CUSTOMER_INVOICE_TYPES
            )

    @api.depends("reason", "status")
    def _compute_labels(self):
        for dispute in self:
            reason, status = (
                DISPUTE_REASONS.get(dispute.reason),
                DISPUTE_STATUSES.get(dispute.status),
            )
            dispute.reason_label = (
                self.env._(reason) if reason else dispute.reason or False
            )
            dispute.status_label = (
                self.env._(status) if status else dispute.status or False
            )
            dispute.needs_response = dispute.status in DISPUTE_RESPONSE_STATUSES

    @api.depends("stripe_id", "account_id.mode")
    def _compute_dashboard_url(self):
        for dispute in self:
            base = const.STRIPE_DASHBOARD_URL + (
                "/test" if dispute.account_id.mode == "test" else ""
            )
            dispute.dashboard_url = (
                f"{base}/disputes/{dispute.stripe_id}" if dispute.stripe_id else False
            )

    # === ACTION METHODS === #

    def action_open_in_stripe(self):
        """Open the dispute in Stripe's dashboard, where the evidence is sent."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": self.dashboard_url,
            "target": "new",
        }

    # === BUSINESS METHODS === #

    @api.model
    def _stripe_apply_snapshot(self, account, data, seen_at):
        """Bring the dispute up to date with a Stripe snapshot of it.

        :param account: the ``stripe.account``.
        :param dict data: the dispute object of an event.
        :param datetime seen_at: the event's ``created``; an older snapshot never
            moves the Stripe status back.
        :return: the dispute and what was booked now.
        """
        payment_model = self.env["account.payment"]
        payment = payment_model._stripe_find(
            account,
            [data.get("payment_intent"), utils.object_id(data.get("charge"))],
            payment_type="inbound",
        )[:1] or payment_model._stripe_find_provider_payment(
            account, utils.object_id(data.get("payment_intent"))
        )
        dispute = self.search(
            [("account_id", "=", account.id), ("stripe_id", "=", data["id"])]
        )
        if not dispute:
            currency = self.env["res.currency"].search(
                [("name", "=", (data.get("currency") or "").upper())], limit=1
            )
            dispute = self.create(
                {
                    "stripe_id": data["id"],
                    "account_id": account.id,
                    "stripe_charge_id": utils.object_id(data.get("charge")),
                    "amount": float(
                        utils.from_minor_units(data.get("amount"), data.get("currency"))
                    ),
                    "currency_id": (currency or account.currency_id).id,
                    "reason": data.get("reason"),
                    "stripe_created": utils.timestamp_to_datetime(data.get("created")),
                }
            )
        if payment and not dispute.payment_id:
            # The money moves whether or not Odoo knows the payment (made before
            # Odoo was connected, say): the dispute is booked anyway, and linked to
            # the payment and its invoice as soon as Odoo has them.
            dispute.write(
                {"payment_id": payment.id, "partner_id": payment.partner_id.id}
            )
            if dispute.state == "withdrawn":
                dispute._stripe_notify_withdrawal()
        if not dispute.status_updated or seen_at >= dispute.status_updated:
            due_by = utils.timestamp_to_datetime(
                utils.get_path(data, "evidence_details", "due_by")
            )
            dispute.write(
                {
                    "status": data.get("status"),
                    "status_updated": seen_at,
                    "evidence_due_by": due_by or dispute.evidence_due_by,
                }
            )
            dispute._stripe_ask_for_response()
        booked = dispute._stripe_book_transactions(
            data.get("balance_transactions") or []
        )
        if dispute.status == "lost" and dispute.state == "withdrawn":
            booked |= dispute._stripe_book_loss()
        return dispute, booked

    def _stripe_book_transactions(self, transactions):
        """Book the withdrawal and reinstatement the snapshot shows, once each."""
        self.ensure_one()
        booked = self.env["account.move"]
        for transaction in sorted(transactions, key=lambda t: t.get("created") or 0):
            if not isinstance(transaction, dict):
                continue
            withdrawal = transaction.get("reporting_category") == "dispute" or (
                transaction.get("reporting_category") != "dispute_reversal"
                and transaction.get("amount", 0) < 0
            )
            field = (
                "withdrawal_transaction" if withdrawal else "reinstatement_transaction"
            )
            if self[field]:
                continue
            # A payout reconciled before this event may have booked it already.
            move = self.env["stripe.balance.transaction"].search(
                [
                    ("account_id", "=", self.account_id.id),
                    ("stripe_id", "=", transaction.get("id")),
                    ("move_id", "!=", False),
                ],
                limit=1,
            ).move_id or self._stripe_book_transaction(transaction, withdrawal)
            if withdrawal:
                fee_currency = self.env["res.currency"].search(
                    [("name", "=", (transaction.get("currency") or "").upper())],
                    limit=1,
                )
                self.write(
                    {
                        "withdrawal_transaction": transaction["id"],
                        "withdrawal_move_id": move.id,
                        "state": "withdrawn" if self.state == "open" else self.state,
                        "fee": float(
                            utils.from_minor_units(
                                transaction.get("fee") or 0, transaction.get("currency")
                            )
                        ),
                        "fee_currency_id": fee_currency.id,
                    }
                )
                self._stripe_notify_withdrawal()
            else:
                self.write(
                    {
                        "reinstatement_transaction": transaction["id"],
                        "reinstatement_move_id": move.id,
                        "state": "won",
                    }
                )
                message = _(
                    "Stripe dispute %(dispute)s won: the funds are back in Stripe "
                    "(%(move)s).",
                    dispute=self.stripe_id,
                    move=move.name,
                )
                for document in [self, *self.invoice_ids]:
                    document.message_post(body=message)
                self._stripe_close_activities()
            booked |= move
        return booked

    def _stripe_book_transaction(self, transaction, withdrawal):
        """Move the disputed amount between the Stripe balance and the disputed
        payments account, and the dispute fee (or its refund) to the fee account."""
        account = self.account_id
        if not account.dispute_account_id:
            raise UserError(
                _(
                    "Set a disputed payments account on %s to book disputes.",
                    account.display_name,
                )
            )
        currency_code = transaction.get("currency")
        lines = [
            {
                "account_id": account.dispute_account_id.id,
                "amount": -utils.from_minor_units(
                    transaction.get("amount"), currency_code
                ),
                "name": _("Disputed payment %s", self.stripe_charge_id),
                "partner_id": self.partner_id.id,
            }
        ]
        if transaction.get("fee"):
            if not account.fee_account_id:
                raise UserError(
                    _(
                        "Set a fee account on %s to book Stripe fees.",
                        account.display_name,
                    )
                )
            lines.append(
                {
                    "account_id": account.fee_account_id.id,
                    "amount": utils.from_minor_units(transaction["fee"], currency_code),
                    "name": _("Dispute fee %s", self.stripe_id)
                    if withdrawal
                    else _("Dispute fee refund %s", self.stripe_id),
                }
            )
        return account._stripe_post_entry(
            date=utils.timestamp_to_datetime(transaction.get("created"))
            or fields.Date.context_today(self),
            ref=_(
                "Stripe dispute %(dispute)s: %(step)s",
                dispute=self.stripe_id,
                step=_("funds withdrawn") if withdrawal else _("funds reinstated"),
            ),
            lines=lines,
            currency_code=currency_code,
        )

    def _stripe_notify_withdrawal(self):
        """Tell the accountant on the invoice (chatter); the to-do is on the
        dispute (``_stripe_ask_for_response``)."""
        message = _(
            "Stripe dispute %(dispute)s (%(reason)s): %(amount)s withdrawn from the "
            "Stripe balance pending the outcome.",
            dispute=self.stripe_id,
            reason=self.reason_label or _("no reason given"),
            amount=self.currency_id.format(self.amount),
        )
        for document in self.invoice_ids or self.payment_id:
            document.message_post(body=message)
        self.message_post(body=message)

    def _stripe_ask_for_response(self):
        """While the dispute needs a response, its responsible user has a to-do on
        it, due on Stripe's evidence deadline; done once it no longer does."""
        self.ensure_one()
        if not self.needs_response:
            self._stripe_close_activities()
            return
        deadline = self.evidence_due_by
        note = _(
            "Respond to dispute %(dispute)s (%(reason)s, %(amount)s) in Stripe's "
            "dashboard by %(deadline)s, or it is lost: %(url)s",
            dispute=self.stripe_id,
            reason=self.reason_label or _("no reason given"),
            amount=self.currency_id.format(self.amount),
            deadline=fields.Datetime.to_string(deadline) if deadline else _("soon"),
            url=self.dashboard_url,
        )
        activity = self._stripe_schedule_activity(
            _("Respond to Stripe dispute %s", self.stripe_id), note
        )
        if activity and deadline:
            activity.date_deadline = deadline.date()

    def _stripe_book_loss(self):
        """A lost dispute: the withdrawn amount is gone for good.

        Credit note policy: a credit note on the invoice for the disputed amount;
        the disputed payments account is cleared against the customer's
        receivable, reconciled with the credit note. Write-off policy (or no
        invoice): the disputed payments account is cleared against the loss
        account.

        :return: the entries booked.
        """
        self.ensure_one()
        account = self.account_id
        withdrawal = self.withdrawal_move_id.line_ids.filtered(
            lambda line: line.account_id == account.dispute_account_id
        )
        if len(withdrawal) > 1:  # a payout's entry: the line of this customer
            withdrawal = (
                withdrawal.filtered(lambda line: line.partner_id == self.partner_id)
                or withdrawal
            )
        date = fields.Date.context_today(self)
        invoice = self.invoice_ids[:1]
        credit_note = self.env["account.move"]
        if account.dispute_loss_policy == "credit_note" and invoice:
            credit_note = self._stripe_loss_credit_note(invoice, date)
            counterpart = credit_note.line_ids.filtered(
                lambda line: line.display_type == "payment_term"
            ).account_id
        else:
            counterpart = account.dispute_loss_account_id or account.fee_account_id
        clearing = self._stripe_clear_disputed_account(withdrawal, counterpart, date)
        if account.dispute_account_id.reconcile:
            (withdrawal | clearing.line_ids).filtered(
                lambda line: (
                    line.account_id == account.dispute_account_id
                    and not line.reconciled
                )
            ).reconcile()
        if credit_note:
            (credit_note.line_ids | clearing.line_ids).filtered(
                lambda line: line.account_id == counterpart and not line.reconciled
            ).reconcile()
        moves = credit_note | clearing
        self.write({"state": "lost", "loss_move_ids": [Command.set(moves.ids)]})
        message = _(
            "Stripe dispute %(dispute)s lost: %(amount)s booked as a loss (%(moves)s).",
            dispute=self.stripe_id,
            amount=self.currency_id.format(self.amount),
            moves=", ".join(moves.mapped("name")),
        )
        for document in [self, *self.invoice_ids]:
            document.message_post(body=message)
        self._stripe_close_activities()
        return moves

    def _stripe_close_activities(self):
        """Mark done the dispute's to-dos (and those earlier versions scheduled on
        its invoice or payment)."""
        (
            self.activity_ids
            | self.invoice_ids.activity_ids
            | self.payment_id.activity_ids
        ).filtered(
            lambda activity: self.stripe_id in (activity.summary or "")
        ).action_done()

    def _stripe_clear_disputed_account(self, withdrawal, counterpart, date):
        """Post a miscellaneous entry moving the withdrawn amount from the disputed
        payments account to ``counterpart`` (receivable or loss account)."""
        misc_journal = self.env["account.journal"].search(
            [
                *self.env["account.journal"]._check_company_domain(self.company_id),
                ("type", "=", "general"),
            ],
            limit=1,
        )
        line_vals = {
            "name": _("Lost dispute %s", self.stripe_id),
            "partner_id": self.partner_id.id,
            "currency_id": withdrawal.currency_id[:1].id,
        }
        amount_currency = sum(withdrawal.mapped("amount_currency"))
        balance = sum(withdrawal.mapped("balance"))
        # A payout's adjustments entry books the withdrawals of all its disputes
        # (one line per customer): only this dispute's transaction is cleared.
        transactions = self.env["stripe.balance.transaction"].search(
            [
                ("account_id", "=", self.account_id.id),
                ("move_id", "=", self.withdrawal_move_id.id),
            ]
        )
        own = transactions.filtered(
            lambda transaction: transaction.stripe_id == self.withdrawal_transaction
        )
        if own and len(transactions) > 1 and amount_currency:
            own_amount = -own.amount
            balance = self.company_id.currency_id.round(
                balance * own_amount / amount_currency
            )
            amount_currency = own_amount
        clearing = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": misc_journal.id,
                "date": date,
                "ref": _("Stripe dispute %s lost", self.stripe_id),
                "line_ids": [
                    Command.create(
                        {
                            **line_vals,
                            "account_id": counterpart.id,
                            "amount_currency": amount_currency,
                            "balance": balance,
                        }
                    ),
                    Command.create(
                        {
                            **line_vals,
                            "account_id": self.account_id.dispute_account_id.id,
                            "amount_currency": -amount_currency,
                            "balance": -balance,
                        }
                    ),
                ],
            }
        )
        clearing.action_post()
        return clearing

    def _stripe_loss_credit_note(self, invoice, date):
        """A posted credit note on the invoice for the disputed amount: its
        reversal when all of it is lost, else its lines pro rata."""
        amount = self.currency_id._convert(
            self.amount, invoice.currency_id, invoice.company_id, date
        )
        return invoice._stripe_create_credit_note(
            amount, date, _("Stripe dispute %s lost", self.stripe_id)
        )
