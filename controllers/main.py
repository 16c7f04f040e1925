import logging

from odoo import http
from odoo.http import request

from .. import const
from ..exceptions import WebhookRefused

_logger = logging.getLogger(__name__)


class StripeWebhookController(http.Controller):
    _webhook_url = "/stripe/webhook/<int:account_id>"

    @http.route(
        _webhook_url,
        type="http",
        methods=["POST"],
        auth="none",
        readonly=False,  # it stores the event (auth="none" defaults to read-only)
        csrf=False,
        save_session=False,
    )
    def stripe_webhook(self, account_id):
        """Verify a Stripe webhook, store it, and acknowledge it.

        No business work happens here: the event is stored as a ``stripe.event`` and
        the processing cron is triggered. Refusals store nothing and are logged with
        their reason; a valid signed event is always answered 200, also when it was
        already received.

        :param int account_id: the ``stripe.account`` the endpoint belongs to.
        :return: a JSON response.
        """
        # As the public user, as auth="public" would set it (without its query:
        # the acknowledgement costs about what Odoo's bare /web/health does).
        request.update_env(
            user=request.env["ir.model.data"]._xmlid_to_res_id("base.public_user")
        )
        try:
            # sudo: Stripe posts as the public user; the record is only used after
            # its signing secret has authenticated the request.
            account_sudo = (
                request.env["stripe.account"].sudo()._get_webhook_account(account_id)
            )
            payload = self._read_body()
            event_data = account_sudo._verify_webhook(
                payload, request.httprequest.headers.get("Stripe-Signature")
            )
        except WebhookRefused as refusal:
            _logger.warning(
                "Stripe webhook refused (account %s, from %s): %s",
                account_id,
                request.httprequest.remote_addr,
                refusal.reason,
            )
            if refusal.status != 404:
                # Counted on the account (in a cursor of its own, never the body
                # nor a secret), so that a wrong secret shows in Odoo.
                request.env["stripe.account"].sudo()._stripe_note_refusal(
                    account_id, refusal.reason
                )
            return request.make_json_response(
                {"error": refusal.reason}, status=refusal.status
            )
        # sudo: see above; the event was authenticated by its signature. No
        # savepoint: on a serialization failure (a copy committed meanwhile by
        # another worker), Odoo runs the request again and it is a duplicate.
        _event, created = (
            request.env["stripe.event"]
            .sudo()
            ._receive(account_sudo, event_data, payload, savepoint=False)
        )
        return request.make_json_response(
            {"received": True, "id": event_data["id"], "duplicate": not created}
        )

    @staticmethod
    def _read_body():
        """Read the raw body, refusing anything over ``const.WEBHOOK_MAX_BODY``.

        :raise WebhookRefused: 413 when the body is too large.
        :rtype: bytes
        """
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > const.WEBHOOK_MAX_BODY:
            raise WebhookRefused(413, "body larger than 1 MiB")
        body = httprequest.get_data()
        if len(body) > const.WEBHOOK_MAX_BODY:  # chunked bodies announce no length
            raise WebhookRefused(413, "body larger than 1 MiB")
        return body
