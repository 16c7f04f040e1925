import json
import time

import stripe

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import WEBHOOK_SECRET, StripeCommon

CONTROLLER_LOGGER = "odoo.addons.stripe_connector.controllers.main"


@tagged("post_install", "-at_install")
class TestWebhookIntake(StripeCommon):
    """``POST /stripe/webhook/<id>``: verify, store, acknowledge; refuse the rest."""

    def setUp(self):
        super().setUp()
        self.intent = self.fake.get(
            self.fake.add_charge(5000, "usd", metadata={"order": "42"})[
                "payment_intent"
            ]
        )
        self.event = self.make_event("payment_intent.succeeded", self.intent)

    def stored_count(self):
        self.env.invalidate_all()
        return self.env["stripe.event"].search_count(
            [("account_id", "=", self.stripe_account.id)]
        )

    def assertRefused(self, response, status, reason, count_before):
        """The delivery is answered ``status``, one WARNING line says ``reason``
        (never the secret), and nothing is stored."""
        self.assertEqual(response.status_code, status, response.text)
        self.assertIn(reason, response.json()["error"])
        self.assertEqual(self.stored_count(), count_before)

    def post_refused(self, status, reason, **kwargs):
        count = self.stored_count()
        with self.assertLogs(CONTROLLER_LOGGER, "WARNING") as logs:
            response = self.post_webhook(**kwargs)
        self.assertRefused(response, status, reason, count)
        self.assertEqual(len(logs.output), 1)
        self.assertIn(reason, logs.output[0])
        self.assertNotIn(WEBHOOK_SECRET, logs.output[0])
        return response

    # === ACCEPTED === #

    def test_signed_event_is_stored_and_acknowledged(self):
        """A valid signed event is answered 200 at once and stored pending, with
        its Stripe data; no business work happens in the request."""
        triggers = self.env["ir.cron.trigger"]
        # Wake-ups left by other tests' commits (Odoo's runner shares the
        # database) are not this test's.
        triggers.sudo().search([("cron_id", "=", self.cron.id)]).unlink()
        response = self.post_webhook(self.event)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["id"], self.event["id"])
        self.assertFalse(response.json()["duplicate"])
        event = self.get_event(self.event["id"])
        self.assertEqual(len(event), 1)
        self.assertEqual(event.state, "pending")
        self.assertEqual(event.type, "payment_intent.succeeded")
        self.assertEqual(event.account_id, self.stripe_account)
        self.assertEqual(event.company_id, self.company)
        self.assertEqual(event.stripe_object_id, self.intent["id"])
        self.assertEqual(event.object_type, "payment_intent")
        self.assertEqual(event.api_version, self.event["api_version"])
        self.assertFalse(event.livemode)
        self.assertEqual(json.loads(event.payload), self.event)
        self.assertFalse(event.payment_ids, "no payment booked inside the request")
        self.assertIn(f'"id": "{self.intent["id"]}"', event.payload_pretty)
        woken = triggers.search(
            [("cron_id", "=", self.cron.id), ("call_at", "<=", fields.Datetime.now())]
        )
        self.assertEqual(len(woken), 1, "the webhook wakes the cron up, at once")

    def test_duplicate_delivery_stores_one_event(self):
        """Stripe delivers the same event twice: both answered 200, one row."""
        first = self.post_webhook(self.event)
        triggers = self.env["ir.cron.trigger"].search_count([])
        second = self.post_webhook(self.event)
        self.assertEqual(first.status_code, 200)
        self.assertEqual(second.status_code, 200)
        self.assertEqual(second.json()["id"], self.event["id"])
        self.assertTrue(second.json()["duplicate"])
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count([]),
            triggers,
            "a duplicate does not wake the cron up",
        )
        self.assertEqual(len(self.get_event(self.event["id"])), 1)

    def test_secret_rotation_accepts_old_and_new_secrets(self):
        """During a secret roll both secrets verify, and a header carrying several
        ``v1`` signatures is accepted when any one matches."""
        self.stripe_account.write(
            {"webhook_secret": "whsec_new", "webhook_secret_previous": WEBHOOK_SECRET}
        )
        old = self.make_event("payment_intent.succeeded", self.intent)
        self.assertEqual(self.post_webhook(old, secret=WEBHOOK_SECRET).status_code, 200)
        new = self.make_event("payment_intent.succeeded", self.intent)
        self.assertEqual(self.post_webhook(new, secret="whsec_new").status_code, 200)
        both = self.make_event("payment_intent.succeeded", self.intent)
        body = json.dumps(both)
        timestamp = int(time.time())
        headers = [
            stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
            for secret in ("whsec_unrelated", "whsec_new")
        ]
        multi = headers[0] + "," + headers[1].split(",", 1)[1]
        self.assertEqual(multi.count("v1="), 2)
        self.assertEqual(self.post_webhook(body=body, signature=multi).status_code, 200)
        self.assertEqual(
            len(self.get_event(old["id"]) | self.get_event(new["id"]))
            + len(self.get_event(both["id"])),
            3,
        )
        # Once the roll is over, the old secret no longer verifies.
        self.stripe_account.webhook_secret_previous = False
        late = self.make_event("payment_intent.succeeded", self.intent)
        self.post_refused(400, "bad signature", event=late, secret=WEBHOOK_SECRET)

    # === REFUSED === #

    def test_missing_signature_is_refused(self):
        self.post_refused(
            400, "missing Stripe-Signature", event=self.event, signature=False
        )

    def test_forged_signature_is_refused(self):
        self.post_refused(400, "bad signature", event=self.event, secret="whsec_forged")

    def test_tampered_body_is_refused(self):
        """A body changed after signing no longer matches its signature."""
        body = json.dumps(self.event)
        signature = stripe.WebhookSignature.generate_signature_header(
            body, WEBHOOK_SECRET
        )
        tampered = body.replace('"livemode": false', '"livemode": false ')
        self.post_refused(400, "bad signature", body=tampered, signature=signature)

    def test_stale_timestamp_is_refused(self):
        """Correctly signed but older than the 300 s tolerance: a replay."""
        self.post_refused(
            400, "stale timestamp", event=self.event, timestamp=int(time.time()) - 301
        )

    def test_unknown_account_is_refused(self):
        nowhere = self.stripe_account.browse(
            self.stripe_account.search([])[-1:].id + 1000
        )
        self.post_refused(404, "unknown or archived", event=self.event, account=nowhere)

    def test_archived_account_is_refused(self):
        self.stripe_account.active = False
        self.post_refused(404, "unknown or archived", event=self.event)

    def test_livemode_mismatch_is_refused(self):
        """A live event posted to a test-mode account (or the reverse)."""
        live_event = self.make_event(
            "payment_intent.succeeded", self.intent, livemode=True
        )
        self.post_refused(400, "livemode True does not match", event=live_event)
        self.stripe_account.write(
            {
                "mode": "live",
                "api_base": "https://api.stripe.com",
                "api_key": "sk_live_connector",
            }
        )
        self.post_refused(400, "livemode False does not match", event=self.event)

    def test_body_over_one_mebibyte_is_refused(self):
        big = dict(self.event, padding="x" * (1024 * 1024))
        self.post_refused(413, "larger than 1 MiB", event=big)

    def test_body_that_is_not_json_is_refused(self):
        self.post_refused(400, "not JSON", body="this is {not json")

    def test_json_that_is_not_an_event_is_refused(self):
        for body in ('["evt_1"]', json.dumps(self.intent), '{"object": "event"}'):
            with self.subTest(body=body[:30]):
                self.post_refused(400, "not a Stripe event", body=body)

    @mute_logger(CONTROLLER_LOGGER)
    def test_get_is_not_a_webhook(self):
        response = self.url_open(f"/stripe/webhook/{self.stripe_account.id}")
        self.assertEqual(response.status_code, 405)
        self.assertEqual(self.stored_count(), 0)

    # === HOSTILE REQUESTS: a 4xx and one warning line, never a 500 === #

    def assertRefusedAndLogged(self, reason, **kwargs):
        """A 400 saying ``reason``, one WARNING line saying it too, nothing stored."""
        count = self.env["stripe.event"].search_count([])
        with self.assertLogs(CONTROLLER_LOGGER, "WARNING") as logs:
            response = self.post_webhook(**kwargs)
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn(reason, response.json()["error"])
        self.assertEqual(len(logs.output), 1, logs.output)
        self.assertIn(reason, logs.output[0])
        self.env.invalidate_all()
        self.assertEqual(self.env["stripe.event"].search_count([]), count)

    def test_non_ascii_signature_header_is_a_400(self):
        """hmac.compare_digest refuses non-ASCII text: a forged header with UTF-8
        or raw Latin-1 bytes is refused as malformed, not answered 500."""
        now = int(time.time())
        for header in (f"t={now},v1=é€".encode(), f"t={now},v1=\xe9".encode("latin-1")):
            with self.subTest(header=header):
                self.assertRefusedAndLogged(
                    "malformed Stripe-Signature header",
                    event=self.event,
                    signature=header,
                )

    def test_signed_body_with_a_lone_surrogate_is_a_400(self):
        """A signed body whose id or type holds a lone surrogate (valid JSON, no
        valid text) is not a Stripe event: 400, nothing stored."""
        body = json.dumps(self.event)
        for field in ("id", "type"):
            with self.subTest(field=field):
                forged = body.replace(
                    f'"{field}": "{self.event[field]}"',
                    f'"{field}": "{self.event[field]}\\ud800"',
                    1,
                )
                self.assertNotEqual(forged, body)
                signature = stripe.WebhookSignature.generate_signature_header(
                    forged, WEBHOOK_SECRET
                )
                self.assertRefusedAndLogged(
                    "invalid Unicode", body=forged, signature=signature
                )
