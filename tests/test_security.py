from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestSecurity(StripeCommon):
    """Who sees and changes what: secrets, groups, companies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accountant = new_test_user(
            cls.env,
            login="stripe_accountant",
            groups="account.group_account_invoice",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.stripe_manager = new_test_user(
            cls.env,
            login="stripe_manager",
            groups="stripe_connector.group_stripe_manager,account.group_account_invoice",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        other = cls.setup_other_company(name="Company B")
        cls.company_b = other["company"]
        cls.user_b = new_test_user(
            cls.env,
            login="stripe_user_b",
            groups="account.group_account_manager",
            company_id=cls.company_b.id,
            company_ids=[cls.company_b.id],
        )
        cls.account_b = cls.env["stripe.account"].create(
            {"name": "Stripe B", "company_id": cls.company_b.id}
        )

    def setUp(self):
        super().setUp()
        self.event = self.deliver("customer.created", self.fake.add_customer())

    def test_accounting_user_reads_the_log_but_not_the_secrets(self):
        account = self.stripe_account.with_user(self.accountant)
        self.assertEqual(account.name, "Stripe Test")
        self.assertTrue(account.has_api_key)
        for field in ("api_key", "webhook_secret", "webhook_secret_previous"):
            with self.subTest(field=field), self.assertRaises(AccessError):
                account.read([field])
        with self.assertRaises(AccessError):
            account.write({"webhook_secret": "whsec_mine"})
        event = self.event.with_user(self.accountant)
        self.assertEqual(event.state, "ignored")
        with self.assertRaises(AccessError):
            event.action_mark_ignored()

    def test_stripe_manager_configures_without_seeing_secrets(self):
        """Settings administrators only see and change secrets; a Stripe manager
        runs the accounts and the log."""
        account = self.stripe_account.with_user(self.stripe_manager)
        account.write({"payment_tolerance": 3})
        with self.assertRaises(AccessError):
            account.read(["api_key"])
        # The API base decides where the secret key is sent.
        with self.assertRaises(AccessError):
            account.write({"api_base": "https://attacker.example"})
        self.event.with_user(self.stripe_manager).action_retry()
        self.assertEqual(self.event.state, "ignored")

    def test_secrets_are_not_copied(self):
        copy = self.stripe_account.copy()
        self.assertFalse(copy.api_key)
        self.assertFalse(copy.webhook_secret)
        self.assertEqual(copy.api_base, self.stripe_account.api_base)

    def test_other_company_sees_nothing(self):
        """A user of company B sees neither company A's accounts nor its events."""
        accounts = self.env["stripe.account"].with_user(self.user_b).search([])
        self.assertEqual(accounts, self.account_b)
        events = self.env["stripe.event"].with_user(self.user_b).search([])
        self.assertFalse(events)
        with self.assertRaises(AccessError):
            self.event.with_user(self.user_b).read(["state"])
        with self.assertRaises(AccessError):
            self.stripe_account.with_user(self.user_b).read(["name"])
