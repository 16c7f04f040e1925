import logging

from psycopg2 import Error as PsycopgError

from odoo import _, api, fields, models
from odoo.tools import SQL

from .. import const

_logger = logging.getLogger(__name__)


class StripeAccount(models.Model):
    """The account's set-up as the form guides it: a checklist of what is missing,
    the journal and accounts created on first save, links to the right pages of
    Stripe's dashboard, and the webhooks Odoo refused (a wrong signing secret shows
    here, not only in the server log)."""

    _inherit = "stripe.account"

    # === SET-UP CHECKLIST === #

    has_webhook_secret = fields.Boolean(compute="_compute_has_webhook_secret")
    setup_api_key = fields.Boolean(string="Secret key", compute="_compute_setup")
    setup_webhook_secret = fields.Boolean(
        string="Signing secret", compute="_compute_setup"
    )
    setup_journals = fields.Boolean(string="Journals", compute="_compute_setup")
    setup_accounts = fields.Boolean(string="Accounts", compute="_compute_setup")
    setup_webhook_received = fields.Boolean(
        string="Webhook received", compute="_compute_setup"
    )
    setup_done = fields.Boolean(compute="_compute_setup")
    setup_create_accounting = fields.Boolean(
        string="Create the Stripe journal and accounts",
        compute="_compute_setup_create_accounting",
        readonly=False,
        help="On first save, create the Stripe journal, the fee account and the "
        "disputed payments account that are not chosen, and propose the company's "
        "bank journal for payouts.",
    )

    # === STRIPE DASHBOARD LINKS === #

    dashboard_api_keys_url = fields.Char(
        string="API Keys in Stripe", compute="_compute_dashboard_urls"
    )
    dashboard_webhooks_url = fields.Char(
        string="Webhooks in Stripe", compute="_compute_dashboard_urls"
    )

    # === REFUSED WEBHOOKS (written by the controller, see _stripe_note_refusal) === #

    webhook_refused_count = fields.Integer(
        string="Refused Webhooks",
        readonly=True,
        copy=False,
        help="Webhooks refused since the last one accepted (bad signature, stale "
        "timestamp, wrong mode...). Under a flood of concurrent refusals some are "
        "not counted.",
    )
    webhook_refused_reason = fields.Char(
        string="Last Refusal", readonly=True, copy=False
    )
    webhook_refused_at = fields.Datetime(
        string="Last Refused On", readonly=True, copy=False
    )

    # === COMPUTE METHODS === #

    @api.depends("api_key")
    def _compute_has_api_key(self):
        # Recomputed as the key is typed, so that Test Connection shows at once.
        return super()._compute_has_api_key()

    @api.depends("webhook_secret")
    def _compute_has_webhook_secret(self):
        # sudo: tells whether a secret is set without disclosing it.
        for account, account_sudo in zip(self, self.sudo(), strict=True):
            account.has_webhook_secret = bool(account_sudo.webhook_secret)

    @api.depends(
        "has_api_key",
        "has_webhook_secret",
        "journal_id",
        "payout_journal_id",
        "fee_account_id",
        "dispute_account_id",
    )
    def _compute_setup(self):
        received = set()
        if self.ids:
            received = {
                account.id
                for [account] in self.env["stripe.event"]
                .sudo()
                ._read_group([("account_id", "in", self.ids)], ["account_id"])
            }
        for account in self:
            account.setup_api_key = account.has_api_key
            account.setup_webhook_secret = account.has_webhook_secret
            account.setup_journals = bool(
                account.journal_id and account.payout_journal_id
            )
            account.setup_accounts = bool(
                account.fee_account_id and account.dispute_account_id
            )
            account.setup_webhook_received = account.id in received
            account.setup_done = all(
                (
                    account.setup_api_key,
                    account.setup_webhook_secret,
                    account.setup_journals,
                    account.setup_accounts,
                    account.setup_webhook_received,
                )
            )

    @api.depends("company_id")
    def _compute_setup_create_accounting(self):
        for account in self:
            account.setup_create_accounting = not account.id

    @api.depends("mode")
    def _compute_dashboard_urls(self):
        for account in self:
            base = const.STRIPE_DASHBOARD_URL + (
                "/test" if account.mode == "test" else ""
            )
            account.dashboard_api_keys_url = f"{base}/apikeys"
            account.dashboard_webhooks_url = f"{base}/webhooks"

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        create_accounting = [
            vals.pop("setup_create_accounting", False) for vals in vals_list
        ]
        accounts = super().create(vals_list)
        for account, create in zip(accounts, create_accounting, strict=True):
            if create and not (
                account.journal_id
                and account.fee_account_id
                and account.dispute_account_id
                and account.payout_journal_id
            ):
                account.action_setup_accounting()
        return accounts

    # === WEBHOOK REFUSALS === #

    @api.model
    def _stripe_note_refusal(self, account_id, reason):
        """Count a refused webhook on its account, with the reason and the time.

        Called by the controller for a refusal of an existing account. It must stay
        cheap whatever comes in: one UPDATE in a cursor of its own, committed at
        once, that skips the row when another request holds it (a flood of
        refusals counts some of them, and never queues behind itself). The body
        and the secrets are never stored: ``reason`` is the refusal's own text.

        :param int account_id: the ``stripe.account`` the webhook was posted to.
        :param str reason: why it was refused (no secret in it).
        """
        self._stripe_refusal_update(
            account_id,
            SQL(
                "webhook_refused_count = COALESCE(webhook_refused_count, 0) + 1, "
                "webhook_refused_reason = %s, "
                "webhook_refused_at = (now() AT TIME ZONE 'UTC')",
                (reason or "")[:255],
            ),
        )

    @api.model
    def _stripe_note_accepted(self, account_id):
        """A webhook was accepted: the refusals counted before are over (the last
        reason and time stay, for the record)."""
        self._stripe_refusal_update(
            account_id,
            SQL("webhook_refused_count = 0"),
            SQL("AND webhook_refused_count > 0"),
        )

    @api.model
    def _stripe_refusal_update(self, account_id, assignments, condition=None):
        try:
            with self.env.registry.cursor() as cr:
                cr.execute(
                    SQL(
                        """
                        UPDATE stripe_account SET %s
                         WHERE id = (SELECT id FROM stripe_account
                                      WHERE id = %s %s
                                        FOR NO KEY UPDATE SKIP LOCKED)
                        """,
                        assignments,
                        account_id,
                        condition or SQL(""),
                    ),
                    log_exceptions=False,
                )
        except PsycopgError as error:
            # Counting is best effort: the answer to Stripe never depends on it.
            _logger.info("Stripe webhook refusal not counted: %s", error)

    @api.model
    def _stripe_configure_all_journals(self):
        """Give the Stripe journals of every account their Stripe payment method
        lines (module installation and update)."""
        self.with_context(active_test=False).search(
            [("journal_id", "!=", False)]
        ).journal_id._stripe_configure_journal()


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    stripe_account_summary = fields.Char(compute="_compute_stripe_account_summary")

    @api.depends("company_id")
    def _compute_stripe_account_summary(self):
        for settings in self:
            count = self.env["stripe.account"].search_count(
                [("company_id", "=", settings.company_id.id)]
            )
            if not count:
                summary = _("No Stripe account is configured for this company yet.")
            elif count == 1:
                summary = _("1 Stripe account is configured for this company.")
            else:
                summary = _(
                    "%s Stripe accounts are configured for this company.", count
                )
            settings.stripe_account_summary = summary
