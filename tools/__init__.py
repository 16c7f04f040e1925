from . import billing, payout, subscription
