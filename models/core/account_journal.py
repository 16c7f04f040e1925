from odoo import _, fields, models
from odoo.exceptions import UserError

from ... import const


class AccountJournal(models.Model):
    """The Stripe journal's *Stripe* payment method and its dashboard card."""

    _inherit = "account.journal"

    stripe_account_ids = fields.One2many("stripe.account", "journal_id")
    stripe_failed_event_count = fields.Integer(
        string="Failed Stripe Events",
        compute="_compute_stripe_failed_event_count",
    )
    stripe_is_stripe_journal = fields.Boolean(
        compute="_compute_stripe_dashboard_counts"
    )
    stripe_payout_to_reconcile_count = fields.Integer(
        string="Stripe Payouts to Reconcile",
        compute="_compute_stripe_dashboard_counts",
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

    def _compute_stripe_dashboard_counts(self):
        counts = dict(
            self.env["stripe.payout"]._read_group(
                [
                    ("account_id.journal_id", "in", self.ids),
                    ("state", "in", ("to_reconcile", "error")),
                ],
                ["account_id"],
                ["__count"],
            )
        )
        for journal in self:
            journal.stripe_is_stripe_journal = bool(journal.stripe_account_ids)
            journal.stripe_payout_to_reconcile_count = sum(
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

    def action_stripe_open_payouts_to_reconcile(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stripe_connector.stripe_payout_action"
        )
        action["domain"] = [
            ("account_id", "in", self.stripe_account_ids.ids),
            ("state", "in", ("to_reconcile", "error")),
        ]
        return action

    def _select_action_to_open(self):
        """The card's *Transactions* button of a Stripe journal opens its journal
        entries: Stripe's movements are entries, not bank statements."""
        # sudo: whether the journal is a Stripe journal, whoever asks.
        if not self.env.context.get("action_name") and self.sudo().stripe_account_ids:
            return "action_move_journal_line"
        return super()._select_action_to_open()

    # === BUSINESS METHODS === #

    def _stripe_configure_journal(self):
        """Make the journal's payments post straight to its own balance account.

        The Stripe journal mirrors the Stripe balance: a payment Stripe reports is
        already in that balance, so there is nothing "outstanding" to wait for. Odoo
        supports this by setting the journal's default account as the payment
        method line's account; such payments count as matched and the invoices they
        pay are ``paid`` at once. The journal also gets *Stripe* payment method
        lines (in and out) posting there.
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
        methods = self.env["account.payment.method"].search(
            [("code", "=", const.STRIPE_PAYMENT_METHOD_CODE)]
        )
        for journal in self:
            for method in methods:
                lines = journal[f"{method.payment_type}_payment_method_line_ids"]
                line = lines.filtered(
                    lambda line, m=method: line.payment_method_id == m
                )
                if not line:
                    self.env["account.payment.method.line"].create(
                        {
                            "name": method.name,
                            "payment_method_id": method.id,
                            "journal_id": journal.id,
                            "payment_account_id": journal.default_account_id.id,
                            "sequence": 1,
                        }
                    )
                elif line.payment_account_id != journal.default_account_id:
                    line.payment_account_id = journal.default_account_id

    def _stripe_get_payment_method_line(self, payment_type):
        """Return the payment method line Stripe payments of a direction use: the
        *Stripe* line when the journal has it, else one posting to the journal's
        own account.

        :param str payment_type: ``inbound`` or ``outbound``.
        :raise UserError: when the journal has no line posting to its own account.
        """
        self.ensure_one()
        lines = self[f"{payment_type}_payment_method_line_ids"].filtered(
            lambda line: line.payment_account_id == self.default_account_id
        )
        line = (
            lines.filtered(lambda line: line.code == const.STRIPE_PAYMENT_METHOD_CODE)
            or lines
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
