import { registry } from "@web/core/registry";

// The accountant sends an invoice: the e-mail holds the Pay with Stripe button;
// the invoice form offers its payment link to copy.
registry.category("web_tour.tours").add("stripe_connector_payment_link_send_tour", {
    steps: () =>
        [
            {
                content: "The invoice offers its payment link to copy",
                trigger: "div[name='stripe_payment_url'] .o_clipboard_button",
            },
            {
                content: "Send the invoice",
                trigger: ".o_form_statusbar button[name='action_invoice_sent']",
                run: "click",
            },
            {
                content: "The e-mail holds the Pay with Stripe button",
                trigger:
                    ".modal div[name='mail_body'] a:contains('Pay with Stripe')[href*='/stripe/pay/']",
            },
            {
                content: "Send it",
                trigger: ".modal footer button[name='action_send_and_print']:not(:disabled)",
                run: "click",
            },
            {
                content: "The wizard closed: the invoice is sent",
                trigger: "body:not(:has(.modal))",
            },
        ].map((step) => ({ timeout: 60000, ...step })),
});

// The customer's portal page of the invoice shows the Pay with Stripe button.
registry.category("web_tour.tours").add("stripe_connector_payment_link_portal_tour", {
    steps: () =>
        [
            {
                content: "The portal page offers Pay with Stripe",
                trigger: "a.o_stripe_pay_button:contains('Pay with Stripe')[href*='/stripe/pay/']",
            },
        ].map((step) => ({ timeout: 60000, ...step })),
});
