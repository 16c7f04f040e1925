from odoo import models

PO_NUMBER_KEY = "po_number"


class StripePaymentRules(models.AbstractModel):
    """A customer's own rule: the shop's checkout puts the customer's purchase
    order number in the PaymentIntent's metadata (``po_number``), which Odoo
    keeps as the invoice's customer reference."""

    _inherit = "stripe.payment.rules"

    def _stripe_find_payment_target(self, facts, amount, currency):
        # A document picked by a user wins, as Odoo's own rules want.
        if not self._stripe_picked_document():
            for _source, metadata in facts.metadata:
                po_number = (metadata or {}).get(PO_NUMBER_KEY)
                invoice = po_number and self.env["account.move"].search(
                    [
                        ("move_type", "=", "out_invoice"),
                        ("state", "=", "posted"),
                        ("payment_state", "in", ("not_paid", "partial")),
                        ("ref", "=", po_number),
                        ("company_id", "=", self._stripe_account().company_id.id),
                    ]
                )
                if invoice and len(invoice) == 1:
                    return invoice
        return super()._stripe_find_payment_target(facts, amount, currency)
