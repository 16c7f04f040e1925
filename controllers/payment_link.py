import logging

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools import consteq

from .. import const

_logger = logging.getLogger(__name__)


class StripePaymentLinkController(http.Controller):
    @http.route(
        "/stripe/pay/<int:invoice_id>/<string:access_token>",
        type="http",
        methods=["GET"],
        auth="public",
        readonly=False,  # it remembers the Checkout Session on the invoice
        sitemap=False,
    )
    def stripe_payment_link(self, invoice_id, access_token):
        """Open an invoice's payment link: a redirect (303) to a Stripe Checkout
        Session for what is due now, or a plain page saying why there is none
        (paid, cancelled, credited, processing, Stripe unreachable).

        Only the invoice's portal access token opens it (404 otherwise). The
        invoice's row is locked while the session is made: a burst of opens makes
        one session.

        :param int invoice_id: the ``account.move``.
        :param str access_token: its portal access token.
        """
        # sudo: the customer is not logged in; the access token authenticates.
        invoice_sudo = request.env["account.move"].sudo().browse(invoice_id).exists()
        if (
            not invoice_sudo
            or invoice_sudo.move_type not in const.CUSTOMER_INVOICE_TYPES
            or not invoice_sudo.access_token
            or not consteq(invoice_sudo.access_token, access_token)
        ):
            raise NotFound()
        invoice_sudo._stripe_lock_for_payment_link()
        try:
            url, problem = invoice_sudo._stripe_open_payment_link()
        except UserError:
            _logger.warning(
                "Stripe payment link of invoice %s: no payment page",
                invoice_id,
                exc_info=True,
            )
            url, problem = None, "error"
        if url:
            return request.redirect(url, code=303, local=False)
        return request.render(
            "stripe_connector.payment_link_page",
            {
                "invoice": invoice_sudo,
                "problem": problem,
                "portal_url": invoice_sudo.get_portal_url(),
            },
            status=503 if problem == "error" else 200,
        )
