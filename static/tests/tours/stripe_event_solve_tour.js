/** @odoo-module */
// A failed payment event solved from its own form: its title says what it is
// about, the suggested invoice is picked, Retry books it.

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("stripe_connector_event_solve", {
    steps: () => [
        {
            timeout: 60000,
            content: "The failed event says what it is about",
            trigger: ".o_form_view h1:contains('Payment of'):contains('cus_tour')",
        },
        {
            trigger: ".o_form_view .alert-danger:contains('No invoice or order matches')",
        },
        {
            content: "Open the invoices to pick",
            trigger: ".o_field_widget[name=invoice_id] input",
            run: "click",
        },
        {
            content: "The likely invoice comes first, with customer and amount due",
            trigger:
                ".o-autocomplete--dropdown-item:first-child:contains('Suggested'):contains('Tour Customer'):contains('due')",
        },
        {
            content: "The paid invoice is not offered",
            trigger: ".o-autocomplete--dropdown-menu:not(:contains('TOURPAID'))",
        },
        {
            content: "Pick the suggested invoice",
            trigger: ".o-autocomplete--dropdown-item:first-child a",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=invoice_id] input:value(INV)",
        },
        {
            content: "Retry",
            trigger: ".o_form_view button[name=action_retry]",
            run: "click",
        },
        {
            content: "The event is done",
            timeout: 30000,
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Done')",
        },
        {
            trigger: ".o_form_view .alert-info:contains('Payment')",
        },
        {
            content: "Its documents open",
            trigger: ".o_form_view button[name=action_open_documents]",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row, .o_form_view .o_field_widget[name=name]",
        },
    ],
});
