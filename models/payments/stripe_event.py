from collections import Counter

from markupsafe import Markup

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ... import const, utils
from ...exceptions import StripeMatchError, StripeNothingToDo, StripeNotYet

OPEN_INVOICE_DOMAIN = [
    ("move_type", "in", const.CUSTOMER_INVOICE_TYPES),
    ("state", "=", "posted"),
    ("payment_state", "in", const.OPEN_PAYMENT_STATES),
]


class StripeEvent(models.Model):
    """Payment events: a Stripe payment pays the right invoice or sale order, once.

    Between an event and the documents it pays: the invoice to pick (open ones,
    likely ones first), and the links from the invoice and the payment back to the
    event and to Stripe's dashboard."""

    _inherit = "stripe.event"

    invoice_id = fields.Many2one(
        "account.move",
        string="Invoice to Pay",
        check_company=True,
        domain="[('move_type', 'in', ('out_invoice', 'out_receipt')), "
        "('state', '=', 'posted'), ('payment_state', 'in', ('not_paid', 'partial')), "
        "('company_id', '=', company_id)]",
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
    to_check = fields.Boolean(
        readonly=True,
        copy=False,
        help="While waiting: a payment that names no document waits for the "
        "event that links it (its Checkout Session, its Stripe invoice). It fails, "
        "and someone is told, if that event does not come within an hour.",
    )

    # === HANDLERS === #

    def _handle_payment_intent_succeeded(self):
        intent = self._get_object()
        facts = self._stripe_payment_rules()._stripe_payment_facts(intent)
        try:
            with self.env.cr.savepoint():
                return self._stripe_process_payment(facts)
        except StripeMatchError as error:
            if utils.metadata_references(facts.metadata, const.METADATA_KEYS):
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
            raise StripeNothingToDo(
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
            raise StripeNothingToDo(_("The charge did not succeed."))
        if charge.get("captured") is False:
            raise StripeNothingToDo(_("The charge is not captured."))
        intent = utils.object_id(charge.get("payment_intent"))
        if intent:
            raise StripeNothingToDo(
                _(
                    "The charge belongs to PaymentIntent %s; it is booked from its "
                    "payment_intent.succeeded event.",
                    intent,
                )
            )
        return self._stripe_process_payment(
            self._stripe_payment_rules()._stripe_payment_facts(charge)
        )

    def _handle_checkout_session_completed(self):
        session = self._get_object()
        status = session.get("payment_status")
        if not utils.object_id(session.get("payment_intent")):
            # Subscription (or setup) mode: the money comes through the Stripe
            # invoice's own PaymentIntent, booked from its payment_intent event.
            raise StripeNothingToDo(
                _(
                    "The Checkout Session (mode %s) has no PaymentIntent of its own; "
                    "its payment is booked from its payment_intent.succeeded event.",
                    session.get("mode"),
                )
            )
        if status == "no_payment_required":
            raise StripeNothingToDo(_("The Checkout Session required no payment."))
        if status != "paid":
            raise StripeNothingToDo(
                _(
                    "The Checkout Session is not paid yet (payment status %s); its "
                    "checkout.session.async_payment_succeeded event will book it.",
                    status,
                )
            )
        message = self._stripe_process_payment(
            self._stripe_payment_rules()._stripe_payment_facts(session)
        )
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
        :raise StripeNotYet: waiting for the session's event.
        """
        account = self.account_id
        if not account.has_api_key:
            if self._stripe_wait_over():
                raise StripeMatchError(
                    _(
                        "%(error)s No Checkout Session event named PaymentIntent "
                        "%(intent)s within %(duration)s either.",
                        error=match_error.args[0],
                        intent=intent.get("id"),
                        duration=self._stripe_duration_text(const.PAYMENT_LINK_WAIT),
                    ),
                    match_error.candidates,
                ) from match_error
            raise StripeNotYet(
                _(
                    "%(error)s If a Checkout Session made PaymentIntent %(intent)s, "
                    "its checkout.session.completed event books it: waiting for it "
                    "up to %(duration)s (without a secret key, Odoo cannot ask "
                    "Stripe).",
                    error=match_error.args[0],
                    intent=intent.get("id"),
                    duration=self._stripe_duration_text(const.PAYMENT_LINK_WAIT),
                ),
                give_up_after=const.PAYMENT_LINK_WAIT,
                to_check=True,
            ) from match_error
        try:
            sessions = account._stripe_call(
                _("the Checkout Session of PaymentIntent %s", intent.get("id")),
                "checkout.sessions",
                "list",
                params={"payment_intent": intent.get("id"), "limit": 1},
            ).data
        except UserError as error:
            raise StripeNotYet(
                _(
                    "Stripe could not tell whether a Checkout Session made "
                    "PaymentIntent %(intent)s (%(error)s): looking again later.",
                    intent=intent.get("id"),
                    error=error.args[0],
                )
            ) from error
        if not sessions:
            raise match_error
        facts = self._stripe_payment_rules()._stripe_payment_facts(
            sessions[0].to_dict()
        )
        utils.add_intent_facts(facts, intent)
        return self._stripe_process_payment(facts)

    def _stripe_wake_intent_events(self, intent_id):
        """Have the events waiting about a PaymentIntent looked at now (the
        Checkout Session or the invoice link they waited for came); those that
        failed for want of it too."""
        if not intent_id:
            return
        waiting = self.search(
            [
                ("account_id", "=", self.account_id.id),
                ("stripe_object_id", "=", intent_id),
                ("state", "in", ("waiting", "failed")),
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
        rules = self._stripe_payment_rules()
        return rules._stripe_note_failed_payment(
            self._stripe_add_report_time(rules._stripe_payment_facts(intent)), reason
        )

    def _handle_checkout_session_async_payment_failed(self):
        session = self._get_object()
        rules = self._stripe_payment_rules()
        return rules._stripe_note_failed_payment(
            self._stripe_add_report_time(rules._stripe_payment_facts(session)),
            _("the asynchronous payment failed"),
        )

    # === STATE METHODS === #

    def _set_waiting(self, outcome):
        """Also whether the event waits for the link of a payment (*to check*)."""
        self.to_check = outcome.to_check
        return super()._set_waiting(outcome)

    # === PAYMENT RULES === #

    # === BATCH BOOKING === #

    def _stripe_batch_bookers(self):
        bookers = super()._stripe_batch_bookers()
        bookers.append(
            (("_handle_payment_intent_succeeded",), "_stripe_prebook_invoice_payments")
        )
        return bookers

    def _stripe_prebook_invoice_payments(self):
        """Register together the payments of the ``payment_intent.succeeded``
        events of a batch whose metadata names an open Odoo invoice (an invoice
        paid through a payment link, a portal, an integration), each paying its
        invoice's residual in the settlement currency, on an account with a key
        (which reads each charge's fee): one payment registration over the
        invoices, one ``create`` of the fee entries (``_stripe_prebook_pay``).
        Any other payment is left to its event.

        :return: dict event id -> messages.
        """
        notes = {}
        for account in self.account_id:
            if not (account.has_api_key and account.active):
                continue
            plans = []
            for event in self.filtered(lambda e, a=account: e.account_id == a):
                if event.invoice_id or event.sale_order_id:
                    continue  # a user's pick: its event books it
                rules = event._stripe_payment_rules()
                facts = rules._stripe_payment_facts(event._get_object())
                if not utils.metadata_references(facts.metadata, const.METADATA_KEYS):
                    continue
                try:
                    with self.env.cr.savepoint():
                        plan = event._stripe_prebook_payment_plan(rules, facts)
                except (UserError, StripeNothingToDo, StripeNotYet, StripeMatchError):
                    plan = None  # its own event says why
                if plan:
                    plans.append(plan)
            plans = self._stripe_prebook_unique(account, plans)
            if plans:
                notes.update(self._stripe_prebook_pay(account, plans))
        return notes

    def _stripe_prebook_payment_plan(self, rules, facts):
        """What registering one payment of an invoice takes, read and checked
        (the charge and its balance transaction read through the API): a dict,
        or None when the payment is left to its event."""
        self.ensure_one()
        account = rules._stripe_account()
        self._stripe_add_report_time(facts)
        if not facts.amount or facts.currency != account.currency_id.name:
            return None
        rules._stripe_check_not_provider_payment(facts)
        if not rules._stripe_complete_facts(facts).settled_as_paid():
            return None
        rules._stripe_check_settlement(facts.balance_transaction)
        currency = rules._stripe_get_currency(facts.currency)
        amount = float(utils.from_minor_units(facts.amount, facts.currency))
        target = rules._stripe_find_payment_target(facts, amount, currency)
        if not (
            target._name == "account.move"
            and target._stripe_payable_at_once(amount, currency)
        ):
            return None
        return {
            "event": self,
            "invoice": target,
            "facts": facts,
            "date": rules._stripe_payment_date(facts),
            "messages": [],
        }

    def _stripe_prebook_unique(self, account, plans):
        """The plans whose PaymentIntent no payment registers yet, and that are
        alone to pay their PaymentIntent and their invoice (others are left to
        their events)."""
        intents = Counter(plan["facts"].key for plan in plans)
        invoices = Counter(plan["invoice"].id for plan in plans if plan.get("invoice"))
        registered = self.env["account.payment"]._stripe_find(
            account,
            [
                object_id
                for plan in plans
                for object_id in (plan["facts"].key, plan["facts"].charge_id)
            ],
            payment_type="inbound",
        )
        taken = set(registered.mapped("stripe_object_id")) | set(
            registered.mapped("stripe_charge_id")
        )
        return [
            plan
            for plan in plans
            if intents[plan["facts"].key] == 1
            and (not plan.get("invoice") or invoices[plan["invoice"].id] == 1)
            and plan["facts"].key not in taken
            and plan["facts"].charge_id not in taken
        ]

    def _stripe_prebook_pay(self, account, plans, to_post=None):
        """Register the payments of planned (open) invoices with one Odoo
        payment registration (one payment per invoice, each the invoice's
        residual, with its Stripe references), reconciled in one plan, and book
        their Stripe fees in one ``create`` and one ``action_post``; each
        payment then gets what the one-by-one path gives it (Stripe's
        conversion, the invoice's chatter note, the event's links).

        Everything is created before anything is posted: posting takes the
        journals' sequences, held until the batch commits, so the other workers
        wait only for the posting, not for the creation.

        :param list plans: dicts with ``event``, ``invoice``, ``facts``,
            ``date`` and ``messages`` (said first).
        :param to_post: the draft invoices to post first (the mirrors).
        :return: dict event id -> messages.
        """
        move_model = self.env["account.move"]
        fee_vals = []
        for plan in plans:
            facts = plan["facts"]
            fee_vals.append(
                account._stripe_fee_entry_vals(
                    facts.balance_transaction,
                    _("Stripe fee for %s", facts.charge_id or facts.key),
                )
            )
        fees = move_model.create([vals for vals in fee_vals if vals])
        fees_left = iter(fees)
        fee_of = [next(fees_left) if vals else move_model for vals in fee_vals]
        wizard, payments, deferred = self._stripe_prebook_register(account, plans)
        if to_post:
            to_post.action_post()
        wizard._post_payments(deferred)
        wizard._reconcile_payments(deferred)
        fees.action_post()
        payment_of = {payment.stripe_object_id: payment for payment in payments}
        notes = {}
        for plan, fee in zip(plans, fee_of, strict=True):
            event, facts, invoice = plan["event"], plan["facts"], plan["invoice"]
            payment = payment_of[facts.key]
            messages = [
                *plan["messages"],
                _("Payment %s.", payment._stripe_description(invoices=invoice)),
            ]
            exchange = account._stripe_book_exchange_difference(
                payment, facts.balance_transaction
            )
            if exchange:
                messages.append(_("Stripe's conversion booked in %s.", exchange.name))
            if fee:
                payment.stripe_fee_move_id = fee
                messages.append(_("Stripe fee booked in %s.", fee.name))
            event._link_documents(payments=payment, moves=invoice | fee | exchange)
            event._stripe_note_invoice_payment(
                invoice, payment, facts, payment.amount, payment.currency_id
            )
            # Learnt once: a Stripe customer names one partner.
            payment.partner_id.commercial_partner_id._stripe_learn_customer(
                facts.customer_id
            )
            notes[event.id] = messages
        return notes

    def _stripe_prebook_register(self, account, plans):
        """Create the payments of the planned invoices with one Odoo payment
        registration: one payment per invoice, of its residual, with the Stripe
        references of its plan; neither posted nor reconciled yet.

        :return: ``(wizard, payments, what to post)``: the wizard's
            ``_post_payments`` and ``_reconcile_payments`` finish the
            registration.
        """
        payment_values = {
            plan["invoice"].id: {
                "date": plan["date"],
                "stripe_account_id": account.id,
                "stripe_object_id": plan["facts"].key,
                "stripe_charge_id": plan["facts"].charge_id,
            }
            for plan in plans
        }
        invoices = self.env["account.move"].union(*(plan["invoice"] for plan in plans))
        wizard_vals = account._stripe_payment_register_vals(
            invoices._stripe_lines_to_pay(), plans[0]["date"]
        )
        wizard_vals["group_payment"] = False
        if len(invoices) > 1:
            # Each payment's memo is its invoice's reference: the wizard's own
            # (a number of Odoo's gapless BATCH sequence, locked NOWAIT, which
            # two workers would fight over) is not used.
            wizard_vals["communication"] = _("Stripe payments")
        deferred = []
        wizard = (
            self.env["account.payment.register"]
            .with_context(
                stripe_payment_values=payment_values, stripe_deferred_posting=deferred
            )
            .create(wizard_vals)
        )
        payments = wizard._create_payments()
        return wizard.with_context(stripe_deferred_posting=None), payments, deferred

    def _stripe_payment_rules(self, document=None):
        """The payment rules (``stripe.payment.rules``) bound to the event's
        account and to the document the payment is for, when known: ``document``
        (the mirror of the Stripe invoice a Billing event pays, say), else the
        invoice or order a user picked on the event."""
        self.ensure_one()
        return self.env["stripe.payment.rules"]._stripe_bind(
            self.account_id,
            document or self.invoice_id or self.sale_order_id or None,
            self,
        )

    def _stripe_add_report_time(self, facts):
        """Add to payment facts when Stripe reported the payment (the event's
        time): the payment's date when no balance transaction tells it."""
        facts.reported = facts.reported or self.stripe_created
        return facts

    def _stripe_process_payment(self, facts, document=None):
        """Register the payment ``facts`` describe with the payment rules, and
        link what they created to the event.

        :param dict facts: see ``stripe.payment.rules._stripe_payment_facts``.
        :param document: the invoice or order the payment is for, when the
            caller knows it (see ``_stripe_payment_rules``).
        :return: what was done, for the event's message.
        :rtype: str
        """
        result = self._stripe_payment_rules(document)._stripe_process_payment(
            self._stripe_add_report_time(facts)
        )
        self._link_documents(
            payments=result["payments"], moves=result["moves"], orders=result["orders"]
        )
        return " ".join(result["messages"])

    def _stripe_suggested_invoices(self):
        """Open invoices this event is likely for: the Stripe customer's (by its
        Stripe id, else its e-mail) and those whose amount due is the event's, in
        its currency. Those matching both come first.

        :return: ``account.move`` records, best first.
        """
        self.ensure_one()
        return self._stripe_likely_invoices(
            [*OPEN_INVOICE_DOMAIN, ("company_id", "=", self.company_id.id)],
            "amount_residual",
        )

    def _stripe_likely_invoices(self, base, amount_field, latest_first=False):
        """The invoices of ``base`` that are the Stripe customer's (by its Stripe
        id, else its e-mail) or whose ``amount_field`` is the event's amount, in
        its currency; those matching both first, then by due date.

        :param list base: the domain the invoices are taken from.
        :param str amount_field: ``amount_residual`` (to pay), ``amount_total``.
        :param bool latest_first: the latest due first (else the oldest).
        :return: ``account.move`` records, best first.
        """
        partners = self.env["res.partner"]._stripe_customer_partners(
            self.company_id, self.stripe_customer_id, self.customer_email
        )
        clauses = []
        if partners:
            clauses.append([("commercial_partner_id", "in", partners.ids)])
        if self.currency_id and self.amount:
            clauses.append(
                [
                    ("currency_id", "=", self.currency_id.id),
                    (amount_field, "=", self.amount),
                ]
            )
        if not clauses:
            return self.env["account.move"]
        invoices = self.env["account.move"].search(
            expression.AND([base, expression.OR(clauses)]), limit=50
        )

        def sort_key(invoice):
            same_customer = invoice.commercial_partner_id in partners
            same_amount = (
                invoice.currency_id == self.currency_id
                and not invoice.currency_id.compare_amounts(
                    invoice[amount_field], self.amount
                )
            )
            due = (invoice.invoice_date_due or invoice.date).toordinal()
            return (
                -(same_customer + same_amount),
                -due if latest_first else due,
                invoice.id,
            )

        return invoices.sorted(sort_key)

    def _stripe_dashboard_url(self, object_id):
        """The page of a Stripe object in Stripe's dashboard, in the account's mode."""
        self.ensure_one()
        prefix = const.STRIPE_DASHBOARD_URL + (
            "/test" if self.account_id.mode == "test" else ""
        )
        path = "payments" if object_id.startswith(("pi_", "ch_", "py_")) else "events"
        return f"{prefix}/{path}/{object_id}"

    def _stripe_event_url(self):
        self.ensure_one()
        return f"/odoo/stripe-events/{self.id}"

    def _stripe_note_invoice_payment(self, invoice, payments, facts, amount, currency):
        """Name the Stripe payment in the invoice's chatter, with links to the
        event and to Stripe's dashboard."""
        if self.id:
            object_id = facts.payment_intent_id or facts.charge_id
            parts = [
                Markup("%s ")
                % _(
                    "Paid with Stripe: %(amount)s, payment %(payment)s",
                    amount=currency.format(amount),
                    payment=", ".join(payments.mapped("name")),
                )
            ]
            if object_id:
                parts.append(
                    Markup('(<a href="%s" target="_blank">%s</a>')
                    % (self._stripe_dashboard_url(object_id), object_id)
                )
                if facts.charge_id and facts.charge_id != object_id:
                    parts.append(Markup(", %s") % facts.charge_id)
                parts.append(Markup(") "))
            parts.append(
                Markup('&#8212; <a href="%s">%s</a>')
                % (
                    self._stripe_event_url(),
                    _("Stripe event %s", self.stripe_id),
                )
            )
            invoice._message_log(body=Markup("").join(parts))
