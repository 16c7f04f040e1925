from odoo import _, api, fields, models
from odoo.exceptions import UserError


class StripeEventIgnore(models.TransientModel):
    """Confirm ignoring events that would have booked money, with a reason that
    stays in their chatter."""

    _name = "stripe.event.ignore"
    _description = "Ignore Stripe Events"

    event_ids = fields.Many2many("stripe.event", string="Events", required=True)
    summary = fields.Text(compute="_compute_summary")
    is_single = fields.Boolean(
        compute="_compute_summary", help="One event: the dialog speaks of it."
    )
    reason = fields.Text(
        required=True,
        help="Why nothing is to be booked for these events; kept in their chatter.",
    )

    @api.depends("event_ids")
    def _compute_summary(self):
        for wizard in self:
            wizard.is_single = len(wizard.event_ids) == 1
            events = wizard.event_ids.filtered(
                lambda e: e.books_money and e.state != "done"
            )
            wizard.summary = "\n".join(
                self.env._(
                    "%(title)s (%(event)s): %(amount)s will not be booked in Odoo.",
                    title=event.title or event.type,
                    event=event.stripe_id,
                    amount=event._stripe_amount_text(),
                )
                for event in events
            )

    def action_confirm(self):
        self.ensure_one()
        reason = (self.reason or "").strip()
        if not reason:
            raise UserError(
                _("Say why this event is ignored.")
                if self.is_single
                else _("Say why these events are ignored.")
            )
        self.event_ids._stripe_mark_ignored_with_reason(reason)
        return {"type": "ir.actions.act_window_close"}
