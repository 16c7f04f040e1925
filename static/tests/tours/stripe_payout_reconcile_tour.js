import { registry } from "@web/core/registry";

// A paid payout: open it, Reconcile, confirm the wizard, the payout is reconciled.
registry.category("web_tour.tours").add("stripe_connector_payout_reconcile_tour", {
    url: "/odoo/action-stripe_connector.stripe_payout_action",
    // Each step waits up to 60 s (Odoo's default is 10 s): a busy CI machine
    // renders the settings and forms slower.
    steps: () =>
        [
            {
                content: "Open the payout to reconcile",
                trigger: ".o_data_row:has(.badge:contains('To Reconcile')) td[name='stripe_id']",
                run: "click",
            },
            {
                content: "Reconcile",
                trigger: "button[name='action_open_reconcile_wizard']",
                run: "click",
            },
            {
                content: "The wizard shows the breakdown",
                trigger: ".modal div[name='charge_amount']",
            },
            {
                content: "Confirm",
                trigger: ".modal button[name='action_confirm']",
                run: "click",
            },
            {
                content: "The payout is reconciled",
                trigger:
                    ".o_form_view:not(:has(.modal)) .o_statusbar_status .o_arrow_button_current:contains(Reconciled)",
            },
        ].map((step) => ({ timeout: 60000, ...step })),
});
