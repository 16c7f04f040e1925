from odoo import fields, models


class AccountPaymentRegister(models.TransientModel):
    """Carry Stripe's references through Odoo's own payment registration.

    One payment (the wizard's own fields), or one payment per invoice when the
    batch booking registers the payments of many invoices at once: each
    invoice's Stripe references are then given in the context,
    ``stripe_payment_values``: invoice id -> payment values."""

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
        return self._stripe_add_invoice_values(vals, batch_result)

    def _stripe_add_invoice_values(self, vals, batch_result):
        """The payment's values with the Stripe references the context gives
        its invoice (``stripe_payment_values``), if any."""
        per_invoice = self.env.context.get("stripe_payment_values")
        if per_invoice:
            vals.update(per_invoice[batch_result["lines"].move_id.id])
        return vals

    def _post_payments(self, to_process, edit_mode=False):
        """With a list as ``stripe_deferred_posting`` in the context, the
        payments are created but neither posted nor reconciled: the list gets
        what to post, for ``_post_payments`` and ``_reconcile_payments`` to
        finish later (the batch booking creates its payments before it posts
        the invoices they pay, so that the journals' sequences are held as
        briefly as possible)."""
        deferred = self.env.context.get("stripe_deferred_posting")
        if deferred is not None:
            deferred.extend(to_process)
            return
        super()._post_payments(to_process, edit_mode=edit_mode)

    def _reconcile_payments(self, to_process, edit_mode=False):
        """The batch booking's payments are reconciled with their invoices in
        one reconciliation plan (what ``reconcile()`` does for one), instead of
        one reconciliation each: the same matches, in one pass."""
        if self.env.context.get("stripe_deferred_posting") is not None:
            return
        if not self.env.context.get("stripe_payment_values") or edit_mode:
            super()._reconcile_payments(to_process, edit_mode=edit_mode)
            return
        valid_types = self.env["account.payment"]._get_valid_payment_account_types()
        plan = []
        for vals in to_process:
            lines = vals["to_reconcile"]
            payment_lines = vals["payment"].move_id.line_ids.filtered(
                lambda line, accounts=lines.account_id: (
                    line.account_type in valid_types
                    and not line.reconciled
                    and line.account_id in accounts
                )
            )
            plan.append(payment_lines + lines)
        self.env["account.move.line"]._reconcile_plan(plan)
        for vals in to_process:
            vals["to_reconcile"].move_id.matched_payment_ids += vals["payment"]

    def _create_payment_vals_from_batch(self, batch_result):
        vals = super()._create_payment_vals_from_batch(batch_result)
        return self._stripe_add_invoice_values(vals, batch_result)
