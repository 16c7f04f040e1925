from . import stripe_alert
from . import stripe_balance_check
from . import stripe_account
from . import stripe_event
from . import account_journal
