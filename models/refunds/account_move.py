from odoo import Command, _, models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _stripe_create_credit_note(self, amount, date, ref, line_vals=None):
        """Post a credit note of ``amount`` on this customer invoice.

        - The whole invoice, nothing credited yet: Odoo's reversal, line by line.
        - Otherwise, ``line_vals`` given (a refund product or account): one line.
        - Otherwise the invoice's lines pro rata, with their taxes, so that the
          taxes are credited in proportion; a line without tax takes the cents
          the proportion leaves, so that the credit note is exactly ``amount``.

        A partial credit note is not linked as the invoice's reversal: Odoo would
        settle the invoice's unpaid part with it on posting, hiding what the
        customer still owes.

        :param float amount: in the invoice's currency, taxes included.
        :param date: accounting and invoice date.
        :param str ref: the credit note's reference.
        :param dict line_vals: ``name`` and ``product_id`` or ``account_id`` (and
            ``tax_ids``) of a single line.
        :return: the posted credit note.
        """
        self.ensure_one()
        currency = self.currency_id
        if (
            not self._stripe_credit_notes()
            and currency.compare_amounts(amount, self.amount_total) == 0
        ):
            credit_note = self._reverse_moves(
                [{"ref": ref, "date": date, "invoice_date": date}]
            )
            credit_note.action_post()
            return credit_note
        if line_vals:
            lines = [Command.create({"quantity": 1, "price_unit": amount, **line_vals})]
        else:
            ratio = amount / self.amount_total
            lines = [
                Command.create(
                    {
                        "name": line.name,
                        "product_id": line.product_id.id,
                        "product_uom_id": line.product_uom_id.id,
                        "quantity": line.quantity,
                        "price_unit": line.price_unit * ratio,
                        "discount": line.discount,
                        "tax_ids": [Command.set(line.tax_ids.ids)],
                        "account_id": line.account_id.id,
                        "analytic_distribution": line.analytic_distribution,
                    }
                )
                for line in self.invoice_line_ids.filtered(
                    lambda line: line.display_type == "product"
                )
            ]
        credit_note = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": self.partner_id.id,
                "currency_id": currency.id,
                "invoice_date": date,
                "date": date,
                "ref": ref,
                "invoice_origin": self.name,
                "journal_id": self.journal_id.id,
                "fiscal_position_id": self.fiscal_position_id.id,
                "invoice_line_ids": lines,
            }
        )
        rounding = currency.round(amount - credit_note.amount_total)
        if not currency.is_zero(rounding):
            credit_note.invoice_line_ids = [
                Command.create(
                    {
                        "name": _("Rounding of the refunded amount"),
                        "quantity": 1,
                        "price_unit": rounding,
                        "tax_ids": [Command.clear()],
                        "account_id": credit_note.invoice_line_ids[:1].account_id.id,
                    }
                )
            ]
        credit_note.action_post()
        return credit_note

    def _stripe_credit_notes(self):
        """Credit notes already issued against this invoice (reversals, and the
        partial credit notes that name it as their origin)."""
        return self.reversal_move_ids | self.search(
            [
                ("move_type", "=", "out_refund"),
                ("invoice_origin", "=", self.name),
                ("company_id", "=", self.company_id.id),
                ("state", "=", "posted"),
            ]
        )
