from . import (
    account_journal,
    account_payment,
    res_config_settings,
    res_partner,
    sale_order,
    stripe_account,
    stripe_event,
    stripe_event_payment,
)
