from . import test_payments, test_webhook
