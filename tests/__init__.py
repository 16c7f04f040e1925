from . import (
    test_account,
    test_concurrency,
    test_event_processing,
    test_payments,
    test_payouts,
    test_refunds_disputes,
    test_security,
    test_utils,
    test_webhook,
    test_monitoring,
    test_overview_tour,
)
