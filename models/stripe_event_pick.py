from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.osv import expression
from odoo.tools import email_normalize

from .. import const

OPEN_INVOICE_DOMAIN = [
    ("move_type", "in", ("out_invoice", "out_receipt")),
    ("state", "=", "posted"),
    ("payment_state", "in", ("not_paid", "partial")),
]


class StripeEvent(models.Model):
    """Between an event and the documents it pays: the invoice to pick (open ones,
    likely ones first), and the links from the invoice and the payment back to the
    event and to Stripe's dashboard."""

    _inherit = "stripe.event"

    invoice_id = fields.Many2one(
        domain="[('move_type', 'in', ('out_invoice', 'out_receipt')), "
        "('state', '=', 'posted'), ('payment_state', 'in', ('not_paid', 'partial')), "
        "('company_id', '=', company_id)]",
    )

    # === BUSINESS METHODS === #

    def _stripe_suggested_invoices(self):
        """Open invoices this event is likely for: the Stripe customer's (by its
        Stripe id, else its e-mail) and those whose amount due is the event's, in
        its currency. Those matching both come first.

        :return: ``account.move`` records, best first.
        """
        self.ensure_one()
        base = [*OPEN_INVOICE_DOMAIN, ("company_id", "=", self.company_id.id)]
        partners = self.env["res.partner"]
        if self.customer_ref:
            partners = partners.search(
                [("stripe_customer_id", "=", self.customer_ref)]
            ).commercial_partner_id
        email = email_normalize(self.customer_email or "")
        if not partners and email:
            partners = partners.search(
                [("email_normalized", "=", email)]
            ).commercial_partner_id
        clauses = []
        if partners:
            clauses.append([("commercial_partner_id", "in", partners.ids)])
        if self.currency_id and self.amount:
            clauses.append(
                [
                    ("currency_id", "=", self.currency_id.id),
                    ("amount_residual", "=", self.amount),
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
                    invoice.amount_residual, self.amount
                )
            )
            due = invoice.invoice_date_due or invoice.date
            return (-(same_customer + same_amount), due.toordinal(), invoice.id)

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
            object_id = facts.get("payment_intent_id") or facts.get("charge_id")
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
                if facts.get("charge_id") and facts["charge_id"] != object_id:
                    parts.append(Markup(", %s") % facts["charge_id"])
                parts.append(Markup(") "))
            parts.append(
                Markup('&#8212; <a href="%s">%s</a>')
                % (
                    self._stripe_event_url(),
                    _("Stripe event %s", self.stripe_id),
                )
            )
            invoice.message_post(body=Markup("").join(parts))


class StripePaymentRules(models.AbstractModel):
    _inherit = "stripe.payment.rules"

    def _stripe_pay_invoice(self, invoice, facts, amount, currency):
        """A payment an event registers is named in the invoice's chatter."""
        payments = super()._stripe_pay_invoice(invoice, facts, amount, currency)
        event = self._stripe_event()
        if event:
            event._stripe_note_invoice_payment(
                invoice, payments, facts, amount, currency
            )
        return payments


class AccountMove(models.Model):
    _inherit = "account.move"

    @api.model
    def name_search(self, name="", args=None, operator="ilike", limit=100):
        """Picking the invoice a Stripe event pays (context
        ``stripe_pick_event_id``): the likely invoices first, each choice with its
        customer, amount and amount due."""
        event_id = self.env.context.get("stripe_pick_event_id")
        if not event_id:
            return super().name_search(name, args, operator, limit)
        event = self.env["stripe.event"].browse(event_id).exists()
        suggested = event._stripe_suggested_invoices() if event else self.browse()
        if suggested:
            suggested = suggested.filtered_domain(
                expression.AND([[("display_name", operator, name)], args or []])
                if name
                else (args or [])
            )
        rest_ids = [
            id_
            for id_, _name in super().name_search(
                name,
                expression.AND([args or [], [("id", "not in", suggested.ids)]]),
                operator,
                max((limit or 100) - len(suggested), 1),
            )
        ]
        return [
            (invoice.id, invoice._stripe_pick_label(suggested=True))
            for invoice in suggested[:limit]
        ] + [
            (invoice.id, invoice._stripe_pick_label())
            for invoice in self.browse(rest_ids)
        ][: max((limit or 100) - len(suggested), 0)]

    def _stripe_pick_label(self, suggested=False):
        self.ensure_one()
        label = _(
            "%(name)s · %(customer)s · %(total)s, due %(residual)s",
            name=self.name,
            customer=self.partner_id.display_name or "",
            total=self.currency_id.format(self.amount_total),
            residual=self.currency_id.format(self.amount_residual),
        )
        return _("★ Suggested: %s", label) if suggested else label


class AccountPayment(models.Model):
    _inherit = "account.payment"

    stripe_event_id = fields.Many2one(
        "stripe.event",
        compute="_compute_stripe_event_id",
        help="The Stripe event that registered this payment.",
    )

    def _compute_stripe_event_id(self):
        events = self.env["stripe.event"].search(
            [("payment_ids", "in", self.ids)], order="id"
        )
        for payment in self:
            payment.stripe_event_id = events.filtered(
                lambda e, p=payment: p in e.payment_ids
            )[:1]

    def action_stripe_open_event(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stripe.event",
            "res_id": self.stripe_event_id.id,
            "view_mode": "form",
        }
