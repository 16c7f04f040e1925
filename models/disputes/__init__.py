from . import stripe_dispute
from . import stripe_event
