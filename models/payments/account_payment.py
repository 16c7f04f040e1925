from odoo import _, fields, models


class AccountPayment(models.Model):
    _inherit = "account.payment"

    stripe_account_id = fields.Many2one(
        "stripe.account", readonly=True, copy=False, index=True
    )
    stripe_object_id = fields.Char(
        readonly=True,
        copy=False,
        help="The PaymentIntent, charge or refund this payment mirrors. Odoo "
        "registers one payment per Stripe object.",
    )
    stripe_charge_id = fields.Char(readonly=True, copy=False, index="btree_not_null")
    stripe_exchange_move_id = fields.Many2one(
        "account.move",
        string="Stripe Exchange Difference",
        readonly=True,
        copy=False,
        help="The entry that brought the Stripe journal to what Stripe settled, when "
        "Stripe converted the payment at another rate than Odoo's.",
    )
    stripe_fee_move_id = fields.Many2one(
        "account.move",
        string="Stripe Fee Entry",
        readonly=True,
        copy=False,
        help="The entry that booked Stripe's fee for this payment.",
    )
    stripe_event_id = fields.Many2one(
        "stripe.event",
        compute="_compute_stripe_event_id",
        help="The Stripe event that registered this payment.",
    )

    _sql_constraints = [
        (
            "stripe_object_uniq",
            "UNIQUE(stripe_account_id, stripe_object_id)",
            "Odoo registers one payment per Stripe object and account.",
        ),
    ]

    # === COMPUTE METHODS === #

    def _compute_stripe_event_id(self):
        events = self.env["stripe.event"].search(
            [("payment_ids", "in", self.ids)], order="id"
        )
        for payment in self:
            payment.stripe_event_id = events.filtered(
                lambda e, p=payment: p in e.payment_ids
            )[:1]

    # === ACTION METHODS === #

    def action_stripe_open_event(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stripe.event",
            "res_id": self.stripe_event_id.id,
            "view_mode": "form",
        }

    # === BUSINESS METHODS === #

    def _stripe_find(self, account, object_ids, payment_type=None):
        """Return the payments registered for these Stripe objects (any of them).

        :param account: the ``stripe.account``.
        :param list object_ids: PaymentIntent, charge or refund ids (``None`` skipped).
        :param str payment_type: ``inbound`` (customer payments) or ``outbound``
            (refunds); both when not given.
        """
        object_ids = [object_id for object_id in object_ids if object_id]
        if not object_ids:
            return self.browse()
        domain = [
            ("stripe_account_id", "=", account.id),
            "|",
            ("stripe_object_id", "in", object_ids),
            ("stripe_charge_id", "in", object_ids),
        ]
        if payment_type:
            domain.append(("payment_type", "=", payment_type))
        payments = self.search(domain)
        if payment_type == "inbound":
            # Money a failed refund brought back is registered under its balance
            # transaction (``txn_``), with the charge's id: not the charge's payment.
            payments = payments.filtered(
                lambda payment: not (payment.stripe_object_id or "").startswith("txn_")
            )
        return payments

    def _stripe_find_provider_payment(self, account, intent_id):
        """The payment Odoo's own Stripe payment provider registered for a
        PaymentIntent (its transaction's provider reference), in the account's
        company.

        :param account: the ``stripe.account``.
        :param str intent_id: the PaymentIntent id, or ``None``.
        """
        if not intent_id:
            return self.browse()
        return self.search(
            [
                ("company_id", "=", account.company_id.id),
                ("payment_type", "=", "inbound"),
                ("state", "in", ("in_process", "paid")),
                ("payment_transaction_id.provider_reference", "=", intent_id),
            ],
            limit=1,
        )

    def _stripe_open_lines(self, moves=None):
        """The lines of this payment (and of ``moves``) still open on the
        payment's customer account: what ``reconcile()`` settles together."""
        self.ensure_one()
        return (self.move_id | (moves or self.env["account.move"])).line_ids.filtered(
            lambda line: (
                line.account_id == self.destination_account_id and not line.reconciled
            )
        )

    def _stripe_open_credit(self):
        """What this customer payment left unreconciled on the customer's account
        (an overpayment, a payment of an order not invoiced), in its currency."""
        self.ensure_one()
        return abs(sum(self._stripe_open_lines().mapped("amount_residual_currency")))

    def _stripe_reconciled_invoices(self):
        """The customer invoices and credit notes this payment is for or
        reconciled with: Odoo's ``reconciled_invoice_ids``, read through this
        payment's own partials.

        Odoo's field is computed with one query for a batch of payments,
        joining the partials on ``debit OR credit`` line, which no index
        answers (in the renewal storm it grew with every partial of the
        journal). The partials of these payments' lines are found by their
        indexed links instead.

        :return: the invoices of all these payments (none for no payment).
        """
        lines = self.move_id.line_ids.filtered(
            lambda line: line.account_type in ("asset_receivable", "liability_payable")
        )
        partials = lines.matched_debit_ids | lines.matched_credit_ids
        counterparts = (partials.debit_move_id | partials.credit_move_id) - lines
        return (self.invoice_ids | counterparts.move_id).filtered(
            lambda move: move.is_sale_document(include_receipts=True)
        )

    def _stripe_description(self, invoices=None):
        """One line for event messages: name, amount and what it paid.

        :param invoices: what it paid when the caller knows it (else
            ``_stripe_reconciled_invoices``).
        """
        self.ensure_one()
        paid = self._stripe_reconciled_invoices() if invoices is None else invoices
        return _(
            "%(payment)s of %(amount)s",
            payment=self.name,
            amount=self.currency_id.format(self.amount),
        ) + (
            _(" on %(invoices)s", invoices=", ".join(paid.mapped("name")))
            if paid
            else ""
        )
