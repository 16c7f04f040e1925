import logging

import stripe

from odoo import Command, _, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import email_normalize, float_compare

from .. import const, utils
from ..exceptions import StripeEventIgnored, StripeEventRetryLater, StripeMatchError

_logger = logging.getLogger(__name__)

CUSTOMER_INVOICE_TYPES = ("out_invoice", "out_receipt")


class StripeEvent(models.Model):
    """Payment events: a Stripe payment pays the right invoice or sale order, once."""

    _inherit = "stripe.event"

    invoice_id = fields.Many2one(
        "account.move",
        string="Invoice to Pay",
        check_company=True,
        domain="[('move_type', 'in', ('out_invoice', 'out_receipt')), "
        "('state', '=', 'posted'), ('company_id', '=', company_id)]",
        help="When Odoo cannot tell which invoice a payment is for, pick it here "
        "and click Retry.",
    )
    sale_order_id = fields.Many2one(
        "sale.order",
        string="Order to Pay",
        check_company=True,
        domain="[('company_id', '=', company_id), ('state', '!=', 'cancel')]",
        help="When Odoo cannot tell which order a payment is for, pick it here "
        "and click Retry.",
    )

    # === HANDLERS === #

    def _handle_payment_intent_succeeded(self):
        intent = self._get_object()
        facts = utils.payment_facts(intent)
        try:
            with self.env.cr.savepoint():
                return self._stripe_process_payment(facts)
        except StripeMatchError as error:
            if utils.metadata_references(facts["metadata"], const.METADATA_KEYS):
                raise  # the integrator named a document: never guess another one
            return self._stripe_process_checkout_intent(intent, error)

    def _handle_charge_succeeded(self):
        """The fallback for charges made without a PaymentIntent (older
        integrations); a charge of a PaymentIntent is booked from
        ``payment_intent.succeeded``, which carries the integrator's metadata
        (Stripe does not copy it onto the charge). An authorized charge is
        booked from its ``charge.captured`` event."""
        charge = self._get_object()
        if charge.get("captured") is False and charge.get("paid") is not False:
            raise StripeEventIgnored(
                _(
                    "The charge is authorized but not captured; it is booked from "
                    "its charge.captured event."
                )
            )
        return self._stripe_process_charge(charge)

    def _handle_charge_captured(self):
        """An authorized charge made without a PaymentIntent is captured: book it
        (its ``charge.succeeded`` said ``captured: false``)."""
        return self._stripe_process_charge(self._get_object())

    def _stripe_process_charge(self, charge):
        """Book a succeeded, captured charge made without a PaymentIntent."""
        if charge.get("paid") is False or charge.get("status") == "failed":
            raise StripeEventIgnored(_("The charge did not succeed."))
        if charge.get("captured") is False:
            raise StripeEventIgnored(_("The charge is not captured."))
        intent = utils.object_id(charge.get("payment_intent"))
        if intent:
            raise StripeEventIgnored(
                _(
                    "The charge belongs to PaymentIntent %s; it is booked from its "
                    "payment_intent.succeeded event.",
                    intent,
                )
            )
        return self._stripe_process_payment(utils.payment_facts(charge))

    def _handle_checkout_session_completed(self):
        session = self._get_object()
        status = session.get("payment_status")
        if not utils.object_id(session.get("payment_intent")):
            # Subscription (or setup) mode: the money comes through the Stripe
            # invoice's own PaymentIntent, booked from its payment_intent event.
            raise StripeEventIgnored(
                _(
                    "The Checkout Session (mode %s) has no PaymentIntent of its own; "
                    "its payment is booked from its payment_intent.succeeded event.",
                    session.get("mode"),
                )
            )
        if status == "no_payment_required":
            raise StripeEventIgnored(_("The Checkout Session required no payment."))
        if status != "paid":
            raise StripeEventIgnored(
                _(
                    "The Checkout Session is not paid yet (payment status %s); its "
                    "checkout.session.async_payment_succeeded event will book it.",
                    status,
                )
            )
        message = self._stripe_process_payment(utils.payment_facts(session))
        self._stripe_wake_intent_events(utils.object_id(session.get("payment_intent")))
        return message

    def _stripe_process_checkout_intent(self, intent, match_error):
        """A PaymentIntent that matched nothing may be a Checkout Session's: the
        integrator's metadata and reference are on the session, whose own event
        (``checkout.session.completed``) Stripe sends separately, often after.

        With a key, the session is looked up (``GET /v1/checkout/sessions?
        payment_intent=``) and the payment is booked with its facts; without one,
        or when Stripe cannot be read, the event waits for the session's event.

        :raise StripeMatchError: Stripe says no Checkout Session made it.
        :raise StripeEventRetryLater: waiting for the session's event.
        """
        account = self.account_id
        if not account.has_api_key:
            raise StripeEventRetryLater(
                _(
                    "%(error)s If a Checkout Session made PaymentIntent %(intent)s, "
                    "its checkout.session.completed event books it: waiting for it "
                    "(without a secret key, Odoo cannot ask Stripe).",
                    error=match_error.args[0],
                    intent=intent.get("id"),
                )
            ) from match_error
        try:
            sessions = account._stripe_call(
                _("the Checkout Session of PaymentIntent %s", intent.get("id")),
                "checkout.sessions",
                "list",
                params={"payment_intent": intent.get("id"), "limit": 1},
            ).data
        except UserError as error:
            raise StripeEventRetryLater(
                _(
                    "Stripe could not tell whether a Checkout Session made "
                    "PaymentIntent %(intent)s (%(error)s): looking again later.",
                    intent=intent.get("id"),
                    error=error.args[0],
                )
            ) from error
        if not sessions:
            raise match_error
        facts = utils.payment_facts(sessions[0].to_dict())
        utils.add_intent_facts(facts, intent)
        return self._stripe_process_payment(facts)

    def _stripe_wake_intent_events(self, intent_id):
        """Have the events waiting about a PaymentIntent looked at now (the
        Checkout Session they waited for was booked)."""
        if not intent_id:
            return
        waiting = self.search(
            [
                ("account_id", "=", self.account_id.id),
                ("object_id", "=", intent_id),
                ("state", "=", "waiting"),
                ("id", "!=", self.id),
            ]
        )
        if waiting:
            waiting.next_attempt_at = fields.Datetime.now()
            self._trigger_processing()

    def _handle_payment_intent_payment_failed(self):
        intent = self._get_object()
        reason = utils.get_path(intent, "last_payment_error", "message") or _(
            "no reason given"
        )
        return self._stripe_note_failed_payment(utils.payment_facts(intent), reason)

    def _handle_checkout_session_async_payment_failed(self):
        session = self._get_object()
        return self._stripe_note_failed_payment(
            utils.payment_facts(session), _("the asynchronous payment failed")
        )

    # === PAYMENT PROCESSING === #

    def _stripe_process_payment(self, facts):
        """Register the payment ``facts`` describe, once per Stripe object.

        :param dict facts: see ``utils.payment_facts``.
        :return: what was done, for the event's message.
        :rtype: str
        """
        account = self.account_id
        if facts.get("source") == "checkout.session":
            # The session's PaymentIntent tells whether Odoo's provider owns it.
            self._stripe_complete_facts(facts)
        self._stripe_check_not_provider_payment(facts)
        payment_model = self.env["account.payment"]
        existing = payment_model._stripe_find(
            account,
            [facts["key"], facts["payment_intent_id"], facts["charge_id"]],
            payment_type="inbound",
        )
        if existing:
            return self._stripe_complete_existing_payment(existing[:1], facts)

        currency = self._stripe_get_currency(facts["currency"])
        if not facts["amount"]:
            raise UserError(_("The Stripe object has no amount."))
        amount = float(utils.from_minor_units(facts["amount"], facts["currency"]))
        balance_transaction = self._stripe_complete_facts(facts)["balance_transaction"]
        self._stripe_check_settlement(balance_transaction)
        target = self._stripe_find_payment_target(facts, amount, currency)
        currency, amount = account._stripe_payment_currency(
            currency, amount, balance_transaction, self._stripe_payment_date(facts)
        )

        messages = []
        if target._name == "sale.order":
            invoice, order_messages = target._stripe_prepare_payment(account, amount)
            messages += order_messages
            self._link_documents(orders=target)
        else:
            invoice = target
        if invoice:
            payment = self._stripe_pay_invoice(invoice, facts, amount, currency)
            self._link_documents(moves=invoice)
        else:
            payment = self._stripe_create_customer_payment(
                target, facts, amount, currency
            )
        self._link_documents(payments=payment)
        messages.insert(
            0, _("Payment %s.", payment._stripe_description(invoices=invoice))
        )
        if facts.get("api_error"):
            messages.append(
                _(
                    "Stripe could not be read (%s): the fee is booked with the payout.",
                    facts["api_error"],
                )
            )
        exchange_move = account._stripe_book_exchange_difference(
            payment, balance_transaction
        )
        if exchange_move:
            self._link_documents(moves=exchange_move)
            messages.append(_("Stripe's conversion booked in %s.", exchange_move.name))
        fee_move = self._stripe_book_charge_fee(payment, balance_transaction)
        if fee_move:
            self._link_documents(moves=fee_move)
            messages.append(_("Stripe fee booked in %s.", fee_move.name))
        partner = payment.partner_id.commercial_partner_id
        if (
            facts["customer_id"]
            and partner
            and not partner.stripe_customer_id
            and not partner.search_count(
                [("stripe_customer_id", "=", facts["customer_id"])], limit=1
            )
        ):
            # Learnt once: a Stripe customer names one partner.
            partner.stripe_customer_id = facts["customer_id"]
        return " ".join(messages)

    def _stripe_check_not_provider_payment(self, facts):
        """Ignore payments Odoo's own Stripe payment provider handles.

        Its transactions carry the PaymentIntent id once the customer is back or
        its own webhook arrived; before that, only the PaymentIntent's description
        names them (the provider sets it to the transaction's reference). Other
        providers' transactions (a wire transfer started from the portal takes the
        invoice's name too) do not count. A transaction the provider has not
        confirmed yet makes the event wait for it.

        :raise StripeEventIgnored: the provider registered the payment.
        :raise StripeEventRetryLater: the provider has not confirmed it yet.
        """
        intent = facts.get("payment_intent_id")
        description = facts.get("intent_description")
        clauses = []
        if intent:
            clauses.append([("provider_reference", "=", intent)])
        if description:
            clauses.append(
                [
                    ("reference", "=", description),
                    "|",
                    ("provider_reference", "=", False),
                    ("provider_reference", "=", intent or False),
                ]
            )
        if not clauses:
            return
        # sudo: payment transactions are not readable by every processing user.
        candidates = (
            self.env["payment.transaction"]
            .sudo()
            .search(
                [
                    "|",
                    ("provider_code", "=", "stripe"),
                    ("provider_id.module_id.name", "=", "payment_stripe"),
                    *expression.OR(clauses),
                ],
                order="id desc",
                limit=20,
            )
        )
        # The PaymentIntent id is the provider's own word; a reference alone (the
        # description) may be an abandoned portal attempt at the same invoice: it
        # counts only if alive and for this very amount.
        transaction = candidates.filtered(
            lambda tx: (
                (intent and tx.provider_reference == intent)
                or (
                    tx.state not in ("cancel", "error")
                    and tx.currency_id.name == facts["currency"]
                    and facts["amount"]
                    and utils.to_minor_units(tx.amount, tx.currency_id.name)
                    == facts["amount"]
                )
            )
        )[:1]
        if not transaction:
            return
        if transaction.state != "done":
            raise StripeEventRetryLater(
                _(
                    "PaymentIntent %(intent)s belongs to transaction %(reference)s of "
                    "Odoo's payment provider, which is %(state)s: waiting for the "
                    "provider to confirm it.",
                    intent=intent or facts["key"],
                    reference=transaction.reference,
                    state=transaction.state,
                )
            )
        raise StripeEventIgnored(
            _(
                "PaymentIntent %(intent)s is handled by Odoo's payment provider "
                "(transaction %(reference)s); nothing more to book.",
                intent=intent or facts["key"],
                reference=transaction.reference,
            )
        )

    def _stripe_complete_existing_payment(self, payment, facts):
        """A second event about an already registered object adds nothing but what
        the payment may lack: the charge id, the fee, Stripe's conversion, and the
        invoice when the payment was registered without one (a payout booked the
        charge before its webhook, or the order was not invoiced) and is still the
        customer's credit.
        """
        self._link_documents(payments=payment)
        if facts["charge_id"] and not payment.stripe_charge_id:
            payment.stripe_charge_id = facts["charge_id"]
        message = _("Already registered: %s.", payment._stripe_description())
        reconciled = self._stripe_reconcile_existing_payment(payment, facts)
        if reconciled:
            message += " " + reconciled
        if payment.stripe_fee_move_id or self.env[
            "stripe.balance.transaction"
        ].search_count(
            [("payment_id", "=", payment.id), ("payout_id.state", "=", "reconciled")],
            limit=1,
        ):
            # The fee and the conversion are booked together, from one balance
            # transaction, by the webhook or by the payout: nothing more to read.
            return message
        balance_transaction = self._stripe_complete_facts(facts)["balance_transaction"]
        exchange_move = self.account_id._stripe_book_exchange_difference(
            payment, balance_transaction
        )
        if exchange_move:
            self._link_documents(moves=exchange_move)
            message += " " + _("Stripe's conversion booked in %s.", exchange_move.name)
        fee_move = self._stripe_book_charge_fee(payment, balance_transaction)
        if fee_move:
            self._link_documents(moves=fee_move)
            message += " " + _("Stripe fee booked in %s.", fee_move.name)
        return message

    def _stripe_reconcile_existing_payment(self, payment, facts):
        """Settle the invoice a user picked (or the payment rules find) with what
        a registered payment left as the customer's credit.

        :return: what was done, or ``None``.
        """
        credit = payment._stripe_open_credit()
        if payment.reconciled_invoice_ids or not credit:
            return None
        invoice = self.invoice_id
        if not invoice:
            try:
                target = self._stripe_find_payment_target(
                    self._stripe_complete_facts(facts), credit, payment.currency_id
                )
            except StripeMatchError:
                return None
            invoice = (
                target
                if target._name == "account.move"
                else target.invoice_ids.filtered(
                    lambda move: (
                        move.state == "posted"
                        and move.move_type in CUSTOMER_INVOICE_TYPES
                    )
                )
            )
        invoice = invoice.filtered(
            lambda move: move.payment_state in ("not_paid", "partial")
        )
        if not invoice:
            return None
        payment._stripe_open_lines(invoice).reconcile()
        self._link_documents(moves=invoice)
        return _(
            "Its credit now pays %(invoices)s.",
            invoices=", ".join(invoice.mapped("name")),
        )

    def _stripe_get_currency(self, code):
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code or "")], limit=1)
        )
        if not currency:
            raise UserError(_("Odoo does not know the currency %s.", code))
        if not currency.active:
            raise UserError(
                _(
                    "The currency %s is not active in Odoo. Activate it "
                    "(Accounting > Configuration > Currencies), then retry.",
                    currency.name,
                )
            )
        return currency

    def _stripe_complete_facts(self, facts):
        """Read the charge through the API when the event does not carry it.

        With an API key, a PaymentIntent event (whose ``latest_charge`` is only an
        id) is completed with the charge's metadata, description, billing e-mail
        and expanded balance transaction (for the fee and Stripe's exchange rate).
        Without a key, or when Stripe cannot be read, the payment is still
        registered and the fee is booked at payout time.
        """
        account = self.account_id
        if facts.get("completed"):
            return facts
        facts["completed"] = True
        if isinstance(facts["balance_transaction"], dict) or facts.get("api_error"):
            return facts
        facts["balance_transaction"] = None
        if not account.has_api_key:
            return facts
        if facts.get("source") == "checkout.session" and not facts["charge_id"]:
            self._stripe_add_session_intent(facts)
            if isinstance(facts["balance_transaction"], dict):
                return facts
            facts["balance_transaction"] = None
        if not facts["charge_id"] or facts.get("api_error"):
            return facts
        try:
            charge = account._get_client().v1.charges.retrieve(
                facts["charge_id"], params={"expand": ["balance_transaction"]}
            )
        except stripe.StripeError as error:
            _logger.warning(
                "Stripe event %s: charge %s not read: %s",
                self.stripe_id,
                facts["charge_id"],
                error,
            )
            facts["api_error"] = error.user_message or str(error)
            return facts
        utils.add_charge_facts(facts, charge.to_dict())
        if not isinstance(facts["balance_transaction"], dict):
            facts["balance_transaction"] = None
        return facts

    def _stripe_add_session_intent(self, facts):
        """A Checkout Session names its PaymentIntent by id only: read it (with
        its charge and balance transaction) so that the intent's metadata and
        description take part in the matching, and the fee is booked at once."""
        try:
            intent = self.account_id._get_client().v1.payment_intents.retrieve(
                facts["payment_intent_id"],
                params={"expand": ["latest_charge.balance_transaction"]},
            )
        except stripe.StripeError as error:
            _logger.warning(
                "Stripe event %s: PaymentIntent %s not read: %s",
                self.stripe_id,
                facts["payment_intent_id"],
                error,
            )
            facts["api_error"] = error.user_message or str(error)
            return
        utils.add_intent_facts(facts, intent.to_dict())

    def _stripe_pay_invoice(self, invoice, facts, amount, currency):
        """Register the payment on the invoice with Odoo's payment registration.

        Partial payments leave the exact residual open; an overpayment pays the
        invoice and leaves the excess as the customer's credit; a difference within
        the account's tolerance is written off and the invoice is paid.
        """
        account = self.account_id
        if invoice.state != "posted":
            raise UserError(_("Invoice %s is not posted.", invoice.display_name))
        if invoice.payment_state not in ("not_paid", "partial"):
            raise UserError(
                _(
                    "Invoice %(invoice)s is already %(state)s; the payment was not "
                    "registered. Pick another invoice or order and retry, or mark "
                    "the event as ignored.",
                    invoice=invoice.name,
                    state=invoice.payment_state,
                )
            )
        journal = account._stripe_get_journal()
        # The lines to pay are given rather than taken from an ``active_ids``
        # context (what the wizard's default_get does): an environment of its own
        # per invoice, with all those derived from it, would pile up when a payout
        # registers thousands of payments in one transaction, and Odoo looks each
        # new environment up among them.
        valid_types = self.env["account.payment"]._get_valid_payment_account_types()
        lines = invoice.line_ids.filtered(
            lambda line: line.account_type in valid_types and not line.reconciled
        )
        wizard = self.env["account.payment.register"].create(
            {
                "line_ids": [Command.set(lines.ids)],
                "journal_id": journal.id,
                "payment_method_line_id": journal._stripe_get_payment_method_line(
                    "inbound"
                ).id,
                "amount": amount,
                "currency_id": currency.id,
                "payment_date": self._stripe_payment_date(facts),
                "group_payment": True,
                "payment_difference_handling": "open",
                "stripe_account_id": account.id,
                "stripe_object_id": facts["key"],
                "stripe_charge_id": facts["charge_id"],
            }
        )
        # The difference as Odoo's registration computes it (and would write off),
        # in the payment's currency, at the rates Odoo applies.
        difference = wizard.payment_difference
        tolerance = float(
            utils.from_minor_units(account.payment_tolerance, currency.name)
        )
        if (
            not currency.is_zero(difference)
            and float_compare(
                abs(difference), tolerance, precision_rounding=currency.rounding
            )
            <= 0
        ):
            writeoff_account = account.writeoff_account_id or account.fee_account_id
            if not writeoff_account:
                raise UserError(
                    _(
                        "Set a fee account or a write-off account on %s to write "
                        "off payment differences.",
                        account.display_name,
                    )
                )
            wizard.write(
                {
                    "payment_difference_handling": "reconcile",
                    "writeoff_account_id": writeoff_account.id,
                    "writeoff_label": _("Stripe payment difference"),
                }
            )
        return wizard._create_payments()

    def _stripe_create_customer_payment(self, order, facts, amount, currency):
        """Record a customer payment that names the order, with no invoice yet."""
        account = self.account_id
        vals = account._stripe_payment_vals(
            "inbound",
            order.partner_invoice_id,
            amount,
            currency,
            self._stripe_payment_date(facts),
        )
        vals.update(
            memo=order.name,
            stripe_account_id=account.id,
            stripe_object_id=facts["key"],
            stripe_charge_id=facts["charge_id"],
        )
        payment = self.env["account.payment"].create(vals)
        payment.action_post()
        order.message_post(
            body=_(
                "Stripe payment %(payment)s of %(amount)s received for this order.",
                payment=payment.name,
                amount=currency.format(amount),
            )
        )
        return payment

    def _stripe_book_charge_fee(self, payment, balance_transaction):
        """Book the charge's Stripe fee, once per payment.

        :return: the fee entry, or an empty recordset when there is nothing to book
            now (no balance transaction, no fee, already booked).
        """
        if payment.stripe_fee_move_id:
            return self.env["account.move"]
        fee_move = self.account_id._stripe_book_fee(
            balance_transaction,
            _(
                "Stripe fee for %s",
                payment.stripe_charge_id or payment.stripe_object_id,
            ),
        )
        payment.stripe_fee_move_id = fee_move
        return fee_move

    def _stripe_payment_date(self, facts):
        """The day the money reached the Stripe balance, in the company's time zone
        (the responsible user's): the balance transaction's time when known, else
        the event's (when Stripe reported the success), else the object's."""
        balance_transaction = facts.get("balance_transaction")
        moment = (
            utils.timestamp_to_datetime(
                balance_transaction.get("created")
                if isinstance(balance_transaction, dict)
                else None
            )
            or self.stripe_created
            or utils.timestamp_to_datetime(facts.get("created"))
        )
        if not moment:
            return fields.Date.context_today(self)
        tz = self.account_id.user_id.tz or self.env.user.tz or "UTC"
        return fields.Date.context_today(self.with_context(tz=tz), timestamp=moment)

    def _stripe_note_failed_payment(self, facts, reason):
        """No accounting for a failed payment: a note on the matched document (the
        customer's only open invoice of that amount too), else on the customer."""
        currency = (
            self.env["res.currency"].search([("name", "=", facts["currency"])], limit=1)
            if facts["currency"] and facts["amount"]
            else None
        )
        amount = (
            float(utils.from_minor_units(facts["amount"], facts["currency"]))
            if currency
            else None
        )
        try:
            target = self._stripe_find_payment_target(facts, amount, currency)
        except StripeMatchError as error:
            target = self._stripe_find_partner(facts, []) if amount else None
            if not target:
                raise StripeEventIgnored(
                    _(
                        "Payment failed (%(reason)s); %(match)s",
                        reason=reason,
                        match=error,
                    )
                ) from error
        target.message_post(
            body=_(
                "A Stripe payment attempt failed: %(reason)s (%(object)s).",
                reason=reason,
                object=facts["key"],
            )
        )
        return _("Payment failure noted on %s.", target.display_name)

    # === DOCUMENT MATCHING === #

    def _stripe_find_payment_target(self, facts, amount, currency):
        """Find the invoice or sale order a payment is for; first hit wins.

        1. a document picked by a user on this event;
        2. metadata ``odoo_invoice_id``, ``odoo_invoice``, ``odoo_sale_order_id``,
           ``odoo_sale_order`` (on the Checkout Session, PaymentIntent or charge);
        3. the Checkout ``client_reference_id``, then the description, when they
           name an invoice or an order;
        4. the Stripe customer (partner's Stripe id, else e-mail) plus amount and
           currency, when exactly one open invoice matches.

        :return: an ``account.move`` or a ``sale.order`` record.
        :raise StripeMatchError: nothing, or several documents, match.
        """
        if self.invoice_id:
            return self.invoice_id
        if self.sale_order_id:
            return self.sale_order_id
        tried = []
        references = utils.metadata_references(facts["metadata"], const.METADATA_KEYS)
        for key, value, source in references:
            document = self._stripe_lookup_metadata(key, value)
            if document:
                return document
            tried.append(
                _(
                    "%(origin)s metadata %(key)s=%(value)s names no open document "
                    "of %(company)s",
                    origin=source,
                    key=key,
                    value=value,
                    company=self.company_id.name,
                )
            )
        if references:
            # The integrator named a document: never guess another one.
            raise StripeMatchError(self._stripe_match_message(tried))
        candidates = self.env["account.move"]
        for text in facts["references"]:
            documents = self._stripe_lookup_text(text)
            if len(documents) == 1:
                return documents
            tried.append(
                _("reference %s names no invoice or order", repr(text))
                if not documents
                else _("reference %s names several documents", repr(text))
            )
        partner = self._stripe_find_partner(facts, tried)
        if partner and amount is not None:
            open_invoices = self.env["account.move"].search(
                [
                    ("move_type", "in", CUSTOMER_INVOICE_TYPES),
                    ("state", "=", "posted"),
                    ("payment_state", "in", ("not_paid", "partial")),
                    ("company_id", "=", self.company_id.id),
                    ("commercial_partner_id", "=", partner.id),
                ],
                order="invoice_date_due, id",
            )
            tolerance = float(
                utils.from_minor_units(self.account_id.payment_tolerance, currency.name)
            )
            matching = open_invoices.filtered(
                lambda move: (
                    move.currency_id == currency
                    and abs(move.amount_residual - amount) <= tolerance + 1e-9
                )
            )
            if len(matching) == 1:
                return matching
            tried.append(
                _(
                    "%(count)s open invoice(s) of %(partner)s for %(amount)s",
                    count=len(matching),
                    partner=partner.display_name,
                    amount=currency.format(amount),
                )
            )
            candidates = matching or open_invoices
        elif partner:
            return partner  # failed-payment notes: the customer is enough
        raise StripeMatchError(
            self._stripe_match_message(tried, candidates), candidates
        )

    def _stripe_match_message(self, tried, candidates=None):
        message = _(
            "No invoice or order matches this payment. Tried: %s.", "; ".join(tried)
        )
        if candidates:
            message += " " + _(
                "Candidates: %s.",
                ", ".join(
                    f"{move.name} ({move.currency_id.format(move.amount_residual)}"
                    f" due, {move.partner_id.display_name})"
                    for move in candidates[:10]
                ),
            )
        return (
            message
            + " "
            + _("Pick the invoice or order on this event, then click Retry.")
        )

    def _stripe_lookup_metadata(self, key, value):
        company_domain = [("company_id", "=", self.company_id.id)]
        if key in ("odoo_invoice_id", "odoo_sale_order_id"):
            if not value.isdigit():
                return None
            model = "account.move" if key == "odoo_invoice_id" else "sale.order"
            domain = [("id", "=", int(value))]
        else:
            model = "account.move" if key == "odoo_invoice" else "sale.order"
            domain = [("name", "=", value)]
        if model == "account.move":
            domain += [("move_type", "in", CUSTOMER_INVOICE_TYPES)]
        else:
            domain += [("state", "!=", "cancel")]
        return self.env[model].search(domain + company_domain, limit=1)

    def _stripe_lookup_text(self, text):
        """Invoices and orders whose number appears in a free text."""
        tokens = utils.references_in_text(text)
        if not tokens:
            return self.env["account.move"]
        invoices = self.env["account.move"].search(
            [
                ("name", "in", tokens),
                ("move_type", "in", CUSTOMER_INVOICE_TYPES),
                ("state", "=", "posted"),
                ("company_id", "=", self.company_id.id),
            ]
        )
        orders = self.env["sale.order"].search(
            [
                ("name", "in", tokens),
                ("state", "!=", "cancel"),
                ("company_id", "=", self.company_id.id),
            ]
        )
        return (invoices or orders) if not (invoices and orders) else invoices + orders

    def _stripe_find_partner(self, facts, tried):
        """The customer's commercial partner, by Stripe customer id then e-mail."""
        partner_model = self.env["res.partner"].with_context(active_test=False)
        company_domain = [("company_id", "in", (False, self.company_id.id))]
        customer_id = facts["customer_id"]
        if customer_id:
            partners = partner_model.search(
                [("stripe_customer_id", "=", customer_id), *company_domain]
            ).commercial_partner_id
            if len(partners) == 1:
                return partners
            tried.append(_("no partner with Stripe customer %s", customer_id))
        email = email_normalize(
            facts["email"] or self._stripe_fetch_customer_email(customer_id) or ""
        )
        if email:
            partners = partner_model.search(
                [("email_normalized", "=", email), *company_domain]
            ).commercial_partner_id
            if len(partners) == 1:
                return partners
            tried.append(
                _(
                    "%(count)s partners with e-mail %(email)s",
                    count=len(partners),
                    email=email,
                )
            )
        elif not customer_id:
            tried.append(_("no Stripe customer nor e-mail on the payment"))
        return None

    def _stripe_fetch_customer_email(self, customer_id):
        account = self.account_id
        if not (customer_id and account.has_api_key):
            return None
        try:
            customer = account._get_client().v1.customers.retrieve(customer_id)
        except stripe.StripeError:
            _logger.info(
                "Could not read Stripe customer %s", customer_id, exc_info=True
            )
            return None
        return getattr(customer, "email", None)
