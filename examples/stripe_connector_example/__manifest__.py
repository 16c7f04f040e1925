{
    "name": "Stripe Connector: Extension Example",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "summary": "How another addon extends stripe_connector: an event type, a "
    "payment rule and a payout booker",
    "author": "stripe_connector contributors",
    "website": "https://github.com/stripe-connector/stripe_connector",
    "license": "LGPL-3",
    "depends": ["stripe_connector"],
    "installable": True,
}
