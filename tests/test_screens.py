import json
import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import polib

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from .. import utils
from .common import API_KEY, WEBHOOK_SECRET, PayoutCommon, StripeCommon

EVENT_LOGGER = "odoo.addons.stripe_connector.models.core.stripe_event"
README = Path(__file__).resolve().parent.parent / "README.rst"


@tagged("post_install", "-at_install")
class TestEventScreens(StripeCommon):
    """The event log as an accountant solves a failed event from its form."""

    def unmatched_payment(self, amount=14700, **kw):
        """A payment nothing names: its event fails."""
        kw.setdefault("customer", "cus_screens")
        charge = self.fake.add_charge(amount, "usd", **kw)
        intent = self.fake.get(charge["payment_intent"])
        event = self.deliver("payment_intent.succeeded", intent)
        self.assertEvent(event, "failed")
        return event, intent

    def test_failed_event_says_what_it_is_about(self):
        event, intent = self.unmatched_payment(description="Order 77 by phone")
        amount = self.currency.format(147.0)
        self.assertEqual(event.title, f"Payment of {amount} from cus_screens")
        self.assertEqual(event.amount, 147.0)
        self.assertEqual(event.currency_id, self.currency)
        self.assertEqual(event.stripe_customer_id, "cus_screens")
        self.assertEqual(event.description, "Order 77 by phone")
        self.assertEqual(
            event.object_date, utils.timestamp_to_datetime(intent["created"])
        )
        # Stored: searchable from the log's search box, and columns of the list.
        self.assertEqual(
            self.env["stripe.event"].search(
                [("stripe_customer_id", "=", "cus_screens")]
            ),
            event,
        )
        arch = self.env["stripe.event"].get_view(view_type="list")["arch"]
        for name in ("title_text", "amount", "stripe_customer_id", "customer_email"):
            self.assertIn(f'name="{name}"', arch)

    def test_title_of_other_kinds_and_email(self):
        """Titled by its type until processed, then by what it is about."""
        payout = self.fake.add_payout(amount=5000, currency="usd")
        payout_event = self.deliver("payout.paid", payout, process=False)
        self.assertEqual(payout_event.title, "payout.paid")
        event = self.deliver("customer.source.expiring", self.fake.add_customer())
        self.assertEqual(event.title, "customer.source.expiring")
        self.assertEqual(payout_event.title, f"Payout of {self.currency.format(50.0)}")
        charge = self.fake.add_charge(
            2500, "usd", billing_details={"email": "who@example.com"}, customer=None
        )
        intent = dict(self.fake.get(charge["payment_intent"]))
        intent["receipt_email"] = "who@example.com"
        event = self.deliver("payment_intent.payment_failed", intent)
        self.assertEqual(
            event.title,
            f"Failed payment of {self.currency.format(25.0)} from who@example.com",
        )

    def test_messages_are_in_the_accounts_language_titles_in_the_readers(self):
        """An account whose responsible user reads French: every handler's
        message, stored title and chatter are written in French, and stay French
        when an English-speaking user retries; the title shown is in the
        reader's language; Billing events are titled in words."""
        french = self.activate_french()
        self.stripe_account.user_id = new_test_user(
            self.env,
            login="stripe_french_lead",
            groups="stripe_connector.group_stripe_manager,account.group_account_user",
            company_id=self.company.id,
            company_ids=[self.company.id],
            lang="fr_FR",
        )
        self.assertEqual(self.stripe_account._stripe_message_lang(), "fr_FR")
        with mute_logger(EVENT_LOGGER):
            event, _intent = self.unmatched_payment()
        no_match = french["No invoice or order matches this payment. Tried: %s."]
        self.assertTrue(event.state_message.startswith(no_match.split("%s")[0]))
        self.assertNotIn("No invoice or order matches", event.state_message)
        amount = self.currency.format(147.0)
        french_title = french["%(kind)s of %(amount)s from %(who)s"] % {
            "kind": french["Payment"],
            "amount": self.currency.with_context(lang="fr_FR").format(147.0),
            "who": "cus_screens",
        }
        self.assertEqual(event.title, french_title, "stored for searching")
        # Shown in the reader's language.
        self.assertEqual(
            event.with_context(lang="en_US").title_text,
            f"Payment of {amount} from cus_screens",
        )
        self.assertEqual(event.with_context(lang="fr_FR").title_text, french_title)
        # An English-speaking user retries: the message stays French.
        self.assertEqual(self.env.user.lang, "en_US")
        with mute_logger(EVENT_LOGGER):
            event.with_context(lang="en_US").action_retry()
        self.assertTrue(event.state_message.startswith(no_match.split("%s")[0]))
        # Another handler, another state: a refund waiting for its payment.
        charge = self.fake.add_charge(2500, "usd", customer="cus_screens")
        waiting = self.deliver("refund.created", self.fake.add_refund(charge["id"]))
        self.assertEqual(waiting.state, "waiting")
        self.assertTrue(
            waiting.state_message.startswith(
                french[
                    "Waiting for the payment %(payment)s this refund is for. If it "
                    "was paid before Odoo was connected to Stripe, pick its invoice "
                    "on this event and click Retry."
                ].split("%(payment)s")[0]
            )
        )
        # Billing events are titled in words, in the reader's language.
        finalized = self.deliver(
            "invoice.finalized", self.fake.add_customer(), process=False
        )
        self.assertEqual(
            finalized.with_context(lang="en_US").title_text, "Stripe invoice finalized"
        )
        self.assertEqual(
            finalized.with_context(lang="fr_FR").title_text,
            french["Stripe invoice finalized"],
        )

    def test_invoice_to_pay_offers_open_invoices_likely_first(self):
        both = self.create_invoice(147.0)  # same customer, same amount
        same_amount = self.create_invoice(147.0, partner=self.customer_b)
        same_customer = self.create_invoice(50.0)
        other = self.create_invoice(80.0, partner=self.customer_b)
        paid = self.create_invoice(147.0)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=paid.ids
        ).create({})._create_payments()
        self.assertInvoice(paid, 0.0, "paid")
        event, _intent = self.unmatched_payment()
        # Known since (the rules would have matched the customer's only invoice
        # of that amount).
        self.customer.stripe_customer_id = "cus_screens"

        choices = (
            self.env["account.move"]
            .with_context(stripe_pick_event_id=event.id)
            .name_search(
                "",
                [
                    ("move_type", "in", ("out_invoice", "out_receipt")),
                    ("state", "=", "posted"),
                    ("payment_state", "in", ("not_paid", "partial")),
                    ("company_id", "=", event.company_id.id),
                ],
            )
        )
        ids = [id_ for id_, _label in choices]
        self.assertNotIn(paid.id, ids, "a paid invoice is not offered")
        self.assertEqual(ids[0], both.id, "same customer and amount first")
        self.assertEqual(set(ids[1:3]), {same_amount.id, same_customer.id})
        self.assertIn(other.id, ids[3:])
        label = dict(choices)[both.id]
        self.assertIn("Suggested", label)
        self.assertIn(self.customer.name, label)
        self.assertIn(f"due {self.currency.format(147.0)}", label)
        self.assertNotIn("Suggested", dict(choices)[other.id])
        # The field's own domain leaves paid invoices out too.
        self.assertIn("payment_state", event._fields["invoice_id"].domain)

        # Picked and retried: the invoice is paid, its chatter names the payment.
        event.invoice_id = both
        event.action_retry()
        self.assertEvent(event, "done")
        self.assertInvoice(both, 0.0, "paid")

    def test_mark_ignored_asks_a_reason_when_money_was_to_be_booked(self):
        event, _intent = self.unmatched_payment(amount=12345)
        action = event.action_mark_ignored()
        self.assertEqual(action["res_model"], "stripe.event.ignore")
        self.assertEvent(event, "failed")
        wizard = Form(self.env["stripe.event.ignore"].with_context(**action["context"]))
        self.assertIn(self.currency.format(123.45), wizard.summary)
        with self.assertRaises(AssertionError):  # the reason is required
            wizard.save()
        # One event: the dialog speaks of it in the singular.
        self.assertTrue(wizard.is_single)
        arch = ElementTree.fromstring(
            self.env["stripe.event.ignore"].get_view(view_type="form")["arch"]
        )
        single = arch.find(".//strong[@class='o_stripe_ignore_single']")
        self.assertEqual(single.text, "This event would have booked money:")
        self.assertEqual(single.get("invisible"), "not is_single")
        messages_before = len(event.message_ids)
        wizard.reason = "Paid twice; refunded in Stripe"
        wizard.save().action_confirm()
        # The reason is on the event, and said once in its chatter.
        self.assertEvent(event, "ignored", "Reason: Paid twice; refunded in Stripe")
        self.assertIn("Marked as ignored", event.state_message)
        new_messages = event.message_ids[: len(event.message_ids) - messages_before]
        # (The activity of the failed event is marked done too, its own note.)
        said = [
            m
            for m in new_messages
            if "Marked as ignored" in (m.body or "")
            and m.subtype_id != self.env.ref("mail.mt_activities")
        ]
        self.assertEqual(len(said), 1, "logged once")
        self.assertIn("Paid twice; refunded in Stripe", said[0].body)
        # An event that books nothing is ignored at once.
        other = self.deliver("customer.source.expiring", self.fake.add_customer())
        other.write({"state": "failed"})
        self.assertTrue(other.action_mark_ignored())
        self.assertEvent(other, "ignored")

    def test_documents_button_opens_documents_of_several_kinds(self):
        invoice = self.create_invoice(100.0)
        charge = self.fake.add_charge(
            10000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done")
        self.assertTrue(event.payment_ids and event.move_ids)
        action = event.action_open_documents()
        self.assertTrue(action, "the button opens something")
        self.assertEqual(action["res_model"], "account.move")
        opened = self.env["account.move"].search(action["domain"])
        self.assertIn(invoice, opened)
        self.assertIn(event.payment_ids.move_id, opened)

    def test_attempts_count_the_processing_that_succeeded(self):
        invoice = self.create_invoice(10.0)
        charge = self.fake.add_charge(
            1000, "usd", metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done")
        self.assertEqual(event.attempts, 1)

    def test_curl_example_posts_an_event_of_now(self):
        text = README.read_text()
        block = re.search(r"    ts=\$\(date \+%s\)\n(?:    .*\n)+", text).group(0)
        script = "\n".join(line[4:] for line in block.splitlines())
        script = script.replace("whsec_demo_stripe_connector", WEBHOOK_SECRET).replace(
            "http://localhost:8069/stripe/webhook/1",
            f"{self.base_url()}/stripe/webhook/{self.stripe_account.id}",
        )
        # curl runs in another process: the test server answers it on another
        # thread while this one waits.
        before = fields.Datetime.now().replace(microsecond=0)
        result = subprocess.run(
            ["bash", "-c", script + "\n"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('"received": true', result.stdout)
        self.process_events()  # what it is about is read then
        event = self.env["stripe.event"].search(
            [("type", "=", "payment_intent.succeeded")]
        )
        self.assertEqual(len(event), 1)
        payload = json.loads(event.payload)
        self.assertGreaterEqual(fields.Datetime.to_datetime(event.object_date), before)
        self.assertEqual(payload["created"], payload["data"]["object"]["created"])
        self.assertEqual(event.stripe_created.date(), fields.Date.today())


@tagged("post_install", "-at_install")
class TestAccountSetup(StripeCommon):
    """The account form guides the set-up."""

    def test_checklist_goes_green_and_accounting_is_created_on_first_save(self):
        form = Form(self.env["stripe.account"])
        form.name = "Stripe Guided"
        self.assertFalse(form.setup_api_key)
        self.assertFalse(form.has_api_key, "no Test Connection without a key")
        self.assertTrue(form.setup_create_accounting)
        form.api_key = API_KEY
        self.assertTrue(form.has_api_key, "Test Connection shows once a key is typed")
        self.assertTrue(form.setup_api_key)
        self.assertFalse(form.setup_webhook_secret)
        form.webhook_secret = WEBHOOK_SECRET
        self.assertTrue(form.setup_webhook_secret)
        form.api_base = self.fake.api_base
        account = form.save()
        self.assertTrue(account.journal_id, "the Stripe journal is created on save")
        self.assertTrue(account.fee_account_id and account.dispute_account_id)
        self.assertTrue(account.payout_journal_id)
        self.assertTrue(account.setup_journals and account.setup_accounts)
        self.assertFalse(account.setup_webhook_received)
        self.assertFalse(account.setup_done)
        self.deliver(
            "customer.source.expiring", self.fake.add_customer(), account=account
        )
        account.invalidate_recordset()
        self.assertTrue(account.setup_webhook_received)
        self.assertTrue(account.setup_done)

    def test_wrong_credentials_are_pointed_out_and_refused_on_save(self):
        """A publishable key, a key of the other mode and a signing secret that is
        not one: the form says so as they are typed, the checklist stays red, and
        saving is refused in words. Restricted keys are secret keys."""
        form = Form(self.env["stripe.account"])
        form.name = "Stripe Wrong Keys"
        form.api_base = self.fake.api_base
        form.api_key = "pk_test_publishable"
        self.assertIn("publishable key", form.credentials_problem)
        self.assertFalse(form.setup_api_key, "the checklist stays red")
        form.api_key = "sk_live_other_mode"
        self.assertIn("live key; the account is in test mode", form.credentials_problem)
        self.assertFalse(form.setup_api_key)
        form.api_key = "rk_test_restricted"
        self.assertFalse(form.credentials_problem)
        self.assertTrue(form.setup_api_key)
        form.webhook_secret = "we_1234_not_a_secret"
        self.assertIn("whsec_", form.credentials_problem)
        self.assertFalse(form.setup_webhook_secret)
        form.webhook_secret = WEBHOOK_SECRET
        self.assertFalse(form.credentials_problem)
        self.assertTrue(form.setup_webhook_secret)
        account = form.save()
        account.api_base = "https://api.stripe.com"  # live mode needs https
        for vals, words in (
            ({"api_key": "pk_live_publishable"}, "publishable key"),
            ({"api_key": "sk_live_other_mode"}, "live key"),
            ({"api_key": "secret"}, "sk_test_ or sk_live_"),
            ({"webhook_secret": "secret"}, "whsec_"),
            ({"webhook_secret_previous": "secret"}, "whsec_"),
            ({"mode": "live"}, "test key; the account is in live mode"),
        ):
            with self.subTest(vals=vals):
                with (
                    self.assertRaisesRegex(ValidationError, words),
                    self.env.cr.savepoint(),
                ):
                    account.write(vals)
                account.invalidate_recordset()
        self.assertEqual(account.sudo().api_key, "rk_test_restricted", "kept")
        account.write({"mode": "live", "api_key": "sk_live_both_at_once"})
        self.assertTrue(account.setup_api_key)

    def test_checklist_is_honest_about_credentials_saved_before(self):
        """Credentials saved before they were checked show red on the checklist."""
        self.env.cr.execute(
            "UPDATE stripe_account SET api_key = 'pk_test_old', "
            "webhook_secret = 'old' WHERE id = %s",
            [self.stripe_account.id],
        )
        self.stripe_account.invalidate_recordset()
        self.assertFalse(self.stripe_account.setup_api_key)
        self.assertFalse(self.stripe_account.setup_webhook_secret)
        self.assertFalse(self.stripe_account.setup_done)
        self.assertIn("publishable key", self.stripe_account.credentials_problem)

    def test_account_saved_from_code_creates_nothing_unasked(self):
        account = self.env["stripe.account"].create({"name": "Bare"})
        self.assertFalse(account.journal_id)
        self.assertFalse(account.setup_journals)

    def test_dashboard_links_follow_the_mode(self):
        account = self.stripe_account
        self.assertEqual(
            account.dashboard_api_keys_url, "https://dashboard.stripe.com/test/apikeys"
        )
        self.assertEqual(
            account.dashboard_webhooks_url,
            "https://dashboard.stripe.com/test/webhooks",
        )
        account = self.env["stripe.account"].new({"name": "Live", "mode": "live"})
        self.assertEqual(
            account.dashboard_api_keys_url, "https://dashboard.stripe.com/apikeys"
        )
        self.assertEqual(
            account.dashboard_webhooks_url, "https://dashboard.stripe.com/webhooks"
        )

    def test_settings_block_and_accounts_list(self):
        settings = Form(self.env["res.config.settings"])
        self.assertEqual(
            settings.stripe_account_summary,
            "1 Stripe account is configured for this company.",
        )
        arch = ElementTree.fromstring(
            self.env["res.config.settings"].get_view(view_type="form")["arch"]
        )
        block = arch.find(".//block[@id='stripe_connector_settings']")
        self.assertNotIn("account(s)", ElementTree.tostring(block, encoding="unicode"))
        arch = ElementTree.fromstring(
            self.env["stripe.account"].get_view(view_type="list")["arch"]
        )
        column = arch.find(".//field[@name='failed_event_count']")
        self.assertTrue(column.get("width"), "the header 'Failed Events' fits")

    def test_refusals_are_counted_with_their_reason(self):
        account = self.stripe_account
        event = self.make_event("customer.source.expiring", self.fake.add_customer())
        for _i in range(2):
            response = self.post_webhook(event, secret="whsec_wrong")
            self.assertEqual(response.status_code, 400)
        account.invalidate_recordset()
        self.assertEqual(account.webhook_refused_count, 2)
        self.assertIn("bad signature", account.webhook_refused_reason)
        self.assertTrue(account.webhook_refused_at)
        # Nothing of the request is kept: neither the body nor a secret.
        self.assertNotIn(event["id"], account.webhook_refused_reason)
        self.assertNotIn("whsec", account.webhook_refused_reason)
        self.assertFalse(self.env["stripe.event"].search([]))
        # An unknown account counts nowhere and still answers 404.
        response = self.post_webhook(event, account=self.stripe_account.browse(999999))
        self.assertEqual(response.status_code, 404)
        # An accepted webhook ends the series; the last reason stays.
        self.assertEqual(self.post_webhook(event).status_code, 200)
        account.invalidate_recordset()
        self.assertEqual(account.webhook_refused_count, 0)
        self.assertIn("bad signature", account.webhook_refused_reason)


@tagged("post_install", "-at_install")
class TestPaymentScreens(PayoutCommon):
    """Stripe payments as they show on payments and invoices."""

    def pay_an_invoice(self, amount=100.0):
        invoice = self.create_invoice(amount)
        charge = self.fake.add_charge(
            round(amount * 100), "usd", metadata={"odoo_invoice": invoice.name}
        )
        event = self.deliver(
            "payment_intent.succeeded", self.fake.get(charge["payment_intent"])
        )
        self.assertEvent(event, "done")
        return invoice, charge, event

    def test_stripe_payments_show_the_stripe_method(self):
        _invoice, _charge, event = self.pay_an_invoice()
        payment = event.payment_ids
        self.assertEqual(payment.payment_method_line_id.name, "Stripe")
        self.assertEqual(payment.payment_method_code, "stripe_connector")
        self.assertEqual(
            payment.payment_method_line_id.payment_account_id,
            self.stripe_journal.default_account_id,
        )
        other_bank = self.company_data["default_journal_bank"]
        self.assertNotIn(
            "stripe_connector",
            other_bank.inbound_payment_method_line_ids.mapped("code"),
            "other bank journals do not get it",
        )

    def test_invoice_chatter_names_the_stripe_payment(self):
        invoice, charge, event = self.pay_an_invoice()
        bodies = " ".join(invoice.message_ids.mapped("body"))
        intent = charge["payment_intent"]
        self.assertIn(intent, bodies)
        self.assertIn(f"https://dashboard.stripe.com/test/payments/{intent}", bodies)
        self.assertIn(f"/odoo/stripe-events/{event.id}", bodies)
        self.assertIn(event.payment_ids.name, bodies)

    def test_payment_links_to_its_event_and_warns_before_reset(self):
        _invoice, _charge, event = self.pay_an_invoice()
        payment = event.payment_ids
        self.assertEqual(payment.stripe_event_id, event)
        action = payment.action_stripe_open_event()
        self.assertEqual(
            (action["res_model"], action["res_id"]), ("stripe.event", event.id)
        )
        arch = ElementTree.fromstring(
            self.env["account.payment"].get_view(view_type="form")["arch"]
        )
        buttons = arch.findall(".//button[@name='action_draft']")
        warned = [b for b in buttons if b.get("confirm")]
        self.assertEqual(len(warned), 1)
        self.assertIn("changes nothing in Stripe", warned[0].get("confirm"))
        self.assertIn("stripe_account_id", warned[0].get("invisible"))
        plain = [b for b in buttons if not b.get("confirm")]
        self.assertIn("stripe_account_id", plain[0].get("invisible"))

    def test_dashboard_card_shows_the_journal_balance_beside_stripes(self):
        """The card shows the Stripe journal's real balance (fees included, which
        Odoo's bank card leaves out), to a user without
        full accounting rights too; after a balance check, Stripe's balance and
        the difference beside it. Transactions opens the journal's entries."""
        self.pay_an_invoice(100.0)
        journal = self.stripe_journal
        currency = self.currency
        real = self.journal_balance()
        self.assertAlmostEqual(real, self.fake.balance("usd") / 100)
        self.assertTrue(self.fees(), "fees: entries that are not payments")
        clerk = new_test_user(
            self.env,
            login="stripe_card_clerk",
            groups="account.group_account_invoice",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        card = journal.with_user(clerk)._get_journal_dashboard_data_batched()
        self.assertEqual(card[journal.id]["account_balance"], currency.format(real))
        self.assertFalse(card[journal.id]["stripe_balance"], "no check yet")
        self.stripe_account.action_check_balance()
        card = journal.with_user(clerk)._get_journal_dashboard_data_batched()
        self.assertEqual(card[journal.id]["account_balance"], currency.format(real))
        self.assertEqual(
            card[journal.id]["stripe_balance"],
            currency.format(self.fake.balance("usd") / 100),
        )
        self.assertEqual(
            card[journal.id]["stripe_balance_difference"], currency.format(0.0)
        )
        self.assertFalse(card[journal.id]["stripe_balance_differs"])
        # Other bank journals keep Odoo's card.
        bank = self.company_data["default_journal_bank"]
        self.assertNotIn(
            "stripe_balance", bank._get_journal_dashboard_data_batched()[bank.id]
        )
        action = journal.open_action()
        self.assertEqual(action["res_model"], "account.move")
        entries = self.env["account.move"].search(action["domain"])
        self.assertEqual(entries.journal_id, journal)
        self.assertIn("entry", entries.mapped("move_type"), "the fee's entry")
        opened = journal.action_stripe_open_balance_check()
        self.assertEqual(opened["res_model"], "stripe.balance.check")

    def test_dashboard_card_of_the_stripe_journal(self):
        journal = self.stripe_journal
        self.assertTrue(journal.stripe_is_stripe_journal)
        self.assertFalse(
            self.company_data["default_journal_bank"].stripe_is_stripe_journal
        )
        self.assertEqual(journal.stripe_payout_to_reconcile_count, 0)
        payout = self.fake.add_payout(amount=5000, currency="usd", automatic=False)
        self.deliver("payout.paid", payout)
        journal.invalidate_recordset()
        self.assertEqual(journal.stripe_payout_to_reconcile_count, 1)
        action = journal.action_stripe_open_payouts_to_reconcile()
        self.assertEqual(len(self.env["stripe.payout"].search(action["domain"])), 1)
        arch = self.env["account.journal"].get_view(
            self.env.ref("account.account_journal_dashboard_kanban_view").id,
            view_type="kanban",
        )["arch"]
        self.assertIn("o_stripe_journal_helper", arch)
        self.assertIn(
            "journal_type == 'bank' and !record.stripe_is_stripe_journal.raw_value",
            arch,
        )

    def test_keyless_payout_reconciled_with_the_registered_payments(self):
        self.stripe_account.write({"api_key": False, "payout_auto_reconcile": False})
        first, _charge = self.pay_invoice(100.0)
        second, _charge = self.pay_invoice(60.0)
        older_payout_payment, _charge = self.pay_invoice(10.0)
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        self.assertPayout(record, "to_reconcile")

        wizard = self.open_wizard(record)
        self.assertTrue(wizard.is_keyless)
        self.assertFalse(wizard.has_api_key, "no Import Transactions button")
        candidates = wizard.keyless_candidate_ids
        payments = (first | second).matched_payment_ids
        self.assertTrue(payments <= candidates)
        self.assertFalse(wizard.can_confirm)
        self.assertIn("no secret key", wizard.blockers)
        with self.assertRaises(UserError):
            wizard.action_confirm()
        # Too few: refused.
        wizard.keyless_payment_ids = first.matched_payment_ids
        self.assertFalse(wizard.can_confirm)
        self.assertIn("less than the payout", wizard.blockers)

        all_three = payments | older_payout_payment.matched_payment_ids
        wizard.keyless_payment_ids = all_three
        self.assertTrue(wizard.can_confirm, wizard.blockers)
        fees = self.fees()
        self.assertAlmostEqual(wizard.keyless_fees, fees)
        self.assertIn("Stripe's fees", str(wizard.summary))
        fee_before = self.account_balance(self.fee_account)
        wizard.action_confirm()
        self.assertPayout(record, "reconciled")
        self.assertAlmostEqual(
            self.account_balance(self.fee_account) - fee_before, fees
        )
        self.assertStripeMirrored()
        self.assertAlmostEqual(
            self.account_balance(self.transfer_account), payout["amount"] / 100
        )
        # Paid out: not offered to the next payout.
        next_payout = self.fake.add_payout(amount=1000, currency="usd")
        self.deliver("payout.paid", next_payout)
        wizard = self.open_wizard(self.get_payout(next_payout))
        self.assertFalse(wizard.keyless_candidate_ids & all_three)

    def test_keyless_payout_refund_fees_undo_and_pick_again(self):
        """Without a key: a refund counts against the payout in the list as in
        Payments Picked, the fees are never negative, opening the wizard logs
        nothing, and after Undo the payout's payments can be picked again (a
        wrong pick corrected)."""
        self.stripe_account.write({"api_key": False, "payout_auto_reconcile": False})
        _first, charge = self.pay_invoice(100.0)
        second, _charge = self.pay_invoice(60.0)
        refund = self.fake.add_refund(charge["id"], 2000)
        self.assertEvent(self.deliver("refund.created", refund), "done")
        payout = self.fake.add_payout()
        self.deliver("payout.paid", payout)
        record = self.get_payout(payout)
        action = record.action_open_reconcile_wizard()
        with self.assertNoLogs("odoo.models", "WARNING"):
            form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        self.assertEqual(form.keyless_fees, 0.0, "nothing picked: no fees, not -amount")
        wizard = form.save()
        self.assertIn("The rest, $&nbsp;0.00,", str(wizard.summary))
        # The list shows each payment signed, as its total and Payments Picked.
        arch = ElementTree.fromstring(
            self.env["stripe.payout.reconcile"].get_view(view_type="form")["arch"]
        )
        columns = arch.findall(".//field[@name='keyless_payment_ids']/list/field[@sum]")
        self.assertEqual([c.get("name") for c in columns], ["amount_signed"])
        candidates = wizard.keyless_candidate_ids
        outbound = candidates.filtered(lambda p: p.payment_type == "outbound")
        self.assertEqual(outbound.amount_signed, -20.0)
        wizard.keyless_payment_ids = candidates
        self.assertAlmostEqual(
            wizard.keyless_total, sum(candidates.mapped("amount_signed"))
        )
        self.assertAlmostEqual(wizard.keyless_total, 140.0)
        # A wrong pick: the refund left out.
        wizard.keyless_payment_ids = candidates - outbound
        self.assertTrue(wizard.can_confirm, wizard.blockers)
        wizard.action_confirm()
        self.assertPayout(record, "reconciled")
        record.action_undo()
        self.assertPayout(record, "to_reconcile")
        self.assertFalse(record.transaction_ids, "the picks are undone")
        wizard = self.open_wizard(record)
        self.assertTrue(wizard.is_keyless)
        self.assertEqual(wizard.keyless_candidate_ids, candidates)
        wizard.keyless_payment_ids = candidates
        self.assertTrue(wizard.can_confirm, wizard.blockers)
        wizard.action_confirm()
        self.assertPayout(record, "reconciled")
        self.assertIn(second.matched_payment_ids, record.transaction_ids.payment_id)
        self.assertIn(outbound, record.transaction_ids.payment_id)
        self.assertStripeMirrored()
        # The payout's entries tab: the fee and transfer entries with their
        # amounts, no due date.
        arch = ElementTree.fromstring(
            self.env["stripe.payout"].get_view(view_type="form")["arch"]
        )
        columns = [
            c.get("name") for c in arch.findall(".//field[@name='move_ids']/list/field")
        ]
        self.assertIn("amount_total_signed", columns)
        self.assertNotIn("invoice_date_due", columns)
        self.assertEqual(record.fee_move_id.amount_total_signed, wizard.keyless_fees)
        self.assertEqual(
            record.transfer_move_id.amount_total_signed, payout["amount"] / 100
        )
        self.assertLessEqual(
            record.fee_move_id | record.transfer_move_id, record.move_ids
        )
        # The fees and balance report: categories in words, the keyless fees
        # dated as the payout and counted as Stripe's fees.
        fee_transaction = record.transaction_ids.filtered(lambda t: t.category == "fee")
        self.assertEqual(fee_transaction.stripe_created, record.stripe_created)
        self.assertAlmostEqual(fee_transaction.fee_total, wizard.keyless_fees)
        report = self.env["stripe.balance.transaction"]
        totals = dict(
            report._read_group(
                [("payout_id", "=", record.id)], ["category"], ["fee_total:sum"]
            )
        )
        self.assertAlmostEqual(totals["fee"], wizard.keyless_fees)
        labels = dict(report._fields["category"]._description_selection(self.env))
        self.assertEqual(labels["fee"], "Stripe fees")
        self.assertEqual(labels["refund"], "Refunds")
        pivot = ElementTree.fromstring(report.get_view(view_type="pivot")["arch"])
        self.assertEqual(
            [f.get("name") for f in pivot.findall("field[@type='col']")], ["category"]
        )
        self.assertIn("fee_total", [f.get("name") for f in pivot.findall("field")])

    def test_keyless_buttons_hidden_or_explained(self):
        """Without a key, the buttons that can only fail are hidden, and the
        Billing tab says why; an import of Stripe invoices has a name."""
        payout_arch = ElementTree.fromstring(
            self.env["stripe.payout"].get_view(view_type="form")["arch"]
        )
        (button,) = payout_arch.findall(
            ".//header/button[@name='action_import_transactions']"
        )
        self.assertIn("not has_api_key", button.get("invisible"))
        account_arch = ElementTree.fromstring(
            self.env["stripe.account"].get_view(view_type="form")["arch"]
        )
        (button,) = account_arch.findall(".//button[@name='action_import_invoices']")
        self.assertIn("not has_api_key", button.get("invisible"))
        (note,) = account_arch.findall(
            ".//div[@class='text-muted o_stripe_import_invoices_keyless']"
        )
        self.assertEqual(note.get("invisible"), "has_api_key")
        self.assertIn("set the secret key first", "".join(note.itertext()))
        action = self.stripe_account.action_import_invoices()
        job = (
            self.env[action["res_model"]]
            .with_context(**action["context"])
            .create({"date_from": "2026-01-01", "date_to": "2026-03-31"})
        )
        self.assertEqual(
            job.display_name,
            "Stripe invoices of Stripe Test, 2026-01-01 to 2026-03-31",
        )

    def test_overview_alert_and_refund_event_wording(self):
        """The overview card shows the last payout's amount with its currency;
        the alert's button is an action (fr: Ouvrir), not the state's word; a
        refund event's section is the invoice refunded, not a document to pay."""
        kanban = ElementTree.fromstring(
            self.env["stripe.account"].get_view(
                self.env.ref("stripe_connector.stripe_account_view_kanban_overview").id,
                view_type="kanban",
            )["arch"]
        )
        self.assertIn(
            "last_payout_currency_id", [f.get("name") for f in kanban.iter("field")]
        )
        alert_form = ElementTree.fromstring(
            self.env["stripe.alert"].get_view(view_type="form")["arch"]
        )
        (button,) = alert_form.findall(".//button[@name='action_open_record']")
        self.assertEqual(button.get("string"), "Open Record")
        fr = polib.pofile(str(Path(__file__).parent.parent / "i18n" / "fr.po"))
        self.assertEqual(fr.find("Open Record").msgstr, "Ouvrir")
        event_form = ElementTree.fromstring(
            self.env["stripe.event"].get_view(view_type="form")["arch"]
        )
        pick = event_form.find(".//group[@name='pick']")
        self.assertEqual(pick.get("string"), "Document to Pay")
        self.assertIn("stripe_is_refund or", pick.get("invisible"))
        pick_refund = event_form.find(".//group[@name='pick_refund']")
        self.assertEqual(pick_refund.get("string"), "Refunded Invoice")
        self.assertIn("not stripe_is_refund", pick_refund.get("invisible"))

    def test_with_a_key_the_wizard_is_as_before(self):
        self.pay_invoice(100.0)
        payout = self.fake.add_payout(automatic=False)
        self.deliver("payout.paid", payout)
        wizard = self.open_wizard(self.get_payout(payout))
        self.assertFalse(wizard.is_keyless)
        self.assertTrue(wizard.has_api_key)
