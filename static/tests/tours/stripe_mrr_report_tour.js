/** @odoo-module */
// The MRR report as a finance lead opens it from the menu: the graph stacked by
// movement, then the pivot on months by movements whose totals never add the
// MRR of several months (a customer of $49 a month for three months: 49, not
// 147).

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("stripe_mrr_report_tour", {
    steps: () => [
        {
            content: "The report opens on its graph",
            trigger: ".o_graph_view .o_graph_canvas_container canvas",
            timeout: 60000,
        },
        {
            content: "No group-by of the action's own in the search",
            trigger: ".o_searchview:not(:has(.o_searchview_facet))",
        },
        {
            content: "Stacked",
            trigger: ".o_graph_view button.o_graph_button[data-tooltip='Stacked'].active",
        },
        {
            content: "Open the pivot",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "Movements in rows",
            trigger: ".o_pivot tbody th:contains('New')",
            timeout: 30000,
        },
        { trigger: ".o_pivot tbody th:contains('No Change')" },
        {
            content: "Months and a total in columns, the MRR and its change",
            trigger: ".o_pivot thead th:contains('Total')",
        },
        { trigger: ".o_pivot thead th:contains('MRR Change')" },
        { trigger: ".o_pivot tbody td:contains('49.00')" },
        {
            content: "The total MRR is the last month's, not three months added",
            trigger: ".o_pivot:not(:has(td:contains('147.00')))",
        },
    ],
});
