from . import (
    test_account,
    test_account_webhook,
    test_concurrency,
    test_event_processing,
    test_payments,
    test_payouts,
    test_refunds_disputes,
    test_security,
    test_tours,
    test_utils,
    test_webhook,
)
