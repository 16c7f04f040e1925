from . import (
    test_account,
    test_concurrency,
    test_event_processing,
    test_payments,
    test_payouts,
    test_refunds_disputes,
    test_screens,
    test_screens_tours,
    test_security,
    test_utils,
    test_webhook,
)
