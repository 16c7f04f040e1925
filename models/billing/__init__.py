from . import stripe_tax_rate
from . import stripe_invoice_payment
from . import stripe_billing_import
from . import stripe_account
from . import stripe_event
from . import stripe_payment_rules
from . import account_move
from . import product_template
