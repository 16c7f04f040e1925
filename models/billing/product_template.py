from odoo import api, fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    stripe_product_id = fields.Char(
        copy=False,
        index="btree_not_null",
        help="Stripe's product id (prod_...). The lines of Stripe invoices for this "
        "Stripe product are booked on this product.",
    )


class ProductProduct(models.Model):
    _inherit = "product.product"

    @api.model
    def _stripe_find_product(self, account, stripe_product_id):
        """The Odoo product of a Stripe product, else the account's default
        subscription product.

        :param account: the ``stripe.account``.
        :param str stripe_product_id: the ``prod_`` id, or ``None``.
        :return: a ``product.product`` (the first variant of the template whose
            *Stripe Product* it is, in the account's company or shared), or an
            empty recordset when neither exists.
        """
        if stripe_product_id:
            product = self.search(
                [
                    ("product_tmpl_id.stripe_product_id", "=", stripe_product_id),
                    ("company_id", "in", (False, account.company_id.id)),
                ],
                order="id",
                limit=1,
            )
            if product:
                return product
        return account.subscription_product_id
