from . import stripe_owned_mixin
from . import stripe_binding_mixin
from . import stripe_account
from . import stripe_event
from . import account_journal
from . import account_payment_method
from . import res_config_settings
