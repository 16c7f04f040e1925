from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import email_normalize, float_compare

from ... import const, utils
from ...exceptions import StripeMatchError, StripeNothingToDo, StripeNotYet


class StripePaymentRules(models.AbstractModel):
    """The payment rules: which invoice or order a Stripe payment is for, and
    how it is registered, once per Stripe object.

    One service for every way a payment reaches Odoo: the event handlers
    (``stripe.event``), payouts booking the charges no webhook brought
    (``stripe.balance.transaction``) and the reconcile wizard's proposals. Bind
    it to a Stripe account, and the document a user picked if any, with
    ``_stripe_bind``; give it the payment's facts (``_stripe_payment_facts``);
    ``_stripe_process_payment`` returns what it created (``_stripe_result``).

    Extension points, for another addon (Stripe Billing, a customer's own):

    - ``_stripe_find_payment_target(facts, amount, currency)`` finds the
      document a payment is for (an ``account.move`` or a ``sale.order``).
      Override it to pay other documents (the Odoo invoice that mirrors a Stripe
      Billing invoice, say): return yours, else ``super()``. Its account is
      ``self._stripe_account()``, the user's pick ``self._stripe_picked_document()``
      (which must win).
    - ``_stripe_payment_facts(obj)`` reads the facts from a Stripe object.
    - ``_stripe_pay_invoice`` and ``_stripe_create_customer_payment`` register
      the payment."""

    _name = "stripe.payment.rules"
    _description = "Stripe Payment Rules"

    # === BINDING === #

    @api.model
    def _stripe_bind(self, account, document=None, event=None, proposal=False):
        """The rules for payments of ``account``, paying ``document`` if given.

        :param account: the ``stripe.account``.
        :param document: the invoice or sale order the payment is for, when the
            caller knows it (a user's pick), or ``None``.
        :param event: the ``stripe.event`` the payment comes from, if any
            (``_stripe_event``).
        :param bool proposal: the rules only propose (the reconcile wizard's
            proposals, computed on screen): they find the document, and neither
            read Stripe nor create anything (``_stripe_is_proposal``).
        :return: the service, bound (through its context).
        """
        return self.with_context(
            stripe_rules_account_id=account.id,
            stripe_rules_document=f"{document._name},{document.id}"
            if document
            else False,
            stripe_rules_event_id=event.id if event else False,
            stripe_rules_proposal=proposal,
        )

    def _stripe_account(self):
        """The ``stripe.account`` the rules are bound to."""
        account_id = self.env.context.get("stripe_rules_account_id")
        if not account_id:
            raise ValueError("stripe.payment.rules used without _stripe_bind()")
        return self.env["stripe.account"].browse(account_id)

    def _stripe_event(self):
        """The ``stripe.event`` the rules work for, or ``None`` (payouts, the
        reconcile wizard)."""
        event_id = self.env.context.get("stripe_rules_event_id")
        return self.env["stripe.event"].browse(event_id) if event_id else None

    def _stripe_is_proposal(self):
        """Whether the rules only propose (see ``_stripe_bind``)."""
        return bool(self.env.context.get("stripe_rules_proposal"))

    def _stripe_picked_document(self):
        """The invoice or order a user picked, or ``None``."""
        reference = self.env.context.get("stripe_rules_document")
        if not reference:
            return None
        model, res_id = reference.split(",")
        return self.env[model].browse(int(res_id))

    @api.model
    def _stripe_payment_facts(self, obj):
        """What Odoo needs to book a payment, from a Stripe object that reports
        one (a PaymentIntent, a Charge, a Checkout Session): see
        ``utils.payment_facts``. Override it to read more (call ``super()``).

        The caller may add ``reported``: when Stripe reported the payment (the
        event's time), the payment's date when no balance transaction tells it.

        :param dict obj: the Stripe object.
        :rtype: dict
        """
        return utils.payment_facts(obj)

    @api.model
    def _stripe_result(self):
        """What processing a payment created: ``payments``, ``moves`` (the
        invoices paid, fee and exchange entries), ``orders`` (records) and
        ``messages`` (a list of str, what was done in words)."""
        return {
            "payments": self.env["account.payment"],
            "moves": self.env["account.move"],
            "orders": self.env["sale.order"],
            "messages": [],
        }

    # === PAYMENT PROCESSING === #

    def _stripe_process_payment(self, facts):
        """Register the payment ``facts`` describe, once per Stripe object.

        :param dict facts: see ``_stripe_payment_facts``.
        :return: what it created and did: ``payments``, ``moves``, ``orders``
            (records) and ``messages`` (list of str), see ``_stripe_result``.
        :rtype: dict
        :raise StripeMatchError: nothing, or several documents, match.
        :raise StripeNothingToDo: nothing to book (Odoo's payment provider did).
        :raise StripeNotYet: something it needs has not arrived yet.
        """
        account = self._stripe_account()
        result = self._stripe_result()
        if facts.source == "checkout.session":
            # The session's PaymentIntent tells whether Odoo's provider owns it.
            self._stripe_complete_facts(facts)
        self._stripe_check_not_provider_payment(facts)
        payment_model = self.env["account.payment"]
        existing = payment_model._stripe_find(
            account,
            [facts.key, facts.payment_intent_id, facts.charge_id],
            payment_type="inbound",
        )
        if existing:
            return self._stripe_complete_existing_payment(existing[:1], facts, result)

        currency = self._stripe_get_currency(facts.currency)
        if not facts.amount:
            raise UserError(_("The Stripe object has no amount."))
        amount = float(utils.from_minor_units(facts.amount, facts.currency))
        balance_transaction = self._stripe_complete_facts(facts).balance_transaction
        self._stripe_check_settlement(balance_transaction)
        target = self._stripe_find_payment_target(facts, amount, currency)
        currency, amount = account._stripe_payment_currency(
            currency, amount, balance_transaction, self._stripe_payment_date(facts)
        )

        messages = result["messages"]
        if target._name == "sale.order":
            invoice, order_messages = target._stripe_prepare_payment(account, amount)
            messages += order_messages
            result["orders"] |= target
        else:
            invoice = target
        if invoice:
            # An overpayment (paid while another payment arrived, say) leaves
            # the rest as the customer's credit: said in the event. Only then
            # are the payment's open lines read (that flushes the reconciliation).
            overpaid = invoice.currency_id == currency and (
                currency.compare_amounts(amount, invoice.amount_residual) > 0
            )
            payment = self._stripe_pay_invoice(invoice, facts, amount, currency)
            result["moves"] |= invoice
            credit = payment._stripe_open_credit() if overpaid else 0.0
            if not payment.currency_id.is_zero(credit):
                messages.append(
                    _(
                        "%s more than was due is left as the customer's credit.",
                        payment.currency_id.format(credit),
                    )
                )
        else:
            payment = self._stripe_create_customer_payment(
                target, facts, amount, currency
            )
        result["payments"] |= payment
        messages.insert(
            0, _("Payment %s.", payment._stripe_description(invoices=invoice))
        )
        if facts.api_error:
            messages.append(
                _(
                    "Stripe could not be read (%s): the fee is booked with the payout.",
                    facts.api_error,
                )
            )
        self._stripe_book_settlement(payment, balance_transaction, result)
        # Learnt once: a Stripe customer names one partner.
        payment.partner_id.commercial_partner_id._stripe_learn_customer(
            facts.customer_id
        )
        return result

    def _stripe_check_not_provider_payment(self, facts):
        """Ignore payments Odoo's own Stripe payment provider handles.

        Its transactions carry the PaymentIntent id once the customer is back or
        its own webhook arrived; before that, only the PaymentIntent's description
        names them (the provider sets it to the transaction's reference). Other
        providers' transactions (a wire transfer started from the portal takes the
        invoice's name too) do not count. A transaction the provider has not
        confirmed yet makes the event wait for it.

        :raise StripeNothingToDo: the provider registered the payment.
        :raise StripeNotYet: the provider has not confirmed it yet.
        """
        intent = facts.payment_intent_id
        description = facts.intent_description
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
                    and tx.currency_id.name == facts.currency
                    and facts.amount
                    and utils.to_minor_units(tx.amount, tx.currency_id.name)
                    == facts.amount
                )
            )
        )[:1]
        if not transaction:
            return
        if transaction.state != "done":
            raise StripeNotYet(
                _(
                    "PaymentIntent %(intent)s belongs to transaction %(reference)s of "
                    "Odoo's payment provider, which is %(state)s: waiting for the "
                    "provider to confirm it.",
                    intent=intent or facts.key,
                    reference=transaction.reference,
                    state=transaction.state,
                )
            )
        raise StripeNothingToDo(
            _(
                "PaymentIntent %(intent)s is handled by Odoo's payment provider "
                "(transaction %(reference)s); nothing more to book.",
                intent=intent or facts.key,
                reference=transaction.reference,
            )
        )

    def _stripe_complete_existing_payment(self, payment, facts, result):
        """A second event about an already registered object adds nothing but what
        the payment may lack: the charge id, the fee, Stripe's conversion, and the
        invoice when the payment was registered without one (a payout booked the
        charge before its webhook, or the order was not invoiced) and is still the
        customer's credit.

        :param dict result: see ``_stripe_result``; completed and returned.
        """
        result["payments"] |= payment
        if facts.charge_id and not payment.stripe_charge_id:
            payment.stripe_charge_id = facts.charge_id
        messages = result["messages"]
        messages.append(_("Already registered: %s.", payment._stripe_description()))
        reconciled = self._stripe_reconcile_existing_payment(payment, facts, result)
        if reconciled:
            messages.append(reconciled)
        if payment.stripe_fee_move_id or self.env[
            "stripe.balance.transaction"
        ].search_count(
            [("payment_id", "=", payment.id), ("payout_id.state", "=", "reconciled")],
            limit=1,
        ):
            # The fee and the conversion are booked together, from one balance
            # transaction, by the webhook or by the payout: nothing more to read.
            return result
        balance_transaction = self._stripe_complete_facts(facts).balance_transaction
        self._stripe_book_settlement(payment, balance_transaction, result)
        return result

    def _stripe_book_settlement(self, payment, balance_transaction, result):
        """Book what Stripe's balance transaction tells of a payment: Stripe's
        conversion and its fee (``stripe.account._stripe_book_settlement``).

        :param dict result: see ``_stripe_result``; completed.
        """
        exchange_move, fee_move = self._stripe_account()._stripe_book_settlement(
            payment, balance_transaction
        )
        if exchange_move:
            result["moves"] |= exchange_move
            result["messages"].append(
                _("Stripe's conversion booked in %s.", exchange_move.name)
            )
        if fee_move:
            result["moves"] |= fee_move
            result["messages"].append(_("Stripe fee booked in %s.", fee_move.name))

    def _stripe_reconcile_existing_payment(self, payment, facts, result):
        """Settle the invoice a user picked (or the payment rules find) with what
        a registered payment left as the customer's credit.

        :return: what was done, or ``None``.
        """
        credit = payment._stripe_open_credit()
        if payment._stripe_reconciled_invoices() or not credit:
            return None
        picked = self._stripe_picked_document()
        invoice = picked if picked and picked._name == "account.move" else None
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
                        and move.move_type in const.CUSTOMER_INVOICE_TYPES
                    )
                )
            )
        invoice = invoice.filtered(
            lambda move: move.payment_state in const.OPEN_PAYMENT_STATES
        )
        if not invoice:
            return None
        payment._stripe_open_lines(invoice).reconcile()
        result["moves"] |= invoice
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
        account = self._stripe_account()
        if facts.completed:
            return facts
        facts.completed = True
        if facts.balance_transaction or facts.api_error or not account.has_api_key:
            return facts
        if facts.source == "checkout.session" and not facts.charge_id:
            self._stripe_add_session_intent(facts)
            if facts.balance_transaction:
                return facts
        if not facts.charge_id or facts.api_error:
            return facts
        charge, facts.api_error = account._stripe_read(
            _("charge %s", facts.charge_id),
            "charges",
            "retrieve",
            facts.charge_id,
            params={"expand": ["balance_transaction"]},
        )
        if charge:
            utils.add_charge_facts(facts, charge)
        return facts

    def _stripe_add_session_intent(self, facts):
        """A Checkout Session names its PaymentIntent by id only: read it (with
        its charge and balance transaction) so that the intent's metadata and
        description take part in the matching, and the fee is booked at once."""
        intent, facts.api_error = self._stripe_account()._stripe_read(
            _("PaymentIntent %s", facts.payment_intent_id),
            "payment_intents",
            "retrieve",
            facts.payment_intent_id,
            params={"expand": ["latest_charge.balance_transaction"]},
        )
        if intent:
            utils.add_intent_facts(facts, intent)

    def _stripe_pay_invoice(self, invoice, facts, amount, currency):
        """Register the payment on the invoice with Odoo's payment registration.

        Partial payments leave the exact residual open; an overpayment pays the
        invoice and leaves the excess as the customer's credit; a difference within
        the account's tolerance is written off and the invoice is paid. A payment
        an event registers is named in the invoice's chatter.
        """
        account = self._stripe_account()
        if invoice.state != "posted":
            raise UserError(_("Invoice %s is not posted.", invoice.display_name))
        if invoice.payment_state not in const.OPEN_PAYMENT_STATES:
            raise UserError(
                _(
                    "Invoice %(invoice)s is already %(state)s; the payment was not "
                    "registered. Pick another invoice or order and retry, or mark "
                    "the event as ignored.",
                    invoice=invoice.name,
                    state=invoice.payment_state,
                )
            )
        wizard = self.env["account.payment.register"].create(
            {
                **account._stripe_payment_register_vals(
                    invoice._stripe_lines_to_pay(), self._stripe_payment_date(facts)
                ),
                "amount": amount,
                "currency_id": currency.id,
                "group_payment": True,
                "payment_difference_handling": "open",
                "stripe_account_id": account.id,
                "stripe_object_id": facts.key,
                "stripe_charge_id": facts.charge_id,
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
        payments = wizard._create_payments()
        # A payment an event registers is named in the invoice's chatter.
        event = self._stripe_event()
        if event:
            event._stripe_note_invoice_payment(
                invoice, payments, facts, amount, currency
            )
        return payments

    def _stripe_create_customer_payment(self, order, facts, amount, currency):
        """Record a customer payment that names the order, with no invoice yet."""
        account = self._stripe_account()
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
            stripe_object_id=facts.key,
            stripe_charge_id=facts.charge_id,
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

    def _stripe_payment_date(self, facts):
        """The day the money reached the Stripe balance, in the company's time zone
        (the responsible user's): the balance transaction's time when known, else
        the event's (when Stripe reported the success), else the object's."""
        moment = (
            utils.timestamp_to_datetime(
                (facts.balance_transaction or {}).get("created")
            )
            or facts.reported
            or utils.timestamp_to_datetime(facts.created)
        )
        if not moment:
            return fields.Date.context_today(self)
        tz = self._stripe_account().user_id.tz or self.env.user.tz or "UTC"
        return fields.Date.context_today(self.with_context(tz=tz), timestamp=moment)

    def _stripe_note_failed_payment(self, facts, reason):
        """No accounting for a failed payment: a note on the matched document (the
        customer's only open invoice of that amount too), else on the customer."""
        currency = (
            self.env["res.currency"].search([("name", "=", facts.currency)], limit=1)
            if facts.currency and facts.amount
            else None
        )
        amount = (
            float(utils.from_minor_units(facts.amount, facts.currency))
            if currency
            else None
        )
        try:
            target = self._stripe_find_payment_target(facts, amount, currency)
        except StripeMatchError as error:
            target = self._stripe_find_partner(facts, []) if amount else None
            if not target:
                raise StripeNothingToDo(
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
                object=facts.key,
            )
        )
        return _("Payment failure noted on %s.", target.display_name)

    # === DOCUMENT MATCHING === #

    def _stripe_find_payment_target(self, facts, amount, currency):
        """Find the invoice or sale order a payment is for; first hit wins.

        1. a document a user picked (on the event, in the reconcile wizard);
        2. metadata ``odoo_invoice_id``, ``odoo_invoice``, ``odoo_sale_order_id``,
           ``odoo_sale_order`` (on the Checkout Session, PaymentIntent or charge);
        3. the Checkout ``client_reference_id``, then the description, when they
           name an invoice or an order;
        4. the Stripe customer (partner's Stripe id, else e-mail) plus amount and
           currency, when exactly one open invoice matches.

        The extension point of the rules: another addon overrides this method to
        pay documents of its own (Stripe Billing: the Odoo invoice mirroring the
        Stripe invoice) and calls ``super()`` when its rule does not apply. The
        user's pick (``_stripe_picked_document``) must keep winning; the account
        is ``_stripe_account()``. Also used, without registering anything, for
        failed-payment notes (where a partner is enough) and the reconcile
        wizard's proposals (``_stripe_is_proposal()``: an override then reads
        nothing from Stripe and creates nothing).

        :param dict facts: see ``_stripe_payment_facts``.
        :param float amount: in ``currency`` (``None`` for failed payments of
            unknown amount).
        :param currency: the payment's ``res.currency`` (or ``None``).
        :return: an ``account.move`` or a ``sale.order`` record (a
            ``res.partner`` for a failed payment without document).
        :raise StripeMatchError: nothing, or several documents, match.
        """
        picked = self._stripe_picked_document()
        if picked:
            return picked
        tried = []
        references = utils.metadata_references(facts.metadata, const.METADATA_KEYS)
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
                    company=self._stripe_account().company_id.name,
                )
            )
        if references:
            # The integrator named a document: never guess another one.
            raise StripeMatchError(self._stripe_match_message(tried))
        candidates = self.env["account.move"]
        for text in facts.references:
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
                    ("move_type", "in", const.CUSTOMER_INVOICE_TYPES),
                    ("state", "=", "posted"),
                    ("payment_state", "in", const.OPEN_PAYMENT_STATES),
                    ("company_id", "=", self._stripe_account().company_id.id),
                    ("commercial_partner_id", "=", partner.id),
                ],
                order="invoice_date_due, id",
            )
            tolerance = float(
                utils.from_minor_units(
                    self._stripe_account().payment_tolerance, currency.name
                )
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
        company_domain = [("company_id", "=", self._stripe_account().company_id.id)]
        if key in ("odoo_invoice_id", "odoo_sale_order_id"):
            if not value.isdigit():
                return None
            model = "account.move" if key == "odoo_invoice_id" else "sale.order"
            domain = [("id", "=", int(value))]
        else:
            model = "account.move" if key == "odoo_invoice" else "sale.order"
            domain = [("name", "=", value)]
        if model == "account.move":
            domain += [("move_type", "in", const.CUSTOMER_INVOICE_TYPES)]
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
                ("move_type", "in", const.CUSTOMER_INVOICE_TYPES),
                ("state", "=", "posted"),
                ("company_id", "=", self._stripe_account().company_id.id),
            ]
        )
        orders = self.env["sale.order"].search(
            [
                ("name", "in", tokens),
                ("state", "!=", "cancel"),
                ("company_id", "=", self._stripe_account().company_id.id),
            ]
        )
        return (invoices or orders) if not (invoices and orders) else invoices + orders

    def _stripe_find_partner(self, facts, tried):
        """The customer's commercial partner, by Stripe customer id then e-mail
        (``res.partner._stripe_customer_partners``): only when exactly one
        matches, the rules never guess."""
        account = self._stripe_account()
        partner_model = self.env["res.partner"]
        customer_id = facts.customer_id
        if customer_id:
            partners = partner_model._stripe_customer_partners(
                account.company_id, customer_id
            )
            if len(partners) == 1:
                return partners
            tried.append(_("no partner with Stripe customer %s", customer_id))
        email = facts.email
        if not email and customer_id and not self._stripe_is_proposal():
            customer = partner_model._stripe_fetch_customer(account, customer_id)
            email = (customer or {}).get("email")
        email = email_normalize(email or "")
        if email:
            partners = partner_model._stripe_customer_partners(
                account.company_id, email=email
            )
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

    def _stripe_check_settlement(self, balance_transaction):
        """Leave what Stripe settled in another currency to the Odoo Stripe account
        of that settlement currency (see ``stripe.account._stripe_settling_account``).

        :param balance_transaction: Stripe's (dict), or anything else (unknown:
            this account books it).
        :raise StripeNothingToDo: another account books it.
        :raise StripeNotYet: the settlement currency is not known yet
            (Stripe could not be read) and another account may be the one.
        """
        account = self._stripe_account()
        if not isinstance(balance_transaction, dict):  # raw: a dispute's may be an id
            siblings = account._stripe_sibling_accounts()
            if siblings:
                raise StripeNotYet(
                    _(
                        "Stripe's balance transaction could not be read: its "
                        "settlement currency tells which of the Stripe accounts "
                        "%(accounts)s books it.",
                        accounts=", ".join((account | siblings).mapped("display_name")),
                    )
                )
            return
        settling = account._stripe_settling_account(balance_transaction.get("currency"))
        if settling != account:
            raise StripeNothingToDo(
                _(
                    "Settled in %(currency)s: booked by the Stripe account "
                    "%(account)s.",
                    currency=(balance_transaction.get("currency") or "").upper(),
                    account=settling.display_name,
                )
            )
