from odoo import _, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def _stripe_payment_link_customer(self, account):
        """The Stripe customer a payment link's Checkout Session is for: the
        commercial partner's, created in Stripe (and remembered on the partner)
        when it has none yet.

        :param account: the ``stripe.account`` that collects the invoice.
        :return: the customer's ``cus_`` id.
        :raise UserError: Stripe refused.
        """
        self.ensure_one()
        partner = self.commercial_partner_id
        if not partner.stripe_customer_id:
            partner.stripe_customer_id = account._stripe_create_customer(partner)
            partner._message_log(
                body=_(
                    "Stripe customer %s created for its payment links.",
                    partner.stripe_customer_id,
                )
            )
        return partner.stripe_customer_id
