from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ... import const


class StripeTieoutItem(models.Model):
    """A difference a month tie-out found: a balance transaction Stripe has and
    Odoo did not book, an entry Odoo has and Stripe does not, one booked with
    another amount or date, or a payout whose report rows and bookings differ."""

    _name = "stripe.tieout.item"
    _description = "Stripe Tie-out Difference"
    _inherit = ["stripe.owned.mixin"]
    _order = "tieout_id, kind, reporting_category, id"

    tieout_id = fields.Many2one(
        "stripe.tieout", required=True, ondelete="cascade", index=True
    )
    currency_id = fields.Many2one(related="tieout_id.currency_id")
    kind = fields.Selection(
        [
            ("missing_in_odoo", "In Stripe, not in Odoo"),
            ("missing_in_stripe", "In Odoo, not in Stripe"),
            ("amount", "Booked with another amount"),
            ("date", "Booked on another date"),
            ("payout", "Payout report differs"),
        ],
        required=True,
    )
    reporting_category = fields.Char()
    stripe_transaction_id = fields.Char(string="Balance Transaction")
    stripe_source_id = fields.Char(string="Source")
    stripe_amount = fields.Monetary(string="Stripe")
    odoo_amount = fields.Monetary(string="Odoo")
    date = fields.Date()
    move_id = fields.Many2one("account.move", string="Journal Entry")
    payout_id = fields.Many2one("stripe.payout")
    event_id = fields.Many2one("stripe.event", compute="_compute_event_id")
    note = fields.Char()
    explanation = fields.Text()

    @api.depends("stripe_source_id", "stripe_transaction_id")
    def _compute_event_id(self):
        for item in self:
            item.event_id = (
                self.env["stripe.event"].search(
                    [
                        ("account_id", "=", item.account_id.id),
                        ("stripe_object_id", "=", item.stripe_source_id),
                    ],
                    order="id desc",
                    limit=1,
                )
                if item.stripe_source_id
                else False
            )

    @api.depends("kind", "stripe_transaction_id", "move_id")
    def _compute_display_name(self):
        labels = dict(self._fields["kind"]._description_selection(self.env))
        for item in self:
            item.display_name = "%s: %s" % (
                labels.get(item.kind),
                item.stripe_transaction_id or item.move_id.name or "",
            )

    def _stripe_key(self):
        """What identifies the difference from one computation to the next."""
        self.ensure_one()
        return (
            self.kind,
            self.stripe_transaction_id or "",
            self.move_id.id or 0,
            self.payout_id.id or 0,
        )

    def action_book(self):
        """Book a transaction Stripe has and Odoo does not: its event is
        processed again when Odoo received one, else the transaction is read
        from Stripe and booked as a payout would book it."""
        self.ensure_one()
        if self.kind != "missing_in_odoo":
            raise UserError(_("Only a transaction missing in Odoo can be booked."))
        if self.reporting_category == "fee" and self.stripe_source_id:
            raise UserError(
                _(
                    "The fee of %s is booked with its payout (or at once when the "
                    "account has a secret key).",
                    self.stripe_transaction_id,
                )
            )
        if self.event_id and self.event_id.state in ("failed", "ignored", "waiting"):
            self.event_id.action_retry()
        else:
            transaction = self._stripe_import_transaction()
            how = const.PAYOUT_BOOKING.get(transaction.reporting_category)
            if how not in ("payment", "refund", "refund_failure"):
                raise UserError(
                    _(
                        "Transaction %(transaction)s (%(category)s) is booked when "
                        "its payout is reconciled.",
                        transaction=transaction.stripe_id,
                        category=transaction.reporting_category,
                    )
                )
            if transaction.link_state == "to_book":
                transaction._stripe_book_payment()
        self.tieout_id.message_post(
            body=_(
                "Transaction %s booked from the tie-out.", self.stripe_transaction_id
            )
        )
        return True

    def _stripe_import_transaction(self):
        """The ``stripe.balance.transaction`` of this item, read from Stripe."""
        account = self.account_id
        data = account._stripe_call(
            _("balance transaction %s", self.stripe_transaction_id),
            "balance_transactions",
            "retrieve",
            self.stripe_transaction_id,
            params={"expand": ["source"]},
        ).to_dict()
        return self.env["stripe.balance.transaction"]._stripe_store(account, [data])

    def action_open_move(self):
        self.ensure_one()
        record = self.move_id or self.payout_id
        return record.get_formview_action() if record else False
