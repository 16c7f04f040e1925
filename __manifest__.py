{
    "name": "Stripe Connector",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "summary": "Stripe webhooks, payments, refunds, disputes and payouts in Odoo "
    "accounting, reconciled automatically",
    "author": "stripe_connector contributors",
    "maintainers": ["stripe-connector"],
    "website": "https://github.com/stripe-connector/stripe_connector",
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["account", "sale"],
    "external_dependencies": {"python": ["stripe"]},
    "data": [],
    "demo": [],
    "application": True,
    "installable": True,
}
