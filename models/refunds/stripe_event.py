from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ... import const, utils
from ...exceptions import StripeNothingToDo, StripeNotYet
from ...tools.facts import PaymentFacts


class StripeEvent(models.Model):
    """Refund events: a Stripe refund becomes a credit note and an outbound payment.

    The refund itself is the unit of work: whichever event reports it
    (``refund.created``, ``refund.updated``, ``refund.failed`` or the legacy
    ``charge.refunded``), it is booked once when it has succeeded, and reversed
    once if it fails or is cancelled afterwards."""

    _inherit = "stripe.event"

    stripe_is_refund = fields.Boolean(
        compute="_compute_stripe_is_refund",
        help="The event reports a refund: the invoice to pick is one the customer "
        "paid.",
    )
    # A refund gives back money paid: it picks among paid invoices.
    invoice_id = fields.Many2one(
        domain="[('move_type', 'in', ('out_invoice', 'out_receipt')), "
        "('state', '=', 'posted'), ('company_id', '=', company_id), "
        "('payment_state', 'in', ('paid', 'in_payment', 'partial') "
        "if stripe_is_refund else ('not_paid', 'partial'))]",
    )

    # === COMPUTE METHODS === #

    @api.depends("type")
    def _compute_stripe_is_refund(self):
        refund_types = set(self._stripe_refund_event_types())
        for event in self:
            event.stripe_is_refund = event.type in refund_types

    # === HANDLERS === #

    @api.model
    def _stripe_refund_event_types(self):
        """The event types handled by the refund handlers."""
        return [
            event_type
            for event_type, handler in self._get_event_handlers().items()
            if handler in ("_handle_refund", "_handle_charge_refunded")
        ]

    def _handle_refund(self):
        return self._stripe_process_refund(self._get_object())

    def _handle_charge_refunded(self):
        """``charge.refunded``: book each refund of the charge.

        API versions before 2022-11-15 embed the refunds in the charge; newer ones
        do not, so they are read through the SDK. Without an API key, the event
        waits for the ``refund.*`` events to book what the charge says was refunded.
        """
        charge = self._get_object()
        refunds = utils.get_path(charge, "refunds", "data")
        if refunds is None and self.account_id.has_api_key:
            refunds = self._stripe_list_refunds(charge["id"])
        if refunds is None:
            return self._stripe_check_refunded_total(charge)
        messages = []
        for refund in sorted(refunds, key=lambda r: r.get("created") or 0):
            try:
                messages.append(self._stripe_process_refund(refund))
            except StripeNothingToDo as outcome:
                messages.append(str(outcome))
        return " ".join(messages) or _("The charge has no refund.")

    # === REFUND PROCESSING === #

    def _stripe_process_refund(self, refund):
        """Book a succeeded refund once; reverse it once if it fails afterwards.

        :param dict refund: the Stripe refund.
        :return: what was done.
        :raise StripeNotYet: the refunded payment is not in Odoo yet.
        """
        account = self.account_id
        status = refund.get("status")
        booked = self.env["account.payment"]._stripe_find(
            account, [refund["id"]], payment_type="outbound"
        )
        if status in ("failed", "canceled"):
            if booked:
                return self._stripe_reverse_refund(booked, refund)
            raise StripeNothingToDo(
                _(
                    "Refund %(refund)s is %(status)s; nothing was booked for it.",
                    refund=refund["id"],
                    status=status,
                )
            )
        if status != "succeeded":
            raise StripeNothingToDo(
                _(
                    "Refund %(refund)s is %(status)s; it is booked when it succeeds.",
                    refund=refund["id"],
                    status=status,
                )
            )
        if booked:
            completed = self._stripe_complete_refund(booked[:1], refund)
            self._link_documents(
                payments=booked, moves=booked._stripe_reconciled_invoices()
            )
            return completed or _(
                "Refund already booked: %s.", booked[0]._stripe_description()
            )
        failure = self._stripe_refund_failure_reported(refund)
        if failure:
            failure_event, failure_status = failure
            raise StripeNothingToDo(
                _(
                    "Refund %(refund)s is %(status)s according to event %(event)s; "
                    "nothing was booked for it.",
                    refund=refund["id"],
                    status=failure_status,
                    event=failure_event.stripe_id,
                )
            )
        return self._stripe_book_refund(refund)

    def _stripe_refund_failure_reported(self, refund):
        """A failure or cancellation another event reported for this refund.

        Events are processed in Stripe's order, but a refund whose payment was not
        in Odoo yet waits; meanwhile its ``refund.failed`` may have been processed
        (with nothing to reverse). The refund object in the waiting event still
        says it succeeded: the stored events tell the rest.

        :return: ``(stripe.event, status)`` or ``None``.
        """
        events = self.search(
            [
                ("account_id", "=", self.account_id.id),
                ("stripe_object_id", "=", refund["id"]),
                ("type", "in", ("refund.failed", "refund.updated")),
            ],
            order="stripe_created desc, id desc",
        ).filtered(lambda event: event.id != self._origin.id)
        for event in events:
            status = event._get_object().get("status")
            if status in ("failed", "canceled"):
                return event, status
        return None

    def _stripe_book_refund(self, refund):
        account = self.account_id
        balance_transaction = self._stripe_refund_balance_transaction(refund)
        self._stripe_check_settlement(balance_transaction)
        original, invoice = self._stripe_refunded_documents(refund)
        rules = self._stripe_payment_rules()
        if not original and not invoice:
            rules._stripe_check_not_provider_payment(
                PaymentFacts(payment_intent_id=refund.get("payment_intent"))
            )
            self._stripe_check_payment_is_coming(refund)
            raise StripeNotYet(
                _(
                    "Waiting for the payment %(payment)s this refund is for. If it "
                    "was paid before Odoo was connected to Stripe, pick its invoice "
                    "on this event and click Retry.",
                    payment=refund.get("payment_intent") or refund.get("charge"),
                )
            )
        currency = rules._stripe_get_currency(refund["currency"].upper())
        amount = float(utils.from_minor_units(refund["amount"], refund["currency"]))
        date = rules._stripe_payment_date(
            self._stripe_add_report_time(PaymentFacts(created=refund.get("created")))
        )
        # Registered like the payment it refunds: in the Stripe journal's currency
        # when that journal is kept in a third currency.
        pay_currency, pay_amount = account._stripe_payment_currency(
            currency, amount, balance_transaction, date
        )
        if original:
            self._stripe_check_refundable(original, pay_amount, pay_currency)
        stripe_vals = {
            "stripe_account_id": account.id,
            "stripe_object_id": refund["id"],
            "stripe_charge_id": refund.get("charge") or original.stripe_charge_id,
        }
        # What the original payment left as the customer's credit (an overpayment,
        # or a payment of an order without invoice) is refunded first; only the
        # rest takes back revenue with a credit note.
        excess = original._stripe_open_credit() if original else 0.0
        if original and original.currency_id != pay_currency:
            excess = original.currency_id._convert(
                excess, pay_currency, account.company_id, date
            )
        credited = pay_amount - min(excess, pay_amount)
        credit_amount = currency.round(
            amount * credited / pay_amount if pay_amount else 0.0
        )
        messages = []
        credit_note = self.env["account.move"]
        if invoice and not currency.is_zero(credit_amount):
            credit_note = self._stripe_create_credit_note(
                invoice, refund, credit_amount, currency, date
            )
            self._link_documents(moves=credit_note | invoice)
            messages.append(
                _(
                    "Credit note %(credit_note)s of %(amount)s on %(invoice)s.",
                    credit_note=credit_note.name,
                    amount=credit_note.currency_id.format(credit_note.amount_total),
                    invoice=invoice.name,
                )
            )
        payment = self._stripe_refund_payment(
            invoice.partner_id or original.partner_id,
            pay_amount,
            pay_currency,
            date,
            stripe_vals,
            reconcile_with=credit_note | original.move_id,
        )
        messages.append(
            _(
                "Refund payment %(payment)s of %(amount)s.",
                payment=payment.name,
                amount=pay_currency.format(pay_amount),
            )
        )
        if invoice:
            messages.append(self._stripe_invoice_due_text(invoice))
        self._link_documents(payments=payment)
        exchange_move, fee_move = self.account_id._stripe_book_settlement(
            payment,
            balance_transaction,
            fee_label=_("Stripe fee for refund %s", refund["id"]),
        )
        if exchange_move:
            self._link_documents(moves=exchange_move)
            messages.append(_("Stripe's conversion booked in %s.", exchange_move.name))
        if fee_move:
            self._link_documents(moves=fee_move)
            messages.append(_("Refund fee booked in %s.", fee_move.name))
        return " ".join(messages)

    @api.model
    def _stripe_invoice_due_text(self, invoice):
        """What is left to pay on an invoice after a refund, in words: a credit
        note on an invoice still open settles its unpaid part first, and the
        customer then owes what they were given back."""
        invoice.invalidate_recordset(["amount_residual", "payment_state"])
        if invoice.currency_id.is_zero(invoice.amount_residual):
            return _("Nothing is left to pay on %s.", invoice.name)
        return _(
            "%(invoice)s still has %(amount)s to pay.",
            invoice=invoice.name,
            amount=invoice.currency_id.format(invoice.amount_residual),
        )

    def _stripe_suggested_invoices(self):
        """A refund's likely invoices: the paid ones of the customer or of the
        refund's amount, those matching both first, the latest first.

        :return: ``account.move`` records, best first.
        """
        self.ensure_one()
        if not self.stripe_is_refund:
            return super()._stripe_suggested_invoices()
        return self._stripe_likely_invoices(
            [
                ("move_type", "in", ("out_invoice", "out_receipt")),
                ("state", "=", "posted"),
                ("company_id", "=", self.company_id.id),
                ("payment_state", "in", const.REFUNDABLE_PAYMENT_STATES),
            ],
            "amount_total",
            latest_first=True,
        )

    def _stripe_check_payment_is_coming(self, refund):
        """Fail at once a refund of a payment made before Odoo was connected.

        Only the API can tell when the charge was made; without a key the event
        waits, and its message says what to do.
        """
        account = self.account_id
        if not (account.has_api_key and refund.get("charge")):
            return
        charge, _error = account._stripe_read(
            _("charge %s", refund["charge"]), "charges", "retrieve", refund["charge"]
        )
        if not charge:
            return
        paid_on = utils.timestamp_to_datetime(charge.get("created"))
        if paid_on and paid_on < account.create_date:
            raise UserError(
                _(
                    "Refund of charge %(charge)s, paid on %(date)s, before Odoo was "
                    "connected to this Stripe account: Odoo does not know this "
                    "payment. Pick its invoice on this event and click Retry.",
                    charge=refund["charge"],
                    date=fields.Date.to_string(paid_on),
                )
            )

    def _stripe_check_refundable(self, original, amount, currency):
        """Refuse a refund larger than what is left of the payment."""
        refunded = self.env["account.payment"].search(
            [
                ("stripe_account_id", "=", original.stripe_account_id.id),
                ("stripe_charge_id", "=", original.stripe_charge_id),
                ("payment_type", "=", "outbound"),
                ("move_id.reversal_move_ids", "=", False),
            ]
        )
        left = original.amount - sum(refunded.mapped("amount"))
        if currency.compare_amounts(amount, left) > 0:
            raise UserError(
                _(
                    "Refund of %(amount)s is larger than what is left to refund on "
                    "%(payment)s: %(left)s.",
                    amount=currency.format(amount),
                    payment=original.name,
                    left=currency.format(left),
                )
            )

    def _stripe_create_credit_note(self, invoice, refund, amount, currency, date):
        """A posted credit note for the refunded amount: the invoice's reversal
        when all of it is refunded, else a partial credit note (see
        ``account.move._stripe_create_credit_note``)."""
        amount = currency._convert(
            amount, invoice.currency_id, invoice.company_id, date
        )
        return invoice._stripe_create_credit_note(
            amount,
            date,
            _("Stripe refund %s", refund["id"]),
            self._stripe_refund_line_vals(invoice),
        )

    def _stripe_refund_line_vals(self, invoice):
        """The single line of partial credit notes when the account names a refund
        product (its taxes when they are included in its price) or account;
        ``None`` otherwise: the invoice's lines are credited pro rata."""
        account = self.account_id
        vals = {"name": _("Refund of %s", invoice.name)}
        product = account.refund_product_id
        if product:
            taxes = product.taxes_id.filtered(
                lambda tax: tax.company_id == invoice.company_id and tax.price_include
            )
            return {
                **vals,
                "product_id": product.id,
                "tax_ids": [Command.set(taxes.ids)],
            }
        if account.refund_account_id:
            return {
                **vals,
                "account_id": account.refund_account_id.id,
                "tax_ids": [Command.clear()],
            }
        return None

    def _stripe_refund_payment(
        self,
        partner,
        amount,
        currency,
        date,
        stripe_vals,
        reconcile_with,
    ):
        """Post the outbound payment of a refund on the Stripe journal and reconcile
        it with what it refunds (the credit note, or the original payment when no
        invoice was paid) as far as that is still open.

        When the credit note could not stay open (posting it settled an unpaid
        part of the invoice, as Odoo does for a credit note of an open invoice),
        the payment stays on the customer's account: they owe what they were given
        back.
        """
        vals = self.account_id._stripe_payment_vals(
            "outbound", partner, amount, currency, date
        )
        vals.update(memo=stripe_vals["stripe_object_id"], **stripe_vals)
        payment = self.env["account.payment"].create(vals)
        payment.action_post()
        payment._stripe_open_lines(reconcile_with).reconcile()
        return payment

    def _stripe_refund_balance_transaction(self, refund):
        balance_transaction = refund.get("balance_transaction")
        if isinstance(balance_transaction, dict):
            return balance_transaction
        account = self.account_id
        if not (balance_transaction and account.has_api_key):
            return None
        return account._stripe_call(
            _("balance transaction %s", balance_transaction),
            "balance_transactions",
            "retrieve",
            balance_transaction,
        ).to_dict()

    def _stripe_reverse_refund(self, payment, refund):
        """A refund that failed or was cancelled after booking: the money is back
        in the Stripe balance, so the outbound payment and its credit note are
        reversed (Odoo's reversal, reconciled with the originals)."""
        if payment.move_id.reversal_move_ids:
            raise StripeNothingToDo(
                _("Refund %s was already reversed in Odoo.", refund["id"])
            )
        credit_notes = payment._stripe_reconciled_invoices().filtered(
            lambda move: move.move_type == "out_refund" and not move.reversal_move_ids
        )
        returned = self._stripe_refund_returned_by_payout(refund)
        if returned and not credit_notes:
            raise StripeNothingToDo(
                _(
                    "Refund %(refund)s came back with a payout, which booked it "
                    "(%(payment)s).",
                    refund=refund["id"],
                    payment=returned.name,
                )
            )
        date = fields.Date.context_today(self)
        reason = refund.get("failure_reason") or refund.get("status")
        ref = _(
            "Stripe refund %(refund)s %(status)s", refund=refund["id"], status=reason
        )
        if returned:
            # The money is back on the Stripe journal already (the payout's
            # payment): only the revenue is taken back, and the two payments settle.
            reversal = self.env["account.move"]
        else:
            reversal = payment.move_id._reverse_moves(
                [{"date": date, "ref": ref}], cancel=True
            )
            exchange_move = payment.stripe_exchange_move_id
            if exchange_move and not exchange_move.reversal_move_ids:
                reversal |= exchange_move._reverse_moves(
                    [{"date": date, "ref": ref}], cancel=True
                )
        if credit_notes:
            reversal |= credit_notes._reverse_moves(
                [
                    {"date": date, "ref": ref, "invoice_date": date}
                    for _cn in credit_notes
                ],
                cancel=True,
            )
        if returned:
            payment._stripe_open_lines(returned.move_id).reconcile()
        message = _(
            "Stripe refund %(refund)s %(status)s after it was booked: reversed by "
            "%(moves)s.",
            refund=refund["id"],
            status=refund.get("status"),
            moves=", ".join(reversal.mapped("name")) or returned.name,
        )
        for document in [*credit_notes, payment]:
            document.message_post(body=message)
        self._link_documents(payments=payment, moves=credit_notes | reversal)
        return message

    def _stripe_refunded_documents(self, refund):
        """The payment a refund gives money back from (Odoo's registration of its
        charge or PaymentIntent) and the invoice it takes revenue back from (one a
        user picked on this event, else the one that payment paid).

        :return: ``(account.payment, account.move)``, either possibly empty.
        """
        original = self.env["account.payment"]._stripe_find(
            self.account_id,
            [refund.get("payment_intent"), refund.get("charge")],
            payment_type="inbound",
        )[:1]
        invoice = (
            self.invoice_id
            or original._stripe_reconciled_invoices().filtered(
                lambda move: move.move_type in const.CUSTOMER_INVOICE_TYPES
            )[:1]
        )
        return original, invoice

    def _stripe_refund_returned_by_payout(self, refund):
        """The inbound payment a payout booked for the refund's failure (its
        ``refund_failure`` balance transaction), if a payout came first."""
        return (
            self.env["stripe.balance.transaction"]
            .search(
                [
                    ("account_id", "=", self.account_id.id),
                    ("stripe_source_id", "=", refund["id"]),
                    ("reporting_category", "=", "refund_failure"),
                    ("payment_id", "!=", False),
                ],
                limit=1,
            )
            .payment_id
        )

    def _stripe_complete_refund(self, payment, refund):
        """Give a refund that a payout booked first the credit note it lacks.

        A payout reconciled before the refund's webhook books the money as an
        outbound payment on the customer's account. Once the invoice is known (the
        refunded payment's, or one a user picked on this event), what the refunded
        payment left as the customer's credit is used first, and the rest becomes a
        credit note reconciled with the refund payment. Done once: a refund
        payment a processed event already handled is left alone.

        :return: what was done, or ``None`` when there was nothing to complete.
        """
        undone = (
            refund.get("status") != "succeeded"
            or payment.move_id.reversal_move_ids
            or self._stripe_refund_returned_by_payout(refund)
            or self._stripe_refund_failure_reported(refund)
        )
        if (
            undone
            or payment._stripe_reconciled_invoices()
            or self.search_count(
                [
                    ("payment_ids", "in", payment.ids),
                    ("type", "in", self._stripe_refund_event_types()),
                    ("state", "=", "done"),
                    ("id", "!=", self._origin.id),
                ],
                limit=1,
            )
        ):
            return None

        if not payment._stripe_open_lines():
            return None
        original, invoice = self._stripe_refunded_documents(refund)
        if not invoice:
            return None
        if original and original._stripe_open_lines():
            payment._stripe_open_lines(original.move_id).reconcile()
        currency = payment.currency_id
        left = abs(sum(payment._stripe_open_lines().mapped("amount_residual_currency")))
        if currency.is_zero(left):
            return _(
                "Refund %(payment)s settled with the customer's credit left by "
                "%(original)s.",
                payment=payment.name,
                original=original.name,
            )
        credit_note = self._stripe_create_credit_note(
            invoice, refund, left, currency, payment.date
        )
        payment._stripe_open_lines(credit_note).reconcile()
        self._link_documents(moves=credit_note | invoice)
        return _(
            "Refund %(payment)s, booked with its payout, completed with credit note "
            "%(credit_note)s of %(amount)s on %(invoice)s.",
            payment=payment.name,
            credit_note=credit_note.name,
            amount=credit_note.currency_id.format(credit_note.amount_total),
            invoice=invoice.name,
        )

    def _stripe_list_refunds(self, charge_id):
        return [
            refund
            for page in self.account_id._stripe_pages(
                _("the refunds of %s", charge_id), "refunds", {"charge": charge_id}
            )
            for refund in page
        ]

    def _stripe_check_refunded_total(self, charge):
        """Without refund details, check that the ``refund.*`` events booked all
        that the charge says was refunded; wait for them otherwise."""
        refunded = self.env["account.payment"].search(
            [
                ("stripe_account_id", "=", self.account_id.id),
                ("stripe_charge_id", "=", charge["id"]),
                ("payment_type", "=", "outbound"),
                ("move_id.reversal_move_ids", "=", False),
            ]
        )
        booked = sum(
            utils.to_minor_units(payment.amount, charge["currency"])
            for payment in refunded
        )
        if booked >= (charge.get("amount_refunded") or 0):
            self._link_documents(payments=refunded)
            return _("All refunds of %s are booked.", charge["id"])
        raise StripeNotYet(
            _(
                "Charge %(charge)s reports refunds Odoo has not booked yet; they are "
                "booked from the refund.* events (or set an API key to read them).",
                charge=charge["id"],
            )
        )
