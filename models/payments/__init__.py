from . import stripe_payment_rules
from . import stripe_account
from . import stripe_event
from . import account_move
from . import account_payment
from . import res_partner
from . import sale_order
