import json
import logging
import time

import stripe

from odoo import _, api, models
from odoo.exceptions import UserError

from .. import const, utils
from ..exceptions import WebhookRefused

_logger = logging.getLogger(__name__)


class StripeAccount(models.Model):
    """The Stripe API gateway of an account (every request goes through
    ``_stripe_call``) and the verification of its webhooks."""

    _inherit = "stripe.account"

    # === WEBHOOK METHODS === #

    @api.model
    def _get_webhook_account(self, account_id):
        """Return the active account a webhook is posted to.

        :raise WebhookRefused: 404 when there is no such active account.
        """
        account = self.browse(account_id).exists()
        if not account or not account.active:
            raise WebhookRefused(404, "unknown or archived Stripe account")
        return account

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
        secrets = self._get_webhook_secrets()
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
        if bool(event.get("livemode")) != (self.mode == "live"):
            raise WebhookRefused(
                400,
                "livemode %s does not match the account's %s mode"
                % (bool(event.get("livemode")), self.mode),
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
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": self.sudo().api_base},
            max_network_retries=const.API_MAX_NETWORK_RETRIES,
        )

    def _stripe_call(self, what, service_name, method, *args, **kwargs):
        """Make one Stripe API request with the account's client:
        ``client.v1.<service_name>.<method>(*args, **kwargs)``.

        The SDK retries what it deems retryable by itself (see
        ``utils.sdk_retried``) but gives up at once on a 429 without
        ``Stripe-Should-Retry``: that one is sent again here, the same request, up
        to ``const.API_RATE_LIMIT_RETRIES`` times after a capped exponential
        backoff.

        :param str what: what is asked for, for the error message.
        :param str service_name: ``balance_transactions``, ``payment_intents``...
        :param str method: ``list``, ``retrieve``...
        :return: the SDK's answer.
        :raise UserError: Stripe still refuses; the message gives its answer and the
            number of requests made.
        """
        self.ensure_one()
        service = self._get_client().v1
        for name in service_name.split("."):  # checkout.sessions
            service = getattr(service, name)
        call = getattr(service, method)
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
                    _(
                        "Stripe did not send %(what)s (HTTP %(status)s, attempts: "
                        "%(attempts)s): %(error)s",
                        what=what,
                        status=error.http_status or "-",
                        attempts=attempts,
                        error=error.user_message or str(error),
                    )
                ) from error
