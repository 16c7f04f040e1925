/** @odoo-module */
// An account created from Settings: the checklist goes green as the set-up is
// done, Test Connection shows once a key is typed, the journal and accounts are
// created on first save.

import { registry } from "@web/core/registry";

const done = (item) => `.o_stripe_setup_checklist .o_stripe_setup_${item} .fa-check-circle`;
const missing = (item) => `.o_stripe_setup_checklist .o_stripe_setup_${item} .fa-circle-o`;

registry.category("web_tour.tours").add("stripe_connector_account_setup", {
    steps: () => [
        {
            timeout: 60000,
            content: "The settings block says how many accounts there are",
            trigger: ".o_setting_box:has(button[name=action_open_stripe_accounts]):contains('Stripe account')",
        },
        {
            content: "Open the Stripe accounts",
            trigger: ".o_setting_box button[name=action_open_stripe_accounts]",
            run: "click",
        },
        {
            content: "New account",
            trigger: ".o_control_panel_main_buttons .o_list_button_add",
            timeout: 30000,
            run: "click",
        },
        { trigger: missing("api_key") },
        { trigger: missing("webhook_secret") },
        { trigger: missing("journals") },
        { trigger: missing("accounts") },
        { trigger: missing("webhook_received") },
        {
            content: "No Test Connection without a key",
            trigger: ".o_form_view .o_form_statusbar:not(:has(button[name=action_test_connection]))",
        },
        {
            content: "Links to Stripe's API keys page of test mode",
            trigger: ".o_field_widget[name=dashboard_api_keys_url] a[href='https://dashboard.stripe.com/test/apikeys']",
        },
        {
            trigger: ".o_field_widget[name=name] input",
            run: "edit Stripe Tour",
        },
        {
            trigger: ".o_field_widget[name=api_key] input",
            run: "edit sk_test_tour && click .o_form_view .oe_title label",
        },
        {
            content: "Test Connection shows as soon as the key is typed",
            trigger: ".o_form_view .o_form_statusbar button[name=action_test_connection]",
        },
        { trigger: done("api_key") },
        {
            trigger: ".o_field_widget[name=webhook_secret] input",
            run: "edit whsec_tour && click .o_form_view .oe_title label",
        },
        { trigger: done("webhook_secret") },
        {
            content: "The journal and accounts are offered on first save",
            trigger: ".o_field_widget[name=setup_create_accounting] input:checked",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        { trigger: ".o_form_saved", timeout: 30000 },
        { trigger: done("journals") },
        { trigger: done("accounts") },
        { trigger: missing("webhook_received") },
        {
            content: "The webhook URL to paste in Stripe",
            trigger: ".o_field_widget[name=webhook_url]:contains('/stripe/webhook/')",
        },
    ],
});
