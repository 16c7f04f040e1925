import logging

from odoo import _, fields, models
from odoo.exceptions import UserError

from .. import const

_logger = logging.getLogger(__name__)


class StripeAccount(models.Model):
    """The webhook endpoint in Stripe, created and kept up to date from Odoo, as
    Odoo's own Stripe payment provider does (``action_stripe_create_webhook``)."""

    _inherit = "stripe.account"

    webhook_endpoint_id = fields.Char(
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

    def _compute_webhook_missing_events(self):
        """Read the endpoint's event types from Stripe and compare them with the
        types handled now (more after an upgrade of the module)."""
        handled = set(self.env["stripe.event"]._get_event_handlers())
        for account in self:
            account.webhook_missing_events = False
            account.webhook_check_message = False
            if not (account.webhook_endpoint_id and account.has_api_key):
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

    # === ACTION METHODS === #

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
        if self.webhook_endpoint_id:
            raise UserError(
                _(
                    "The webhook endpoint %s already exists in Stripe: use Update "
                    "Webhook.",
                    self.webhook_endpoint_id,
                )
            )
        self._stripe_check_key_mode()
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
                "webhook_endpoint_id": endpoint.id,
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
        if not self.webhook_endpoint_id:
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
            self.webhook_endpoint_id,
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
            self.webhook_endpoint_id,
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
