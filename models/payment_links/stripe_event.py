from markupsafe import Markup

from odoo import _, models

from ... import const, utils
from ...exceptions import StripeMatchError, StripeNothingToDo


class StripeEvent(models.Model):
    """Payments that settle later (direct debits, bank transfers): the invoice
    shows *payment processing* from ``checkout.session.completed`` (payment
    status ``unpaid``) until the payment is booked (the session's
    ``async_payment_succeeded``, or its PaymentIntent's success), or fails
    (``async_payment_failed``, ``payment_intent.payment_failed``): then the
    invoice stays open and its salesperson gets a to-do."""

    _inherit = "stripe.event"

    # === HANDLERS === #

    def _handle_checkout_session_completed(self):
        session = self._get_object()
        if (
            self.type == "checkout.session.completed"
            and session.get("payment_status") == "unpaid"
            and utils.object_id(session.get("payment_intent"))
        ):
            invoice = self._stripe_processing_invoice(session)
            if invoice:
                intent_id = utils.object_id(session.get("payment_intent"))
                invoice._stripe_set_payment_processing(intent_id, self)
                self._link_documents(moves=invoice)
                return _(
                    "The Checkout Session is not paid yet (a payment that settles "
                    "later): %(invoice)s shows the payment as processing; its "
                    "checkout.session.async_payment_succeeded event will book it.",
                    invoice=invoice.name,
                )
        return super()._handle_checkout_session_completed()

    def _handle_payment_intent_payment_failed(self):
        intent = self._get_object()
        return self._stripe_payment_failed(
            intent.get("id"),
            utils.get_path(intent, "last_payment_error", "message")
            or _("no reason given"),
            super()._handle_payment_intent_payment_failed,
        )

    def _handle_checkout_session_async_payment_failed(self):
        session = self._get_object()
        return self._stripe_payment_failed(
            utils.object_id(session.get("payment_intent")),
            _("the asynchronous payment failed"),
            super()._handle_checkout_session_async_payment_failed,
        )

    # === BUSINESS METHODS === #

    def _link_documents(self, payments=None, moves=None, orders=None):
        """A payment booked on an invoice whose payment was processing ends the
        processing (that payment, or anything that paid the invoice)."""
        result = super()._link_documents(payments=payments, moves=moves, orders=orders)
        # Reads one stored flag of moves already in the cache: no query, and
        # nothing more unless an invoice's payment is processing.
        processing = (
            moves.filtered("stripe_payment_processing") if payments and moves else None
        )
        if processing:
            booked = set(payments.mapped("stripe_object_id"))
            processing.filtered(
                lambda move: (
                    move.stripe_processing_intent_id in booked
                    or move.payment_state not in const.OPEN_PAYMENT_STATES
                )
            )._stripe_clear_payment_processing(
                _("Stripe payment received: no longer processing.")
            )
        return result

    def _stripe_processing_invoice(self, session):
        """The open invoice a Checkout Session in progress pays (by its metadata
        or reference, as the payment rules find it), unless its PaymentIntent is
        booked already; or an empty recordset."""
        invoice = self.env["account.move"]
        rules = self._stripe_payment_rules()
        facts = rules._stripe_payment_facts(session)
        if self.env["account.payment"]._stripe_find(
            self.account_id, [facts.key], payment_type="inbound"
        ):
            return invoice
        try:
            target = rules._stripe_find_payment_target(facts, None, None)
        except StripeMatchError:
            return invoice
        if (
            target._name == "account.move"
            and target.state == "posted"
            and target.payment_state in const.OPEN_PAYMENT_STATES
        ):
            return target
        return invoice

    def _stripe_payment_failed(self, intent_id, reason, note_failure):
        """Withdraw the *payment processing* of the invoices waiting for this
        PaymentIntent, give their salesperson a to-do, then note the failure as
        before (``note_failure``, the handler of the payments domain).

        :return: the event's message.
        """
        invoices = (
            self.env["account.move"].search(
                [
                    ("stripe_processing_intent_id", "=", intent_id),
                    ("stripe_payment_processing", "=", True),
                    ("company_id", "=", self.company_id.id),
                ]
            )
            if intent_id
            else self.env["account.move"]
        )
        messages = []
        for invoice in invoices:
            invoice._stripe_clear_payment_processing(
                Markup("%s &#8212; <a href='%s'>%s</a>")
                % (
                    _(
                        "Stripe payment failed (%(reason)s): no longer processing; "
                        "the invoice is still due.",
                        reason=reason,
                    ),
                    self._stripe_event_url(),
                    _("Stripe event %s", self.stripe_id),
                )
            )
            self._stripe_failed_payment_activity(invoice, reason)
            self._link_documents(moves=invoice)
            messages.append(
                _(
                    "The processing payment of %(invoice)s failed: the invoice is "
                    "still due, its salesperson has a to-do.",
                    invoice=invoice.name,
                )
            )
        if not messages:
            return note_failure()
        try:
            with self.env.cr.savepoint():
                messages.append(note_failure())
        except StripeNothingToDo as nothing:
            messages.append(str(nothing))  # said already on the invoice
        return " ".join(messages)

    def _stripe_failed_payment_activity(self, invoice, reason):
        """A to-do for the invoice's salesperson (else whoever hears of the
        account's events) about a debit or transfer that failed."""
        summary = _("Stripe payment failed")
        note = _(
            "The payment of %(invoice)s the customer confirmed failed "
            "(%(reason)s). The invoice is still due: contact the customer.",
            invoice=invoice.name,
            reason=reason,
        )
        user = invoice.invoice_user_id
        if user and user.active and not user.share:
            return invoice.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=note,
                user_id=user.id,
            )
        return self._stripe_schedule_activity_on(invoice, summary, note)
