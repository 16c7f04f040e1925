from . import stripe_subscription
from . import stripe_mrr_report
from . import stripe_account
from . import stripe_event
from . import res_partner
from . import account_move
