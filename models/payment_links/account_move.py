import base64
import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ... import const, utils

_logger = logging.getLogger(__name__)


class AccountMove(models.Model):
    """An invoice's payment link: a stable Odoo URL (its portal access token in
    it) that opens a Stripe Checkout Session for what is due at that moment, and
    the *payment processing* state of a debit or transfer that settles later."""

    _inherit = "account.move"

    stripe_payment_url = fields.Char(
        string="Stripe Payment Link",
        compute="_compute_stripe_payment_url",
        help="The link to give the customer: it opens Stripe's payment page for "
        "what is due on the invoice when the customer opens it. Empty when "
        "nothing is due or no Stripe account with a secret key collects the "
        "company's invoices.",
    )
    stripe_payment_processing = fields.Boolean(
        readonly=True,
        copy=False,
        help="The customer confirmed a payment that settles days later (a "
        "direct debit, a bank transfer): nothing is booked until Stripe says it "
        "succeeded.",
    )
    stripe_processing_intent_id = fields.Char(
        string="Processing Payment",
        readonly=True,
        copy=False,
        index="btree_not_null",  # a failed payment's event looks it up
        help="The Stripe PaymentIntent whose payment is processing.",
    )
    stripe_checkout_session_id = fields.Char(
        string="Checkout Session",
        readonly=True,
        copy=False,
        help="The last Checkout Session the payment link opened: reused while it "
        "is open and asks for what is still due.",
    )
    stripe_checkout_amount = fields.Integer(
        readonly=True,
        copy=False,
        help="What that session asks for, in minor units of the invoice's currency.",
    )
    stripe_checkout_expires_at = fields.Datetime(readonly=True, copy=False)

    # === COMPUTE METHODS === #

    @api.depends("move_type", "state", "payment_state", "amount_residual")
    def _compute_stripe_payment_url(self):
        for move in self:
            url = False
            # sudo: the access token is the portal's; the link carries it.
            move_sudo = move.sudo()
            if move._stripe_payment_link_problem() is None:
                if not move_sudo.access_token and not self.env.cr.readonly:
                    move_sudo._portal_ensure_token()  # posted before install
                if move_sudo.access_token:
                    url = (
                        f"{move.get_base_url()}/stripe/pay/{move.id}/"
                        f"{move_sudo.access_token}"
                    )
            move.stripe_payment_url = url

    # === CRUD METHODS === #

    def _post(self, soft=True):
        """A customer invoice gets its portal access token when posted: its
        payment link carries it (and a screen that only reads cannot write it)."""
        posted = super()._post(soft=soft)
        for move in posted:
            if move.move_type in const.CUSTOMER_INVOICE_TYPES:
                # sudo: the access token is the portal's.
                move.sudo()._portal_ensure_token()
        return posted

    # === BUSINESS METHODS === #

    def _stripe_payment_link_account(self):
        self.ensure_one()
        return self.env["stripe.account"]._stripe_payment_link_account(
            self.company_id, self.currency_id
        )

    def _stripe_payment_link_problem(self):
        """Why the invoice's link opens no payment page now, or None.

        :return: ``paid``, ``credited``, ``cancelled``, ``processing`` or
            ``unavailable`` (not a posted customer invoice, or no Stripe account
            collects it).
        :rtype: str
        """
        self.ensure_one()
        if self.move_type not in const.CUSTOMER_INVOICE_TYPES or not self.id:
            return "unavailable"
        if self.state == "cancel":
            return "cancelled"
        if self.state != "posted":
            return "unavailable"
        if self.payment_state == "reversed":
            return "credited"
        if (
            self.payment_state not in const.OPEN_PAYMENT_STATES
            or self.currency_id.is_zero(self.amount_residual)
        ):
            return "paid"
        if self.stripe_payment_processing:
            return "processing"
        if not self._stripe_payment_link_account():
            return "unavailable"
        return None

    def _stripe_lock_for_payment_link(self):
        """Lock the invoice's row until the transaction ends: two opens of the link
        at once make one Checkout Session (the second one waits, then its
        transaction is retried by Odoo and sees the first one's session)."""
        self.ensure_one()
        self.env.cr.execute(
            "SELECT id FROM account_move WHERE id = %s FOR UPDATE", [self.id]
        )

    def _stripe_open_payment_link(self):
        """What opening the invoice's payment link gives: the Checkout Session to
        redirect to (for the residual at this moment, the open one reused while
        it asks for that amount), else why there is none.

        Call it on a locked invoice (``_stripe_lock_for_payment_link``).

        :return: ``(url, None)`` or ``(None, problem)`` (see
            ``_stripe_payment_link_problem``; ``complete``: the customer just
            paid, Stripe is confirming it).
        :raise UserError: Stripe refused.
        """
        self.ensure_one()
        problem = self._stripe_payment_link_problem()
        if problem:
            return None, problem
        account = self._stripe_payment_link_account()
        amount = account._stripe_session_amount(self)
        now = fields.Datetime.now()
        if self.stripe_checkout_session_id:
            session = account._stripe_get_checkout_session(
                self.stripe_checkout_session_id
            )
            status = session.get("status")
            fresh = self.stripe_checkout_expires_at and (
                self.stripe_checkout_expires_at
                > now + timedelta(seconds=const.PAYMENT_LINK_SESSION_MARGIN)
            )
            if status == "complete":
                if self.stripe_checkout_amount == amount:
                    return None, "complete"
            elif status == "open":
                if (
                    self.stripe_checkout_amount == amount
                    and fresh
                    and session.get("url")
                ):
                    return session["url"], None
                account._stripe_expire_checkout_session(session["id"])
        customer_id = self.partner_id._stripe_payment_link_customer(account)
        session = account._stripe_create_checkout_session(self, amount, customer_id)
        self.write(
            {
                "stripe_checkout_session_id": session["id"],
                "stripe_checkout_amount": amount,
                "stripe_checkout_expires_at": utils.timestamp_to_datetime(
                    session.get("expires_at")
                )
                or now + timedelta(hours=24),
            }
        )
        self._message_log(
            body=_(
                "The customer opened the Stripe payment link: Checkout Session "
                "%(session)s for %(amount)s.",
                session=session["id"],
                amount=self.currency_id.format(self.amount_residual),
            )
        )
        return session["url"], None

    def _stripe_set_payment_processing(self, intent_id, event):
        """The customer confirmed a payment that settles later: say so on the
        invoice (badge and chatter); nothing is booked."""
        self.ensure_one()
        self.write(
            {
                "stripe_payment_processing": True,
                "stripe_processing_intent_id": intent_id,
            }
        )
        self.message_post(
            body=Markup("%s &#8212; <a href='%s'>%s</a>")
            % (
                _(
                    "Stripe payment processing: the customer confirmed a payment "
                    "(%(intent)s) that completes in a few days. Nothing is booked "
                    "until Stripe confirms it.",
                    intent=intent_id or "-",
                ),
                event._stripe_event_url(),
                _("Stripe event %s", event.stripe_id),
            )
        )

    def _stripe_clear_payment_processing(self, message=None):
        """The processing payment ended (booked, or failed): the badge goes;
        ``message`` says why in the chatter."""
        processing = self.filtered("stripe_payment_processing")
        # The session that made it is over: the link opens a new one if due.
        processing.write(
            {
                "stripe_payment_processing": False,
                "stripe_processing_intent_id": False,
                "stripe_checkout_session_id": False,
                "stripe_checkout_amount": 0,
                "stripe_checkout_expires_at": False,
            }
        )
        if message:
            for move in processing:
                move.message_post(body=message)
        return processing

    def _stripe_payment_qr_src(self):
        """The QR code of the payment link, as a data URI (the PDF embeds it)."""
        self.ensure_one()
        if not self.stripe_payment_url:
            return False
        try:
            image = self.env["ir.actions.report"].barcode(
                "QR", self.stripe_payment_url, width=140, height=140
            )
        except (ValueError, AttributeError, UserError):
            _logger.warning("No QR code for the payment link of %s", self.name)
            return False
        return "data:image/png;base64," + base64.b64encode(image).decode()
