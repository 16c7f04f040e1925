import json

from markupsafe import Markup

from odoo import _, api, fields, models

from .. import utils

# Event types whose handler books no money (a failed payment only leaves a note).
NO_MONEY_TYPES = (
    "payment_intent.payment_failed",
    "checkout.session.async_payment_failed",
)


class StripeEvent(models.Model):
    """What an event is about, in words a user reads in the log: its title, amount,
    customer and date, stored from the payload so that they can be listed, searched
    and grouped; the screens around a failed event (documents, ignoring)."""

    _inherit = "stripe.event"

    # === WHAT THE EVENT IS ABOUT (stored from the payload) === #

    title = fields.Char(
        compute="_compute_display_facts",
        store=True,
        help="What the event is about, e.g. 'Payment of $ 147.00 from cus_...'.",
    )
    amount = fields.Monetary(
        compute="_compute_display_facts",
        store=True,
        help="The amount of the Stripe object, in its own currency.",
    )
    currency_id = fields.Many2one(
        "res.currency", compute="_compute_display_facts", store=True
    )
    customer_ref = fields.Char(
        string="Stripe Customer",
        compute="_compute_display_facts",
        store=True,
        index="btree_not_null",
    )
    customer_email = fields.Char(
        string="Customer E-mail", compute="_compute_display_facts", store=True
    )
    description = fields.Char(compute="_compute_display_facts", store=True)
    object_date = fields.Datetime(
        compute="_compute_display_facts",
        store=True,
        help="When the Stripe object (payment, refund, payout...) was created.",
    )
    books_money = fields.Boolean(
        compute="_compute_books_money",
        help="Processing this event books an amount in Odoo.",
    )

    # === COMPUTE METHODS === #

    @api.depends("payload", "type")
    def _compute_display_facts(self):
        currencies = {}
        for event in self:
            try:
                obj = utils.get_path(
                    json.loads(event.payload or "{}"), "data", "object", default={}
                )
            except ValueError:
                obj = {}
            if not isinstance(obj, dict):
                obj = {}
            minor, code = self._stripe_display_amount(obj)
            currency = self.env["res.currency"]
            if code:
                if code not in currencies:
                    currencies[code] = (
                        self.env["res.currency"]
                        .with_context(active_test=False)
                        .search([("name", "=", code)], limit=1)
                    )
                currency = currencies[code]
            amount = (
                float(utils.from_minor_units(minor, code))
                if currency and minor is not None
                else 0.0
            )
            customer = utils.object_id(obj.get("customer"))
            email = (
                obj.get("receipt_email")
                or utils.get_path(obj, "customer_details", "email")
                or obj.get("customer_email")
                or utils.get_path(obj, "billing_details", "email")
            )
            event.amount = amount
            event.currency_id = currency
            event.customer_ref = utils.clean_text(customer, 255) or False
            event.customer_email = utils.clean_text(email, 255) or False
            event.description = utils.clean_text(obj.get("description"), 255) or False
            event.object_date = utils.timestamp_to_datetime(obj.get("created"))
            event.title = event._stripe_title(amount if currency else None, currency)

    @api.depends("type", "amount", "state")
    def _compute_books_money(self):
        handlers = self._get_event_handlers()
        for event in self:
            event.books_money = bool(
                event.type in handlers
                and event.type not in NO_MONEY_TYPES
                and event.amount
            )

    # === ACTION METHODS === #

    def action_mark_ignored(self):
        """Ignore events; one that would have booked money asks for a confirmation
        and a reason first (kept in its chatter)."""
        self.check_access("write")
        if not self.env.context.get("stripe_ignore_confirmed") and any(
            event.books_money for event in self if event.state != "done"
        ):
            return {
                "type": "ir.actions.act_window",
                "name": _("Mark as Ignored"),
                "res_model": "stripe.event.ignore",
                "view_mode": "form",
                "target": "new",
                "context": {"default_event_ids": self.ids},
            }
        return super().action_mark_ignored()

    def action_open_documents(self):
        """Open what the event produced: the document itself, a list of one kind,
        or, for several kinds, the journal entries of all of them (a payment is a
        journal entry too) and the orders."""
        action = super().action_open_documents()
        if action:
            return action
        self.ensure_one()
        moves = self.move_ids | self.payment_ids.move_id
        if not moves:
            return False
        action = {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "name": _("Documents of %s", self.stripe_id),
            "view_mode": "list,form",
            "views": [
                (self.env.ref("account.view_move_tree").id, "list"),
                (False, "form"),
            ],
            "domain": [
                "|",
                ("id", "in", moves.ids),
                ("id", "in", self.sale_order_ids.invoice_ids.ids),
            ],
            "context": {"create": False},
        }
        return action

    # === PROCESSING === #

    def _process_one(self):
        """Count the attempt that ended the event done or ignored too (failures
        and races count theirs already)."""
        attempts = self.attempts
        res = super()._process_one()
        if self.state in ("done", "ignored") and self.attempts == attempts:
            self.attempts = attempts + 1
        return res

    # === BUSINESS METHODS === #

    def _stripe_mark_ignored_with_reason(self, reason):
        """Ignore the events, the reason in their chatter."""
        for event in self:
            event.message_post(
                body=Markup("%s<br/>%s")
                % (
                    _(
                        "Marked as ignored by %(user)s although it would have booked "
                        "%(amount)s.",
                        user=self.env.user.name,
                        amount=event._stripe_amount_text(),
                    ),
                    _("Reason: %s", reason),
                )
            )
        return self.with_context(stripe_ignore_confirmed=True).action_mark_ignored()

    @api.model
    def _stripe_display_amount(self, obj):
        """The amount an object is about, in minor units, and its currency.

        :return: ``(int or None, str or None)``
        """
        kind = obj.get("object")
        if kind == "payment_intent":
            minor = obj.get("amount_received") or obj.get("amount")
        elif kind == "checkout.session":
            minor = obj.get("amount_total")
        elif (
            kind == "charge"
            and obj.get("refunded") is not None
            and obj.get("amount_refunded")
        ):
            minor = obj.get("amount_refunded")
        else:
            minor = obj.get("amount")
        code = (obj.get("currency") or "").upper() or None
        if not isinstance(minor, int) or not code:
            return None, code
        return minor, code

    def _stripe_amount_text(self):
        self.ensure_one()
        if not self.currency_id:
            return _("an amount")
        return self.currency_id.format(self.amount)

    def _stripe_title(self, amount, currency):
        """A human title for the event from its type and object."""
        self.ensure_one()
        event_type = self.type or ""
        who = self.customer_ref or self.customer_email
        if self.customer_ref and self.customer_email:
            who = f"{self.customer_ref} ({self.customer_email})"
        what = currency.format(amount) if currency and amount is not None else None
        if event_type in NO_MONEY_TYPES:
            kind = _("Failed payment")
        elif event_type.startswith(("payment_intent.", "checkout.session.")) or (
            event_type == "charge.succeeded"
        ):
            kind = _("Payment")
        elif event_type.startswith("charge.dispute."):
            kind = _("Dispute")
        elif event_type.startswith("refund.") or event_type == "charge.refunded":
            kind = _("Refund")
        elif event_type.startswith("payout."):
            kind = _("Payout")
        else:
            return event_type
        if what and who:
            return _(
                "%(kind)s of %(amount)s from %(who)s", kind=kind, amount=what, who=who
            )
        if what:
            return _("%(kind)s of %(amount)s", kind=kind, amount=what)
        return _("%(kind)s (%(type)s)", kind=kind, type=event_type)
