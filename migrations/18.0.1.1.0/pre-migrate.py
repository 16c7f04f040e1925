"""18.0.1.1.0: a field holding a Stripe id is named ``stripe_*``; two settings
say what they are; two view fragments are folded into the views they extended.

Before the registry loads: columns (with their indexes), field definitions and
their external ids are renamed, so that every value stays where it was and no
field is created empty beside its old column; the views of those models (the
module's, and any other addon's that names the fields) name them anew, so that
each view validates while the update reloads them one file after the other."""

import logging

from odoo.tools import sql

_logger = logging.getLogger(__name__)

# Views whose content moved into the view they extended.
FOLDED_VIEWS = [
    "stripe_account_view_form_webhook",
    "stripe_payout_reconcile_view_form_keyless",
]

# (model, old field name, new field name)
RENAMED_FIELDS = [
    ("stripe.account", "webhook_endpoint_id", "stripe_webhook_endpoint_id"),
    ("stripe.account", "invoice_sale_orders", "invoice_paid_orders"),
    ("stripe.account", "payout_match_days", "payout_bank_line_days"),
    ("stripe.event", "object_id", "stripe_object_id"),
    ("stripe.event", "customer_ref", "stripe_customer_id"),
    ("stripe.dispute", "charge_id", "stripe_charge_id"),
    ("stripe.payout", "balance_transaction_ref", "stripe_balance_transaction_id"),
    ("stripe.balance.transaction", "source_id", "stripe_source_id"),
    ("stripe.balance.transaction", "charge_id", "stripe_charge_id"),
    ("stripe.balance.transaction", "payment_intent_id", "stripe_payment_intent_id"),
    ("stripe.balance.transaction", "customer_id", "stripe_customer_id"),
    ("stripe.balance.check.line", "source_ref", "stripe_source_id"),
    ("stripe.invoice.payment", "payment_intent_id", "stripe_payment_intent_id"),
    ("stripe.subscription.item", "price_id", "stripe_price_id"),
    ("stripe.subscription.discount", "coupon_id", "stripe_coupon_id"),
    ("stripe.payout.reconcile.charge", "charge_id", "stripe_charge_id"),
]


def rename_field(cr, model, old, new):
    """Rename a stored field of the module: its column and the column's index,
    its ``ir.model.fields`` record and that record's external id."""
    table = model.replace(".", "_")
    if sql.column_exists(cr, table, old) and not sql.column_exists(cr, table, new):
        sql.rename_column(cr, table, old, new)
        cr.execute(
            f'ALTER INDEX IF EXISTS "{table}__{old}_index" '
            f'RENAME TO "{table}__{new}_index"'
        )
    cr.execute(
        "UPDATE ir_model_fields SET name = %s WHERE model = %s AND name = %s",
        (new, model, old),
    )
    cr.execute(
        """
        UPDATE ir_model_data SET name = %s
         WHERE module = 'stripe_connector' AND model = 'ir.model.fields'
           AND name = %s
        """,
        (f"field_{table}__{new}", f"field_{table}__{old}"),
    )
    # In every language of the view's architecture; \m and \M are word bounds.
    cr.execute(
        r"""
        UPDATE ir_ui_view
           SET arch_db = regexp_replace(
                   arch_db::text, '\m' || %s || '\M', %s, 'g')::jsonb
         WHERE model = %s AND arch_db::text ~ ('\m' || %s || '\M')
        """,
        (old, new, model, old),
    )


def drop_folded_views(cr):
    """Remove the view fragments folded into the views they extended (unless
    another view extends them): the update would otherwise apply them twice
    until it removes them at its end."""
    cr.execute(
        """
        DELETE FROM ir_ui_view view
         USING ir_model_data data
         WHERE data.module = 'stripe_connector' AND data.model = 'ir.ui.view'
           AND data.name IN %s AND view.id = data.res_id
           AND NOT EXISTS (SELECT 1 FROM ir_ui_view child
                            WHERE child.inherit_id = view.id)
        RETURNING data.name
        """,
        (tuple(FOLDED_VIEWS),),
    )
    dropped = [name for (name,) in cr.fetchall()]
    if dropped:
        cr.execute(
            "DELETE FROM ir_model_data WHERE module = 'stripe_connector'"
            " AND model = 'ir.ui.view' AND name IN %s",
            (tuple(dropped),),
        )


def migrate(cr, version):
    if not version:
        return
    for model, old, new in RENAMED_FIELDS:
        rename_field(cr, model, old, new)
    drop_folded_views(cr)
    _logger.info("stripe_connector: %s fields renamed", len(RENAMED_FIELDS))
