/** @odoo-module */
// A French accountant opens the event log: the failed event's title and its
// message are in French, as the processing wrote them for the account's
// responsible user, whoever processed it.

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("stripe_event_french_tour", {
    steps: () => [
        {
            content: "The event's title, in French, in the list",
            trigger: ".o_list_view .o_data_row td[name=title_text]:contains('Paiement de')",
            timeout: 60000,
        },
        {
            content: "The title reads whole, not cut by the column (1366 px wide)",
            trigger: ".o_list_view .o_data_row td[name=title_text]:contains('Paiement de')",
            run() {
                const cell = this.anchor;
                const cut = [cell, ...cell.querySelectorAll("*")].find(
                    (element) => element.scrollWidth > element.clientWidth + 1
                );
                if (cut) {
                    throw new Error(
                        `The title column cuts the title: ${cut.scrollWidth}px shown in ${cut.clientWidth}px`
                    );
                }
            },
        },
        {
            content: "Open the failed event",
            trigger: ".o_list_view .o_data_row td[name=title_text]:contains('Paiement de')",
            run: "click",
        },
        {
            content: "Its message, in French",
            trigger: ".o_form_view .alert-danger:contains('Aucune facture ni commande ne correspond à ce paiement')",
            timeout: 30000,
        },
        {
            content: "Not a word of the English message",
            trigger: ".o_form_view:not(:has(.alert-danger:contains('No invoice or order matches')))",
        },
        {
            content: "Its title, in French",
            trigger: ".o_form_view .oe_title h1:contains('Paiement de')",
        },
    ],
});
