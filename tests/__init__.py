from . import (
    test_account,
    test_billing,
    test_billing_mapping,
    test_concurrency,
    test_event_processing,
    test_payments,
    test_payouts,
    test_refunds_disputes,
    test_security,
    test_utils,
    test_webhook,
)
