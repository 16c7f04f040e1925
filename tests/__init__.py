from . import (
    test_concurrency,
    test_event_processing,
    test_payments,
    test_security,
    test_utils,
    test_webhook,
)
