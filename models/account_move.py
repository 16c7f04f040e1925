from odoo import Command, models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _stripe_create_credit_note(self, amount, date, ref, line_vals):
        """Post a one-line credit note on this customer invoice.

        Used for partial refunds and lost disputes; a full refund reverses the
        invoice line by line with Odoo's reversal instead.

        :param float amount: in the invoice's currency, taxes included.
        :param date: accounting and invoice date.
        :param str ref: the credit note's reference.
        :param dict line_vals: the line's ``name`` and its ``account_id`` or
            ``product_id`` (and ``tax_ids`` when its taxes are price-included).
        :return: the posted credit note.
        """
        self.ensure_one()
        credit_note = self.create(
            {
                "move_type": "out_refund",
                "partner_id": self.partner_id.id,
                "currency_id": self.currency_id.id,
                "invoice_date": date,
                "date": date,
                "ref": ref,
                "invoice_origin": self.name,
                "reversed_entry_id": self.id,
                "journal_id": self.journal_id.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                            **line_vals,
                        }
                    )
                ],
            }
        )
        credit_note.action_post()
        return credit_note
