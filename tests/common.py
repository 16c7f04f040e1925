"""Fixtures shared by the test suite.

Everything runs on real Odoo and PostgreSQL. Webhooks go over real HTTP to Odoo's
test server, signed with the SDK's own ``WebhookSignature`` helper; events are
processed by the real processing cron. The one stand-in is Stripe's HTTP API,
played by :class:`~.fake_stripe.FakeStripe` and reached through the real SDK via
the account's ``api_base``.
"""

import json
from pathlib import Path
from unittest.mock import patch

import polib
import stripe

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .. import const, utils
from .fake_stripe import FakeStripe, fast_sdk_retries

WEBHOOK_SECRET = "whsec_test_current"
API_KEY = "sk_test_connector"
# Markup an attacker may put in any text Stripe carries (metadata, reasons).
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="x">y</a>'


@tagged("post_install", "-at_install")
class StripeCommon(AccountTestInvoicingCommon, HttpCase):
    """A company with a Stripe account (test mode), its Stripe journal, fee
    account and payout bank journal, a fake Stripe API and two customers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = FakeStripe(api_keys={API_KEY}).start()
        cls.addClassCleanup(cls.fake.stop)
        # Retries are counted, never waited for: the SDK's own backoff and
        # Odoo's after a 429 take no time in tests.
        no_wait = fast_sdk_retries()
        no_wait.__enter__()
        cls.addClassCleanup(no_wait.__exit__, None, None, None)
        rate_limit_delay = patch.object(const, "API_RATE_LIMIT_BASE_DELAY", 0)
        rate_limit_delay.start()
        cls.addClassCleanup(rate_limit_delay.stop)
        cls.company = cls.company_data["company"]
        cls.stripe_account = cls.env["stripe.account"].create(
            {
                "name": "Stripe Test",
                "company_id": cls.company.id,
                "api_key": API_KEY,
                "webhook_secret": WEBHOOK_SECRET,
                "api_base": cls.fake.api_base,
                "payout_journal_id": cls.company_data["default_journal_bank"].id,
                "user_id": cls.env.user.id,
            }
        )
        cls.stripe_account.action_setup_accounting()
        cls.stripe_journal = cls.stripe_account.journal_id
        cls.fee_account = cls.stripe_account.fee_account_id
        cls.currency = cls.company.currency_id
        cls.customer = cls.env["res.partner"].create(
            {"name": "Azure Interior", "email": "azure@example.com"}
        )
        cls.customer_b = cls.env["res.partner"].create(
            {"name": "Deco Addict", "email": "deco@example.com"}
        )
        cls.cron = cls.env.ref("stripe_connector.ir_cron_stripe_event_process")

    def setUp(self):
        super().setUp()
        self.fake.reset()

    # === LANGUAGES === #

    def activate_french(self):
        """French installed as Odoo installs a language (the module's fr.po
        loaded): ``{msgid: msgstr}`` of the module's French catalog."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"].search(
            [("name", "=", "stripe_connector")]
        )._update_translations("fr_FR")
        catalog = polib.pofile(str(Path(__file__).parent.parent / "i18n" / "fr.po"))
        return {entry.msgid: entry.msgstr for entry in catalog}

    # === DOCUMENTS === #

    def create_eur_stripe_account(self, eur, **vals):
        """Another Stripe account in Odoo settling in EUR, with the test account's
        key and secret (one Stripe account settling in two currencies), its Stripe
        journal in EUR."""
        journal = self.env["account.journal"].create(
            {
                "name": "Stripe EUR",
                "type": "bank",
                "code": "STEU",
                "currency_id": eur.id,
            }
        )
        return self.env["stripe.account"].create(
            {
                "name": "Stripe EUR",
                "api_key": API_KEY,
                "webhook_secret": WEBHOOK_SECRET,
                "api_base": self.fake.api_base,
                "journal_id": journal.id,
                "fee_account_id": self.fee_account.id,
                **vals,
            }
        )

    def create_payment_transaction(self, reference, provider="stripe", **vals):
        """A transaction of one of Odoo's payment providers (``payment.transaction``)
        for the test customer, of 100 in the company currency by default."""
        return (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": self.env.ref(
                        f"payment.payment_provider_{provider}"
                    ).id,
                    "payment_method_id": self.env.ref("payment.payment_method_card").id,
                    "reference": reference,
                    "amount": 100.0,
                    "currency_id": self.currency.id,
                    "partner_id": self.customer.id,
                    **vals,
                }
            )
        )

    def create_invoice(
        self, amount, partner=None, currency=None, post=True, taxes=None, **vals
    ):
        """A customer invoice of one line (untaxed unless ``taxes``), posted by
        default."""
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": (partner or self.customer).id,
                "invoice_date": vals.pop("invoice_date", fields.Date.today()),
                "currency_id": (currency or self.currency).id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Consulting",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.set(taxes.ids if taxes else [])],
                        }
                    )
                ],
                **vals,
            }
        )
        if post:
            invoice.action_post()
        return invoice

    # === STRIPE OBJECTS AND WEBHOOKS === #

    def make_event(self, event_type, obj, **kwargs):
        """An event about ``obj``, built by the fake Stripe (also listable there)."""
        return self.fake.event(event_type, obj, **kwargs)

    def post_webhook(
        self,
        event=None,
        body=None,
        secret=WEBHOOK_SECRET,
        timestamp=None,
        signature=None,
        account=None,
        headers=None,
    ):
        """POST a webhook to Odoo over HTTP, signed like Stripe signs it.

        :param dict event: the event (serialised as Stripe does), or
        :param str body: the raw body.
        :param signature: the ``Stripe-Signature`` header; by default made with the
            SDK's ``WebhookSignature.generate_signature_header`` from ``secret``
            and ``timestamp``; ``False`` sends no header.
        :return: the ``requests`` response.
        """
        body = json.dumps(event, indent=2) if body is None else body
        if signature is None:
            signature = stripe.WebhookSignature.generate_signature_header(
                body, secret, timestamp=timestamp
            )
        all_headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature:
            all_headers["Stripe-Signature"] = signature
        all_headers.update(headers or {})
        account_id = (account or self.stripe_account).id
        return self.url_open(
            f"/stripe/webhook/{account_id}",
            data=body.encode() if isinstance(body, str) else body,
            headers=all_headers,
        )

    def process_events(self):
        """Run the processing cron as Odoo would, until no event is due."""
        for _i in range(20):
            self.cron.method_direct_trigger()
            self.env.invalidate_all()
            if not self.env["stripe.event"].search_count(
                self.env["stripe.event"]._due_domain()
            ):
                return
        raise AssertionError("events still due after 20 cron runs")

    def deliver(self, event_type, obj, process=True, account=None, **kwargs):
        """Post a signed event about ``obj`` (to ``account``, by default the test
        account) and, by default, process it.

        :return: the stored ``stripe.event``.
        """
        event = self.make_event(event_type, obj, **kwargs)
        response = self.post_webhook(event, account=account)
        self.assertEqual(response.status_code, 200, response.text)
        if process:
            self.process_events()
        return self.get_event(event["id"])

    def get_event(self, stripe_id):
        self.env.invalidate_all()
        return self.env["stripe.event"].search([("stripe_id", "=", stripe_id)])

    # === ASSERTIONS ON WHAT A USER SEES === #

    def account_balance(self, account, currency=False):
        """Balance of an account in this company (in the currency if given)."""
        self.env.flush_all()
        lines = self.env["account.move.line"].search(
            [
                ("account_id", "=", account.id),
                ("parent_state", "=", "posted"),
                ("company_id", "=", self.company.id),
            ]
        )
        if currency:
            return currency.round(sum(lines.mapped("amount_currency")))
        return self.currency.round(sum(lines.mapped("balance")))

    def journal_balance(self, journal=None):
        """Balance of the Stripe journal's own account: the Stripe balance in Odoo."""
        journal = journal or self.stripe_journal
        return self.account_balance(journal.default_account_id)

    def assertInvoice(self, invoice, residual, payment_state):
        invoice.invalidate_recordset()
        self.assertEqual(invoice.payment_state, payment_state)
        self.assertAlmostEqual(
            invoice.amount_residual,
            residual,
            places=invoice.currency_id.decimal_places,
        )

    def assertEscaped(self, html):
        """Stripe's markup (``HOSTILE``) shows as text: no tag of it is live."""
        html = str(html)
        self.assertNotIn("<img", html)
        self.assertNotIn("<a ", html)
        self.assertNotIn("<script", html)
        self.assertIn("&lt;img", html)

    def assertEvent(self, event, state, message_part=None):
        event.invalidate_recordset()
        self.assertEqual(event.state, state, event.state_message)
        if message_part:
            self.assertIn(message_part, event.state_message or "")


class RefundDisputeCommon(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dispute_account = cls.stripe_account.dispute_account_id
        cls.receivable = cls.customer.property_account_receivable_id

    def paid_invoice(self, amount=100.0, fee=300):
        """An invoice paid through Stripe: ``(invoice, charge)``."""
        invoice = self.create_invoice(amount)
        charge = self.fake.add_charge(
            int(amount * 100), "usd", fee=fee, metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done")
        self.assertInvoice(invoice, 0.0, "paid")
        return invoice, charge

    def customer_balance(self):
        return self.account_balance_for_partner(self.receivable, self.customer)

    def account_balance_for_partner(self, account, partner):
        self.env.flush_all()
        lines = self.env["account.move.line"].search(
            [
                ("account_id", "=", account.id),
                ("partner_id", "=", partner.id),
                ("parent_state", "=", "posted"),
            ]
        )
        return self.currency.round(sum(lines.mapped("balance")))

    def credit_notes(self, invoice):
        """The credit notes a user finds for the invoice: its reversals and those
        whose source document is the invoice."""
        return self.env["account.move"].search(
            [
                ("move_type", "=", "out_refund"),
                "|",
                ("reversed_entry_id", "=", invoice.id),
                ("invoice_origin", "=", invoice.name),
            ]
        )

    def assertStripeMirrored(self, disputed=0.0):
        """The Stripe journal balance equals Stripe's own balance, the fee account
        holds exactly Stripe's fees, the disputed payments account ``disputed``."""
        self.assertAlmostEqual(self.journal_balance(), self.fake.balance("usd") / 100)
        fees = sum(txn["fee"] for txn in self.fake.objects("balance_transaction"))
        self.assertAlmostEqual(self.account_balance(self.fee_account), fees / 100)
        self.assertAlmostEqual(self.account_balance(self.dispute_account), disputed)


class PayoutCommon(StripeCommon):
    """A Stripe account whose payouts arrive in the company's bank journal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bank_journal = cls.stripe_account.payout_journal_id
        cls.transfer_account = cls.company.transfer_account_id
        cls.dispute_account = cls.stripe_account.dispute_account_id
        cls.receivable = cls.customer.property_account_receivable_id

    # === STRIPE SIDE === #

    def pay(self, amount, currency="usd", account=None, **kw):
        """A charge on Stripe, registered in Odoo by its webhook.

        :return: the charge.
        """
        charge = self.fake.add_charge(amount, currency, **kw)
        event = self.deliver_to(
            account, "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done")
        return charge

    def pay_invoice(self, amount, **kw):
        """An invoice of ``amount`` paid through Stripe: ``(invoice, charge)``."""
        invoice = self.create_invoice(amount)
        charge = self.pay(
            round(amount * 100), metadata={"odoo_invoice": invoice.name}, **kw
        )
        self.assertInvoice(invoice, 0.0, "paid")
        return invoice, charge

    def deliver_to(self, account, event_type, obj):
        """``deliver`` to another Stripe account of Odoo than the default one."""
        if not account:
            return self.deliver(event_type, obj)
        event = self.make_event(event_type, obj)
        response = self.post_webhook(event, account=account)
        self.assertEqual(response.status_code, 200, response.text)
        self.process_events()
        return self.get_event(event["id"])

    def fees(self, currency="usd"):
        """What Stripe charged in fees so far (transaction fees and fee
        transactions), in major units."""
        total = sum(
            txn["fee"] - (txn["amount"] if txn["reporting_category"] == "fee" else 0)
            for txn in self.fake.objects("balance_transaction")
            if txn["currency"] == currency
        )
        return float(utils.from_minor_units(total, currency))

    # === ODOO SIDE === #

    def get_payout(self, payout):
        self.env.invalidate_all()
        return self.env["stripe.payout"].search([("stripe_id", "=", payout["id"])])

    def arrival(self, payout):
        return utils.timestamp_to_datetime(payout["arrival_date"]).date()

    def add_statement_line(self, amount, date, journal=None, **vals):
        return self.env["account.bank.statement.line"].create(
            {
                "journal_id": (journal or self.bank_journal).id,
                "date": date,
                "payment_ref": "STRIPE PAYOUT",
                "amount": amount,
                **vals,
            }
        )

    def reconcile_with_wizard(self, payouts, **vals):
        """Open the wizard as the Reconcile button does, and confirm it."""
        action = payouts.action_open_reconcile_wizard()
        wizard = (
            self.env[action["res_model"]].with_context(**action["context"]).create(vals)
        )
        wizard.action_confirm()
        self.env.invalidate_all()
        return wizard

    def open_wizard(self, payouts):
        action = payouts.action_open_reconcile_wizard()
        return (
            self.env[action["res_model"]].with_context(**action["context"]).create({})
        )

    def bank_balance(self, journal=None):
        return self.account_balance((journal or self.bank_journal).default_account_id)

    def assertStripeMirrored(
        self, currency="usd", journal=None, account_currency=False
    ):
        """The Stripe journal holds what Stripe's balance holds."""
        journal = journal or self.stripe_journal
        self.assertAlmostEqual(
            self.account_balance(journal.default_account_id, account_currency),
            self.fake.balance(currency) / 100,
            msg="the Stripe journal mirrors Stripe's balance",
        )

    def assertPayout(self, payout, state, message_part=None):
        payout.invalidate_recordset()
        self.assertEqual(payout.state, state, payout.state_message)
        if message_part:
            self.assertIn(message_part, payout.state_message or "")
