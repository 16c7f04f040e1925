import { registry } from "@web/core/registry";

// Last month does not tie: a charge Stripe has and Odoo never booked. Book it
// from the differences, compute again, the month ties; close it.
registry.category("web_tour.tours").add("stripe_connector_tieout_tour", {
    url: "/odoo/action-stripe_connector.stripe_tieout_action",
    steps: () =>
        [
            {
                content: "Open the month that does not tie",
                trigger: ".o_data_row:has(.badge:contains(Differs)) td[name='date_from']",
                run: "click",
            },
            {
                content: "It says how many differences",
                trigger: ".alert-danger:contains('1 differences')",
            },
            {
                content: "The differences",
                trigger: "a.nav-link:contains(Differences)",
                run: "click",
            },
            {
                content: "The charge Stripe has and Odoo does not: book it",
                trigger: ".o_field_one2many[name=item_ids] button[name='action_book']",
                run: "click",
            },
            {
                content: "Compute again",
                trigger: "button[name='action_compute']:contains(Compute Again)",
                run: "click",
            },
            {
                content: "The month ties",
                trigger: ".o_statusbar_status .o_arrow_button_current:contains(Ties)",
            },
            {
                content: "Close it",
                trigger: "button[name='action_close']",
                run: "click",
            },
            {
                content: "Confirm",
                trigger: ".modal-footer .btn-primary",
                run: "click",
            },
            {
                content: "The month is closed",
                trigger: ".o_statusbar_status .o_arrow_button_current:contains(Closed)",
            },
        ].map((step) => ({ timeout: 60000, ...step })),
});
