from odoo import _, models
from odoo.exceptions import UserError

from ... import const


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _stripe_prepare_payment(self, stripe_account, amount):
        """Get the order ready to receive a Stripe payment.

        A quotation is confirmed (``action_confirm``, so that stock reservation and
        delivery follow Odoo's own flows). Then the open invoice to pay is returned:
        an existing one, or, when the account invoices paid orders, a new one
        created from the order and posted.

        :param stripe_account: the ``stripe.account`` receiving the payment.
        :param float amount: the payment's amount, to choose between several open
            invoices.
        :return: the invoice to pay (may be empty: pay the order as a customer
            payment) and what was done.
        :rtype: tuple
        """
        self.ensure_one()
        messages = []
        if self.state == "cancel":
            raise UserError(_("Order %s is cancelled.", self.name))
        if self.state in ("draft", "sent"):
            self.action_confirm()
            messages.append(_("Order %s confirmed.", self.name))
        open_invoices = self.invoice_ids.filtered(
            lambda move: (
                move.move_type == "out_invoice"
                and move.state == "posted"
                and move.payment_state in const.OPEN_PAYMENT_STATES
            )
        )
        if len(open_invoices) > 1:
            same_amount = open_invoices.filtered(
                lambda move: (
                    move.currency_id.compare_amounts(move.amount_residual, amount) == 0
                )
            )
            open_invoices = same_amount[:1] or open_invoices.sorted("id")[:1]
        if open_invoices or not stripe_account.invoice_paid_orders:
            return open_invoices, messages
        if self.invoice_status != "to invoice":
            messages.append(
                _(
                    "Order %s has nothing to invoice yet; the payment is recorded "
                    "as a customer payment.",
                    self.name,
                )
            )
            return self.env["account.move"], messages
        invoice = self._create_invoices()
        invoice.action_post()
        messages.append(_("Invoice %s created and posted.", invoice.name))
        return invoice, messages
