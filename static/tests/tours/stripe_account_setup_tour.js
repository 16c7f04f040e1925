/** @odoo-module */
// An account created from Settings: the checklist goes green as the set-up is
// done, Test Connection shows once a key is typed, the journal and accounts are
// created on first save. A publishable key or a signing secret that is not one
// is pointed out as it is typed, and refused on save.

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
            content: "A publishable key pasted as the secret key",
            trigger: ".o_field_widget[name=api_key] input",
            run: "edit pk_test_tour && click .o_form_view .oe_title label",
        },
        {
            content: "The form says at once it is a publishable key",
            trigger: ".o_stripe_credentials_problem:contains('publishable key')",
        },
        { trigger: missing("api_key") },
        {
            content: "A signing secret that is not one",
            trigger: ".o_field_widget[name=webhook_secret] input",
            run: "edit tour_secret && click .o_form_view .oe_title label",
        },
        { trigger: ".o_stripe_credentials_problem:contains('whsec_')" },
        { trigger: missing("webhook_secret") },
        {
            content: "Saving anyway is refused",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The refusal says why, in words",
            trigger: ".modal .modal-body:contains('publishable key')",
        },
        {
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The secret key this time",
            trigger: "body:not(:has(.modal)) .o_field_widget[name=api_key] input",
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
            content: "Nothing wrong any more",
            trigger: ".o_form_view:not(:has(.o_stripe_credentials_problem))",
        },
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
