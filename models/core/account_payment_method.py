from odoo import api, models

from ... import const


class AccountPaymentMethod(models.Model):
    _inherit = "account.payment.method"

    @api.model
    def _get_payment_method_information(self):
        res = super()._get_payment_method_information()
        # Any bank journal may carry it, but only Stripe journals get it (see
        # _auto_link_payment_methods and account.journal._stripe_configure_journal).
        res[const.STRIPE_PAYMENT_METHOD_CODE] = {"mode": "multi", "type": ("bank",)}
        return res

    def _auto_link_payment_methods(self, payment_methods, methods_info):
        # Not on every bank journal of the database: Stripe journals only.
        return (
            super()._auto_link_payment_methods(
                payment_methods.filtered(
                    lambda method: method.code != const.STRIPE_PAYMENT_METHOD_CODE
                ),
                methods_info,
            )
            | payment_methods
        )
