import random

from odoo.tests import tagged

from .subscription_common import SubscriptionCommon

CREATED = "customer.subscription.created"
UPDATED = "customer.subscription.updated"
DELETED = "customer.subscription.deleted"


@tagged("post_install", "-at_install")
class TestSubscriptions(SubscriptionCommon):
    """Subscription events in any order: the subscription shows Stripe's newest
    state, and its MRR rows (one per month) are what the test computes by hand."""

    def test_monthly_and_yearly_plans(self):
        """A monthly plan counts its price each month; a yearly one a twelfth of
        it (1,200.00 a year: 100.00 a month), from the month it starts."""
        partner, customer = self.customer_partner()
        monthly = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 10)
        )
        yearly = self.fake.add_subscription(
            customer, [(self.yearly, 1)], created=self.at(2, 20)
        )
        self.assertEvent(self.send(CREATED, monthly, self.at(0, 10)), "done", "49.0")
        self.assertEvent(self.send(CREATED, yearly, self.at(2, 20)), "done", "100.0")
        sub_monthly = self.get_subscription(monthly["id"])
        sub_yearly = self.get_subscription(yearly["id"])
        self.assertEqual(sub_monthly.partner_id, partner)
        self.assertEqual(sub_monthly.status, "active")
        self.assertEqual(sub_monthly.recurring_monthly, 49.0)
        self.assertEqual(sub_yearly.recurring_monthly, 100.0)
        self.assertEqual(sub_yearly.item_ids.interval, "year")
        self.assertEqual(
            sub_yearly.current_period_end,
            self.dt(self.at(14, 20)),
            "the period is read from the items (basil)",
        )
        self.assertReport(sub_monthly, self.expected({0: (49.0, "new")}))
        # The customer already pays: a second subscription is expansion.
        self.assertReport(sub_yearly, self.expected({2: (100.0, "expansion")}))
        self.assertEqual(partner.stripe_subscription_count, 2)
        self.assertEqual(partner.stripe_mrr, 149.0)

    def test_upgrade_downgrade_and_quantity_change(self):
        """An upgrade mid-month (Stripe prorates) is expansion in that month; a
        downgrade is contraction; more seats are expansion."""
        _partner, customer = self.customer_partner()
        sub = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 5)
        )
        self.send(CREATED, sub, self.at(0, 5))
        self.fake.set_subscription_items(
            sub["id"], [(self.monthly_big, 1)], self.at(2, 15)
        )
        self.send(UPDATED, sub, self.at(2, 15))
        self.fake.set_subscription_items(sub["id"], [(self.monthly, 1)], self.at(4, 3))
        self.send(UPDATED, sub, self.at(4, 3))
        self.fake.set_subscription_items(sub["id"], [(self.seat, 5)], self.at(5, 8))
        self.send(UPDATED, sub, self.at(5, 8))
        self.fake.set_subscription_items(sub["id"], [(self.seat, 8)], self.at(6, 8))
        self.send(UPDATED, sub, self.at(6, 8))
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.recurring_monthly, 80.0)
        self.assertEqual(subscription.item_ids.quantity, 8)
        self.assertReport(
            subscription,
            self.expected(
                {
                    0: (49.0, "new"),
                    1: (49.0, "none"),
                    2: (99.0, "expansion"),  # 49 -> 99 on the 15th
                    3: (99.0, "none"),
                    4: (49.0, "contraction"),
                    5: (50.0, "expansion"),  # 5 seats x 10
                    6: (80.0, "expansion"),  # 8 seats x 10
                }
            ),
        )

    def test_coupon_for_three_months(self):
        """20 % off for 3 months: the discount lowers MRR until it ends, then MRR
        rises to the full price (expansion) with no event needed. Webhooks name
        the discount by id: its coupon is read from Stripe."""
        _partner, customer = self.customer_partner()
        sub = self.fake.add_subscription(
            customer, [(self.monthly_big, 1)], created=self.at(0, 10)
        )
        coupon = self.fake.add_coupon(
            percent_off=20, duration="repeating", duration_in_months=3
        )
        self.fake.add_subscription_discount(sub["id"], coupon, start=self.at(0, 10))
        event = self.send(CREATED, sub, self.at(0, 10))
        self.assertEvent(event, "done")
        self.assertTrue(
            self.fake.requests_for("/v1/subscriptions/" + sub["id"]),
            "the coupon was read from Stripe",
        )
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.discount_ids.percent_off, 20.0)
        # The discount has ended by now: the current amount is the full price.
        self.assertEqual(subscription.recurring_monthly, 99.0)
        self.assertReport(
            subscription,
            self.expected(
                {
                    0: (79.2, "new"),
                    1: (79.2, "none"),
                    2: (79.2, "none"),
                    3: (99.0, "expansion"),  # ends on the 10th of month 3
                }
            ),
        )

    def test_trial_that_converts_and_trial_that_does_not(self):
        """Trials count 0 until they convert (new in the month they do); a trial
        that ends without converting never had MRR: no churn."""
        partner, customer = self.customer_partner()
        other, other_customer = self.customer_partner(self.customer_b)
        converts = self.fake.add_subscription(
            customer,
            [(self.monthly, 1)],
            status="trialing",
            created=self.at(0, 20),
            trial_end=self.at(1, 20),
        )
        self.send(CREATED, converts, self.at(0, 20))
        self.send("customer.subscription.trial_will_end", converts, self.at(1, 17))
        self.fake.update_subscription(converts["id"], status="active")
        self.fake.renew_subscription(converts["id"], self.at(1, 20))
        self.send(UPDATED, converts, self.at(1, 20))
        lapses = self.fake.add_subscription(
            other_customer,
            [(self.monthly, 1)],
            status="trialing",
            created=self.at(0, 20),
            trial_end=self.at(1, 20),
        )
        self.send(CREATED, lapses, self.at(0, 20))
        self.fake.update_subscription(
            lapses["id"],
            status="canceled",
            canceled_at=self.at(1, 20),
            ended_at=self.at(1, 20),
        )
        self.send(DELETED, lapses, self.at(1, 20))
        sub_converts = self.get_subscription(converts["id"])
        sub_lapses = self.get_subscription(lapses["id"])
        self.assertEqual(sub_converts.status, "active")
        self.assertEqual(sub_lapses.status, "canceled")
        self.assertEqual(sub_lapses.recurring_monthly, 0.0)
        self.assertReport(
            sub_converts, self.expected({0: (0.0, "none"), 1: (49.0, "new")})
        )
        self.assertReport(
            sub_lapses,
            self.expected({0: (0.0, "none"), 1: (0.0, "none")}, until_now=False),
        )
        self.assertEqual(partner.stripe_mrr, 49.0)
        self.assertEqual(other.stripe_mrr, 0.0)

    def test_cancel_at_period_end_churns_in_the_month_it_ends(self):
        """Canceling at period end changes nothing until the period ends: the
        subscription churns in the month it ends, not the month it was asked."""
        _partner, customer = self.customer_partner()
        sub = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 25)
        )
        self.send(CREATED, sub, self.at(0, 25))
        self.fake.update_subscription(
            sub["id"], cancel_at_period_end=True, canceled_at=self.at(2, 28)
        )
        self.send(UPDATED, sub, self.at(2, 28))
        subscription = self.get_subscription(sub["id"])
        self.assertTrue(subscription.cancel_at_period_end)
        self.assertEqual(subscription.recurring_monthly, 49.0)
        self.fake.update_subscription(
            sub["id"], status="canceled", ended_at=self.at(3, 25)
        )
        self.send(DELETED, sub, self.at(3, 25))
        self.assertEqual(subscription.status, "canceled")
        self.assertEqual(subscription.recurring_monthly, 0.0)
        self.assertReport(
            subscription,
            {
                0: (49.0, "new"),
                1: (49.0, "none"),
                2: (49.0, "none"),  # asked to cancel: still paying
                3: (0.0, "churn"),  # the period ended
            },
        )
        row = self.env["stripe.mrr.report"].search(
            [("subscription_id", "=", subscription.id), ("movement", "=", "churn")]
        )
        self.assertEqual(row.churn_mrr, -49.0)
        self.assertEqual(row.mrr_change, -49.0)

    def test_past_due_that_recovers_and_one_that_is_canceled(self):
        """past_due counts until Stripe cancels: a recovery changes nothing, a
        cancellation churns in the month Stripe cancels."""
        _partner, customer = self.customer_partner()
        _other, other_customer = self.customer_partner(self.customer_b)
        recovers = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 3)
        )
        canceled = self.fake.add_subscription(
            other_customer, [(self.monthly, 1)], created=self.at(0, 3)
        )
        for sub in (recovers, canceled):
            self.send(CREATED, sub, self.at(0, 3))
            self.fake.update_subscription(sub["id"], status="past_due")
            self.send(UPDATED, sub, self.at(1, 4))
        self.fake.update_subscription(recovers["id"], status="active")
        self.send(UPDATED, recovers, self.at(1, 9))
        self.fake.update_subscription(
            canceled["id"],
            status="canceled",
            canceled_at=self.at(2, 2),
            ended_at=self.at(2, 2),
        )
        self.send(DELETED, canceled, self.at(2, 2))
        self.assertReport(
            self.get_subscription(recovers["id"]), self.expected({0: (49.0, "new")})
        )
        self.assertReport(
            self.get_subscription(canceled["id"]),
            {0: (49.0, "new"), 1: (49.0, "none"), 2: (0.0, "churn")},
        )

    def test_pause_and_resume(self):
        """A paused subscription counts 0 (churn when it pauses); resumed, its
        MRR comes back as a reactivation."""
        _partner, customer = self.customer_partner()
        sub = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 3)
        )
        self.send(CREATED, sub, self.at(0, 3))
        self.fake.update_subscription(sub["id"], status="paused")
        self.send("customer.subscription.paused", sub, self.at(1, 3))
        subscription = self.get_subscription(sub["id"])
        self.assertFalse(subscription.counts_in_mrr)
        self.fake.update_subscription(sub["id"], status="active")
        self.send("customer.subscription.resumed", sub, self.at(3, 12))
        self.assertTrue(subscription.counts_in_mrr)
        self.assertReport(
            subscription,
            self.expected(
                {
                    0: (49.0, "new"),
                    1: (0.0, "churn"),
                    2: (0.0, "none"),
                    3: (49.0, "reactivation"),
                }
            ),
        )

    def test_events_shuffled_and_duplicated(self):
        """The same story delivered in a shuffled order, some events twice and
        one change told by two events: the subscription shows Stripe's newest
        state and the report is the one of the ordered story."""
        _partner, customer = self.customer_partner()
        sub = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 5)
        )
        events = [self.make_event(CREATED, sub, created=self.at(0, 5))]
        self.fake.set_subscription_items(
            sub["id"], [(self.monthly_big, 1)], self.at(2, 15)
        )
        events.append(self.make_event(UPDATED, sub, created=self.at(2, 15)))
        self.fake.set_subscription_items(sub["id"], [(self.seat, 3)], self.at(4, 2))
        events.append(self.make_event(UPDATED, sub, created=self.at(4, 2)))
        self.fake.update_subscription(sub["id"], status="past_due")
        events.append(self.make_event(UPDATED, sub, created=self.at(5, 2)))
        self.fake.update_subscription(
            sub["id"],
            status="canceled",
            canceled_at=self.at(6, 2),
            ended_at=self.at(6, 2),
        )
        events.append(self.make_event(DELETED, sub, created=self.at(6, 2)))
        # Stripe tells the cancellation twice (two event ids, one change).
        events.append(self.make_event(UPDATED, sub, created=self.at(6, 2)))
        delivered = [*events, events[1], events[4]]
        random.Random(42).shuffle(delivered)
        for event in delivered:
            response = self.post_webhook(event)
            self.assertEqual(response.status_code, 200, response.text)
            self.process_events()
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.status, "canceled")
        self.assertEqual(subscription.item_ids.quantity, 3, "newest items")
        self.assertEqual(subscription.stripe_seen_at, self.dt(self.at(6, 2)))
        self.assertEqual(
            self.env["stripe.event"].search_count(
                [("subscription_id", "=", subscription.id), ("state", "=", "done")]
            ),
            6,
        )
        self.assertReport(
            subscription,
            {
                0: (49.0, "new"),
                1: (49.0, "none"),
                2: (99.0, "expansion"),
                3: (99.0, "none"),
                4: (30.0, "contraction"),
                5: (30.0, "none"),  # past_due still counts
                6: (0.0, "churn"),
            },
        )
        self.assertEqual(
            subscription.history_ids.sorted("date").mapped("status"),
            ["active", "active", "active", "past_due", "canceled"],
        )

    def test_new_subscription_after_churn_is_a_reactivation(self):
        """A canceled subscription never comes back: the customer's new one after
        all theirs churned is a reactivation; one beside a live one is expansion."""
        partner, customer = self.customer_partner()
        first = self.fake.add_subscription(
            customer, [(self.monthly, 1)], created=self.at(0, 3)
        )
        self.send(CREATED, first, self.at(0, 3))
        self.fake.update_subscription(
            first["id"],
            status="canceled",
            canceled_at=self.at(1, 3),
            ended_at=self.at(1, 3),
        )
        self.send(DELETED, first, self.at(1, 3))
        # A late snapshot of the first subscription alive changes nothing.
        self.fake.update_subscription(first["id"], status="active", ended_at=None)
        stale = self.send(UPDATED, first, self.at(0, 20))
        self.assertEvent(stale, "done", "older")
        second = self.fake.add_subscription(
            customer, [(self.monthly_big, 1)], created=self.at(3, 7)
        )
        self.send(CREATED, second, self.at(3, 7))
        third = self.fake.add_subscription(
            customer, [(self.seat, 2)], created=self.at(4, 7)
        )
        self.send(CREATED, third, self.at(4, 7))
        self.assertEqual(self.get_subscription(first["id"]).status, "canceled")
        self.assertReport(
            self.get_subscription(first["id"]), {0: (49.0, "new"), 1: (0.0, "churn")}
        )
        self.assertReport(
            self.get_subscription(second["id"]),
            self.expected({3: (99.0, "reactivation")}),
        )
        self.assertReport(
            self.get_subscription(third["id"]), self.expected({4: (20.0, "expansion")})
        )
        self.assertEqual(partner.stripe_mrr, 119.0)

    def test_interval_counts_and_currencies(self):
        """Weekly x 52 / 12, daily x 365 / 12, every 3 months / 3; a subscription
        in EUR counts in the company currency at Odoo's rate of each month."""
        _partner, customer = self.customer_partner()
        weekly = self.fake.add_price(self.product, 1000, interval="week")
        biweekly = self.fake.add_price(
            self.product, 1000, interval="week", interval_count=2
        )
        daily = self.fake.add_price(self.product, 100, interval="day")
        quarterly = self.fake.add_price(self.product, 30000, interval_count=3)
        sub = self.fake.add_subscription(
            customer,
            [(weekly, 1), (biweekly, 1), (daily, 1), (quarterly, 1)],
            created=self.at(0, 3),
        )
        self.send(CREATED, sub, self.at(0, 3))
        subscription = self.get_subscription(sub["id"])
        # 10 x 52/12 + 10 x 52/24 + 1 x 365/12 + 300/3
        self.assertAlmostEqual(subscription.recurring_monthly, 195.42, places=2)
        self.assertEqual(
            subscription.item_ids.mapped("recurring_monthly"),
            [43.33, 21.67, 30.42, 100.0],
        )
        eur = self.env.ref("base.EUR")
        eur.active = True
        self.env["res.currency.rate"].create(
            [
                {
                    "name": self.month(0),
                    "rate": 0.5,
                    "currency_id": eur.id,
                    "company_id": self.company.id,
                },
                {
                    "name": self.month(2),
                    "rate": 0.8,
                    "currency_id": eur.id,
                    "company_id": self.company.id,
                },
            ]
        )
        euro_price = self.fake.add_price(self.product, 4000, currency="eur")
        euro = self.fake.add_subscription(
            customer, [(euro_price, 1)], created=self.at(0, 3)
        )
        self.send(CREATED, euro, self.at(0, 3))
        sub_euro = self.get_subscription(euro["id"])
        self.assertEqual(sub_euro.currency_id, eur)
        self.assertEqual(sub_euro.recurring_monthly, 40.0)
        self.assertEqual(sub_euro.recurring_monthly_company, 50.0)  # 40 / 0.8
        # 40 EUR at 0.5 (80 USD) in months 0-1, at 0.8 (50 USD) from month 2.
        self.assertReport(
            sub_euro,
            self.expected(
                {0: (80.0, "new"), 1: (80.0, "none"), 2: (50.0, "contraction")}
            ),
        )

    def test_customer_and_product_of_stripe_billing(self):
        """A subscription of a customer Odoo does not know yet creates the partner
        from the Stripe customer; its product is the Odoo product whose Stripe
        Product it is, and the report counts MRR by that product."""
        customer = self.fake.add_customer(email="new@example.com", name="Newcomer")
        product = self.env["product.product"].create(
            {"name": "Pro plan", "stripe_product_id": self.product["id"]}
        )
        sub = self.fake.add_subscription(
            customer["id"], [(self.monthly, 2)], created=self.at(1, 2)
        )
        self.send(CREATED, sub, self.at(1, 2))
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.partner_id.name, "Newcomer")
        self.assertEqual(subscription.partner_id.stripe_customer_id, customer["id"])
        self.assertEqual(subscription.product_id, product)
        self.assertEqual(subscription.item_ids.product_id, product)
        self.assertReport(subscription, self.expected({1: (98.0, "new")}))
        by_product = self.env["stripe.mrr.report"].read_group(
            [("date", "=", self.current)], ["mrr:sum"], ["product_id"]
        )
        self.assertEqual(
            [(g["product_id"][0], g["mrr"]) for g in by_product], [(product.id, 98.0)]
        )
        self.assertEqual(subscription.partner_id.stripe_mrr, 98.0)


@tagged("post_install", "-at_install")
class TestSubscriptionUsageAndTiers(SubscriptionCommon):
    """Metered items take their usage from each invoice Stripe Billing mirrors;
    tiered prices count their tiers, read from Stripe when the event leaves
    them out."""

    # Stripe's own tier example (1-5 at 7.00, 6-10 at 6.50, 11 and more at
    # 6.00), with a flat 10.00 on the first tier and 5.00 on the second.
    TIERS = [
        {"up_to": 5, "unit_amount": 700, "flat_amount": 1000},
        {"up_to": 10, "unit_amount": 650, "flat_amount": 500},
        {"up_to": None, "unit_amount": 600, "flat_amount": 0},
    ]

    def mirror_of(self, stripe_invoice):
        self.env.invalidate_all()
        return self.env["account.move"].search(
            [("stripe_invoice_id", "=", stripe_invoice["id"])]
        )

    def paid_invoice(self, sub, index, usage):
        """The subscription's invoice of the 3rd of month ``index`` for
        ``usage`` (item id -> units), renewed then and paid on Stripe."""
        self.fake.renew_subscription(sub["id"], self.at(index, 3))
        invoice = self.fake.add_subscription_invoice(
            sub["id"], created=self.at(index, 3), status="open", usage=usage
        )
        return self.fake.pay_invoice(invoice["id"], created=self.at(index, 3))[0]

    def test_metered_usage_from_each_mirrored_invoice(self):
        """A metered price at 2.50 a unit: nothing before its first invoice; the
        invoice of month 1 bills 12 units (30.00), the one of month 3 bills 37
        (92.50). Each invoice.paid mirrors the invoice, and the subscription
        counts the usage it bills from that invoice on: month 1 and 2 at 30.00,
        month 3 on at 92.50; a redelivery changes nothing."""
        _partner, customer = self.customer_partner()
        metered = self.fake.add_price(self.product, 250, usage_type="metered")
        sub = self.fake.add_subscription(
            customer, [(metered, None)], created=self.at(0, 3)
        )
        item_id = sub["items"]["data"][0]["id"]
        self.send(CREATED, sub, self.at(0, 3))
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.item_ids.usage_type, "metered")
        self.assertEqual(subscription.recurring_monthly, 0.0)

        first = self.paid_invoice(sub, 1, {item_id: 12})
        event = self.deliver("invoice.paid", first)
        self.assertEvent(event, "done", "30.00 USD a month")
        self.assertEqual(self.mirror_of(first).amount_total, 30.0)
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.recurring_monthly, 30.0)
        self.assertEqual(subscription.item_ids.recurring_monthly, 30.0)
        self.assertEqual(event.subscription_id, subscription)
        self.assertReport(
            subscription, self.expected({0: (0.0, "none"), 1: (30.0, "new")})
        )
        # The same invoice again (finalized after paid): nothing changes.
        again = self.deliver("invoice.finalized", first)
        self.assertEvent(again, "done", "Already mirrored")
        self.assertNotIn("metered usage", again.state_message)

        second = self.paid_invoice(sub, 3, {item_id: 37})
        self.assertEvent(
            self.deliver("invoice.paid", second), "done", "92.50 USD a month"
        )
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.recurring_monthly, 92.5)
        self.assertEqual(subscription.partner_id.stripe_mrr, 92.5)
        self.assertReport(
            subscription,
            self.expected(
                {
                    0: (0.0, "none"),
                    1: (30.0, "new"),
                    2: (30.0, "none"),
                    3: (92.5, "expansion"),  # 37 x 2.50
                }
            ),
        )

    def test_older_invoice_after_a_newer_one(self):
        """The invoice of month 1 (10 units: 25.00) arrives after the one of
        month 2 (4 units: 10.00): month 1 counts its own usage, and the
        subscription keeps month 2's."""
        _partner, customer = self.customer_partner()
        metered = self.fake.add_price(self.product, 250, usage_type="metered")
        sub = self.fake.add_subscription(
            customer, [(metered, None)], created=self.at(0, 3)
        )
        item_id = sub["items"]["data"][0]["id"]
        self.send(CREATED, sub, self.at(0, 3))
        older = self.paid_invoice(sub, 1, {item_id: 10})
        newer = self.paid_invoice(sub, 2, {item_id: 4})
        self.assertEvent(
            self.deliver("invoice.paid", newer), "done", "10.00 USD a month"
        )
        late = self.deliver("invoice.paid", older)
        self.assertEvent(late, "done", "25.00 USD a month")
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.recurring_monthly, 10.0)
        self.assertReport(
            subscription,
            self.expected(
                {0: (0.0, "none"), 1: (25.0, "new"), 2: (10.0, "contraction")}
            ),
        )
        # Both again, in the other order: nothing changes.
        for stripe_invoice in (older, newer):
            event = self.deliver("invoice.finalized", stripe_invoice)
            self.assertNotIn("metered usage", event.state_message)
        self.assertEqual(self.get_subscription(sub["id"]).recurring_monthly, 10.0)

    def test_invoice_mirrored_before_its_subscription(self):
        """invoice.paid of month 1 (12 units at 2.50: 30.00) comes before the
        subscription's first event: the subscription takes the usage of that
        mirrored invoice when it arrives."""
        _partner, customer = self.customer_partner()
        metered = self.fake.add_price(self.product, 250, usage_type="metered")
        sub = self.fake.add_subscription(
            customer, [(metered, None)], created=self.at(0, 3)
        )
        item_id = sub["items"]["data"][0]["id"]
        first = self.paid_invoice(sub, 1, {item_id: 12})
        paid = self.deliver("invoice.paid", first)
        self.assertEvent(paid, "done")
        self.assertNotIn("metered usage", paid.state_message)
        self.assertEvent(
            self.send(CREATED, sub, self.at(0, 3)), "done", "30.00 USD a month"
        )
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.recurring_monthly, 30.0)
        self.assertEqual(subscription.invoice_count, 1)
        self.assertReport(
            subscription, self.expected({0: (0.0, "none"), 1: (30.0, "new")})
        )

    def test_graduated_tiers_read_from_stripe(self):
        """A graduated price of 7 seats: 5 x 7.00 + 10.00 + 2 x 6.50 + 5.00 =
        63.00 a month; 12 seats from month 2: 35 + 10 + 5 x 6.50 + 5 + 2 x 6.00
        = 94.50. The webhook leaves the tiers out: they are read once from
        Stripe (expand tiers) and kept."""
        _partner, customer = self.customer_partner()
        price = self.fake.add_price(
            self.product, None, tiers=self.TIERS, tiers_mode="graduated"
        )
        sub = self.fake.add_subscription(customer, [(price, 7)], created=self.at(0, 4))
        self.assertNotIn("tiers", sub["items"]["data"][0]["price"])
        self.assertEvent(
            self.send(CREATED, sub, self.at(0, 4)), "done", "63.00 USD a month"
        )
        reads = self.fake.requests_for("/v1/prices/" + price["id"])
        self.assertEqual(len(reads), 1)
        self.assertEqual(reads[0].query.get("expand"), ["tiers"])
        self.fake.set_subscription_items(sub["id"], [(price, 12)], self.at(2, 4))
        self.send(UPDATED, sub, self.at(2, 4))
        self.assertEqual(
            len(self.fake.requests_for("/v1/prices/" + price["id"])),
            1,
            "a price's tiers never change: read once",
        )
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.recurring_monthly, 94.5)
        self.assertEqual(subscription.item_ids.quantity, 12)
        self.assertAlmostEqual(subscription.item_ids.unit_amount, 7.88)  # 94.5 / 12
        self.assertReport(
            subscription,
            self.expected(
                {0: (63.0, "new"), 1: (63.0, "none"), 2: (94.5, "expansion")}
            ),
        )

    def test_volume_tiers(self):
        """A volume price: 7 seats all at 6.50 plus the tier's 5.00 = 50.50; 12
        seats from month 1 all at 6.00 = 72.00; 3 seats from month 3 at 7.00
        plus 10.00 = 31.00."""
        _partner, customer = self.customer_partner()
        price = self.fake.add_price(
            self.product, None, tiers=self.TIERS, tiers_mode="volume"
        )
        sub = self.fake.add_subscription(customer, [(price, 7)], created=self.at(0, 4))
        self.assertEvent(
            self.send(CREATED, sub, self.at(0, 4)), "done", "50.50 USD a month"
        )
        self.fake.set_subscription_items(sub["id"], [(price, 12)], self.at(1, 4))
        self.send(UPDATED, sub, self.at(1, 4))
        self.fake.set_subscription_items(sub["id"], [(price, 3)], self.at(3, 4))
        self.send(UPDATED, sub, self.at(3, 4))
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.recurring_monthly, 31.0)
        self.assertReport(
            subscription,
            self.expected(
                {
                    0: (50.5, "new"),
                    1: (72.0, "expansion"),
                    2: (72.0, "none"),
                    3: (31.0, "contraction"),
                }
            ),
        )

    def test_tiers_that_cannot_be_read_are_said_not_guessed(self):
        """Without an API key the tiers cannot be read: the item counts 0, and
        the event and the subscription's chatter say why."""
        _partner, customer = self.customer_partner()
        price = self.fake.add_price(
            self.product, None, tiers=self.TIERS, tiers_mode="volume"
        )
        sub = self.fake.add_subscription(customer, [(price, 7)], created=self.at(0, 4))
        self.stripe_account.api_key = False
        event = self.send(CREATED, sub, self.at(0, 4))
        self.assertEvent(event, "done", "The tiers of price(s) %s" % price["id"])
        self.assertIn("no API key", event.state_message)
        subscription = self.get_subscription(sub["id"])
        self.assertEqual(subscription.recurring_monthly, 0.0)
        self.assertIn(
            "could not be read",
            " ".join(subscription.message_ids.mapped("body")),
        )
        self.assertFalse(self.fake.requests_for("/v1/prices/"))
