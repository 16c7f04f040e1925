import json
import logging
import re
import time
from urllib.parse import urlsplit

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

    def _stripe_pages(self, service_name, params, what, *args):
        """Yield the pages of a Stripe list as lists of dicts, one request each:
        the one paginator of the module.

        Pages are handed over one at a time so that callers store and flush them
        before the next one comes: memory stays flat however long the list. A page
        refused with a 429 or a network error is asked for again (see
        ``_stripe_call``).

        :param str service_name: ``balance_transactions``, ``payouts``...
        :param dict params: the list's parameters (``limit`` included; Stripe's
            maximum by default).
        :param str what: what is listed, for the error message.
        :param args: the list's own arguments (the invoice of
            ``invoices.line_items``).
        :raise UserError: Stripe still refuses after the retries.
        """
        self.ensure_one()
        params = dict(params)
        params.setdefault("limit", const.API_PAGE_SIZE)
        while True:
            page = self._stripe_call(what, service_name, "list", *args, params=params)
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
            reason = _("Stripe refused the secret key (invalid API key).")
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
        return _(
            "Stripe did not send %(what)s (HTTP %(status)s, attempts: %(attempts)s): "
            "%(reason)s",
            what=what,
            status=status or "-",
            attempts=attempts,
            reason=reason,
        )

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
