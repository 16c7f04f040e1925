import time
from xml.etree import ElementTree

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo.tests import tagged

from .subscription_common import SubscriptionCommon

CREATED = "customer.subscription.created"
UPDATED = "customer.subscription.updated"
DELETED = "customer.subscription.deleted"


@tagged("post_install", "-at_install")
class TestMrrReport(SubscriptionCommon):
    """The MRR report a finance team reads: per month, the CFO's figures, the
    pivot, months that stay as they were, and the import that fills it."""

    def summary(self):
        """``{month index: row}`` of the SaaS metrics (one Stripe account)."""
        self.env.invalidate_all()
        rows = self.env["stripe.mrr.summary"].search(
            [("account_id", "=", self.stripe_account.id)]
        )
        result = {}
        for row in rows:
            delta = relativedelta(row.date, self.start)
            result[delta.years * 12 + delta.months] = row
        return result

    def story(self):
        """Three customers over five months (amounts in USD, the company's):

        ========  ==========  ==============  ============  =================
        month     A           B               C             movements
        ========  ==========  ==============  ============  =================
        0         49 new                                    new 49
        1         49          100 new         trial (0)     new 100
        2         99 (+50)    100             49 converts   exp. 50, new 49
        3         99          canceled        49            churn -100
        4         99          30 (new sub)    49            reactivation 30
        ========  ==========  ==============  ============  =================
        """
        _a, cus_a = self.customer_partner(self.customer)
        _b, cus_b = self.customer_partner(self.customer_b)
        partner_c = self.env["res.partner"].create(
            {"name": "Gemini Furniture", "email": "gemini@example.com"}
        )
        _c, cus_c = self.customer_partner(partner_c)
        sub_a = self.fake.add_subscription(
            cus_a, [(self.monthly, 1)], created=self.at(0, 4)
        )
        self.send(CREATED, sub_a, self.at(0, 4))
        sub_b = self.fake.add_subscription(
            cus_b, [(self.seat, 10)], created=self.at(1, 10)
        )
        self.send(CREATED, sub_b, self.at(1, 10))
        sub_c = self.fake.add_subscription(
            cus_c,
            [(self.monthly, 1)],
            status="trialing",
            created=self.at(1, 15),
            trial_end=self.at(2, 15),
        )
        self.send(CREATED, sub_c, self.at(1, 15))
        self.fake.set_subscription_items(
            sub_a["id"], [(self.monthly_big, 1)], self.at(2, 12)
        )
        self.send(UPDATED, sub_a, self.at(2, 12))
        self.fake.update_subscription(sub_c["id"], status="active")
        self.send(UPDATED, sub_c, self.at(2, 15))
        self.fake.update_subscription(
            sub_b["id"],
            status="canceled",
            canceled_at=self.at(3, 10),
            ended_at=self.at(3, 10),
        )
        self.send(DELETED, sub_b, self.at(3, 10))
        sub_b2 = self.fake.add_subscription(
            cus_b, [(self.seat, 3)], created=self.at(4, 20)
        )
        self.send(CREATED, sub_b2, self.at(4, 20))
        return sub_a, sub_b, sub_c, sub_b2

    def test_cfo_figures_per_month(self):
        """MRR, ARR, active subscriptions, paying customers, the movements and
        net revenue retention of each month, as computed by hand."""
        self.story()
        summary = self.summary()
        expected = {
            # month: mrr, active, customers, new, exp., contr., churn, react., nrr
            0: (49.0, 1, 1, 49.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            1: (149.0, 2, 2, 100.0, 0.0, 0.0, 0.0, 0.0, 100.0),
            # (149 + 50) / 149
            2: (248.0, 3, 3, 49.0, 50.0, 0.0, 0.0, 0.0, 133.56),
            # (248 - 100) / 248
            3: (148.0, 2, 2, 0.0, 0.0, 0.0, -100.0, 0.0, 59.68),
            # B's return is not retention: 148 / 148
            4: (178.0, 3, 3, 0.0, 0.0, 0.0, 0.0, 30.0, 100.0),
        }
        for index in range(5, self.months_to_now + 1):
            expected[index] = (178.0, 3, 3, 0.0, 0.0, 0.0, 0.0, 0.0, 100.0)
        self.assertEqual(sorted(summary), sorted(expected))
        for index, figures in expected.items():
            row = summary[index]
            self.assertEqual(
                (
                    row.mrr,
                    row.active_count,
                    row.customer_count,
                    row.new_mrr,
                    row.expansion_mrr,
                    row.contraction_mrr,
                    row.churn_mrr,
                    row.reactivation_mrr,
                    row.nrr,
                ),
                figures,
                f"month {index}",
            )
            self.assertEqual(row.arr, figures[0] * 12)

    def test_saas_metrics_as_read(self):
        """The SaaS metrics list: the month in words, the MRR churn rate, and
        retention and churn rate blank in a month that started without MRR;
        short headers."""
        self.story()
        summary = self.summary()
        self.assertEqual(summary[0].month, self.month(0).strftime("%B %Y"))
        self.assertFalse(summary[0].has_base, "no MRR before the first month")
        self.assertTrue(summary[1].has_base)
        # 100 of 248 churned in month 3.
        self.assertEqual(summary[3].churn_rate, 40.32)
        self.assertEqual(summary[4].churn_rate, 0.0)
        arch = ElementTree.fromstring(
            self.env["stripe.mrr.summary"].get_view(view_type="list")["arch"]
        )
        columns = {f.get("name"): f for f in arch.findall("field")}
        self.assertEqual(columns["date"].get("column_invisible"), "True")
        self.assertEqual(columns["month"].get("string"), "Month")
        for name in ("nrr", "churn_rate"):
            self.assertEqual(columns[name].get("invisible"), "not has_base")
        self.assertEqual(columns["nrr"].get("string"), "NRR %")
        self.assertEqual(columns["churn_rate"].get("string"), "Churn %")

    def test_trial_shows_no_monthly_recurring_in_the_list(self):
        """A trial counts 0 in MRR: the subscriptions list does not show its
        price as monthly recurring revenue."""
        _partner, customer = self.customer_partner()
        trial = self.fake.add_subscription(
            customer,
            [(self.monthly, 1)],
            status="trialing",
            created=int(time.time()) - 3600,
            trial_end=int(time.time()) + 14 * 86400,
        )
        self.send(CREATED, trial, int(time.time()) - 3600)
        subscription = self.get_subscription(trial["id"])
        self.assertEqual(subscription.status, "trialing")
        self.assertFalse(subscription.counts_in_mrr)
        arch = ElementTree.fromstring(
            self.env["stripe.subscription"].get_view(view_type="list")["arch"]
        )
        for name in ("recurring_monthly", "recurring_monthly_company"):
            (column,) = arch.findall(f"field[@name='{name}']")
            self.assertEqual(column.get("invisible"), "not counts_in_mrr")

    def test_mrr_by_product_says_why_none(self):
        """MRR by Product, when no Odoo product names the Stripe product: a note
        says why the MRR shows under None and what to do; once mapped and
        rebuilt, the report opens as it is."""
        _partner, customer = self.customer_partner()
        subscription = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 4)
        )
        self.send(CREATED, subscription, self.at(0, 4))
        report = self.env["stripe.mrr.report"]
        # The menu's action, as a reader of the report runs it.
        menu_action = self.env.ref(
            "stripe_connector.stripe_mrr_report_action_product_open"
        )
        self.assertEqual(
            self.env.ref("stripe_connector.stripe_mrr_report_product_menu").action,
            menu_action,
        )
        action = menu_action.run()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("All the MRR shows under None", action["params"]["message"])
        self.assertIn("Stripe Product", action["params"]["message"])
        self.assertEqual(
            action["params"]["next"]["res_model"], "stripe.mrr.report", "then opens"
        )
        self.env["product.product"].create(
            {"name": "Pro plan", "stripe_product_id": self.product["id"]}
        )
        self.stripe_account.action_rebuild_mrr_report()
        action = report.action_open_by_product()
        self.assertEqual(action["type"], "ir.actions.act_window")
        self.assertEqual(action["res_model"], "stripe.mrr.report")

    def test_pivot_by_month_and_movement(self):
        """The pivot's read (``read_group`` by month and movement, lazy=False as
        the pivot asks) gives the MRR of each movement and month."""
        self.story()
        groups = self.env["stripe.mrr.report"].read_group(
            [("date", "<=", self.month(4))],
            ["mrr:sum", "mrr_change:sum", "active_count:sum"],
            ["date:month", "movement"],
            lazy=False,
        )
        cells = {
            (group["date:month"], group["movement"]): (
                group["mrr"],
                group["mrr_change"],
                group["active_count"],
                group["__count"],
            )
            for group in groups
        }
        names = [
            self.env["stripe.mrr.report"].read_group(
                [("date", "=", self.month(index))], ["mrr:sum"], ["date:month"]
            )[0]["date:month"]
            for index in range(5)
        ]
        self.assertEqual(
            cells,
            {
                (names[0], "new"): (49.0, 49.0, 1, 1),
                (names[1], "none"): (49.0, 0.0, 1, 2),  # A, and C's trial
                (names[1], "new"): (100.0, 100.0, 1, 1),
                (names[2], "expansion"): (99.0, 50.0, 1, 1),
                (names[2], "none"): (100.0, 0.0, 1, 1),
                (names[2], "new"): (49.0, 49.0, 1, 1),
                (names[3], "none"): (148.0, 0.0, 2, 2),
                (names[3], "churn"): (0.0, -100.0, 0, 1),
                (names[4], "none"): (148.0, 0.0, 2, 2),
                (names[4], "reactivation"): (30.0, 30.0, 1, 1),
            },
        )

    def test_totals_never_add_levels_across_months(self):
        """A group of several months (the pivot's Total column, a customer, the
        grand total) gives the last month's MRR, not the sum of the months'
        levels; changes add up; the starting MRR is the first month's."""
        self.story()
        report = self.env["stripe.mrr.report"]
        domain = [("date", "<=", self.month(4))]
        fields_ = [
            "mrr:sum",
            "arr:sum",
            "mrr_change:sum",
            "active_count:sum",
            "start_mrr:sum",
        ]
        [total] = report.read_group(domain, fields_, [], lazy=False)
        # Months 0 to 4: 49 + 149 + 248 + 148 + 178 summed would read 772.
        self.assertEqual(total["mrr"], 178.0)
        self.assertEqual(total["arr"], 178.0 * 12)
        self.assertEqual(total["mrr_change"], 178.0, "the changes add up")
        self.assertEqual(total["active_count"], 3)
        self.assertEqual(total["start_mrr"], 0.0, "the first month's start")
        by_movement = {
            group["movement"]: (group["mrr"], group["mrr_change"])
            for group in report.read_group(
                domain, ["mrr:sum", "mrr_change:sum"], ["movement"], lazy=False
            )
        }
        # The Total column is the last month's column (month 4: none 148,
        # reactivation 30; the other movements have no row that month).
        self.assertEqual(by_movement["none"], (148.0, 0.0))
        self.assertEqual(by_movement["reactivation"], (30.0, 30.0))
        self.assertEqual(by_movement["new"], (0.0, 198.0))
        self.assertEqual(by_movement["churn"], (0.0, -100.0))
        # A quarter holds several months too; a month or a day one.
        by_month = report.read_group(domain, ["mrr:sum"], ["date:month"])
        self.assertEqual(
            sorted(group["mrr"] for group in by_month),
            [49.0, 148.0, 149.0, 178.0, 248.0],
        )
        self.assertEqual(
            report.read_group(domain, ["total:sum(mrr)"], [], lazy=False)[0]["total"],
            178.0,
        )
        # A year (or a quarter) gives the level of its own last month.
        for group in report.read_group(domain, ["mrr:sum"], ["date:year"]):
            rows = report.search(group["__domain"])
            last_month = max(rows.mapped("date"))
            last = rows.filtered(lambda row, d=last_month: row.date == d)
            self.assertEqual(group["mrr"], sum(last.mapped("mrr")))
            self.assertLessEqual(group["mrr"], 248.0)

    def test_report_opens_on_months_by_movements(self):
        """The menu's action sets no group-by of its own: the pivot opens on its
        months by movements, the graph on months stacked by movement."""
        action = self.env.ref("stripe_connector.stripe_mrr_report_action")
        self.assertNotIn("group", action.context)
        report = self.env["stripe.mrr.report"]
        pivot = report.get_view(view_type="pivot")["arch"]
        self.assertIn('<field name="date" interval="month" type="col"/>', pivot)
        self.assertIn('<field name="movement" type="row"/>', pivot)
        graph = report.get_view(view_type="graph")["arch"]
        self.assertIn('stacked="1"', graph)
        self.assertIn('<field name="movement"/>', graph)

    def test_past_months_stay_when_a_subscription_changes_today(self):
        """Rows of past months keep the level (and rate) they were built with: a
        change today, or a new exchange rate for a past month, rebuilds only from
        the month that changed."""
        eur = self.env.ref("base.EUR")
        eur.active = True
        rate_model = self.env["res.currency.rate"]
        rate_model.create(
            {
                "name": self.month(0),
                "rate": 0.5,
                "currency_id": eur.id,
                "company_id": self.company.id,
            }
        )
        _partner, customer = self.customer_partner()
        price = self.fake.add_price(self.product, 4000, currency="eur")
        sub = self.fake.add_subscription(customer, [(price, 1)], created=self.at(0, 3))
        self.send(CREATED, sub, self.at(0, 3))
        subscription = self.get_subscription(sub["id"])
        rows = self.env["stripe.mrr.report"].search(
            [("subscription_id", "=", subscription.id)]
        )
        before = {row.id: (row.date, row.mrr) for row in rows}
        self.assertEqual(len(before), self.months_to_now + 1)
        # Odoo learns another rate for month 2; the customer upgrades today.
        rate_model.create(
            {
                "name": self.month(2),
                "rate": 0.8,
                "currency_id": eur.id,
                "company_id": self.company.id,
            }
        )
        bigger = self.fake.add_price(self.product, 8000, currency="eur")
        self.fake.set_subscription_items(sub["id"], [(bigger, 1)], self.at(10, 1, 0))
        self.send(UPDATED, sub, self.at(10, 1, 0))
        after = self.env["stripe.mrr.report"].search(
            [("subscription_id", "=", subscription.id), ("date", "<", self.current)]
        )
        self.assertEqual(
            {row.id: (row.date, row.mrr) for row in after},
            {
                row_id: values
                for row_id, values in before.items()
                if values[0] < self.current
            },
            "past months: same rows, same levels (80.00 at the old rate)",
        )
        self.assertReport(
            subscription,
            dict.fromkeys(range(1, 10), (80.0, "none"))
            | {0: (80.0, "new"), 10: (100.0, "expansion")},
        )
        # Rebuild MRR Report: every month again, at the rates Odoo has now.
        self.stripe_account.action_rebuild_mrr_report()
        self.assertReport(
            subscription,
            {0: (80.0, "new"), 1: (80.0, "none"), 2: (50.0, "contraction")}
            | dict.fromkeys(range(3, 10), (50.0, "none"))
            | {10: (100.0, "expansion")},
        )

    def test_new_month_extends_the_report(self):
        """When a month begins, live subscriptions get its row (the daily cron);
        ended ones do not."""
        _partner, customer = self.customer_partner()
        live = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 3)
        )
        self.send(CREATED, live, self.at(0, 3))
        _other, other_customer = self.customer_partner(self.customer_b)
        ended = self.fake.add_subscription(
            other_customer, [(self.seat, 2)], created=self.at(0, 3)
        )
        self.send(CREATED, ended, self.at(0, 3))
        self.fake.update_subscription(
            ended["id"], status="canceled", ended_at=self.at(2, 3)
        )
        self.send(DELETED, ended, self.at(2, 3))
        next_month = self.current + relativedelta(months=1)
        with freeze_time(next_month.replace(day=2)):
            self.env["stripe.mrr.report"]._cron_extend()
        self.assertReport(
            self.get_subscription(live["id"]),
            {
                **self.expected({0: (49.0, "new")}),
                self.months_to_now + 1: (49.0, "none"),
            },
        )
        self.assertReport(
            self.get_subscription(ended["id"]),
            {0: (20.0, "new"), 1: (20.0, "none"), 2: (0.0, "churn")},
        )

    def test_import_subscriptions_with_their_history(self):
        """*Import Subscriptions* reads every subscription (every status, by
        pages of 100) and their past from their invoices: the report starts
        complete. A metered item counts its last invoiced usage."""
        _partner, customer = self.customer_partner()
        _other, other_customer = self.customer_partner(self.customer_b)
        # Active since month 0 at 49, upgraded to 99 in month 3 (invoices tell).
        sub = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 5)
        )
        for index in range(3):
            self.fake.renew_subscription(sub["id"], self.at(index, 5))
            self.fake.add_subscription_invoice(sub["id"], created=self.at(index, 5))
        self.fake.set_subscription_items(
            sub["id"], [(self.monthly_big, 1)], self.at(3, 5)
        )
        for index in range(3, self.months_to_now + 1):
            if self.at(index, 5) > time.time():
                break
            self.fake.renew_subscription(sub["id"], self.at(index, 5))
            self.fake.add_subscription_invoice(sub["id"], created=self.at(index, 5))
        # Canceled in month 2 after two invoices.
        gone = self.fake.add_subscription(
            other_customer, [(self.seat, 4)], created=self.at(0, 10)
        )
        for index in range(2):
            self.fake.renew_subscription(gone["id"], self.at(index, 10))
            self.fake.add_subscription_invoice(gone["id"], created=self.at(index, 10))
        self.fake.update_subscription(
            gone["id"],
            status="canceled",
            canceled_at=self.at(2, 10),
            ended_at=self.at(2, 10),
        )
        # Metered usage: 1.00 a unit, 37 units last invoiced.
        metered_price = self.fake.add_price(self.product, 100, usage_type="metered")
        partner_m = self.env["res.partner"].create(
            {"name": "Metered Co", "email": "metered@example.com"}
        )
        _m, cus_m = self.customer_partner(partner_m)
        metered = self.fake.add_subscription(
            cus_m, [(metered_price, None)], created=self.at(8, 1)
        )
        item_id = metered["items"]["data"][0]["id"]
        self.fake.add_subscription_invoice(
            metered["id"], created=self.at(8, 1), usage={item_id: 12}
        )
        self.fake.renew_subscription(metered["id"], self.at(9, 1))
        self.fake.add_subscription_invoice(
            metered["id"], created=self.at(9, 1), usage={item_id: 37}
        )
        # Enough others to need a second page.
        for _i in range(100):
            self.fake.add_subscription(
                other_customer, [(self.seat, 1)], status="incomplete_expired"
            )
        self.stripe_account.action_import_subscriptions()
        pages = [
            request
            for request in self.fake.requests_for("/v1/subscriptions")
            if request.path == "/v1/subscriptions"
        ]
        self.assertEqual(len(pages), 2)
        self.assertEqual(pages[0].query.get("status"), "all")
        self.assertEqual(self.stripe_account.subscription_count, 103)
        self.assertReport(
            self.get_subscription(sub["id"]),
            self.expected({0: (49.0, "new"), 2: (49.0, "none"), 3: (99.0, "expansion")})
            | {1: (49.0, "none")},
        )
        self.assertReport(
            self.get_subscription(gone["id"]),
            {0: (40.0, "new"), 1: (40.0, "none"), 2: (0.0, "churn")},
        )
        sub_metered = self.get_subscription(metered["id"])
        self.assertEqual(sub_metered.item_ids.usage_type, "metered")
        self.assertEqual(sub_metered.recurring_monthly, 37.0)
        self.assertReport(
            sub_metered,
            self.expected({8: (12.0, "new"), 9: (37.0, "expansion")}),
        )
