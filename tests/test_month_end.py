"""Month-end: Stripe's reports tied out to the Stripe journal category by
category, payouts tied to their report rows, the month closed once it ties, and
the go-live that opens the Stripe journal with Stripe's balance."""

from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import date_utils

from .common import PayoutCommon


class MonthEndCommon(PayoutCommon):
    """Last month, as a tie-out sees it."""

    def setUp(self):
        super().setUp()
        today = fields.Date.context_today(self.env.user)
        self.month = date_utils.start_of(today, "month") - relativedelta(months=1)

    def at(self, day, hour=12):
        """Unix time of ``day`` of last month, at ``hour`` UTC."""
        return int(
            datetime(
                self.month.year, self.month.month, day, hour, tzinfo=UTC
            ).timestamp()
        )

    def tieout(self):
        return self.env["stripe.tieout"]._stripe_prepare(
            self.stripe_account, self.month
        )

    def payment_of(self, charge):
        return self.env["account.payment"].search(
            [("stripe_charge_id", "=", charge["id"])], limit=1
        )


@tagged("post_install", "-at_install")
class TestMonthEnd(MonthEndCommon):
    def month_that_ties(self):
        """Charges paid through webhooks, a refund, a payout reconciled, a charge
        after it: the month ties, category by category.

        :return: ``(tie-out, payout, charges)``
        """
        _invoice, charge_a = self.pay_invoice(100.0, created=self.at(3))
        _invoice, charge_b = self.pay_invoice(250.0, created=self.at(5))
        refund = self.fake.add_refund(charge_b["id"], 5000, created=self.at(8))
        # Stripe tells within seconds: the event is of the refund's day.
        self.assertEvent(
            self.deliver("refund.created", refund, created=self.at(8)), "done"
        )
        payout = self.fake.add_payout(created=self.at(10))
        self.assertEvent(
            self.deliver("payout.paid", payout, created=self.at(12)), "done"
        )
        self.assertPayout(self.get_payout(payout), "reconciled")
        _invoice, charge_c = self.pay_invoice(40.0, created=self.at(12))

        tieout = self.tieout()
        tieout.action_compute()
        self.assertEqual(
            tieout.state,
            "ties",
            [
                (line.reporting_category, line.stripe_amount, line.odoo_amount)
                for line in tieout.line_ids
            ]
            + [
                (
                    i.kind,
                    i.reporting_category,
                    i.stripe_amount,
                    i.odoo_amount,
                    i.move_id.ref,
                )
                for i in tieout.item_ids
            ],
        )
        lines = {line.reporting_category: line for line in tieout.line_ids}
        self.assertEqual(set(lines), {"charge", "refund", "fee", "payout"})
        for category, stripe_amount in (
            ("charge", 390.0),
            ("refund", -50.0),
            ("fee", -self.fees()),
            ("payout", -payout["amount"] / 100),
        ):
            self.assertAlmostEqual(lines[category].stripe_amount, stripe_amount)
            self.assertAlmostEqual(lines[category].odoo_amount, stripe_amount)
            self.assertEqual(lines[category].difference, 0.0)
        self.assertAlmostEqual(tieout.stripe_start_balance, 0.0)
        self.assertAlmostEqual(
            tieout.stripe_end_balance, self.fake.balance("usd") / 100
        )
        self.assertAlmostEqual(tieout.odoo_end_balance, tieout.stripe_end_balance)
        self.assertFalse(tieout.item_ids)
        self.assertEqual(tieout.transaction_count, 4)
        return tieout, payout, (charge_a, charge_b, charge_c)

    def test_month_ties_then_shows_exactly_three_differences_until_closed(self):
        """A month booked by webhooks and a payout ties, category by category;
        then one refund Odoo never booked, one fee booked twice and one payout
        row missing in Stripe's report: exactly those three differences, with
        their drill-down; Close is refused until they are booked or explained,
        and what arrives later for the closed month is booked on an open day."""
        tieout, payout, (charge_a, _charge_b, charge_c) = self.month_that_ties()

        # Stripe and Odoo disagree, three times.
        late_refund = self.fake.add_refund(charge_c["id"], 1000, created=self.at(14))
        fee_move = self.payment_of(charge_c).stripe_fee_move_id
        self.assertTrue(fee_move)
        twice = fee_move.copy({"date": fee_move.date})
        twice.action_post()
        hidden = charge_a["balance_transaction"]
        self.fake.hide_from_payout_report(payout["id"], hidden)

        tieout.action_compute()
        self.assertEqual(tieout.state, "differs")
        differing = {
            line.reporting_category: line.difference
            for line in tieout.line_ids
            if line.difference
        }
        fee_c = self.fake.get(charge_c["balance_transaction"])["fee"] / 100
        self.assertEqual(set(differing), {"refund", "fee"})
        self.assertAlmostEqual(differing["refund"], -10.0)
        self.assertAlmostEqual(differing["fee"], fee_c)
        self.assertEqual(
            sorted(
                (item.kind, item.reporting_category, item.stripe_transaction_id or "")
                for item in tieout.item_ids
            ),
            sorted(
                [
                    ("missing_in_odoo", "refund", late_refund["balance_transaction"]),
                    ("missing_in_stripe", "fee", ""),
                    ("payout", "payout", hidden),
                ]
            ),
        )
        by_kind = {item.kind: item for item in tieout.item_ids}
        self.assertEqual(by_kind["missing_in_odoo"].stripe_source_id, late_refund["id"])
        self.assertAlmostEqual(by_kind["missing_in_odoo"].stripe_amount, -10.0)
        self.assertEqual(by_kind["missing_in_stripe"].move_id, twice)
        self.assertAlmostEqual(by_kind["missing_in_stripe"].odoo_amount, -fee_c)
        self.assertEqual(by_kind["payout"].payout_id, self.get_payout(payout))
        self.assertTrue(self.get_payout(payout).tieout_differs)
        self.assertEqual(
            self.env["stripe.alert"].search_count(
                [
                    ("cause", "=", "tieout_differs"),
                    ("res_model", "=", "stripe.tieout"),
                    ("res_id", "=", tieout.id),
                    ("state", "=", "open"),
                ]
            ),
            1,
        )
        with self.assertRaisesRegex(UserError, "cannot be closed"):
            tieout.action_close()

        # The refund is booked from the drill-down; the rest is explained.
        by_kind["missing_in_odoo"].action_book()
        self.assertTrue(
            self.env["account.payment"].search(
                [("stripe_object_id", "=", late_refund["id"])]
            )
        )
        lines = {line.reporting_category: line for line in tieout.line_ids}
        lines["fee"].explanation = "Duplicate fee entry, reversed in the next month."
        by_kind["payout"].explanation = "Stripe support ticket 42."
        tieout.action_compute()
        self.assertEqual(
            {item.kind for item in tieout.item_ids}, {"missing_in_stripe", "payout"}
        )
        lines = {line.reporting_category: line for line in tieout.line_ids}
        self.assertEqual(lines["refund"].difference, 0.0)
        self.assertIn("Duplicate fee", lines["fee"].explanation)
        with self.assertRaisesRegex(UserError, "ending balance"):
            tieout.action_close()
        tieout.balance_explanation = "The duplicate fee entry."
        tieout.action_close()
        self.assertEqual(tieout.state, "closed")
        self.assertEqual(self.stripe_journal.stripe_lock_date, tieout.date_to)

        # A payment of the closed month, arriving now: booked on an open day.
        _invoice, late = self.pay_invoice(20.0, created=self.at(25))
        move = self.payment_of(late).move_id
        self.assertGreater(move.date, tieout.date_to)
        self.assertIn("closed Stripe month", " ".join(move.message_ids.mapped("body")))
        with self.assertRaisesRegex(UserError, "closed"):
            fee_move.button_draft()

    def test_waits_until_stripe_has_the_month(self):
        """Stripe's reports do not cover the month yet: the tie-out waits, says
        until when Stripe has data, and runs no report."""
        self.fake.report_data_available_end = self.at(15)
        tieout = self.tieout()
        tieout.action_compute()
        self.assertEqual(tieout.state, "waiting")
        self.assertIn("data until", tieout.state_message)
        self.assertFalse(self.fake.requests_for("/v1/reporting/report_runs", "POST"))

    def test_monthly_cron_prepares_last_month(self):
        """The cron prepares last month's tie-out once Stripe's data covers it."""
        self.pay_invoice(10.0, created=self.at(2))
        self.env["stripe.tieout"]._cron_prepare_last_month()
        tieout = self.tieout()
        self.assertEqual(tieout.state, "ties", tieout.state_message)


@tagged("post_install", "-at_install")
class TestGoLive(MonthEndCommon):
    def test_go_live_opens_with_stripe_balance_and_payout_reconciles(self):
        """A Stripe balance of 1,234.56 at the start date, then a payout carrying
        20 transactions from before it and 5 after: the opening entry is Stripe's
        balance, the payout reconciles, nothing before the start is looked for."""
        before = [
            self.fake.add_charge(6000 + i, "usd", created=self.at(2) + 60 * i)
            for i in range(19)
        ]
        self.fake.add_adjustment(
            123456 - self.fake.balance("usd"), "usd", "Correction", created=self.at(3)
        )
        self.assertEqual(self.fake.balance("usd"), 123456)
        start = self.month + timedelta(days=14)
        action = self.stripe_account.action_go_live()
        wizard = (
            self.env[action["res_model"]]
            .with_context(**action["context"])
            .create({"date": start})
        )
        self.assertTrue(wizard.counterpart_account_id)
        wizard.action_confirm()
        opening = self.stripe_account.go_live_move_id
        self.assertEqual(self.stripe_account.go_live_date, start)
        self.assertEqual(opening.state, "posted")
        self.assertAlmostEqual(self.journal_balance(), 1234.56)

        for day in range(5):
            self.pay_invoice(30.0 + day, created=self.at(16 + day))
        payout = self.fake.add_payout(created=self.at(25))
        self.assertEqual(len(self.fake.payout_transactions(payout["id"])), 26)
        sent = len(self.fake.requests)
        self.assertEvent(self.deliver("payout.paid", payout), "done")
        record = self.get_payout(payout)
        self.assertPayout(record, "reconciled")
        self.assertEqual(record.to_book_count, 0)
        self.assertEqual(
            len(record.transaction_ids.filtered(lambda t: t.move_id == opening)), 20
        )
        self.assertStripeMirrored()
        looked_for = {
            request.path.rsplit("/", 1)[-1] for request in self.fake.requests[sent:]
        }
        for charge in before:
            self.assertNotIn(charge["id"], looked_for)
            self.assertNotIn(charge["payment_intent"], looked_for)
        self.assertFalse(
            self.env["account.payment"].search(
                [("stripe_charge_id", "in", [charge["id"] for charge in before])]
            )
        )
        # The imports never reach before the start.
        self.env["stripe.payout"]._stripe_import(
            self.stripe_account, start - timedelta(days=30)
        )
        query = self.fake.requests_for("/v1/payouts")[-1].query
        self.assertEqual(
            int(query["arrival_date"]["gte"]),
            int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()),
        )
        with self.assertRaisesRegex(UserError, "already started"):
            wizard.action_confirm()
