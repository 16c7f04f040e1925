import io
import json
import logging
import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import stripe
from psycopg2 import Error as PsycopgError

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ... import const, utils
from ...exceptions import WebhookRefused

_logger = logging.getLogger(__name__)


DEFAULT_API_BASE = "https://api.stripe.com"
# What verifying a webhook reads of its account (see _stripe_webhook_config).
WEBHOOK_CONFIG_FIELDS = {
    "active",
    "company_id",
    "mode",
    "webhook_secret",
    "webhook_secret_previous",
}


class StripeAccount(models.Model):
    """The Stripe API gateway of an account (every request goes through
    ``_stripe_call``) and the verification of its webhooks.

    The account's set-up as the form guides it: a checklist of what is missing,
    the journal and accounts created on first save, links to the right pages of
    Stripe's dashboard, and the webhooks Odoo refused (a wrong signing secret shows
    here, not only in the server log).

    The webhook endpoint in Stripe, created and kept up to date from Odoo, as
    Odoo's own Stripe payment provider does (``action_stripe_create_webhook``)."""

    _name = "stripe.account"
    _description = "Stripe Account"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"
    _check_company_auto = True

    # === IDENTITY === #

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    mode = fields.Selection(
        [("test", "Test"), ("live", "Live")],
        required=True,
        default="test",
        tracking=True,
        help="Events whose 'livemode' does not match the mode are refused.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        default=lambda self: self.env.user,
        tracking=True,
        domain="[('share', '=', False)]",
        help="Gets an activity when an event keeps failing or needs a decision. "
        "Empty: the user who created the account, else the company's first Stripe "
        "manager.",
    )
    # === CREDENTIALS (Settings administrators only, never copied nor logged) === #

    api_key = fields.Char(
        string="Secret Key",
        groups="base.group_system",
        copy=False,
        help="Secret (sk_...) or restricted (rk_...) API key. Used to read fees, "
        "refunds and payouts from Stripe. Without it, fees are booked at payout "
        "time and payouts must come through webhooks.",
    )
    webhook_secret = fields.Char(
        string="Webhook Signing Secret",
        groups="base.group_system",
        copy=False,
        help="The endpoint's signing secret (whsec_...) shown in Stripe's dashboard.",
    )
    webhook_secret_previous = fields.Char(
        string="Previous Signing Secret",
        groups="base.group_system",
        copy=False,
        help="While Stripe rolls the signing secret, events signed with the old "
        "secret (for up to 24 hours) are still accepted. Clear it afterwards.",
    )
    api_base = fields.Char(
        string="API Base URL",
        required=True,
        default=DEFAULT_API_BASE,
        # The secret key is sent there: only those who may read it may change it.
        groups="base.group_system",
        help="Stripe's API by default. Point it to a proxy or a local stand-in "
        "(stripe-mock) for testing.",
    )
    has_api_key = fields.Boolean(compute="_compute_has_api_key")
    webhook_url = fields.Char(
        string="Webhook URL",
        compute="_compute_webhook_url",
        help="Paste this URL as an endpoint in Stripe's dashboard (Developers > "
        "Webhooks).",
    )
    webhook_url_warning = fields.Char(
        compute="_compute_webhook_url",
        help="Why Stripe cannot reach the webhook URL, when it cannot.",
    )
    # === ACCOUNTING === #

    journal_id = fields.Many2one(
        "account.journal",
        string="Stripe Journal",
        check_company=True,
        domain="[('type', '=', 'bank')]",
        tracking=True,
        help="Bank journal whose balance mirrors the Stripe balance.",
    )
    currency_id = fields.Many2one(
        "res.currency",
        string="Settlement Currency",
        compute="_compute_currency_id",
    )
    fee_account_id = fields.Many2one(
        "account.account",
        check_company=True,
        domain="[('deprecated', '=', False), ('account_type', 'in', "
        "('expense', 'expense_direct_cost'))]",
        tracking=True,
        help="Expense account for Stripe's processing fees.",
    )
    payout_journal_id = fields.Many2one(
        "account.journal",
        string="Payout Bank Journal",
        check_company=True,
        domain="[('type', '=', 'bank'), ('id', '!=', journal_id)]",
        tracking=True,
        help="The bank journal Stripe pays out to.",
    )
    # === PAYMENTS === #

    payment_tolerance = fields.Integer(
        default=1,
        help="In minor units of the payment's currency (cents for USD). A payment "
        "that differs from the invoice's residual by at most this much pays the "
        "invoice in full; the difference is written off.",
    )
    writeoff_account_id = fields.Many2one(
        "account.account",
        string="Write-off Account",
        check_company=True,
        domain="[('deprecated', '=', False)]",
        help="Where differences within the tolerance go. Empty: the fee account.",
    )
    invoice_paid_orders = fields.Boolean(
        default=True,
        help="When a Stripe payment is for a sales order, confirm it, create and "
        "post its invoice and register the payment on it. Otherwise the payment is "
        "recorded as a customer payment that names the order.",
    )
    # === REFUNDS AND DISPUTES === #

    refund_product_id = fields.Many2one(
        "product.product",
        check_company=True,
        help="Product on the line of partial refund credit notes (its income "
        "account, and its taxes when they are included in the price). Empty: the "
        "invoice's lines are credited pro rata, with their taxes. A full refund "
        "reverses the invoice line by line in any case.",
    )
    refund_account_id = fields.Many2one(
        "account.account",
        check_company=True,
        domain="[('deprecated', '=', False), ('account_type', 'in', "
        "('income', 'income_other'))]",
        help="Account of partial refund credit notes when no refund product is "
        "set (one line, without tax). Empty: the invoice's lines are credited pro "
        "rata, with their taxes.",
    )
    dispute_account_id = fields.Many2one(
        "account.account",
        string="Disputed Payments Account",
        check_company=True,
        domain="[('deprecated', '=', False), ('account_type', '=', 'asset_current')]",
        tracking=True,
        help="Holds the money Stripe withdrew for a dispute until it is won or lost.",
    )
    dispute_loss_policy = fields.Selection(
        [("credit_note", "Credit Note"), ("write_off", "Write-off")],
        string="Lost Disputes",
        required=True,
        default="credit_note",
        help="Credit Note: the lost amount is credited to the customer's invoice "
        "(revenue goes down).\nWrite-off: the lost amount is an expense on the "
        "loss account; the invoice stays as it is.",
    )
    dispute_loss_account_id = fields.Many2one(
        "account.account",
        check_company=True,
        domain="[('deprecated', '=', False), ('account_type', 'in', "
        "('expense', 'expense_direct_cost'))]",
        help="Expense account of lost disputes written off. Empty: the fee account.",
    )
    # === PAYOUTS === #

    payout_auto_reconcile = fields.Boolean(
        string="Reconcile Payouts Automatically",
        default=True,
        help="Automatic payouts whose transactions add up to their amount are "
        "reconciled as soon as Stripe reports them paid, without anyone opening "
        "the wizard.",
    )
    payout_bank_line_days = fields.Integer(
        string="Bank Line Window",
        default=3,
        help="A bank statement line of the payout's amount dated up to this many "
        "days before or after its arrival date is matched with it.",
    )
    payout_adjustment_account_id = fields.Many2one(
        "account.account",
        string="Adjustment Account",
        check_company=True,
        domain="[('deprecated', '=', False)]",
        help="Where Stripe's adjustments and other balance movements that no Odoo "
        "document mirrors go when a payout is reconciled. Empty: the fee account.",
    )
    payout_ids = fields.One2many("stripe.payout", "account_id")
    payout_count = fields.Integer(compute="_compute_payout_count")
    # === EVENTS === #

    event_ids = fields.One2many("stripe.event", "account_id")
    event_count = fields.Integer(compute="_compute_event_counts")
    failed_event_count = fields.Integer(compute="_compute_event_counts")
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
    credentials_problem = fields.Text(
        compute="_compute_credentials_problem",
        help="What is wrong with the secret key or the signing secret, in words: "
        "such credentials are refused on save.",
    )
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
    stripe_webhook_endpoint_id = fields.Char(
        string="Webhook Endpoint",
        readonly=True,
        copy=False,
        help="The endpoint Odoo created in Stripe (we_...). Empty when the "
        "endpoint was set up by hand in Stripe's dashboard.",
    )
    webhook_missing_events = fields.Char(
        string="Events Not Sent",
        compute="_compute_webhook_missing_events",
        help="Event types this module handles that the Stripe endpoint does not "
        "send (read from Stripe). Update Webhook adds them.",
    )
    webhook_check_message = fields.Char(compute="_compute_webhook_missing_events")
    last_event_date = fields.Datetime(
        string="Last Event Received",
        compute="_compute_last_event_date",
        help="When the last webhook of this account arrived.",
    )

    # === COMPUTE METHODS === #

    @api.depends("api_key")
    def _compute_has_api_key(self):
        # Recomputed as the key is typed, so that Test Connection shows at once.
        # sudo: tells whether a key is set without disclosing it.
        for account, account_sudo in zip(self, self.sudo(), strict=True):
            account.has_api_key = bool(account_sudo.api_key)

    def _compute_webhook_url(self):
        for account in self:
            if account.id:
                account.webhook_url = (
                    f"{account.get_base_url()}/stripe/webhook/{account.id}"
                )
            else:
                account.webhook_url = False
            account.webhook_url_warning = account._stripe_webhook_url_warning()

    def _stripe_webhook_url_warning(self):
        """Why Stripe cannot reach the webhook URL (a local or private address),
        or False."""
        self.ensure_one()
        reason = self.webhook_url and utils.unreachable_host(self.webhook_url)
        if not reason:
            return False
        if reason == "local":
            problem = _(
                "This URL names this computer (localhost or a local name): "
                "Stripe, on the internet, cannot reach it."
            )
        else:
            problem = _(
                "This URL is a private network address: Stripe, on the internet, "
                "cannot reach it."
            )
        return _(
            "%(problem)s Open Odoo by its public address (or set the system "
            "parameter web.base.url to it), or forward the events with the Stripe "
            "CLI (stripe listen --forward-to ...) while testing.",
            problem=problem,
        )

    @api.depends("journal_id.currency_id", "company_id.currency_id")
    def _compute_currency_id(self):
        for account in self:
            account.currency_id = (
                account.journal_id.currency_id or account.company_id.currency_id
            )

    def _compute_payout_count(self):
        counts = dict(
            self.env["stripe.payout"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["__count"]
            )
        )
        for account in self:
            account.payout_count = counts.get(account, 0)

    def _compute_event_counts(self):
        counts = {
            (account.id, state): count
            for account, state, count in self.env["stripe.event"]._read_group(
                [("account_id", "in", self.ids)],
                ["account_id", "state"],
                ["__count"],
            )
        }
        for account in self:
            account.event_count = sum(
                count
                for (acc_id, _state), count in counts.items()
                if acc_id == account.id
            )
            account.failed_event_count = counts.get((account.id, "failed"), 0)

    @api.depends("webhook_secret")
    def _compute_has_webhook_secret(self):
        # sudo: tells whether a secret is set without disclosing it.
        for account, account_sudo in zip(self, self.sudo(), strict=True):
            account.has_webhook_secret = bool(account_sudo.webhook_secret)

    @api.depends("api_key", "mode", "webhook_secret", "webhook_secret_previous")
    def _compute_credentials_problem(self):
        # Recomputed as the key is typed: the form warns before it is saved.
        for account in self:
            problems = account._stripe_credentials_problems()
            account.credentials_problem = "\n".join(problems.values()) or False

    @api.depends(
        "credentials_problem",
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
            problems = account._stripe_credentials_problems()
            account.setup_api_key = account.has_api_key and "api_key" not in problems
            account.setup_webhook_secret = (
                account.has_webhook_secret and "webhook_secret" not in problems
            )
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

    def _compute_webhook_missing_events(self):
        """Read the endpoint's event types from Stripe and compare them with the
        types handled now (more after an upgrade of the module)."""
        handled = set(self.env["stripe.event"]._get_event_handlers())
        for account in self:
            account.webhook_missing_events = False
            account.webhook_check_message = False
            if not (account.stripe_webhook_endpoint_id and account.has_api_key):
                continue
            try:
                endpoint = account._stripe_get_webhook_endpoint()
            except UserError as error:
                account.webhook_check_message = error.args[0]
                continue
            enabled = set(endpoint.enabled_events or [])
            if "*" not in enabled and handled - enabled:
                account.webhook_missing_events = ", ".join(sorted(handled - enabled))

    def _compute_last_event_date(self):
        last = dict(
            self.env["stripe.event"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["create_date:max"]
            )
        )
        for account in self:
            account.last_event_date = last.get(account, False)

    # === CONSTRAINT METHODS === #

    @api.constrains("journal_id", "payout_journal_id")
    def _check_journals(self):
        for account in self:
            if account.journal_id and account.journal_id == account.payout_journal_id:
                raise ValidationError(
                    _(
                        "The Stripe journal and the payout bank journal of %s must "
                        "be different journals.",
                        account.name,
                    )
                )

    @api.constrains("api_key", "mode", "webhook_secret", "webhook_secret_previous")
    def _check_credentials(self):
        """Refuse on save a key or a secret Stripe would refuse (or, for a key of
        the other mode, one whose events the account would refuse)."""
        for account in self:
            problems = account._stripe_credentials_problems()
            if problems:
                raise ValidationError("\n".join(problems.values()))

    @api.constrains("api_base", "mode")
    def _check_api_base(self):
        # sudo: the constraint also runs when a user without access to the field
        # switches the mode.
        for account in self.sudo():
            if not account.api_base.startswith(("https://", "http://")):
                raise ValidationError(
                    _("The API base URL must start with https:// or http://.")
                )
            if account.mode == "live" and not account.api_base.startswith("https://"):
                raise ValidationError(
                    _("A live Stripe account must reach Stripe over https://.")
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        create_accounting = [
            vals.pop("setup_create_accounting", False) for vals in vals_list
        ]
        accounts = super().create(vals_list)
        self.env.registry.clear_cache()  # _stripe_webhook_config (also None)
        accounts.journal_id._stripe_configure_journal()
        for account, create in zip(accounts, create_accounting, strict=True):
            if create and not (
                account.journal_id
                and account.fee_account_id
                and account.dispute_account_id
                and account.payout_journal_id
            ):
                account.action_setup_accounting()
        return accounts

    def write(self, vals):
        res = super().write(vals)
        if vals.get("journal_id"):
            self.journal_id._stripe_configure_journal()
        if WEBHOOK_CONFIG_FIELDS & vals.keys():
            self.env.registry.clear_cache()  # _stripe_webhook_config
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()  # _stripe_webhook_config
        return res

    # === ACTION METHODS === #

    def action_setup_accounting(self):
        """Create what is missing of the Stripe journal, the fee account and the
        disputed payments account; propose the company's bank journal for
        payouts."""
        for account in self:
            account_c = account.with_company(account.company_id)
            if not account.journal_id:
                account.journal_id = account_c._stripe_create_journal()
            if not account.payout_journal_id:
                account.payout_journal_id = self.env["account.journal"].search(
                    [
                        *self.env["account.journal"]._check_company_domain(
                            account.company_id
                        ),
                        ("type", "=", "bank"),
                        ("id", "!=", account.journal_id.id),
                        ("stripe_account_ids", "=", False),
                    ],
                    limit=1,
                )
            if not account.fee_account_id:
                account.fee_account_id = account_c._stripe_create_account(
                    _("Stripe Fees"), "expense"
                )
            if not account.dispute_account_id:
                account.dispute_account_id = account_c._stripe_create_account(
                    _("Stripe Disputed Payments"), "asset_current", reconcile=True
                )
        return True

    def action_test_connection(self):
        """Read the Stripe balance with the API key and show it."""
        self.ensure_one()
        mode_problem = self._stripe_key_mode_problem()
        if mode_problem:
            raise UserError(mode_problem)
        balance = self._stripe_call(_("the balance"), "balance", "retrieve")
        amounts = ", ".join(
            f"{utils.from_minor_units(item.amount, item.currency)} "
            f"{item.currency.upper()}"
            for item in balance.available
        )
        return self._stripe_notification(
            _("Connection successful"),
            _("Available balance: %s", amounts or _("nothing")),
        )

    def action_fetch_missed_events(self):
        """Store the events of the last days that never reached the webhook."""
        self.ensure_one()
        count = self._stripe_fetch_missed_events()
        return self._stripe_notification(
            _("Missed events"),
            _("%s event(s) fetched from Stripe.", count)
            if count
            else _("No event was missing."),
            notification_type="success" if count else "info",
        )

    def action_import_payouts(self):
        """Open the wizard that imports payouts of a date range from Stripe."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Import Payouts"),
            "res_model": "stripe.payout.import",
            "view_mode": "form",
            "target": "new",
            "context": {"default_account_id": self.id},
        }

    def action_view_payouts(self):
        return self._stripe_action("stripe_connector.stripe_payout_action")

    def action_view_events(self):
        context = {"default_account_id": self.id}
        if self.env.context.get("failed_only"):
            context["search_default_failed"] = 1
        return self._stripe_action("stripe_connector.stripe_event_action", context)

    def action_create_webhook(self):
        """Create the webhook endpoint in Stripe with the account's webhook URL, the
        event types this module handles and the API version it was written for,
        and store the endpoint's signing secret.

        A signing secret entered by hand before is kept as the previous one, so
        that the endpoint set up by hand is still accepted until it is deleted.

        :return: a notification saying what was done.
        :raise UserError: no secret key, an endpoint already created, or Stripe
            refused.
        """
        self.ensure_one()
        if self.stripe_webhook_endpoint_id:
            raise UserError(
                _(
                    "The webhook endpoint %s already exists in Stripe: use Update "
                    "Webhook.",
                    self.stripe_webhook_endpoint_id,
                )
            )
        self._stripe_check_key_mode()
        warning = self._stripe_webhook_url_warning()
        # sudo: whether the account talks to Stripe itself, not to a stand-in
        # (stripe-mock, a proxy, the tests' fake) that accepts any URL.
        if warning and self.sudo().api_base == DEFAULT_API_BASE:
            raise UserError(
                _(
                    "Stripe would refuse the webhook URL %(url)s. %(warning)s",
                    url=self.webhook_url,
                    warning=warning,
                )
            )
        endpoint = self._stripe_call(
            _("the webhook endpoint"),
            "webhook_endpoints",
            "create",
            params={
                "url": self.webhook_url,
                "enabled_events": self._stripe_webhook_event_types(),
                "api_version": const.WEBHOOK_API_VERSION,
                "description": _("Odoo: %s", self.display_name),
            },
        )
        # sudo: the secrets are readable by Settings administrators only; a Stripe
        # manager who may create the endpoint stores its secret without reading it.
        account_sudo = self.sudo()
        replaced = account_sudo.webhook_secret
        account_sudo.write(
            {
                "stripe_webhook_endpoint_id": endpoint.id,
                "webhook_secret": endpoint.secret,
                "webhook_secret_previous": replaced
                or account_sudo.webhook_secret_previous,
            }
        )
        message = _("Webhook endpoint %s created in Stripe.", endpoint.id)
        if replaced:
            message = _(
                "%s The signing secret entered before is kept as the previous one: "
                "delete the endpoint set up by hand in Stripe's dashboard, then "
                "clear the previous signing secret.",
                message,
            )
        self.message_post(body=message)
        return self._stripe_notification(_("Webhook created"), message)

    def action_update_webhook(self):
        """Make the Stripe endpoint send every event type this module handles (the
        types it sends already are kept) to the account's webhook URL.

        :return: a notification saying what was done.
        """
        self.ensure_one()
        if not self.stripe_webhook_endpoint_id:
            raise UserError(_("Odoo did not create this account's webhook endpoint."))
        endpoint = self._stripe_get_webhook_endpoint()
        enabled = list(endpoint.enabled_events or [])
        missing = [
            event_type
            for event_type in self._stripe_webhook_event_types()
            if event_type not in enabled and "*" not in enabled
        ]
        self._stripe_call(
            _("the webhook endpoint"),
            "webhook_endpoints",
            "update",
            self.stripe_webhook_endpoint_id,
            params={"enabled_events": enabled + missing, "url": self.webhook_url},
        )
        message = (
            _("Webhook endpoint updated; events added: %s", ", ".join(missing))
            if missing
            else _("Webhook endpoint updated; it already sent every event type.")
        )
        self.message_post(body=message)
        return self._stripe_notification(_("Webhook updated"), message)

    # === BUSINESS METHODS === #

    def _stripe_notification(
        self,
        title,
        message,
        notification_type="success",
        sticky=False,
        next_action=None,
    ):
        """The notification a button answers with; the form reloads after it.

        :param str title: the notification's title.
        :param str message: its text (plain text: the client escapes it).
        :param str notification_type: ``success``, ``info``, ``warning``, ``danger``.
        :param bool sticky: stays until closed.
        :param dict next_action: the action after it (default: reload the form).
        :return: an ``ir.actions.client`` action.
        :rtype: dict
        """
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": notification_type,
                "title": title,
                "message": message,
                "sticky": sticky,
                "next": next_action or {"type": "ir.actions.act_window_close"},
            },
        }

    def _stripe_action(self, xmlid, context=None):
        """A window action of ours restricted to this account's records."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = [("account_id", "=", self.id)]
        if context:
            action["context"] = context
        return action

    def _stripe_fetch_missed_events(self, days=const.MISSED_EVENTS_DAYS):
        """List the handled events of the last ``days`` through the API and store
        those the webhook never delivered (Stripe keeps events 30 days).

        :return: the number of events stored now.
        """
        self.ensure_one()
        since = fields.Datetime.now() - timedelta(days=days)
        handled = list(self.env["stripe.event"]._get_event_handlers())
        # sudo: events are only ever created from Stripe's own data (the webhook,
        # or here the API), never by users.
        event_model = self.env["stripe.event"].sudo()
        stored = 0
        # Stripe accepts up to 20 types per list call.
        for start in range(0, len(handled), 20):
            params = {
                "types": handled[start : start + 20],
                "created": {"gte": int(since.timestamp())},
            }
            # Each event as Stripe sent it (its raw JSON, as the webhook stores
            # it): the SDK's objects turn decimal strings into Decimal.
            pages = self._stripe_pages(_("the events"), "events", params, raw=True)
            for page in pages:
                for data in page:
                    if bool(data.get("livemode")) != (self.mode == "live"):
                        continue  # the key's mode is not the account's
                    payload = json.dumps(data, ensure_ascii=False).encode()
                    stored += event_model._receive(
                        self, data, payload, received_via="catch_up"
                    )[1]
        return stored

    @api.model
    def _cron_fetch_missed_events(self):
        """Daily safety net: fetch what the webhook missed, for every account
        with an API key. Each account's catch-up runs in its own savepoint and
        fails alone, whatever the error (``_stripe_catch_up_failed`` tells)."""
        for api_account in self._stripe_api_accounts():
            account = api_account._stripe_in_own_lang()
            try:
                with self.env.cr.savepoint():
                    account._stripe_fetch_missed_events()
            except UserError as error:
                account._stripe_catch_up_failed(error.args[0])
            # One account's unexpected error must not stop the others' catch-up.
            except Exception as error:  # pylint: disable=broad-exception-caught
                _logger.exception(
                    "Stripe account %s: missed events not fetched", account.id
                )
                account._stripe_catch_up_failed(f"{type(error).__name__}: {error}")

    def _stripe_catch_up_failed(self, message):
        """The daily catch-up of this account failed (nothing of it is kept).

        :param str message: why, in words.
        """
        self.ensure_one()
        _logger.warning(
            "Stripe account %s: missed events not fetched: %s", self.id, message
        )

    @api.model
    def _stripe_api_accounts(self):
        """The active accounts the API can be read with (crons)."""
        # sudo: only the presence of a key is tested; it is not read here.
        return self.browse(self.sudo().search([("api_key", "!=", False)]).ids)

    def _stripe_settling_account(self, currency_code):
        """The Odoo Stripe account that books what Stripe settled in a currency.

        A Stripe account that settles in several currencies is set up in Odoo as
        one Stripe account per settlement currency (its journal's), all with the
        same secret key, each with its webhook endpoint: every event reaches each
        of them, and only the one settling in the transaction's currency books it.

        :param str currency_code: the balance transaction's currency.
        :return: this account, or the one of the same Stripe account (same key)
            whose journal is in ``currency_code``.
        """
        self.ensure_one()
        code = (currency_code or "").upper()
        if not code or code == self.currency_id.name:
            return self
        sibling = self._stripe_sibling_accounts().filtered(
            lambda account: account.currency_id.name == code
        )[:1]
        return sibling or self

    def _stripe_sibling_accounts(self):
        """The other Odoo Stripe accounts of the same Stripe account: same company,
        same secret key, journals in other currencies (see
        ``_stripe_settling_account``)."""
        self.ensure_one()
        if not self.has_api_key:
            return self.browse()
        # sudo: the keys are compared in the database, never read out.
        siblings = self.sudo().search(
            [
                ("id", "!=", self.id),
                ("company_id", "=", self.company_id.id),
                ("api_key", "=", self.sudo().api_key),
            ]
        )
        return self.browse(siblings.ids).filtered(
            lambda account: account.currency_id != self.currency_id
        )

    def _stripe_create_journal(self):
        """Create the Stripe journal: a bank journal with its own balance account."""
        self.ensure_one()
        journal_model = self.env["account.journal"]
        code = "STRP"
        suffix = 1
        while journal_model.search_count(
            [
                *journal_model._check_company_domain(self.company_id),
                ("code", "=", code),
            ],
            limit=1,
        ):
            suffix += 1
            code = f"STR{suffix}"
        return journal_model.create(
            {
                "name": self.name,
                "type": "bank",
                "code": code,
                "company_id": self.company_id.id,
                "bank_statements_source": "undefined",
            }
        )

    def _stripe_create_account(self, name, account_type, reconcile=False):
        """Create an account of this type in the account's company, numbered after
        the first existing account of the same type."""
        self.ensure_one()
        account_model = self.env["account.account"].with_company(self.company_id)
        sibling = account_model.search(
            [
                *account_model._check_company_domain(self.company_id),
                ("account_type", "=", account_type),
            ],
            order="code",
            limit=1,
        )
        return account_model.create(
            {
                "name": name,
                "code": account_model._search_new_account_code(
                    sibling.code or "999000"
                ),
                "account_type": account_type,
                "reconcile": reconcile,
                "company_ids": [(6, 0, self.company_id.ids)],
            }
        )

    # === WEBHOOK METHODS === #

    @api.model
    def _get_webhook_account(self, account_id):
        """Return the active account a webhook is posted to.

        :raise WebhookRefused: 404 when there is no such active account.
        """
        if not self._stripe_webhook_config(account_id):
            raise WebhookRefused(404, "unknown or archived Stripe account")
        return self.browse(account_id)

    @api.model
    @tools.ormcache("account_id")
    def _stripe_webhook_config(self, account_id):
        """What verifying a webhook posted to an account reads of it, cached in
        each worker (acknowledging a webhook reads no account row): any change of
        ``WEBHOOK_CONFIG_FIELDS`` clears Odoo's caches (see ``write``).

        :return: ``(company id, mode, signing secrets)``, or None when there is no
            such active account.
        :rtype: tuple
        """
        # sudo: the secrets are read for the webhook, whoever asks.
        account = (
            self.sudo()
            .with_context(active_test=True)
            .search_fetch(
                [("id", "=", account_id)],
                ["company_id", "mode", "webhook_secret", "webhook_secret_previous"],
            )
        )
        if not account:
            return None
        return (
            account.company_id.id,
            account.mode,
            tuple(account._get_webhook_secrets()),
        )

    def _verify_webhook(self, payload, sig_header):
        """Authenticate a webhook body with the SDK and return the event it holds.

        Each signing secret in force (current, then previous during a roll) is
        tried; the ``Stripe-Signature`` header may carry several ``v1`` values.

        :param bytes payload: the raw body.
        :param str sig_header: the ``Stripe-Signature`` header.
        :return: the event, parsed.
        :rtype: dict
        :raise WebhookRefused: 400 for a missing, bad or stale signature, a body
            that is not a Stripe event, or a livemode that is not the account's.
        """
        self.ensure_one()
        if not sig_header:
            raise WebhookRefused(400, "missing Stripe-Signature header")
        _company_id, mode, secrets = self._stripe_webhook_config(self.id) or (
            None,
            self.mode,
            self._get_webhook_secrets(),
        )
        if not secrets:
            raise WebhookRefused(400, "the account has no webhook signing secret")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as error:
            raise WebhookRefused(400, "body is not UTF-8") from error
        if not sig_header.isascii():
            # The SDK compares signatures with hmac.compare_digest, which raises
            # on non-ASCII text: a forged header must be a 400, not a 500.
            raise WebhookRefused(400, "malformed Stripe-Signature header")
        reasons = []
        for secret in secrets:
            try:
                stripe.WebhookSignature.verify_header(
                    text, sig_header, secret, const.WEBHOOK_TOLERANCE
                )
                break
            except stripe.SignatureVerificationError as error:
                reasons.append(str(error))
            except (TypeError, ValueError) as error:
                raise WebhookRefused(
                    400, "malformed Stripe-Signature header"
                ) from error
        else:
            stale = any(r.startswith("Timestamp outside") for r in reasons)
            raise WebhookRefused(
                400,
                "stale timestamp (older than %s s)" % const.WEBHOOK_TOLERANCE
                if stale
                else "bad signature: %s" % reasons[0],
            )
        try:
            event = json.loads(text)
        except ValueError as error:
            raise WebhookRefused(400, "body is not JSON") from error
        if not utils.is_valid_unicode(event):
            # A lone surrogate (``"\\ud800"``) parses, but no database takes it.
            raise WebhookRefused(400, "body is not a Stripe event: invalid Unicode")
        if not (
            isinstance(event, dict)
            and event.get("object") == "event"
            and isinstance(event.get("id"), str)
            and event["id"].startswith("evt_")
            and isinstance(event.get("type"), str)
            and isinstance(utils.get_path(event, "data", "object"), dict)
        ):
            raise WebhookRefused(400, "body is not a Stripe event")
        if bool(event.get("livemode")) != (mode == "live"):
            raise WebhookRefused(
                400,
                "livemode %s does not match the account's %s mode"
                % (bool(event.get("livemode")), mode),
            )
        return event

    def _get_webhook_secrets(self):
        """Return the signing secrets accepted now: current first, then previous.

        :rtype: list[str]
        """
        self.ensure_one()
        # sudo: the webhook is received as the public user; secrets stay in memory.
        account_sudo = self.sudo()
        return [
            secret
            for secret in (
                account_sudo.webhook_secret,
                account_sudo.webhook_secret_previous,
            )
            if secret
        ]

    # === STRIPE API GATEWAY === #

    def _get_client(self):
        """Return a ``stripe.StripeClient`` for this account.

        One client per account, built with its key, its API base and the SDK's own
        network retries (connection errors, 409, 5xx and ``Stripe-Should-Retry``;
        ``_stripe_call`` adds rate limits).

        :raise UserError: when the account has no API key.
        """
        self.ensure_one()
        # sudo: the key is readable by Settings administrators only, but processing
        # runs for any user allowed to trigger it; the key never leaves this method.
        api_key = self.sudo().api_key
        if not api_key:
            raise UserError(
                _("The Stripe account %s has no API key.", self.display_name)
            )
        api_base = self.sudo().api_base
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base, "files": self._stripe_files_base()},
            max_network_retries=const.API_MAX_NETWORK_RETRIES,
        )

    def _stripe_files_base(self):
        """Where report files are read: Stripe's files host for Stripe's own API,
        else the account's ``api_base`` (a proxy or a stand-in serves both)."""
        api_base = (self.sudo().api_base or "").rstrip("/")
        if api_base == DEFAULT_API_BASE.rstrip("/"):
            return stripe.DEFAULT_UPLOAD_API_BASE
        return api_base

    def _stripe_call(self, what, service_name, method, *args, **kwargs):
        """Make one Stripe API request with the account's client:
        ``client.v1.<service_name>.<method>(*args, **kwargs)``. Every request of
        the module goes through here (reads that may fail through
        ``_stripe_read``, lists through ``_stripe_pages``).

        The SDK retries what it deems retryable by itself (see
        ``utils.sdk_retried``) but gives up at once on a 429 without
        ``Stripe-Should-Retry``: that one is sent again here, the same request, up
        to ``const.API_RATE_LIMIT_RETRIES`` times after a capped exponential
        backoff.

        :param str what: what is asked for, for the error message.
        :param str service_name: ``balance_transactions``, ``checkout.sessions``...
        :param str method: ``list``, ``retrieve``...
        :return: the SDK's answer.
        :raise UserError: Stripe still refuses; the message says why in plain
            words (see ``_stripe_error_message``) and the number of requests made.
        """
        self.ensure_one()
        service = self._get_client().v1
        for name in service_name.split("."):  # checkout.sessions
            service = getattr(service, name)
        return self._stripe_call_with(what, getattr(service, method), *args, **kwargs)

    def _stripe_call_with(self, what, call, *args, **kwargs):
        """``call(*args, **kwargs)``, one SDK request, with the retries and the
        error message of ``_stripe_call``."""
        attempts = retries = 0
        while True:
            try:
                return call(*args, **kwargs)
            except stripe.StripeError as error:
                sdk_retried = utils.sdk_retried(error)
                attempts += 1 + (const.API_MAX_NETWORK_RETRIES if sdk_retried else 0)
                if (
                    isinstance(error, stripe.RateLimitError)
                    and not sdk_retried
                    and retries < const.API_RATE_LIMIT_RETRIES
                ):
                    retries += 1
                    time.sleep(
                        utils.backoff_delay(
                            retries,
                            const.API_RATE_LIMIT_BASE_DELAY,
                            const.API_RATE_LIMIT_MAX_DELAY,
                        )
                    )
                    continue
                raise UserError(
                    self._stripe_error_message(error, what, attempts)
                ) from error

    def _stripe_read(self, what, service_name, method, *args, **kwargs):
        """A best-effort read: ``_stripe_call``, but a refusal is logged and
        returned instead of raised, for callers that go on without Stripe's
        answer (the fee is then booked with the payout, say).

        :return: ``(answer as a dict, None)``, or ``(None, the message)``.
        :rtype: tuple
        """
        self.ensure_one()
        try:
            answer = self._stripe_call(what, service_name, method, *args, **kwargs)
        except UserError as error:
            _logger.warning("Stripe account %s: %s", self.id, error.args[0])
            return None, error.args[0]
        return answer.to_dict(), None

    def _stripe_file_lines(self, what, file_id):
        """Yield the lines of a Stripe file (a report run's CSV) as text, read as
        a stream from the files host (``GET /v1/files/<id>/contents``): the file
        is never held whole in memory. A refused request is retried as in
        ``_stripe_call``; once lines were handed over, a broken stream raises.

        :param str what: what is read, for the error message.
        :param str file_id: the ``file_...`` id.
        :raise UserError: Stripe still refuses after the retries.
        """
        self.ensure_one()
        # The SDK has no method for a file's contents: its files service sends
        # the streamed request, to the files host, as it does for quote PDFs.
        files = self._get_client().v1.files
        response = self._stripe_call_with(
            what,
            files._request_stream,  # pylint: disable=protected-access
            "get",
            "/v1/files/%s/contents" % file_id,
            base_address="files",
        )
        raw = response.io
        # urllib3 closes a finished response by itself, which io.TextIOWrapper
        # cannot bear (its last read would meet a closed file).
        raw.auto_close = False
        stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            yield from stream
        finally:
            stream.close()

    def _stripe_pages(self, what, service_name, params, *args, raw=False):
        """Yield the pages of a Stripe list as lists of dicts, one request each:
        the one paginator of the module.

        Pages are handed over one at a time so that callers store and flush them
        before the next one comes: memory stays flat however long the list. A page
        refused with a 429 or a network error is asked for again (see
        ``_stripe_call``).

        :param str what: what is listed, for the error message.
        :param str service_name: ``balance_transactions``, ``payouts``...
        :param dict params: the list's parameters (``limit`` included; Stripe's
            maximum by default).
        :param args: the list's own arguments (the invoice of
            ``invoices.line_items``).
        :param bool raw: the objects as Stripe sent them (parsed from the raw
            JSON of the answer: decimal strings stay strings), instead of the
            SDK's objects made dicts (``Decimal`` amounts).
        :raise UserError: Stripe still refuses after the retries.
        """
        self.ensure_one()
        params = dict(params)
        params.setdefault("limit", const.API_PAGE_SIZE)
        while True:
            page = self._stripe_call(what, service_name, "list", *args, params=params)
            if raw:
                data = list(page.last_response.data["data"])
            else:
                data = [obj.to_dict() for obj in page.data]
            if data:
                yield data
            if not (page.has_more and data):
                return
            params["starting_after"] = data[-1]["id"]

    def _stripe_error_message(self, error, what, attempts=1):
        """Say in plain words why Stripe did not answer a request.

        Never the SDK's raw text for a network failure (it names Python objects
        and repeats the whole URL), never a secret.

        :param error: the ``stripe.StripeError``.
        :param str what: what was asked for ("the balance", "charge ch_...").
        :param int attempts: requests made, retries included.
        :rtype: str
        """
        self.ensure_one()
        status = error.http_status
        if isinstance(error, stripe.APIConnectionError) or not status:
            reason = _(
                "Odoo cannot reach %(host)s: %(reason)s",
                host=urlsplit(self.sudo().api_base or "").hostname or "Stripe",
                reason=self._stripe_network_reason(error),
            )
        elif isinstance(error, stripe.AuthenticationError):
            reason = _("Stripe refused the secret key (invalid).")
            mode = self._stripe_key_mode_problem()
            if mode:
                reason += " " + mode
        elif isinstance(error, stripe.PermissionError):
            permission = re.search(r"'(rak_\w+)'", str(error.user_message or error))
            reason = (
                _(
                    "Stripe refused the restricted key: it lacks the permission "
                    "%s (Stripe dashboard, Developers > API keys).",
                    permission.group(1),
                )
                if permission
                else _(
                    "Stripe refused the restricted key: it lacks a permission this "
                    "request needs (Stripe dashboard, Developers > API keys)."
                )
            )
        elif isinstance(error, stripe.RateLimitError):
            reason = _("Stripe limits the rate of requests; try again later.")
        elif status >= 500:
            reason = _("Stripe had a server error; try again later.")
        else:
            reason = utils.shorten(error.user_message or str(error))
        # The reason first, in words; what was asked and how after it, the
        # HTTP status only when Stripe answered.
        if status and attempts > 1:
            details = _(
                "Asked Stripe for %(what)s: HTTP %(status)s, %(attempts)s attempts.",
                what=what,
                status=status,
                attempts=attempts,
            )
        elif status:
            details = _(
                "Asked Stripe for %(what)s: HTTP %(status)s.",
                what=what,
                status=status,
            )
        elif attempts > 1:
            details = _(
                "Asked Stripe for %(what)s: %(attempts)s attempts.",
                what=what,
                attempts=attempts,
            )
        else:
            details = _("Asked Stripe for %s.", what)
        if not reason.endswith((".", "!", "?", ")")):
            reason += "."
        return f"{reason} {details}"

    @api.model
    def _stripe_network_reason(self, error):
        """What went wrong on the network, in a few words, from the SDK's error
        and the exceptions behind it."""
        texts = []
        cause = error
        while cause is not None and len(texts) < 10:
            texts.append(f"{type(cause).__name__}: {cause}")
            cause = cause.__cause__ or cause.__context__
        text = " ".join(texts)
        for patterns, reason in (
            (
                (
                    "NameResolutionError",
                    "Failed to resolve",
                    "Name or service not",
                    "nodename nor servname",
                    "getaddrinfo",
                    "gaierror",
                ),
                _("name lookup failed"),
            ),
            (("Connection refused", "ConnectionRefusedError"), _("connection refused")),
            (("timed out", "Timeout"), _("no answer in time")),
            (
                ("SSL", "CERTIFICATE", "certificate"),
                _("its certificate is not trusted"),
            ),
            (
                (
                    "RemoteDisconnected",
                    "Connection aborted",
                    "reset by peer",
                    "without response",
                ),
                _("the connection was closed without an answer"),
            ),
        ):
            if any(pattern in text for pattern in patterns):
                return reason
        return _("network error")

    def _stripe_key_mode_problem(self):
        """Say when the secret key is of the other mode than the account's.

        :return: the message, or ``None``.
        """
        self.ensure_one()
        # sudo: only the key's prefix is read, never shown.
        key = self.sudo().api_key or ""
        key_mode = (
            "live"
            if key.startswith(("sk_live_", "rk_live_"))
            else "test"
            if key.startswith(("sk_test_", "rk_test_"))
            else None
        )
        if not key_mode or key_mode == self.mode:
            return None
        modes = dict(self._fields["mode"]._description_selection(self.env))
        return _(
            "The secret key is a %(key_mode)s key; the account is in %(mode)s mode: "
            "use the %(mode)s key (or switch the account's mode).",
            key_mode=modes[key_mode].lower(),
            mode=modes[self.mode].lower(),
        )

    def _stripe_message_lang(self):
        """The language Odoo writes this account's messages in (event messages
        and titles stored, chatter, activities, alerts): its responsible user's,
        else its company's; English when that language is not installed.

        Processing runs in it whoever triggers it (the cron, a user clicking
        Retry), so that what is stored reads the same after every retry.

        :rtype: str
        """
        self.ensure_one()
        # sudo: the responsible user and the company's partner may be out of the
        # reader's record rules.
        account = self.sudo()
        lang = (account.user_id.active and account.user_id.lang) or (
            account.company_id.partner_id.lang
        )
        installed = {code for code, _name in self.env["res.lang"].get_installed()}
        return lang if lang in installed else "en_US"

    def _stripe_in_own_lang(self):
        """This account in the context of its messages' language (see
        ``_stripe_message_lang``) and its company."""
        self.ensure_one()
        return self.with_company(self.company_id).with_context(
            lang=self._stripe_message_lang()
        )

    def _stripe_credentials_problems(self):
        """What is wrong with the account's secret key and signing secrets, in
        plain words: a publishable key (``pk_``) or anything that is not a secret
        (``sk_``) or restricted (``rk_``) key, a key of the other mode than the
        account's, a signing secret that does not start with ``whsec_``.

        :return: ``{field name: message}``, empty when all is well (or unset).
        :rtype: dict
        """
        self.ensure_one()
        # sudo: only the prefixes are read, never shown.
        account_sudo = self.sudo()
        key = (account_sudo.api_key or "").strip()
        problems = {}
        if key.startswith("pk_"):
            problems["api_key"] = _(
                "The secret key is a publishable key (pk_...), which can only be "
                "used in a web page. Paste the secret key (sk_...) or a restricted "
                "key (rk_...) from Stripe's dashboard, Developers > API keys."
            )
        elif key and not key.startswith(const.STRIPE_SECRET_KEY_PREFIXES):
            problems["api_key"] = _(
                "The secret key does not look like a Stripe secret key: it starts "
                "with sk_test_ or sk_live_ (rk_test_ or rk_live_ for a restricted "
                "key)."
            )
        elif key:
            mode_problem = self._stripe_key_mode_problem()
            if mode_problem:
                problems["api_key"] = mode_problem
        for fname in ("webhook_secret", "webhook_secret_previous"):
            secret = (account_sudo[fname] or "").strip()
            if secret and not secret.startswith("whsec_"):
                problems[fname] = _(
                    "The %(field)s does not look like a webhook signing secret: "
                    "Stripe's start with whsec_ (Developers > Webhooks, the "
                    "endpoint's Signing secret).",
                    field=self._fields[fname]._description_string(self.env),
                )
        return problems

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

    def _stripe_webhook_event_types(self):
        """The event types this module handles, sorted (what the endpoint sends)."""
        return sorted(self.env["stripe.event"]._get_event_handlers())

    def _stripe_get_webhook_endpoint(self):
        """Read the account's webhook endpoint from Stripe.

        :raise UserError: Stripe did not answer it.
        """
        self.ensure_one()
        return self._stripe_call(
            _("the webhook endpoint"),
            "webhook_endpoints",
            "retrieve",
            self.stripe_webhook_endpoint_id,
        )

    def _stripe_check_key_mode(self):
        """A live key creates a live endpoint, a test key a test one: the key must
        be of the account's mode, or every event would be refused.

        :raise UserError: the key is not of the account's mode.
        """
        self.ensure_one()
        # sudo: only whether there is a key is read; the key itself is not shown.
        api_key = self.sudo().api_key or ""
        if not api_key:
            raise UserError(
                _("Enter the secret key of %s to create its webhook.", self.name)
            )
        problem = self._stripe_key_mode_problem()
        if problem:
            raise UserError(problem)
