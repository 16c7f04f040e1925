import calendar
import json

from odoo import _, fields, models
from odoo.exceptions import UserError

from ... import const, utils
from ...exceptions import StripeNothingToDo, StripeNotYet
from ...tools import billing as billing_tools


class StripeEvent(models.Model):
    """Stripe Billing events: Stripe invoices and credit notes mirrored in Odoo,
    paid, credited, voided in step with Stripe."""

    _inherit = "stripe.event"

    # === HANDLERS === #

    def _handle_invoice_finalized(self):
        stripe_invoice = self._get_object()
        move, messages = self._stripe_billing_mirror(stripe_invoice)
        return " ".join(messages) or _("Already mirrored by %s.", move.name)

    def _handle_invoice_paid(self):
        """``invoice.paid`` and ``invoice.payment_succeeded``: mirror the invoice
        if it is not yet, then see it paid by its PaymentIntent(s)."""
        stripe_invoice = self._get_object()
        move, messages = self._stripe_billing_mirror(stripe_invoice)
        messages += self._stripe_billing_settle(stripe_invoice, move)
        return " ".join(messages)

    def _handle_invoice_payment_paid(self):
        """``invoice_payment.paid``: the link between a Stripe invoice and the
        PaymentIntent that paid it (API versions since ``2025-03-31.basil``)."""
        invoice_payment = self._get_object()
        stripe_invoice_id = utils.object_id(invoice_payment.get("invoice"))
        intent_id = utils.object_id(
            utils.get_path(invoice_payment, "payment", "payment_intent")
        )
        if not (stripe_invoice_id and intent_id):
            raise StripeNothingToDo(
                _(
                    "Invoice payment %(payment)s is not a PaymentIntent (type "
                    "%(type)s): nothing reaches the Stripe balance.",
                    payment=invoice_payment.get("id"),
                    type=utils.get_path(invoice_payment, "payment", "type"),
                )
            )
        account = self.account_id
        self.env["stripe.invoice.payment"]._stripe_link(
            account, stripe_invoice_id, intent_id, invoice_payment.get("id")
        )
        self.account_id._stripe_billing_wake(
            [intent_id, stripe_invoice_id], exclude=self
        )
        # Also the payment's event that gave up waiting for this link.
        self._stripe_wake_intent_events(intent_id)
        move = self.account_id._stripe_billing_find_mirror(stripe_invoice_id)
        stripe_invoice = (
            None
            if move
            else self.account_id._stripe_billing_read_invoice(stripe_invoice_id)
        )
        if stripe_invoice:
            move, _messages = self._stripe_billing_mirror(stripe_invoice)
        message = _(
            "PaymentIntent %(intent)s pays Stripe invoice %(invoice)s.",
            intent=intent_id,
            invoice=stripe_invoice_id,
        )
        if not move:
            return message + " " + _("The invoice is mirrored when its event arrives.")
        return " ".join(
            [message, *self._stripe_billing_pay(move, [intent_id], wait=False)]
        )

    def _handle_invoice_payment_failed(self):
        """A message on the invoice; after Stripe's last retry (no next attempt),
        an activity for the account's responsible."""
        stripe_invoice = self._get_object()
        move = self.account_id._stripe_billing_find_mirror(stripe_invoice["id"])
        if not move:
            move, _messages = self._stripe_billing_mirror(stripe_invoice)
        attempts = stripe_invoice.get("attempt_count") or 0
        next_attempt = utils.timestamp_to_datetime(
            stripe_invoice.get("next_payment_attempt")
        )
        body = _(
            "Stripe could not collect this invoice (attempt %(attempts)s).",
            attempts=attempts,
        )
        if next_attempt:
            body += " " + _(
                "Stripe tries again on %s.", self._stripe_datetime_text(next_attempt)
            )
        else:
            body += " " + _("Stripe will not try again.")
        move.message_post(body=body)
        if not next_attempt and move.payment_state in const.OPEN_PAYMENT_STATES:
            self._stripe_schedule_activity_on(
                move, _("Stripe could not collect %s", move.name), body
            )
        self._link_documents(moves=move)
        return _(
            "Payment failure noted on %(invoice)s. %(body)s",
            invoice=move.name,
            body=body,
        )

    def _handle_invoice_voided(self):
        """The mirrored invoice is reversed by a credit note (Odoo's reversal,
        reconciled with it): its number stays in the sequence, as Stripe's does.

        Stripe voids finalized invoices only: one voided before Odoo mirrored it
        (``invoice.voided`` delivered before ``invoice.finalized``) is mirrored
        from the voided snapshot, then reversed; the older event finds it
        mirrored and changes nothing."""
        stripe_invoice = self._get_object()
        move = self.account_id._stripe_billing_find_mirror(stripe_invoice["id"])
        if not move:
            move, _messages = self._stripe_billing_mirror(stripe_invoice)
        self._link_documents(moves=move)
        if move.payment_state == "reversed" or move.reversal_move_ids:
            return _("%s is already reversed.", move.name)
        if move.payment_state not in ("not_paid",):
            raise UserError(
                _(
                    "Stripe voided invoice %(number)s, but %(invoice)s is "
                    "%(state)s in Odoo: undo its payments or credit notes, then "
                    "retry.",
                    number=move.ref,
                    invoice=move.name,
                    state=move.payment_state,
                )
            )
        reversal = self._stripe_billing_reverse(
            move, utils.get_path(stripe_invoice, "status_transitions", "voided_at")
        )
        return _(
            "Stripe voided %(number)s: %(invoice)s reversed by %(reversal)s.",
            number=move.ref,
            invoice=move.name,
            reversal=reversal.name,
        )

    def _handle_invoice_marked_uncollectible(self):
        """The invoice's payment state, as the account's *Uncollectible
        Invoices* says; nothing when Stripe's newest known state of the invoice
        is paid or void (an older mark delivered late)."""
        stripe_invoice = self._get_object()
        account = self.account_id
        newest = account._stripe_billing_read_invoice(stripe_invoice["id"]) or {}
        if newest.get("status") in ("paid", "void"):
            raise StripeNothingToDo(
                _(
                    "Stripe invoice %(invoice)s is %(status)s since it was marked "
                    "uncollectible: the newest state wins.",
                    invoice=stripe_invoice["id"],
                    status=newest["status"],
                )
            )
        move = self.account_id._stripe_billing_find_mirror(stripe_invoice["id"])
        if not move:
            move, _messages = self._stripe_billing_mirror(stripe_invoice)
        self._link_documents(moves=move)
        if move.payment_state not in const.OPEN_PAYMENT_STATES:
            raise StripeNothingToDo(
                _(
                    "%(invoice)s is %(state)s.",
                    invoice=move.name,
                    state=move.payment_state,
                )
            )
        if account.uncollectible_policy == "write_off":
            entry = move._stripe_write_off(
                account,
                account.uncollectible_account_id,
                _("Uncollectible (Stripe): %s", move.ref),
            )
            self._link_documents(moves=entry)
            return _(
                "Stripe marked %(invoice)s uncollectible: %(amount)s written off "
                "in %(entry)s.",
                invoice=move.name,
                amount=move.currency_id.format(
                    -sum(
                        entry.line_ids.filtered("reconciled").mapped("amount_currency")
                    )
                    or 0.0
                ),
                entry=entry.name,
            )
        note = _(
            "Stripe marked this invoice uncollectible: it stays open until you "
            "write it off or the customer pays."
        )
        move.message_post(body=note)
        self._stripe_schedule_activity_on(move, _("Uncollectible: %s", move.name), note)
        return _(
            "Stripe marked %s uncollectible: left open, with an activity.", move.name
        )

    def _handle_credit_note_created(self):
        credit_note = self._get_object()
        account = self.account_id
        existing = self.env["account.move"].search(
            [
                ("stripe_account_id", "=", account.id),
                ("stripe_credit_note_id", "=", credit_note["id"]),
            ],
            limit=1,
        )
        if existing:
            self._link_documents(moves=existing)
            return _("Already mirrored by %s.", existing.name)
        stripe_invoice_id = utils.object_id(credit_note.get("invoice"))
        invoice = self.account_id._stripe_billing_find_mirror(stripe_invoice_id)
        if not invoice:
            stripe_invoice = self.account_id._stripe_billing_read_invoice(
                stripe_invoice_id
            )
            if not stripe_invoice:
                raise StripeNotYet(
                    _(
                        "Waiting for Stripe invoice %s to be mirrored.",
                        stripe_invoice_id,
                    )
                )
            invoice, _messages = self._stripe_billing_mirror(stripe_invoice)
        refund_ids = [
            utils.object_id(refund.get("refund"))
            for refund in credit_note.get("refunds") or []
            if utils.object_id(refund.get("refund"))
        ]
        adopted = self._stripe_billing_refund_credit_note(refund_ids, credit_note)
        if adopted:
            adopted.write(
                {
                    "stripe_account_id": account.id,
                    "stripe_credit_note_id": credit_note["id"],
                    "ref": credit_note.get("number") or adopted.ref,
                }
            )
            self._link_documents(moves=adopted | invoice)
            return _(
                "Credit note %(credit_note)s, made for refund %(refund)s, now "
                "mirrors Stripe credit note %(number)s.",
                credit_note=adopted.name,
                refund=", ".join(refund_ids),
                number=credit_note.get("number"),
            )
        move, messages = self.env["account.move"]._stripe_mirror_credit_note(
            account, credit_note, invoice
        )
        self._link_documents(moves=move | invoice)
        messages.insert(
            0,
            _(
                "Credit note %(credit_note)s of %(amount)s on %(invoice)s mirrors "
                "Stripe credit note %(number)s.",
                credit_note=move.name,
                amount=move.currency_id.format(move.amount_total),
                invoice=invoice.name,
                number=move.ref,
            ),
        )
        if invoice.payment_state in const.OPEN_PAYMENT_STATES:
            # Before payment, Stripe lowers what the customer owes.
            (invoice | move).line_ids.filtered(
                lambda line: line.display_type == "payment_term" and not line.reconciled
            ).reconcile()
            messages.append(_("It lowers what %s still owes.", invoice.name))
        elif refund_ids:
            messages.append(
                _(
                    "Its refund %s is paid out by the refund's own event.",
                    ", ".join(refund_ids),
                )
            )
            self.account_id._stripe_billing_wake(refund_ids, exclude=self)
        else:
            messages.append(_("Stripe credits the customer's balance."))
        return " ".join(messages)

    def _handle_credit_note_voided(self):
        credit_note = self._get_object()
        move = self.env["account.move"].search(
            [
                ("stripe_account_id", "=", self.account_id.id),
                ("stripe_credit_note_id", "=", credit_note["id"]),
            ],
            limit=1,
        )
        if not move:
            raise StripeNothingToDo(
                _(
                    "Stripe credit note %s was voided before Odoo mirrored it.",
                    credit_note["id"],
                )
            )
        self._link_documents(moves=move)
        if move.reversal_move_ids:
            return _("%s is already reversed.", move.name)
        receivable = move.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        )
        receivable.remove_move_reconcile()
        reversal = self._stripe_billing_reverse(move, credit_note.get("voided_at"))
        return _(
            "Stripe voided credit note %(number)s: %(credit_note)s reversed by "
            "%(reversal)s.",
            number=move.ref,
            credit_note=move.name,
            reversal=reversal.name,
        )

    def _handle_customer_updated(self):
        """``customer.created`` and ``customer.updated``: the partner, found or
        created, keeps name, e-mail, phone and address in step (see
        ``res.partner._stripe_update_from_customer``)."""
        customer = self._get_object()
        if customer.get("deleted"):
            raise StripeNothingToDo(_("The customer was deleted in Stripe."))
        partner_model = self.env["res.partner"]
        partner = partner_model._stripe_find_customer_partner(self.account_id, customer)
        if not partner:
            partner = partner_model._stripe_partner_from_customer(
                self.account_id, customer
            )
            return _("Partner %s created.", partner.display_name)
        previous = utils.get_path(
            json.loads(self.payload), "data", "previous_attributes"
        )
        timestamp = (
            calendar.timegm(self.stripe_created.utctimetuple())
            if self.stripe_created
            else None
        )
        written, kept = partner._stripe_update_from_customer(
            customer, timestamp, previous
        )
        message = _(
            "Partner %(partner)s: %(written)s.",
            partner=partner.display_name,
            written=", ".join(written) if written else _("nothing to change"),
        )
        if kept:
            message += " " + _("Kept as changed in Odoo: %s.", ", ".join(kept))
        return message

    # === BILLING HELPERS === #

    def _stripe_billing_reverse(self, move, voided_at):
        """Reverse a mirrored invoice or credit note that Stripe voided, with
        Odoo's reversal (reconciled with it), dated as Stripe voided it (never
        before the document itself), and link the reversal to the event.

        :param int voided_at: Stripe's timestamp of the void, if any.
        :return: the reversal.
        """
        date = self.account_id._stripe_local_date(
            voided_at
        ) or fields.Date.context_today(self)
        reversal = move._reverse_moves(
            [
                {
                    "ref": _("Void of %s", move.ref),
                    "date": max(date, move.date),
                    "invoice_date": max(date, move.date),
                }
            ],
            cancel=True,
        )
        self._link_documents(moves=reversal)
        return reversal

    def _stripe_billing_mirror(self, stripe_invoice):
        """Mirror a Stripe invoice (once, see ``stripe.account.
        _stripe_billing_mirror``) and link it to the event.

        :return: ``(invoice, messages)``.
        """
        move, messages = self.account_id._stripe_billing_mirror(
            stripe_invoice, event=self
        )
        self._link_documents(moves=move)
        return move, messages

    def _stripe_billing_settle(self, stripe_invoice, move):
        """Messages of a paid Stripe invoice: paid by its PaymentIntent(s),
        outside Stripe, by the customer's balance, or nothing to pay.

        :raise StripeNotYet: its payment is not known yet.
        """
        account = self.account_id
        code = (stripe_invoice.get("currency") or "").upper()
        currency = move.currency_id

        def fmt(minor):
            return currency.format(float(utils.from_minor_units(minor, code)))

        messages = []
        total = stripe_invoice.get("total") or 0
        paid = stripe_invoice.get("amount_paid") or 0
        off_stripe = stripe_invoice.get("amount_paid_off_stripe") or 0
        if stripe_invoice.get("paid_out_of_band"):
            off_stripe = paid
        if total <= 0:
            return [_("Nothing to pay: the invoice's total is %s.", fmt(total))]
        credit = total - (stripe_invoice.get("amount_due") or 0)
        if credit > 0:
            messages.append(
                _(
                    "%(amount)s was settled in Stripe by the customer's credit "
                    "balance or credit notes: no money moved for it.",
                    amount=fmt(credit),
                )
            )
        if off_stripe:
            messages.append(
                _(
                    "%(amount)s was paid outside Stripe: register that payment on "
                    "the journal where the money arrived.",
                    amount=fmt(off_stripe),
                )
            )
        if paid - off_stripe <= 0 or move.payment_state in ("paid", "in_payment"):
            if move.payment_state in ("paid", "in_payment"):
                payments = move._get_reconciled_payments()
                messages.append(
                    _(
                        "%(invoice)s is paid (%(payments)s).",
                        invoice=move.name,
                        payments=", ".join(payments.mapped("name")) or "-",
                    )
                )
            return messages
        intents = list(
            dict.fromkeys(
                billing_tools.invoice_payment_intents(stripe_invoice)
                + self.env["stripe.invoice.payment"]._stripe_intents_of(
                    account, stripe_invoice["id"]
                )
            )
        )
        if not intents and account.has_api_key:
            for invoice_payment in account._stripe_list_all(
                _("the payments of invoice %s", stripe_invoice["id"]),
                "invoice_payments",
                invoice=stripe_invoice["id"],
                status="paid",
            ):
                intent_id = utils.get_path(invoice_payment, "payment", "payment_intent")
                if intent_id:
                    self.env["stripe.invoice.payment"]._stripe_link(
                        account, stripe_invoice["id"], intent_id, invoice_payment["id"]
                    )
                    intents.append(intent_id)
        if not intents:
            raise StripeNotYet(
                _(
                    "%(invoice)s mirrors Stripe invoice %(number)s; waiting for the "
                    "event that names its PaymentIntent (invoice_payment.paid).",
                    invoice=move.name,
                    number=move.ref,
                )
            )
        return messages + self._stripe_billing_pay(move, intents, wait=True)

    def _stripe_billing_pay(self, move, intents, wait):
        """See the mirrored invoice paid by these PaymentIntents, through the
        payment path (one payment per PaymentIntent, fee, conversion).

        A PaymentIntent already registered pays the invoice with what it left
        open; with a key, one not registered yet is read and registered now;
        otherwise its own event registers it.

        :param bool wait: wait (``StripeNotYet``) for a PaymentIntent
            that is not registered yet and cannot be read.
        :return: messages.
        """
        account = self.account_id
        messages = []
        for intent_id in intents:
            payment = self.env["account.payment"]._stripe_find(
                account | account._stripe_sibling_accounts(),
                [intent_id],
                payment_type="inbound",
            )[:1]
            if payment:
                self._link_documents(payments=payment)
                if move in payment._stripe_reconciled_invoices():
                    messages.append(
                        _("Paid by %s.", payment._stripe_description(invoices=move))
                    )
                    continue
                if (
                    move.payment_state in const.OPEN_PAYMENT_STATES
                    and payment._stripe_open_credit()
                ):
                    payment._stripe_open_lines(move).reconcile()
                    messages.append(
                        _("Paid by %s.", payment._stripe_description(invoices=move))
                    )
                continue
            if account.has_api_key:
                intent = account._stripe_call(
                    _("PaymentIntent %s", intent_id),
                    "payment_intents",
                    "retrieve",
                    intent_id,
                ).to_dict()
                if intent.get("status") != "succeeded":
                    messages.append(
                        _(
                            "PaymentIntent %(intent)s is %(status)s.",
                            intent=intent_id,
                            status=intent.get("status"),
                        )
                    )
                    continue
                try:
                    messages.append(
                        self._stripe_process_payment(
                            self._stripe_payment_rules()._stripe_payment_facts(intent),
                            document=move,
                        )
                    )
                except StripeNothingToDo as outcome:
                    messages.append(str(outcome))
                continue
            if wait:
                raise StripeNotYet(
                    _(
                        "%(invoice)s waits for PaymentIntent %(intent)s to be "
                        "registered by its payment_intent.succeeded event.",
                        invoice=move.name,
                        intent=intent_id,
                    )
                )
            messages.append(
                _("PaymentIntent %s is registered by its own event.", intent_id)
            )
        return messages

    # === BATCH BOOKING === #

    def _stripe_batch_bookers(self):
        bookers = super()._stripe_batch_bookers()
        bookers.append((("_handle_invoice_paid",), "_stripe_prebook_paid_invoices"))
        return bookers

    def _stripe_prebook_paid_invoices(self):
        """Book in a few calls what the ``invoice.paid`` events of a batch
        would book one by one: the mirrored invoices (one ``create``, one
        ``action_post``), their payments (one Odoo payment registration over
        them all, one payment per invoice) and the Stripe fees (one ``create``).

        Only what is certain is pre-booked: a Stripe invoice paid in full by one
        PaymentIntent, in the settlement currency, not mirrored yet, on an
        account with a key (which reads the PaymentIntent and its fee). Each
        event is then processed as usual and finds its documents booked; an
        invoice this leaves aside is booked by its own event.

        :return: dict event id -> messages saying what was booked for it.
        """
        notes = {}
        for account in self.account_id:
            if account.has_api_key and account.active:
                events = self.filtered(lambda e, a=account: e.account_id == a)
                notes.update(events._stripe_prebook_account_invoices(account))
        return notes

    def _stripe_prebook_account_invoices(self, account):
        candidates = {}
        for event in self:
            stripe_invoice = event._get_object()
            code = stripe_invoice.get("currency")
            if (
                stripe_invoice.get("id") not in candidates
                and billing_tools.paid_in_full_by_stripe(stripe_invoice)
                and (code or "").upper() == account.currency_id.name
                and account._stripe_billing_owner(code) == account
            ):
                candidates[stripe_invoice["id"]] = (event, stripe_invoice)
        mirrored = self.env["account.move"].search(
            [
                (
                    "stripe_account_id",
                    "in",
                    (account | account._stripe_sibling_accounts()).ids,
                ),
                ("stripe_invoice_id", "in", list(candidates)),
            ]
        )
        for stripe_invoice_id in mirrored.mapped("stripe_invoice_id"):
            candidates.pop(stripe_invoice_id, None)
        plans = []
        for event, stripe_invoice in candidates.values():
            try:
                with self.env.cr.savepoint():
                    plan = event._stripe_prebook_plan(account, stripe_invoice)
            except (UserError, StripeNothingToDo, StripeNotYet):
                plan = None  # its own event says why
            if plan:
                plans.append(plan)
        plans = self._stripe_prebook_unique(account, plans)
        if not plans:
            return {}
        return self._stripe_prebook_book(account, plans)

    def _stripe_prebook_plan(self, account, stripe_invoice):
        """What pre-booking one paid Stripe invoice takes: its mirror's values,
        its one PaymentIntent read with its charge and balance transaction.

        :return: a dict, or None when the invoice is left to its own event.
        """
        self.ensure_one()
        move_model = self.env["account.move"]
        links = self.env["stripe.invoice.payment"]
        prepared = move_model._stripe_prepare_mirror(account, stripe_invoice)
        intents = list(
            dict.fromkeys(
                billing_tools.invoice_payment_intents(stripe_invoice)
                + links._stripe_intents_of(account, stripe_invoice["id"])
            )
        )
        if not intents:
            intents = [
                intent_id
                for invoice_payment in account._stripe_list_all(
                    _("the payments of invoice %s", stripe_invoice["id"]),
                    "invoice_payments",
                    invoice=stripe_invoice["id"],
                    status="paid",
                )
                if (
                    intent_id := utils.get_path(
                        invoice_payment, "payment", "payment_intent"
                    )
                )
                and links._stripe_link(
                    account, stripe_invoice["id"], intent_id, invoice_payment["id"]
                )
            ]
        if len(intents) != 1:
            return None
        intent = account._stripe_call(
            _("PaymentIntent %s", intents[0]),
            "payment_intents",
            "retrieve",
            intents[0],
            params={"expand": ["latest_charge.balance_transaction"]},
        ).to_dict()
        rules = self._stripe_payment_rules()
        facts = self._stripe_add_report_time(rules._stripe_payment_facts(intent))
        utils.add_intent_facts(facts, intent)
        facts.completed = True
        if (
            intent.get("status") != "succeeded"
            or facts.amount != stripe_invoice["total"]
            or not facts.settled_as_paid()
        ):
            return None
        rules._stripe_check_not_provider_payment(facts)
        rules._stripe_check_settlement(facts.balance_transaction)
        return {
            "event": self,
            "stripe_invoice": stripe_invoice,
            "prepared": prepared,
            "facts": facts,
            "date": rules._stripe_payment_date(facts),
        }

    def _stripe_prebook_book(self, account, plans):
        """Create the planned invoices in one ``create``, then post and pay them
        (``_stripe_prebook_pay``: one ``action_post``, after everything is
        created).

        :return: dict event id -> messages.
        """
        invoices, corrections = self.env["account.move"]._stripe_create_mirrors(
            [plan["prepared"] for plan in plans]
        )
        links = self.env["stripe.invoice.payment"]
        for plan, invoice in zip(plans, invoices, strict=True):
            plan["invoice"] = invoice
            plan["messages"] = []
            links._stripe_link(
                account, plan["stripe_invoice"]["id"], plan["facts"].payment_intent_id
            )
        notes = self._stripe_prebook_pay(account, plans, to_post=invoices)
        for plan, messages in zip(
            plans, invoices._stripe_mirror_messages(corrections), strict=True
        ):
            notes[plan["event"].id][:0] = messages
        account._stripe_billing_wake(
            [
                object_id
                for plan in plans
                for object_id in (
                    plan["stripe_invoice"]["id"],
                    plan["facts"].payment_intent_id,
                )
            ]
        )
        return notes

    # === REFUNDS (extension) === #

    def _stripe_create_credit_note(self, invoice, refund, amount, currency, date):
        """A refund of a mirrored Stripe invoice's payment is credited by the
        Stripe credit note that lists it: no second credit note.

        The refund carries no link to its credit note. With a key, the
        invoice's credit notes are read at once. Without, the refund waits for
        the credit note (``const.BILLING_REFUND_CREDIT_NOTE_WAIT``), then is
        credited the usual way.
        """
        if not invoice.stripe_invoice_id:
            return super()._stripe_create_credit_note(
                invoice, refund, amount, currency, date
            )
        credit_note = self._stripe_billing_credit_note_of_refund(invoice, refund["id"])
        if credit_note:
            return credit_note
        account = self.account_id
        if account.has_api_key:
            for stripe_credit_note in account._stripe_list_all(
                _("the credit notes of invoice %s", invoice.stripe_invoice_id),
                "credit_notes",
                invoice=invoice.stripe_invoice_id,
            ):
                listed = [
                    utils.object_id(r.get("refund"))
                    for r in stripe_credit_note.get("refunds") or []
                ]
                if (
                    refund["id"] in listed
                    and stripe_credit_note.get("status") != "void"
                ):
                    credit_note, _messages = self.env[
                        "account.move"
                    ]._stripe_mirror_credit_note(account, stripe_credit_note, invoice)
                    return credit_note
            return super()._stripe_create_credit_note(
                invoice, refund, amount, currency, date
            )
        if not self._stripe_wait_over():
            raise StripeNotYet(
                _(
                    "Refund %(refund)s of %(invoice)s (Stripe invoice %(number)s) "
                    "waits for the Stripe credit note that lists it, for up to "
                    "%(minutes)s minutes; then it is credited as any refund.",
                    refund=refund["id"],
                    invoice=invoice.name,
                    number=invoice.ref,
                    minutes=const.BILLING_REFUND_CREDIT_NOTE_WAIT // 60,
                ),
                give_up_after=const.BILLING_REFUND_CREDIT_NOTE_WAIT,
            )
        return super()._stripe_create_credit_note(
            invoice, refund, amount, currency, date
        )

    def _stripe_billing_credit_note_of_refund(self, invoice, refund_id):
        """The mirrored credit note whose Stripe credit note lists the refund
        (exactly: a refund whose id begins another's is not that one)."""
        return (
            self.env["account.move"]
            .search(
                [
                    ("stripe_account_id", "=", invoice.stripe_account_id.id),
                    ("stripe_refund_ids", "ilike", refund_id),
                    ("move_type", "=", "out_refund"),
                    ("state", "=", "posted"),
                ]
            )
            .filtered(lambda move: refund_id in move.stripe_refund_ids.split())[:1]
        )

    def _stripe_billing_refund_credit_note(self, refund_ids, credit_note):
        """The credit note the usual refund path made for one of these refunds
        (it waited for this credit note in vain): it becomes this one's mirror
        when of the same amount."""
        if not refund_ids:
            return self.env["account.move"]
        payments = self.env["account.payment"]._stripe_find(
            self.account_id, refund_ids, payment_type="outbound"
        )
        candidates = payments.move_id.line_ids.matched_debit_ids.debit_move_id.move_id
        candidates |= (
            payments.move_id.line_ids.matched_credit_ids.credit_move_id.move_id
        )
        code = (credit_note.get("currency") or "").upper()
        return candidates.filtered(
            lambda move: (
                move.move_type == "out_refund"
                and not move.stripe_credit_note_id
                and utils.to_minor_units(move.amount_total, code)
                == credit_note.get("total")
            )
        )[:1]
