from odoo import fields, models

from .. import const


class AccountJournal(models.Model):
    """The Stripe journal's *Stripe* payment method and its dashboard card."""

    _inherit = "account.journal"

    stripe_is_stripe_journal = fields.Boolean(
        compute="_compute_stripe_dashboard_counts"
    )
    stripe_payout_to_reconcile_count = fields.Integer(
        string="Stripe Payouts to Reconcile",
        compute="_compute_stripe_dashboard_counts",
    )

    # === COMPUTE METHODS === #

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

    # === BUSINESS METHODS === #

    def _stripe_configure_journal(self):
        """Give the journal *Stripe* payment method lines (in and out) posting
        straight to its own account, as its manual ones do."""
        res = super()._stripe_configure_journal()
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
        return res

    def _stripe_get_payment_method_line(self, payment_type):
        """The *Stripe* line when the journal has it, else the one posting to the
        journal's own account."""
        self.ensure_one()
        line = self[f"{payment_type}_payment_method_line_ids"].filtered(
            lambda line: (
                line.code == const.STRIPE_PAYMENT_METHOD_CODE
                and line.payment_account_id == self.default_account_id
            )
        )[:1]
        return line or super()._stripe_get_payment_method_line(payment_type)
