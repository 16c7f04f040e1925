from . import stripe_account
from . import res_partner
from . import account_move
from . import account_move_send
from . import stripe_event
