"""What the subscription and MRR tests share: Stripe prices and customers in the
fake, months counted from a fixed start in the past, and the MRR report as a user
reads it (one row per subscription and month)."""

import calendar
from datetime import date, datetime, timezone

from dateutil.relativedelta import relativedelta

from odoo import fields

from .. import utils
from .common import StripeCommon

# The tests' months are counted from this many months before the current one,
# so that every month they speak of has passed (or is the current one).
MONTHS_BACK = 10


class SubscriptionCommon(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start = date.today().replace(day=1) - relativedelta(months=MONTHS_BACK)
        cls.current = date.today().replace(day=1)

    def setUp(self):
        super().setUp()
        self.product = self.fake.add_product("Pro plan")
        self.monthly = self.fake.add_price(self.product, 4900)
        self.monthly_big = self.fake.add_price(self.product, 9900)
        self.yearly = self.fake.add_price(self.product, 120000, interval="year")
        self.seat = self.fake.add_price(self.product, 1000)

    # === TIME === #

    def month(self, index):
        """First day of the ``index``-th month of the test (0 = the first)."""
        return self.start + relativedelta(months=index)

    def at(self, index, day=1, hour=12):
        """Unix time of a day of the ``index``-th month (noon UTC); ``day`` -1 is
        the month's last day."""
        month = self.month(index)
        if day == -1:
            day = calendar.monthrange(month.year, month.month)[1]
        return int(
            datetime(
                month.year, month.month, day, hour, tzinfo=timezone.utc
            ).timestamp()
        )

    @staticmethod
    def dt(timestamp):
        """A Unix time as Odoo stores datetimes (naive UTC)."""
        return utils.timestamp_to_datetime(timestamp)

    @property
    def months_to_now(self):
        """Index of the current month."""
        return MONTHS_BACK

    # === STRIPE OBJECTS === #

    def customer_partner(self, partner=None):
        """A Stripe customer for a partner (its id on the partner): ``(partner,
        customer id)``."""
        partner = partner or self.customer
        customer = self.fake.add_customer(email=partner.email, name=partner.name)
        partner.stripe_customer_id = customer["id"]
        return partner, customer["id"]

    def send(self, event_type, subscription, at, process=True):
        """Deliver an event about the subscription's current state, created at
        ``at`` (over HTTP, signed); return the ``stripe.event``."""
        return self.deliver(event_type, subscription, process=process, created=at)

    def get_subscription(self, stripe_id):
        self.env.invalidate_all()
        return self.env["stripe.subscription"].search([("stripe_id", "=", stripe_id)])

    # === THE REPORT AS A USER READS IT === #

    def report(self, subscription):
        """``{month index: (mrr, movement)}`` of the subscription's report rows."""
        self.env.invalidate_all()
        rows = self.env["stripe.mrr.report"].search(
            [("subscription_id", "=", subscription.id)], order="date"
        )
        result = {}
        for row in rows:
            delta = relativedelta(row.date, self.start)
            result[delta.years * 12 + delta.months] = (row.mrr, row.movement)
        return result

    def expected(self, months, last=None, until_now=True):
        """The rows a test computed by hand: ``months`` gives the months where
        something is asserted; with ``until_now``, every later month up to the
        current one repeats the last level with movement ``none``."""
        rows = dict(months)
        if until_now:
            last_index = max(rows)
            level = rows[last_index][0] if last is None else last
            for index in range(last_index + 1, self.months_to_now + 1):
                rows[index] = (level, "none")
        return rows

    def assertReport(self, subscription, expected):
        self.assertEqual(self.report(subscription), expected)

    def today(self):
        return fields.Date.context_today(self.env["stripe.mrr.report"])
