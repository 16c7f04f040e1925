from odoo import _, fields, models


class StripeEvent(models.Model):
    """Dispute events: every ``charge.dispute.*`` event brings the dispute up to
    date with its snapshot; ``stripe.dispute`` books each step once."""

    _inherit = "stripe.event"

    dispute_id = fields.Many2one("stripe.dispute", readonly=True)

    def _handle_dispute(self):
        data = self._get_object()
        for transaction in data.get("balance_transactions") or []:
            self._stripe_check_settlement(transaction)
        dispute, booked = self.env["stripe.dispute"]._stripe_apply_snapshot(
            self.account_id, data, self.stripe_created or fields.Datetime.now()
        )
        self.dispute_id = dispute
        self._link_documents(moves=booked)
        if booked:
            return _(
                "Dispute %(dispute)s (%(state)s): booked %(moves)s.",
                dispute=dispute.stripe_id,
                state=dispute.state,
                moves=", ".join(booked.mapped("name")),
            )
        if dispute.state == "open":
            return _(
                "Dispute %(dispute)s recorded (%(status)s); no money has moved yet.",
                dispute=dispute.stripe_id,
                status=dispute.status,
            )
        return _(
            "Dispute %(dispute)s (%(state)s): nothing new to book.",
            dispute=dispute.stripe_id,
            state=dispute.state,
        )
