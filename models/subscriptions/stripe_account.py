from odoo import _, api, fields, models


class StripeAccount(models.Model):
    """Subscriptions of a Stripe account: their count on the form, and the
    *Import Subscriptions* button."""

    _inherit = "stripe.account"

    subscription_count = fields.Integer(compute="_compute_subscription_count")

    # === COMPUTE METHODS === #

    @api.depends_context("company")
    def _compute_subscription_count(self):
        counts = dict(
            self.env["stripe.subscription"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["__count"]
            )
        )
        for account in self:
            account.subscription_count = counts.get(account, 0)

    # === ACTION METHODS === #

    def action_import_subscriptions(self):
        """Import every subscription of the account from Stripe (every status),
        with their history as far as their invoices show it, and build the MRR
        report."""
        self.ensure_one()
        # sudo: subscriptions are only ever written from Stripe's own data; the
        # button is for Stripe managers.
        subscriptions = (
            self.env["stripe.subscription"]
            .sudo()
            .with_company(self.company_id)
            ._stripe_import(self)
        )
        return self._stripe_notification(
            _("Subscriptions imported"),
            _("%s subscription(s) imported from Stripe.", len(subscriptions)),
        )

    def action_rebuild_mrr_report(self):
        """Build the whole MRR report again from the subscriptions' history, at
        Odoo's rates as they are now (past months included)."""
        # sudo: the report is the system's bookkeeping; the button is for Stripe
        # managers.
        self.env["stripe.subscription"].sudo().search(
            [("account_id", "in", self.ids)]
        )._stripe_fill_missing_products()
        count = self.env["stripe.mrr.report"].sudo()._stripe_rebuild(full=True)
        return self._stripe_notification(
            _("MRR report rebuilt"), _("%s row(s) written.", count)
        )

    def action_view_subscriptions(self):
        return self._stripe_action("stripe_connector.stripe_subscription_action")
