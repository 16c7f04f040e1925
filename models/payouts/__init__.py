from . import stripe_payout
from . import stripe_balance_transaction
from . import stripe_event
from . import account_bank_statement_line
