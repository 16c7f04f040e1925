import { registry } from "@web/core/registry";

/**
 * Stripe > Overview: the account's card shows its failed event; clicking it
 * opens the event log filtered on the failed events of that account.
 */
registry.category("web_tour.tours").add("stripe_overview_tour", {
    url: "/odoo/stripe-overview",
    steps: () => [
        {
            content: "The overview shows a card per Stripe account",
            trigger: ".o_stripe_overview .o_kanban_record:contains('Stripe Test')",
        },
        {
            content: "Its card counts one failed event",
            trigger: ".o_kanban_record:contains('Stripe Test') .o_stripe_failed_events:contains('1 failed')",
        },
        {
            content: "The balance check result is on the card",
            trigger: ".o_kanban_record:contains('Stripe Test') .o_stripe_balance_check:contains('Differs')",
        },
        {
            content: "Click through to the failed events",
            trigger: ".o_kanban_record:contains('Stripe Test') .o_stripe_failed_events",
            run: "click",
        },
        {
            content: "The event log is filtered on failed events",
            trigger: ".o_searchview_facet:contains('Failed')",
        },
        {
            content: "It lists the failed event, and only it",
            trigger: ".o_list_renderer tbody:not(:has(.o_data_row + .o_data_row)) .o_data_row:contains('Failed')",
        },
        {
            content: "Open it: its message says why",
            trigger: ".o_data_row:contains('Failed') .o_data_cell",
            run: "click",
        },
        {
            trigger: ".o_form_view:contains('No invoice or order matches')",
        },
    ],
});
