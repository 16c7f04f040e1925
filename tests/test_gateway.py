"""The Stripe API gateway: what a user reads when Stripe cannot be reached or
refuses the key."""

import socket

import stripe

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import StripeCommon
from .fake_stripe import fast_sdk_retries

PERMISSION_MESSAGE = (
    "The provided key 'rk_test_*****************1234' does not have the required "
    "permissions for this endpoint on account 'acct_1Nv0FGQ9RKHgCVdK'. Having the "
    "'rak_balance_read' permission would allow this request to continue."
)


def closed_port():
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tagged("post_install", "-at_install")
class TestGatewayMessages(StripeCommon):
    """Plain words: who could not be reached and why, which key Stripe refused
    and why; never Python's objects nor a whole URL."""

    def connection_error_message(self, api_base=None):
        """Test Connection against ``api_base`` (a closed port by default)."""
        self.stripe_account.api_base = api_base or f"http://127.0.0.1:{closed_port()}"
        with fast_sdk_retries(), self.assertRaises(UserError) as raised:
            self.stripe_account.action_test_connection()
        message = raised.exception.args[0]
        self.assertNotIn("object at 0x", message)
        self.assertNotIn("urllib3", message)
        self.assertNotIn("/v1/", message)
        return message

    def test_closed_port_says_connection_refused(self):
        message = self.connection_error_message()
        self.assertIn("Odoo cannot reach 127.0.0.1: connection refused", message)

    def test_network_failures_in_a_few_words(self):
        """The SDK's error names its cause only through the exceptions behind it
        (Odoo's tests refuse requests to other hosts than this one, so these are
        built as the SDK chains them)."""
        account = self.stripe_account
        for cause, reason in (
            (socket.gaierror(-2, "Name or service not known"), "name lookup failed"),
            (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
            (TimeoutError("timed out"), "no answer in time"),
        ):
            with self.subTest(reason=reason):
                error = stripe.APIConnectionError(
                    "Unexpected error communicating with Stripe."
                )
                error.__cause__ = OSError(f"<urllib3 object at 0x7f00>: {cause}")
                error.__cause__.__cause__ = cause
                message = account._stripe_error_message(error, "the balance")
                self.assertIn(f"Odoo cannot reach 127.0.0.1: {reason}", message)
                self.assertNotIn("0x7f", message)
                # No answer from Stripe: no HTTP status to speak of.
                self.assertNotIn("HTTP", message)
                self.assertTrue(message.endswith("Asked Stripe for the balance."))

    def test_wrong_key(self):
        self.stripe_account.api_key = "sk_test_not_a_key_stripe_knows"
        with self.assertRaises(UserError) as raised:
            self.stripe_account.action_test_connection()
        # The reason first, in plain words; then what was asked.
        self.assertTrue(
            raised.exception.args[0].startswith(
                "Stripe refused the secret key (invalid)."
            ),
            raised.exception.args[0],
        )
        self.assertIn("Asked Stripe for", raised.exception.args[0])
        self.assertIn("HTTP 401.", raised.exception.args[0])
        self.assertNotIn("did not send", raised.exception.args[0])
        self.assertNotIn("sk_test_not_a_key", raised.exception.args[0])

    def test_restricted_key_names_the_missing_permission(self):
        self.fake.fail_next(
            1,
            status=403,
            path_prefix="/v1/balance",
            message=PERMISSION_MESSAGE,
            should_retry=False,
        )
        with self.assertRaises(UserError) as raised:
            self.stripe_account.action_test_connection()
        self.assertIn("lacks the permission rak_balance_read", raised.exception.args[0])

    def test_key_of_the_other_mode(self):
        # Saved before Odoo refused a key of the other mode on save.
        self.env.cr.execute(
            "UPDATE stripe_account SET api_key = 'sk_live_of_the_same_account' "
            "WHERE id = %s",
            [self.stripe_account.id],
        )
        self.stripe_account.invalidate_recordset()
        with self.assertRaises(UserError) as raised:
            self.stripe_account.action_test_connection()
        self.assertIn("live key", raised.exception.args[0])
        self.assertIn("test mode", raised.exception.args[0])
        self.assertFalse(self.fake.requests_for("/v1/balance"), "nothing sent")

    def test_fetch_missed_events_error_has_no_url(self):
        """Listing events names 20 types in the query string: the error says why
        in a line, not with the whole URL."""
        self.stripe_account.api_base = f"http://127.0.0.1:{closed_port()}"
        with fast_sdk_retries(), self.assertRaises(UserError) as raised:
            self.stripe_account.action_fetch_missed_events()
        message = raised.exception.args[0]
        self.assertIn("the events", message)
        self.assertIn("connection refused", message)
        self.assertNotIn("types", message)
        self.assertLess(len(message), 300)

    def test_best_effort_read_books_the_payment_and_says_why(self):
        """A charge that cannot be read (a key without that permission): the
        payment is registered, the message says why the fee waits."""
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        self.fake.fail_next(
            1,
            status=403,
            path_prefix="/v1/charges",
            message=PERMISSION_MESSAGE.replace("balance", "charge"),
            should_retry=False,
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done", "lacks the permission rak_charge_read")
        self.assertInvoice(invoice, 0.0, "paid")
