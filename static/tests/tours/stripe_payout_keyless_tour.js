/** @odoo-module */
// A payout of an account without secret key, reconciled by picking the Stripe
// payments Odoo registered.

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("stripe_connector_payout_keyless", {
    steps: () => [
        {
            timeout: 60000,
            content: "Reconcile the payout",
            trigger: ".o_form_view .o_form_statusbar button[name=action_open_reconcile_wizard]",
            run: "click",
        },
        {
            content: "The wizard says what a key would add",
            timeout: 30000,
            trigger: ".modal .o_stripe_keyless_help:contains('With a secret key')",
        },
        {
            content: "No import from Stripe without a key",
            trigger: ".modal .modal-footer:not(:has(button[name=action_import_transactions]))",
        },
        {
            content: "Nothing can be confirmed before the payments are picked",
            trigger: ".modal .modal-footer:not(:has(button[name=action_confirm]))",
        },
        {
            content: "Pick the registered payments",
            trigger: ".modal .o_field_widget[name=keyless_payment_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            content: "The picker cannot create one",
            trigger: ".modal:last-child .o_list_view:not(:has(.o_create_button))",
        },
        {
            trigger: ".modal:last-child .modal-footer:not(:has(.o_create_button))",
        },
        {
            content: "Select them all",
            trigger: ".modal:last-child .o_list_view thead .o_list_record_selector input",
            run: "click",
        },
        {
            trigger: ".modal:last-child .o_list_view thead .o_list_record_selector input:checked",
        },
        {
            trigger: ".modal:last-child button.o_select_button",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=keyless_payment_ids] .o_data_row",
        },
        {
            content: "Confirm",
            trigger: ".modal .modal-footer button[name=action_confirm]",
            run: "click",
        },
        {
            content: "The payout is reconciled",
            timeout: 30000,
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Reconciled')",
        },
    ],
});
