"""Stripe Billing: which partner a Stripe customer is, which product a Stripe
product is."""

from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestBillingMapping(StripeCommon):
    def partner_from(self, customer, account=None):
        return self.env["res.partner"]._stripe_partner_from_customer(
            account or self.stripe_account, customer
        )

    def test_partner_by_stripe_customer_id_first(self):
        """The partner holding the Stripe customer id wins over an e-mail match."""
        self.customer_b.stripe_customer_id = "cus_known"
        partner = self.partner_from({"id": "cus_known", "email": "azure@example.com"})
        self.assertEqual(partner, self.customer_b)

    def test_partner_by_email_learns_customer_id(self):
        """A partner found by e-mail keeps the Stripe customer id from then on."""
        partner = self.partner_from({"id": "cus_new", "email": "AZURE@example.com"})
        self.assertEqual(partner, self.customer)
        self.assertEqual(self.customer.stripe_customer_id, "cus_new")
        self.assertEqual(self.partner_from("cus_new"), self.customer)

    def test_partner_created_from_customer_read_through_api(self):
        """Unknown customer, account with a key: the customer is read (with its
        tax ids) and a partner is made of it, in the account's company."""
        customer = self.fake.add_customer(
            email="billing@northwind.example",
            name="Northwind GmbH",
            phone="+49 30 1234",
            address={
                "line1": "Unter den Linden 1",
                "city": "Berlin",
                "postal_code": "10117",
                "country": "DE",
            },
            tax_ids=[("eu_vat", "DE123456789")],
        )
        partner = self.partner_from(customer["id"])
        self.assertRecordValues(
            partner,
            [
                {
                    "name": "Northwind GmbH",
                    "email": "billing@northwind.example",
                    "phone": "+49 30 1234",
                    "street": "Unter den Linden 1",
                    "city": "Berlin",
                    "zip": "10117",
                    "country_id": self.env.ref("base.de").id,
                    "vat": "DE123456789",
                    "is_company": True,
                    "stripe_customer_id": customer["id"],
                    "company_id": self.company.id,
                }
            ],
        )
        requests = self.fake.requests_for(f"/v1/customers/{customer['id']}")
        self.assertEqual(requests[0].query.get("expand"), ["tax_ids"])
        # Found again by its id, not created twice.
        self.assertEqual(self.partner_from(customer["id"]), partner)

    def test_partner_created_from_invoice_fields_without_key(self):
        """Without a key the customer is what the invoice says of it."""
        self.stripe_account.api_key = False
        partner = self.partner_from(
            {
                "id": "cus_nokey",
                "email": "nokey@example.com",
                "name": "No Key Ltd",
                "address": {"country": "BE", "city": "Liège"},
                "tax_ids": [{"type": "eu_vat", "value": "BE0477472701"}],
            }
        )
        self.assertRecordValues(
            partner,
            [
                {
                    "name": "No Key Ltd",
                    "city": "Liège",
                    "country_id": self.env.ref("base.be").id,
                    "vat": "BE0477472701",
                    "stripe_customer_id": "cus_nokey",
                }
            ],
        )
        self.assertFalse(self.fake.requests_for("/v1/customers"))

    def test_customer_update_keeps_what_user_changed(self):
        """Stripe's changes reach the fields a user left alone; a field the user
        changed in Odoo since keeps the user's value; an older snapshot changes
        nothing."""
        customer = self.fake.add_customer(
            email="ops@contoso.example",
            name="Contoso",
            address={"line1": "1 Main St", "city": "Springfield", "country": "US"},
        )
        partner = self.partner_from(customer["id"])
        partner.street = "1 Main Street, Suite 5"  # the accountant's correction
        changed = dict(
            customer,
            name="Contoso Inc.",
            address=dict(customer["address"], line1="9 Elm St", city="Shelbyville"),
        )
        written, kept = partner._stripe_update_from_customer(
            changed, customer["created"] + 60
        )
        self.assertEqual(partner.name, "Contoso Inc.")
        self.assertEqual(partner.city, "Shelbyville")
        self.assertEqual(partner.street, "1 Main Street, Suite 5")
        self.assertIn("street", kept)
        self.assertIn("name", written)
        # A late delivery of an older snapshot.
        partner._stripe_update_from_customer(
            dict(customer, name="Contoso (old)"), customer["created"] + 30
        )
        self.assertEqual(partner.name, "Contoso Inc.")

    def test_customer_update_of_partner_found_by_email(self):
        """A partner typed in Odoo before it met Stripe: only what Stripe changes
        reaches it, the rest of its data stays as typed."""
        self.customer.street = "12 Rue du Lac"
        partner = self.partner_from({"id": "cus_azure", "email": "azure@example.com"})
        self.assertEqual(partner, self.customer)
        customer = {
            "id": "cus_azure",
            "email": "azure@example.com",
            "name": "Azure Interior SA",
            "address": None,
            "phone": None,
        }
        partner._stripe_update_from_customer(
            customer, 1_800_000_000, previous={"name": "Azure Interior"}
        )
        self.assertEqual(partner.name, "Azure Interior SA")
        self.assertEqual(partner.street, "12 Rue du Lac")

    def test_product_by_stripe_product_then_default(self):
        """A Stripe product maps to the Odoo product naming it, else to the
        account's default subscription product."""
        product_model = self.env["product.product"]
        plan = product_model.create({"name": "Pro plan"})
        plan.product_tmpl_id.stripe_product_id = "prod_pro"
        default = product_model.create({"name": "Subscription"})
        account = self.stripe_account
        self.assertEqual(product_model._stripe_find_product(account, "prod_pro"), plan)
        self.assertFalse(product_model._stripe_find_product(account, "prod_other"))
        account.subscription_product_id = default
        self.assertEqual(
            product_model._stripe_find_product(account, "prod_other"), default
        )
        self.assertEqual(product_model._stripe_find_product(account, None), default)
