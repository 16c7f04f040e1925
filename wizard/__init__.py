from . import account_payment_register, stripe_payout_import, stripe_payout_reconcile
from . import stripe_event_ignore
from . import stripe_go_live
