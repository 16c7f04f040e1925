import { registry } from "@web/core/registry";

// A payment no invoice matched failed: pick the invoice on the event, Retry, the
// event is done.
registry.category("web_tour.tours").add("stripe_connector_event_retry_tour", {
    url: "/odoo/action-stripe_connector.stripe_event_action",
    // Each step waits up to 60 s (Odoo's default is 10 s): a busy CI machine
    // renders the settings and forms slower.
    steps: () =>
        [
            {
                content: "Open the failed event",
                trigger: ".o_data_row:has(.badge:contains(Failed)) td[name='title_text']",
                run: "click",
            },
            {
                content: "It says why it failed",
                trigger: ".alert-danger:contains('No invoice or order matches')",
            },
            {
                content: "Pick the invoice",
                trigger: "div[name='invoice_id'] input",
                run: "edit Tour Customer",
            },
            {
                content: "Select it",
                trigger: ".o-autocomplete--dropdown-item:contains('INV/')",
                run: "click",
            },
            {
                content: "Retry",
                trigger: "button[name='action_retry']",
                run: "click",
            },
            {
                content: "The event is done",
                trigger: ".o_statusbar_status .o_arrow_button_current:contains(Done)",
            },
            {
                content: "It says what it did",
                trigger: ".alert-info:contains('INV/')",
            },
        ].map((step) => ({ timeout: 60000, ...step })),
});
