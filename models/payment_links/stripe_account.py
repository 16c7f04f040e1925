from odoo import _, api, fields, models

from ... import const, utils


class StripeAccount(models.Model):
    """Payment links: the Checkout Sessions an Odoo invoice's link opens, and the
    account's settings for them (on/off, methods offered, where the customer
    lands)."""

    _inherit = "stripe.account"

    payment_link_enabled = fields.Boolean(
        string="Payment Links",
        default=True,
        help="Give every open customer invoice of the company a Stripe payment "
        "link (in its e-mail, on its PDF and on its portal page). It needs the "
        "secret key.",
    )
    payment_link_card = fields.Boolean(string="Cards", default=True)
    payment_link_sepa_debit = fields.Boolean(
        string="SEPA Direct Debit",
        help="Invoices in EUR. The payment completes days after the customer "
        "confirms it.",
    )
    payment_link_us_bank_account = fields.Boolean(
        string="ACH Direct Debit",
        help="Invoices in USD. The payment completes days after the customer "
        "confirms it.",
    )
    payment_link_bacs_debit = fields.Boolean(
        string="Bacs Direct Debit",
        help="Invoices in GBP. The payment completes days after the customer "
        "confirms it.",
    )
    payment_link_customer_balance = fields.Boolean(
        string="Bank Transfer",
        help="The customer transfers the amount to a bank account Stripe gives "
        "them (EUR, USD, GBP, JPY, MXN); the invoice is paid when the transfer "
        "arrives.",
    )
    payment_link_success_url = fields.Char(
        string="Page After Payment",
        help="Where Stripe sends the customer after paying. Empty: the "
        "invoice's portal page.",
    )
    payment_link_cancel_url = fields.Char(
        string="Page When Going Back",
        help="Where Stripe sends the customer who leaves the payment page. "
        "Empty: the invoice's portal page.",
    )

    # === BUSINESS METHODS === #

    @api.model
    def _stripe_payment_link_account(self, company, currency):
        """The account that collects a company's invoices through payment links:
        active, with a secret key and payment links on; the one settling in the
        invoice's currency first.

        :return: a ``stripe.account``, possibly empty.
        """
        # sudo: the secret key is readable by administrators only; whether one is
        # set decides whether the link exists, for anyone who sees the invoice.
        accounts = (
            self.sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("payment_link_enabled", "=", True),
                    ("api_key", "!=", False),
                ],
                order="id",
            )
            .filtered(lambda account: any(account._stripe_payment_link_methods(None)))
        )
        return (
            accounts.filtered(lambda account: account.currency_id == currency)[:1]
            or accounts[:1]
        )

    def _stripe_payment_link_methods(self, currency):
        """The payment method types this account offers for ``currency`` (all
        those switched on when ``currency`` is None)."""
        self.ensure_one()
        code = currency.name if currency else None
        methods = []
        for method, currencies in const.PAYMENT_LINK_METHODS.items():
            if not self[f"payment_link_{method}"]:
                continue
            if code and currencies and code not in currencies:
                continue
            if (
                code == "EUR"
                and method == "customer_balance"
                and self.company_id.country_id.code
                not in const.PAYMENT_LINK_EU_TRANSFER_COUNTRIES
            ):
                continue
            methods.append(method)
        return methods

    def _stripe_checkout_session_params(self, invoice, amount, customer_id):
        """The parameters of the Checkout Session that collects ``amount`` (minor
        units of the invoice's currency) of an invoice."""
        self.ensure_one()
        currency = invoice.currency_id
        methods = self._stripe_payment_link_methods(currency)
        portal_url = invoice.get_base_url() + invoice.get_portal_url()
        metadata = {"odoo_invoice_id": str(invoice.id), "odoo_invoice": invoice.name}
        label = _("Invoice %s", invoice.name)
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.name.lower(),
                        "unit_amount": amount,
                        "product_data": {"name": label},
                    },
                }
            ],
            "client_reference_id": invoice.name,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": label},
            "allowed_payment_method_types": methods,
            "customer": customer_id,
            "success_url": self.payment_link_success_url or portal_url,
            "cancel_url": self.payment_link_cancel_url or portal_url,
        }
        if "customer_balance" in methods:
            transfer = {"type": const.PAYMENT_LINK_BANK_TRANSFER_TYPES[currency.name]}
            if currency.name == "EUR":
                transfer["eu_bank_transfer"] = {
                    "country": self.company_id.country_id.code
                }
            params["payment_method_options"] = {
                "customer_balance": {
                    "funding_type": "bank_transfer",
                    "bank_transfer": transfer,
                }
            }
        return params

    def _stripe_create_checkout_session(self, invoice, amount, customer_id):
        """Create the Checkout Session of ``amount`` (minor units) of an invoice.

        :return: the session (dict).
        :raise UserError: Stripe refused.
        """
        self.ensure_one()
        return self._stripe_call(
            _("the payment page of %s", invoice.name),
            "checkout.sessions",
            "create",
            params=self._stripe_checkout_session_params(invoice, amount, customer_id),
        ).to_dict()

    def _stripe_get_checkout_session(self, session_id):
        """The Checkout Session as Stripe has it now (dict).

        :raise UserError: Stripe refused.
        """
        self.ensure_one()
        return self._stripe_call(
            _("Checkout Session %s", session_id),
            "checkout.sessions",
            "retrieve",
            session_id,
        ).to_dict()

    def _stripe_expire_checkout_session(self, session_id):
        """Close an open Checkout Session whose amount is no longer due, so that
        nobody pays it any more; best effort (a session Stripe cannot expire is
        already over, and one paid anyway is the customer's credit).

        :return: whether Stripe expired it.
        """
        self.ensure_one()
        session, _error = self._stripe_read(
            _("Checkout Session %s", session_id),
            "checkout.sessions",
            "expire",
            session_id,
        )
        return bool(session)

    def _stripe_create_customer(self, partner):
        """Create the Stripe customer of a partner (name, e-mail, its Odoo id).

        :return: the customer's id.
        :raise UserError: Stripe refused.
        """
        self.ensure_one()
        params = {
            "name": partner.name,
            "metadata": {"odoo_partner_id": str(partner.id)},
        }
        if partner.email:
            params["email"] = partner.email
        customer = self._stripe_call(
            _("the Stripe customer of %s", partner.display_name),
            "customers",
            "create",
            params=params,
        )
        return customer.id

    @api.model
    def _stripe_session_amount(self, invoice):
        """What an invoice's link asks for now: its residual in minor units."""
        return utils.to_minor_units(invoice.amount_residual, invoice.currency_id.name)
