from . import (
    account_journal,
    account_move,
    account_payment,
    res_config_settings,
    res_partner,
    sale_order,
    stripe_account,
    stripe_dispute,
    stripe_event,
    stripe_event_dispute,
    stripe_event_payment,
    stripe_event_refund,
)
