from . import stripe_account, stripe_event, stripe_payment_rules, stripe_payout
