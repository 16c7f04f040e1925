from odoo import api, fields, models


class StripeInvoicePayment(models.Model):
    """Which PaymentIntent pays which Stripe invoice, as Stripe said it.

    Since API version ``2025-03-31.basil`` neither the invoice nor the
    PaymentIntent names the other; the link is Stripe's ``invoice_payment``
    object (event ``invoice_payment.paid``, or listed through the API). Older
    versions name it on both objects. Each source adds a row here; the payment
    rules read them to pay the mirrored invoice."""

    _name = "stripe.invoice.payment"
    _description = "Stripe Invoice Payment"
    _inherit = ["stripe.owned.mixin"]
    _order = "id desc"
    _rec_name = "stripe_payment_intent_id"

    stripe_invoice_id = fields.Char(required=True, readonly=True, index=True)
    stripe_payment_intent_id = fields.Char(
        string="PaymentIntent", required=True, readonly=True, index=True
    )
    stripe_id = fields.Char(
        string="Invoice Payment", readonly=True, help="The inpay_... id, if known."
    )

    _sql_constraints = [
        (
            "link_uniq",
            "UNIQUE(account_id, stripe_invoice_id, stripe_payment_intent_id)",
            "A PaymentIntent is linked once to a Stripe invoice.",
        ),
    ]

    @api.model
    def _stripe_link(
        self, account, stripe_invoice_id, payment_intent_id, stripe_id=None
    ):
        """Record that a PaymentIntent pays a Stripe invoice (once).

        :return: the link.
        """
        link = self.search(
            [
                ("account_id", "=", account.id),
                ("stripe_invoice_id", "=", stripe_invoice_id),
                ("stripe_payment_intent_id", "=", payment_intent_id),
            ],
            limit=1,
        )
        if link:
            if stripe_id and not link.stripe_id:
                link.stripe_id = stripe_id
            return link
        return self.create(
            {
                "account_id": account.id,
                "stripe_invoice_id": stripe_invoice_id,
                "stripe_payment_intent_id": payment_intent_id,
                "stripe_id": stripe_id or False,
            }
        )

    @api.model
    def _stripe_invoice_of(self, account, payment_intent_id):
        """The Stripe invoice id a PaymentIntent pays, as known, or None."""
        if not payment_intent_id:
            return None
        link = self.search(
            [
                ("account_id", "=", account.id),
                ("stripe_payment_intent_id", "=", payment_intent_id),
            ],
            limit=1,
        )
        return link.stripe_invoice_id or None

    @api.model
    def _stripe_intents_of(self, account, stripe_invoice_id):
        """The PaymentIntent ids known to pay a Stripe invoice."""
        return self.search(
            [
                ("account_id", "=", account.id),
                ("stripe_invoice_id", "=", stripe_invoice_id),
            ]
        ).mapped("stripe_payment_intent_id")
