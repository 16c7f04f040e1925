import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// From Settings to a new Stripe account, its journal and accounts created, its
// webhook URL shown.
registry.category("web_tour.tours").add("stripe_connector_account_tour", {
    url: "/odoo",
    // Each step waits up to 60 s (Odoo's default is 10 s): a busy CI machine
    // renders the settings and forms slower.
    steps: () =>
        [
            stepUtils.showAppsMenuItem(),
            {
                content: "Open Settings",
                trigger: ".o_app[data-menu-xmlid='base.menu_administration']",
                run: "click",
            },
            {
                content: "Open the accounting settings",
                trigger: ".settings_tab .tab[data-key='account']",
                run: "click",
            },
            {
                content: "Open the Stripe accounts from the Stripe block",
                trigger: "button[name='action_open_stripe_accounts']",
                run: "click",
            },
            {
                content: "Create a Stripe account",
                trigger: ".o_list_view .o_list_button_add, .o_control_panel .o_list_button_add",
                run: "click",
            },
            {
                content: "Name it",
                trigger: ".o_form_view div[name='name'] input",
                run: "edit Stripe Tour",
            },
            {
                content: "Leave the journal and accounts to the button (not on save)",
                trigger: "div[name='setup_create_accounting'] input:checked",
                run: "click",
            },
            {
                trigger: "div[name='setup_create_accounting'] input:not(:checked)",
            },
            ...stepUtils.saveForm(),
            {
                content: "The webhook URL is shown once the account exists",
                trigger: "div[name='webhook_url']:contains('/stripe/webhook/')",
            },
            {
                content: "Create the missing journal and accounts",
                trigger: "button[name='action_setup_accounting']",
                run: "click",
            },
            {
                content: "The Stripe journal is set, the button gone",
                trigger:
                    ".o_form_view:not(:has(button[name='action_setup_accounting'])) div[name='journal_id'] input:value(Stripe Tour)",
            },
            {
                content: "The fee account is set",
                trigger: "div[name='fee_account_id'] input:value(Stripe Fees)",
            },
        ].map((step) => ({ timeout: 60000, ...step })),
});
