from odoo import fields, models


class AccountPaymentRegister(models.TransientModel):
    """Carry Stripe's references through Odoo's own payment registration."""

    _inherit = "account.payment.register"

    stripe_account_id = fields.Many2one("stripe.account")
    stripe_object_id = fields.Char()
    stripe_charge_id = fields.Char()

    def _create_payment_vals_from_wizard(self, batch_result):
        vals = super()._create_payment_vals_from_wizard(batch_result)
        if self.stripe_account_id:
            vals.update(
                stripe_account_id=self.stripe_account_id.id,
                stripe_object_id=self.stripe_object_id,
                stripe_charge_id=self.stripe_charge_id,
            )
        return vals
