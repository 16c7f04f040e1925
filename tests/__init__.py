from . import (
    test_account,
    test_concurrency,
    test_event_processing,
    test_fake_stripe,
    test_payments,
    test_payout_then_webhook,
    test_payouts,
    test_refunds_disputes,
    test_security,
    test_test_runners,
    test_utils,
    test_webhook,
)
