import stripe

from odoo.exceptions import UserError
from odoo.tests import tagged

from .. import const
from .common import API_KEY, StripeCommon


@tagged("post_install", "-at_install")
class TestStripeAccountWebhook(StripeCommon):
    """The webhook endpoint created and updated from Odoo, through the SDK."""

    def setUp(self):
        super().setUp()
        self.stripe_account.webhook_secret = False

    def create_webhook(self, account=None):
        account = account or self.stripe_account
        action = account.action_create_webhook()
        account.invalidate_recordset()
        return action

    def test_local_webhook_url_is_warned_and_refused_by_create_webhook(self):
        """A webhook URL on localhost or a private address: the form warns that
        Stripe cannot reach it, and Create Webhook (against Stripe itself) says
        why instead of asking Stripe."""
        account = self.stripe_account
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("web.base.url", "http://localhost:8069")
        account.invalidate_recordset()
        self.assertIn(
            "Stripe, on the internet, cannot reach it", account.webhook_url_warning
        )
        self.assertIn("localhost", account.webhook_url_warning)
        params.set_param("web.base.url", "http://192.168.1.20:8069")
        account.invalidate_recordset()
        self.assertIn("private network address", account.webhook_url_warning)
        account.api_base = "https://api.stripe.com"
        with self.assertRaises(UserError) as refused:
            account.action_create_webhook()
        self.assertIn("Stripe would refuse the webhook URL", str(refused.exception))
        self.assertIn("192.168.1.20", str(refused.exception))
        self.assertFalse(account.stripe_webhook_endpoint_id)
        params.set_param("web.base.url", "https://erp.example.com")
        account.invalidate_recordset()
        self.assertFalse(account.webhook_url_warning)

    def test_create_webhook_stores_the_endpoint_and_its_secret(self):
        action = self.create_webhook()
        account = self.stripe_account
        self.assertEqual(action["params"]["type"], "success")
        (request,) = self.fake.requests_for("/v1/webhook_endpoints", method="POST")
        self.assertEqual(request.path, "/v1/webhook_endpoints")
        self.assertEqual(request.query["url"], account.webhook_url)
        self.assertTrue(
            account.webhook_url.endswith(f"/stripe/webhook/{account.id}"),
        )
        self.assertEqual(
            sorted(request.query["enabled_events"]),
            sorted(self.env["stripe.event"]._get_event_handlers()),
        )
        self.assertIn("payout.paid", request.query["enabled_events"])
        self.assertEqual(request.query["api_version"], const.WEBHOOK_API_VERSION)
        endpoint = self.fake.get(account.stripe_webhook_endpoint_id)
        self.assertEqual(endpoint["object"], "webhook_endpoint")
        self.assertEqual(
            account.webhook_secret, self.fake.webhook_secrets[endpoint["id"]]
        )
        self.assertFalse(account.webhook_secret_previous)
        self.assertFalse(account.webhook_missing_events)
        self.assertIn(endpoint["id"], account.message_ids[0].body)

    def test_events_signed_with_the_created_secret_are_accepted(self):
        self.create_webhook()
        account = self.stripe_account
        self.assertFalse(account.last_event_date)
        secret = self.fake.webhook_secrets[account.stripe_webhook_endpoint_id]
        event = self.make_event("customer.source.expiring", self.fake.add_customer())
        response = self.post_webhook(event, secret=secret)
        self.assertEqual(response.status_code, 200, response.text)
        account.invalidate_recordset()
        received = self.get_event(event["id"])
        self.assertEqual(account.last_event_date, received.create_date)

    def test_secret_entered_by_hand_stays_valid_as_the_previous_one(self):
        self.stripe_account.webhook_secret = "whsec_by_hand"
        action = self.create_webhook()
        self.assertIn("previous", action["params"]["message"])
        account = self.stripe_account
        self.assertEqual(account.webhook_secret_previous, "whsec_by_hand")
        self.assertTrue(account.webhook_secret.startswith("whsec_"))
        self.assertNotEqual(account.webhook_secret, "whsec_by_hand")
        event = self.make_event("customer.source.expiring", self.fake.add_customer())
        response = self.post_webhook(event, secret="whsec_by_hand")
        self.assertEqual(response.status_code, 200, response.text)

    def test_the_api_version_is_the_one_the_sdk_pins(self):
        """Events rendered in the endpoint's version have the shapes the API
        answers (read through the same SDK) have."""
        self.assertEqual(const.WEBHOOK_API_VERSION, stripe.api_version)

    def test_no_key_or_a_key_of_the_other_mode_creates_nothing(self):
        # A key of the other mode saved before Odoo refused it on save.
        self.env.cr.execute(
            "UPDATE stripe_account SET api_key = 'sk_live_connector' WHERE id = %s",
            [self.stripe_account.id],
        )
        self.stripe_account.invalidate_recordset()
        with self.assertRaisesRegex(UserError, "live key; the account is in test mode"):
            self.create_webhook()
        self.stripe_account.api_key = False
        with self.assertRaisesRegex(UserError, "secret key"):
            self.create_webhook()
        self.assertFalse(self.fake.requests_for("/v1/webhook_endpoints", "POST"))
        self.assertFalse(self.stripe_account.stripe_webhook_endpoint_id)

    def test_stripe_refusal_is_shown_and_nothing_stored(self):
        self.fake.fail_next(
            1, status=400, path_prefix="/v1/webhook_endpoints", should_retry=False
        )
        with self.assertRaisesRegex(UserError, "Injected error"):
            self.create_webhook()
        self.assertFalse(self.stripe_account.stripe_webhook_endpoint_id)
        self.assertFalse(self.stripe_account.webhook_secret)

    def test_a_second_create_is_refused(self):
        self.create_webhook()
        with self.assertRaisesRegex(UserError, "Update Webhook"):
            self.create_webhook()
        self.assertEqual(len(self.fake.objects("webhook_endpoint")), 1)

    def test_types_handled_after_an_upgrade_are_missing_then_added(self):
        """An endpoint created by an older version of the module lacks the types
        handled now: the account says which, Update Webhook adds them and keeps
        the types the endpoint sent already."""
        self.create_webhook()
        account = self.stripe_account
        endpoint = self.fake.get(account.stripe_webhook_endpoint_id)
        endpoint["enabled_events"] = [
            "payment_intent.succeeded",
            "charge.succeeded",
            "customer.source.expiring",
        ]
        account.invalidate_recordset()
        missing = account.webhook_missing_events.split(", ")
        self.assertIn("payout.paid", missing)
        self.assertIn("refund.created", missing)
        self.assertNotIn("payment_intent.succeeded", missing)
        account.action_update_webhook()
        update = self.fake.requests_for(
            f"/v1/webhook_endpoints/{endpoint['id']}", method="POST"
        )
        self.assertEqual(len(update), 1)
        self.assertEqual(update[0].query["url"], account.webhook_url)
        handled = set(self.env["stripe.event"]._get_event_handlers())
        self.assertEqual(
            set(endpoint["enabled_events"]), handled | {"customer.source.expiring"}
        )
        account.invalidate_recordset()
        self.assertFalse(account.webhook_missing_events)

    def test_endpoint_sending_every_type_misses_none(self):
        self.create_webhook()
        self.fake.get(self.stripe_account.stripe_webhook_endpoint_id)[
            "enabled_events"
        ] = ["*"]
        self.stripe_account.invalidate_recordset()
        self.assertFalse(self.stripe_account.webhook_missing_events)

    def test_unreadable_endpoint_says_why(self):
        """The endpoint deleted in Stripe's dashboard."""
        self.create_webhook()
        client = stripe.StripeClient(
            API_KEY, base_addresses={"api": self.fake.api_base}
        )
        client.v1.webhook_endpoints.delete(
            self.stripe_account.stripe_webhook_endpoint_id
        )
        self.stripe_account.invalidate_recordset()
        self.assertFalse(self.stripe_account.webhook_missing_events)
        self.assertIn(
            "No such webhook_endpoint", self.stripe_account.webhook_check_message
        )
