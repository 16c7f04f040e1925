import unittest

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestOverviewTour(StripeCommon):
    """Stripe > Overview in a real browser (Chromium)."""

    @mute_logger("odoo.addons.stripe_connector.models.stripe_event")
    def test_overview_clicks_through_to_the_failed_events(self):
        """The accountant opens the overview, sees the account's failed event and
        the balance check, and clicks through to the failed events only."""
        invoice = self.create_invoice(100.0)
        paid = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        done = self.deliver(
            "payment_intent.succeeded", self.fake.get(paid["payment_intent"])
        )
        unmatched = self.fake.add_charge(4321, "usd")
        failed = self.deliver(
            "payment_intent.succeeded", self.fake.get(unmatched["payment_intent"])
        )
        self.assertEvent(done, "done")
        self.assertEvent(failed, "failed")
        self.stripe_account.action_check_balance()
        self.assertEqual(self.stripe_account.balance_check_state, "difference")
        # Bundles built before the browser asks, so that a busy machine does not
        # outlast the time Odoo waits for the page (see test_tours.py).
        for name in ("web.assets_web", "web.assets_tests"):
            self.env["ir.qweb"]._get_asset_bundle(name).js()
        try:
            self.start_tour(
                "/odoo/stripe-overview",
                "stripe_overview_tour",
                login=self.env.user.login,
                timeout=300,
            )
        except unittest.SkipTest as skipped:
            self.fail(f"The overview tour did not run (no Chromium?): {skipped}")
