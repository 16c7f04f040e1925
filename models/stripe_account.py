import json
import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from .. import const, utils

_logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.stripe.com"


class StripeAccount(models.Model):
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
    invoice_sale_orders = fields.Boolean(
        string="Invoice Paid Orders",
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
    payout_match_days = fields.Integer(
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

    # === CONSTRAINTS === #

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

    # === COMPUTE METHODS === #

    def _compute_has_api_key(self):
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

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        accounts = super().create(vals_list)
        accounts.journal_id._stripe_configure_journal()
        return accounts

    def write(self, vals):
        res = super().write(vals)
        if vals.get("journal_id"):
            self.journal_id._stripe_configure_journal()
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

    def _stripe_action(self, xmlid, context=None):
        """A window action of ours restricted to this account's records."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = [("account_id", "=", self.id)]
        if context:
            action["context"] = context
        return action

    # === BUSINESS METHODS === #

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
            for page in self._stripe_pages("events", params, _("the events")):
                for data in page:
                    if bool(data.get("livemode")) != (self.mode == "live"):
                        continue  # the key's mode is not the account's
                    payload = json.dumps(data).encode()
                    stored += event_model._receive(self, data, payload)[1]
        return stored

    @api.model
    def _cron_fetch_missed_events(self):
        """Daily safety net: fetch what the webhook missed, for every account
        with an API key."""
        for account in self._stripe_api_accounts():
            try:
                with self.env.cr.savepoint():
                    account.with_company(
                        account.company_id
                    )._stripe_fetch_missed_events()
            except UserError as error:
                _logger.warning(
                    "Stripe account %s: missed events not fetched: %s",
                    account.id,
                    error.args[0],
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
