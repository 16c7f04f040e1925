from odoo import _, fields, models
from odoo.exceptions import UserError


class AccountJournal(models.Model):
    _inherit = "account.journal"

    stripe_account_ids = fields.One2many("stripe.account", "journal_id")
    stripe_failed_event_count = fields.Integer(
        string="Failed Stripe Events",
        compute="_compute_stripe_failed_event_count",
    )

    # === COMPUTE METHODS === #

    def _compute_stripe_failed_event_count(self):
        counts = dict(
            self.env["stripe.event"]._read_group(
                [("account_id.journal_id", "in", self.ids), ("state", "=", "failed")],
                ["account_id"],
                ["__count"],
            )
        )
        for journal in self:
            journal.stripe_failed_event_count = sum(
                counts.get(account, 0) for account in journal.stripe_account_ids
            )

    # === ACTION METHODS === #

    def action_stripe_open_failed_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_event_action"
        )
        action["domain"] = [("account_id", "in", self.stripe_account_ids.ids)]
        action["context"] = {"search_default_failed": 1}
        return action

    # === BUSINESS METHODS === #

    def _stripe_configure_journal(self):
        """Make the journal's payments post straight to its own balance account.

        The Stripe journal mirrors the Stripe balance: a payment Stripe reports is
        already in that balance, so there is nothing "outstanding" to wait for. Odoo
        supports this by setting the journal's default account as the payment
        method line's account; such payments count as matched and the invoices they
        pay are ``paid`` at once.
        """
        for journal in self:
            lines = (
                journal.inbound_payment_method_line_ids
                | journal.outbound_payment_method_line_ids
            ).filtered(lambda line: line.code == "manual")
            lines.filtered(
                lambda line, journal=journal: (
                    line.payment_account_id != journal.default_account_id
                )
            ).payment_account_id = journal.default_account_id

    def _stripe_get_payment_method_line(self, payment_type):
        """Return the payment method line Stripe payments of a direction use.

        :param str payment_type: ``inbound`` or ``outbound``.
        :raise UserError: when the journal has no line posting to its own account.
        """
        self.ensure_one()
        lines = (
            self.inbound_payment_method_line_ids
            if payment_type == "inbound"
            else self.outbound_payment_method_line_ids
        )
        line = lines.filtered(
            lambda line: line.payment_account_id == self.default_account_id
        )[:1]
        if not line:
            raise UserError(
                _(
                    "The Stripe journal %(journal)s has no %(direction)s payment "
                    "method posting to its account %(account)s. Add one (or open "
                    "the Stripe account and save it again to restore it).",
                    journal=self.display_name,
                    direction=payment_type,
                    account=self.default_account_id.display_name,
                )
            )
        return line
