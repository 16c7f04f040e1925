# Models grouped by domain, as Odoo groups Discuss inside mail (mail/models/discuss).
# A package extends only models of the packages imported before it, and defines
# each model once (tests/test_layout.py checks both).
from . import core
from . import payments
from . import refunds
from . import disputes
from . import payouts
from . import billing
from . import payment_links
from . import subscriptions
from . import monitoring
from . import month_end
from . import demo
