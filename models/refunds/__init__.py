from . import stripe_event
from . import account_move
