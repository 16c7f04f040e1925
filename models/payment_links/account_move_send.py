from markupsafe import Markup

from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    """The invoice e-mail holds a *Pay with Stripe* button: Odoo's invoice mail
    template renders the body, then the button (the QWeb view
    ``stripe_connector.account_move_mail_pay_button``) follows it, in the
    e-mail's language, when the invoice has a payment link."""

    _inherit = "account.move.send"

    @api.model
    def _get_default_mail_body(self, move, mail_template, mail_lang):
        body = super()._get_default_mail_body(move, mail_template, mail_lang)
        if not move.stripe_payment_url:
            return body
        button = (
            self.env["ir.qweb"]
            .with_context(lang=mail_lang)
            ._render(
                "stripe_connector.account_move_mail_pay_button",
                {"move": move, "url": move.stripe_payment_url},
            )
        )
        return Markup("%s%s") % (Markup(body or ""), button)
