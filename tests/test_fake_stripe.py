"""The fake Stripe API the other tests stand on, checked through the real SDK.

The checks are those of ``fake_stripe_selftest.py`` (which also runs as a
script and times a large payout): they assert what Stripe answers, so that a
change of the fake that drifts from Stripe's shapes fails here first.
"""

from odoo.tests import BaseCase, tagged

from . import fake_stripe_selftest as selftest
from .fake_stripe import FakeStripe


@tagged("post_install", "-at_install")
class TestFakeStripe(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = FakeStripe(api_keys={selftest.API_KEY}, seed=1).start()
        cls.addClassCleanup(cls.fake.stop)
        cls.client = selftest.make_client(cls.fake)

    def test_payout_pagination(self):
        selftest.check_payout_pagination(self.fake, self.client)

    def test_charge_shapes(self):
        selftest.check_charge_shapes(self.fake, self.client)

    def test_disputes_balance_events(self):
        selftest.check_disputes_balance_events(self.fake, self.client)

    def test_retries(self):
        selftest.check_retries(self.fake, self.client)

    def test_errors(self):
        selftest.check_errors(self.fake, self.client)
