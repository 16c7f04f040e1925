from . import stripe_account
