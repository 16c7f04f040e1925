from odoo import _, api, models
from odoo.osv import expression

from ... import const


class AccountMove(models.Model):
    _inherit = "account.move"

    # === CRUD METHODS === #

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

    # === BUSINESS METHODS === #

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

    # === BUSINESS METHODS === #

    def _stripe_lines_to_pay(self):
        """The invoices' receivable lines not reconciled yet: what Odoo's
        payment registration pays."""
        valid_types = self.env["account.payment"]._get_valid_payment_account_types()
        return self.line_ids.filtered(
            lambda line: line.account_type in valid_types and not line.reconciled
        )

    def _stripe_payable_at_once(self, amount, currency):
        """Whether a payment of ``amount`` in ``currency`` pays this invoice
        exactly through Odoo's registration of many invoices at once: posted,
        open, in that currency, that amount due, in one installment (the
        registration of many invoices pays each one's next installment)."""
        self.ensure_one()
        return (
            self.state == "posted"
            and self.payment_state in const.OPEN_PAYMENT_STATES
            and self.currency_id == currency
            and not currency.compare_amounts(self.amount_residual, amount)
            and len(self._stripe_lines_to_pay()) == 1
        )
