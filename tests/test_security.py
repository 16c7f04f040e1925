from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import API_KEY, WEBHOOK_SECRET, StripeCommon

SECRETS = ("api_key", "webhook_secret", "webhook_secret_previous")


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
        cls.settings_admin = new_test_user(
            cls.env,
            login="stripe_settings_admin",
            groups="base.group_system,stripe_connector.group_stripe_manager,"
            "account.group_account_invoice",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        other = cls.setup_other_company(name="Company B")
        cls.company_b = other["company"]
        cls.bank_journal_b = other["default_journal_bank"]
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
        self.event = self.deliver("customer.source.expiring", self.fake.add_customer())

    def test_accounting_user_reads_the_log_but_not_the_secrets(self):
        account = self.stripe_account.with_user(self.accountant)
        self.assertEqual(account.name, "Stripe Test")
        self.assertTrue(account.has_api_key)
        for field in SECRETS:
            with self.subTest(field=field), self.assertRaises(AccessError):
                account.read([field])
        event = self.event.with_user(self.accountant)
        self.assertEqual(event.state, "ignored")
        with self.assertRaises(AccessError):
            event.action_mark_ignored()

    def test_stripe_manager_configures_without_seeing_secrets(self):
        """Settings administrators only see and change secrets; a Stripe manager
        runs the accounts and the log."""
        self.assertFalse(self.stripe_manager.has_group("base.group_system"))
        account = self.stripe_account.with_user(self.stripe_manager)
        account.write({"payment_tolerance": 3})
        self.assertEqual(self.stripe_account.payment_tolerance, 3)
        for field in SECRETS:
            with self.subTest(field=field):
                with self.assertRaises(AccessError):
                    account.read([field])
                with self.assertRaises(AccessError):
                    account.write({field: "whsec_mine"})
        self.assertEqual(self.stripe_account.webhook_secret, WEBHOOK_SECRET)
        self.assertEqual(self.stripe_account.api_key, API_KEY)
        self.assertFalse(self.stripe_account.webhook_secret_previous)
        # The API base decides where the secret key is sent.
        with self.assertRaises(AccessError):
            account.write({"api_base": "https://attacker.example"})
        self.event.with_user(self.stripe_manager).action_retry()
        self.assertEqual(self.event.state, "ignored")

    def test_settings_administrator_reads_and_writes_secrets(self):
        """A Settings administrator (who manages Stripe) reads and changes the
        secrets."""
        account = self.stripe_account.with_user(self.settings_admin)
        values = account.read(list(SECRETS))[0]
        self.assertEqual(values["api_key"], API_KEY)
        self.assertEqual(values["webhook_secret"], WEBHOOK_SECRET)
        self.assertFalse(values["webhook_secret_previous"])
        new = {
            "api_key": "sk_test_new",
            "webhook_secret": "whsec_new",
            "webhook_secret_previous": "whsec_previous",
        }
        self.assertEqual(set(new), set(SECRETS))
        account.write(new)
        self.assertEqual(account.read(list(SECRETS))[0], {"id": account.id, **new})

    def test_secrets_are_not_copied(self):
        """Duplicating an account, as a Settings administrator or as a Stripe
        manager, copies none of the secrets (the API base is kept)."""
        self.stripe_account.webhook_secret_previous = "whsec_test_previous"
        for user in (self.settings_admin, self.stripe_manager):
            with self.subTest(user=user.login):
                copy = self.stripe_account.with_user(user).copy().sudo()
                self.assertFalse(copy.api_key)
                self.assertFalse(copy.webhook_secret)
                self.assertFalse(copy.webhook_secret_previous)
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

    def test_other_company_cannot_read_the_wizards(self):
        """The payout wizards of company A (import, reconcile and its charge
        lines) belong to company A: a Stripe manager of company B cannot read
        them by id, and the bank journal must be one of company A's."""
        import_wizard = self.env["stripe.payout.import"].create(
            {"account_id": self.stripe_account.id}
        )
        payout = self.env["stripe.payout"].create(
            {
                "stripe_id": "po_security",
                "account_id": self.stripe_account.id,
                "currency_id": self.currency.id,
                "amount": 10.0,
                "automatic": True,
            }
        )
        self.env["stripe.balance.transaction"].create(
            {
                "stripe_id": "txn_security",
                "account_id": self.stripe_account.id,
                "payout_id": payout.id,
                "currency_id": self.currency.id,
                "type": "charge",
                "reporting_category": "charge",
                "stripe_source_id": "ch_security",
                "amount": 10.0,
                "net": 10.0,
            }
        )
        reconcile_wizard = (
            self.env["stripe.payout.reconcile"]
            .with_context(**payout.action_open_reconcile_wizard()["context"])
            .create({})
        )
        charge_line = reconcile_wizard.charge_line_ids
        self.assertEqual(len(charge_line), 1)
        self.assertTrue(self.user_b.has_group("stripe_connector.group_stripe_manager"))
        for wizard in (import_wizard, reconcile_wizard, charge_line):
            with self.subTest(model=wizard._name):
                self.assertEqual(wizard.company_id, self.company)
                wizard.with_user(self.stripe_manager).read(["company_id"])
                with self.assertRaises(AccessError):
                    wizard.with_user(self.user_b).read(["company_id"])
                self.assertFalse(
                    wizard.with_user(self.user_b).search([("id", "=", wizard.id)])
                )
        self.assertEqual(
            reconcile_wizard.bank_journal_id, self.stripe_account.payout_journal_id
        )
        with self.assertRaises(UserError):
            reconcile_wizard.bank_journal_id = self.bank_journal_b

    def test_reconcile_payouts_of_one_company_at_a_time(self):
        """Payouts of two companies picked together: the wizard proposes no bank
        journal and says why nothing can be booked."""
        payouts = self.env["stripe.payout"].create(
            [
                {
                    "stripe_id": f"po_{account.id}",
                    "account_id": account.id,
                    "currency_id": self.currency.id,
                    "automatic": True,
                }
                for account in (self.account_b, self.stripe_account)
            ]
        )
        wizard = (
            self.env["stripe.payout.reconcile"]
            .with_context(**payouts.action_open_reconcile_wizard()["context"])
            .create({})
        )
        self.assertFalse(wizard.bank_journal_id)
        self.assertFalse(wizard.can_confirm)
        self.assertIn("one company at a time", wizard.blockers)
        with self.assertRaises(UserError):
            wizard.action_confirm()
