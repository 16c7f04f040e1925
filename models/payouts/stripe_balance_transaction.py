from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ... import const, utils
from ...exceptions import StripeMatchError, StripeNothingToDo, StripeNotYet
from ...tools.facts import BalanceTransactionFacts, PaymentFacts


class StripeBalanceTransaction(models.Model):
    """A movement of the Stripe balance (Stripe's BalanceTransaction) and the Odoo
    documents that mirror it on the Stripe journal.

    Every charge, refund, dispute, fee or adjustment Stripe books is one balance
    transaction; a payout pays out a set of them. Odoo imports them page by page
    with their payout (or by date, for manual payouts) and links each to what
    already mirrors it: the payment a webhook registered, a refund, a dispute entry.
    What nothing mirrors yet is booked when its payout is reconciled."""

    _name = "stripe.balance.transaction"
    _description = "Stripe Balance Transaction"
    _inherit = ["stripe.binding.mixin"]
    _order = "stripe_created desc, id desc"
    _rec_name = "stripe_id"

    # === STRIPE DATA === #

    stripe_id = fields.Char(string="Transaction ID")
    payout_id = fields.Many2one(
        "stripe.payout",
        readonly=True,
        index=True,
        ondelete="set null",
        check_company=True,
        help="The payout that paid this transaction out to the bank.",
    )
    type = fields.Char(
        readonly=True, help="Stripe's type: charge, refund, adjustment, payout..."
    )
    reporting_category = fields.Char(
        readonly=True,
        help="Stripe's reporting category: charge, refund, dispute, fee, "
        "other_adjustment...",
    )
    category = fields.Selection(
        [
            ("charge", "Charges"),
            ("refund", "Refunds"),
            ("refund_failure", "Failed refunds"),
            ("dispute", "Disputes"),
            ("dispute_reversal", "Disputes won"),
            ("fee", "Stripe fees"),
            ("payout", "Payouts"),
            ("payout_reversal", "Payouts failed or cancelled"),
            ("other", "Other adjustments"),
        ],
        compute="_compute_category",
        store=True,
        help="Stripe's reporting category, in words.",
    )
    description = fields.Char(readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True, required=True)
    amount = fields.Monetary(
        readonly=True, help="Gross amount, in the settlement currency."
    )
    fee = fields.Monetary(readonly=True, help="Stripe's fees on this transaction.")
    fee_total = fields.Monetary(
        string="Stripe Fees",
        compute="_compute_category",
        store=True,
        help="What Stripe charged: the fee of a transaction, or the amount of a fee "
        "transaction (fees charged separately, or those of a payout reconciled "
        "without a secret key).",
    )
    net = fields.Monetary(
        readonly=True, help="What the transaction adds to the Stripe balance."
    )
    fee_details = fields.Json(
        string="Fee Details (Stripe)",
        readonly=True,
        help="The fee by type, as Stripe splits it (amounts in minor units).",
    )
    fee_details_display = fields.Text(
        string="Fee Details", compute="_compute_fee_details_display"
    )
    exchange_rate = fields.Float(
        readonly=True,
        digits=(16, 8),
        help="Stripe's rate from the charge's currency to the settlement currency.",
    )
    stripe_source_id = fields.Char(
        string="Source",
        readonly=True,
        index="btree_not_null",
        help="The Stripe object that moved the balance (ch_, re_, dp_, po_...).",
    )
    source_type = fields.Char(readonly=True)
    stripe_charge_id = fields.Char(
        readonly=True,
        index="btree_not_null",
        help="The charge a charge, refund or dispute is about.",
    )
    stripe_payment_intent_id = fields.Char(string="PaymentIntent", readonly=True)
    stripe_customer_id = fields.Char(readonly=True)
    source_data = fields.Json(
        readonly=True,
        help="What Odoo kept of the source (charge, refund, dispute) to match and "
        "book it at payout time; only while no Odoo document mirrors it.",
    )
    stripe_created = fields.Datetime(string="Created on Stripe", readonly=True)
    available_on = fields.Datetime(readonly=True)
    status = fields.Char(string="Stripe Status", readonly=True)
    # === ODOO DOCUMENTS === #

    payment_id = fields.Many2one(
        "account.payment",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The customer payment or refund that mirrors this transaction.",
    )
    move_id = fields.Many2one(
        "account.move",
        string="Journal Entry",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The entry that mirrors this transaction when it is not a payment (a "
        "dispute, an adjustment, a fee).",
    )
    fee_move_id = fields.Many2one(
        "account.move",
        string="Fee Entry",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The entry that booked this transaction's fee.",
    )
    document_ref = fields.Reference(
        selection="_selection_document_ref",
        string="Document",
        readonly=True,
        help="The business document behind the transaction (a payout, a dispute).",
    )
    link_state = fields.Selection(
        [("linked", "In Odoo"), ("to_book", "To Book")],
        string="Odoo",
        compute="_compute_link_state",
        store=True,
        index=True,
        help="In Odoo: a payment, entry or document already mirrors the "
        "transaction.\nTo Book: nothing does yet; reconciling its payout books it.",
    )

    # === COMPUTE METHODS === #

    @api.depends("reporting_category", "type", "amount", "fee")
    def _compute_category(self):
        known = dict(self._fields["category"].selection)
        for transaction in self:
            category = transaction.reporting_category or (
                const.TRANSACTION_TYPE_CATEGORY.get(transaction.type or "")
            )
            category = category if category in known else "other"
            transaction.category = category
            transaction.fee_total = transaction.fee - (
                transaction.amount if category == "fee" else 0.0
            )

    @api.model
    def _selection_document_ref(self):
        """Models a transaction's ``document_ref`` may point to; extend to add more."""
        return [
            ("stripe.payout", _("Payout")),
            ("stripe.dispute", _("Dispute")),
            ("account.payment", _("Payment")),
            ("account.move", _("Journal Entry")),
        ]

    @api.depends("payment_id", "move_id", "document_ref")
    def _compute_link_state(self):
        for transaction in self:
            linked = (
                transaction.payment_id
                or transaction.move_id
                or transaction.document_ref
            )
            transaction.link_state = "linked" if linked else "to_book"

    @api.depends("fee_details", "currency_id")
    def _compute_fee_details_display(self):
        for transaction in self:
            transaction.fee_details_display = "\n".join(
                "{}: {}".format(
                    detail.get("description") or detail.get("type"),
                    transaction.currency_id.format(
                        float(
                            utils.from_minor_units(
                                detail.get("amount"), transaction.currency_id.name
                            )
                        )
                    ),
                )
                for detail in transaction.fee_details or []
            )

    # === ACTION METHODS === #

    def action_open_document(self):
        self.ensure_one()
        record = self.payment_id or self.move_id or self.document_ref
        if not record:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": record._name,
            "res_id": record.id,
            "view_mode": "form",
        }

    # === IMPORT === #

    @api.model
    def _stripe_store(self, account, objects, payout=None):
        """Store one page of Stripe balance transactions, linked to what mirrors them.

        Transactions already stored (imported by date, or in an earlier attempt)
        are kept and only get their payout. New ones are created in one batch,
        already linked: one search per kind of document for the whole page.

        :param account: the ``stripe.account``.
        :param list objects: balance transactions as dicts, ``source`` expanded or
            not.
        :param payout: the ``stripe.payout`` they were listed for, if any.
        :return: the page's transactions.
        """
        facts_list = [utils.balance_transaction_facts(obj) for obj in objects]
        existing = self.search_fetch(
            [
                ("account_id", "=", account.id),
                ("stripe_id", "in", [facts.stripe_id for facts in facts_list]),
            ],
            ["stripe_id", "payout_id"],
        )
        if payout:
            existing.filtered(lambda t: t.payout_id != payout).payout_id = payout
        known = set(existing.mapped("stripe_id"))
        new_facts = [facts for facts in facts_list if facts.stripe_id not in known]
        if not new_facts:
            return existing
        currencies = self._stripe_currencies({facts.currency for facts in new_facts})
        vals_list = []
        links = self._stripe_find_documents(account, new_facts)
        for facts, link in zip(new_facts, links, strict=True):
            vals = self._stripe_prepare_vals(account, facts, currencies)
            vals["payout_id"] = payout.id if payout else False
            vals.update(link)
            if link:
                vals["source_data"] = False
            vals_list.append(vals)
        return existing | self.create(vals_list)

    @api.model
    def _stripe_prepare_vals(self, account, facts, currencies):
        code = facts.currency
        return {
            "stripe_id": facts.stripe_id,
            "account_id": account.id,
            "type": facts.type,
            "reporting_category": facts.reporting_category,
            "description": facts.description,
            "currency_id": currencies[code].id,
            "amount": float(utils.from_minor_units(facts.amount, code)),
            "fee": float(utils.from_minor_units(facts.fee, code)),
            "net": float(utils.from_minor_units(facts.net, code)),
            "fee_details": facts.fee_details or False,
            "exchange_rate": facts.exchange_rate or 0.0,
            "stripe_source_id": facts.source_id,
            "source_type": facts.source_type,
            "stripe_charge_id": facts.charge_id,
            "stripe_payment_intent_id": facts.payment_intent_id,
            "stripe_customer_id": facts.customer_id,
            "source_data": facts.source or False,
            "stripe_created": utils.timestamp_to_datetime(facts.created),
            "available_on": utils.timestamp_to_datetime(facts.available_on),
            "status": facts.status,
        }

    @api.model
    def _stripe_currencies(self, codes):
        """Return ``{code: res.currency}`` for Stripe currency codes (one search).

        :raise UserError: Odoo does not know one of them.
        """
        currencies = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "in", list(codes))])
        )
        by_code = {currency.name: currency for currency in currencies}
        missing = set(codes) - set(by_code)
        if missing:
            raise UserError(
                _("Odoo does not know the currency %s.", ", ".join(sorted(missing)))
            )
        return by_code

    # === LINKS WITH ODOO DOCUMENTS === #

    @api.model
    def _stripe_find_documents(self, account, facts_list):
        """Find the Odoo documents that already mirror balance transactions.

        One search per kind of document for the whole list (a page of 100), so the
        cost per transaction stays constant. Built in:

        - a charge (``charge`` category): the inbound payment registered for its
          charge or PaymentIntent (its fee is booked if the payment has a fee entry);
        - a refund: the outbound payment registered for the refund (``re_`` id);
        - a refund failure: the reversal of that outbound payment;
        - a dispute's withdrawal or reinstatement: the ``stripe.dispute`` entry that
          booked it (amount and dispute fee);
        - a payout's own transaction, or the one returning a failed payout: the
          ``stripe.payout``.

        Extend it to link more kinds (a dispute's entries): call ``super()``, then
        fill the dicts it left empty. A transaction that stays without documents is
        booked when its payout is reconciled.

        :param account: the ``stripe.account``.
        :param list facts_list: dicts with at least ``stripe_id``,
            ``reporting_category``, ``source_id``, ``charge_id``,
            ``payment_intent_id`` and ``fee`` (see ``_stripe_facts``).
        :return: one dict per transaction, in order, of values among ``payment_id``,
            ``move_id``, ``fee_move_id`` and ``document_ref`` (empty: not mirrored).
        :rtype: list[dict]
        """
        booking = [
            const.PAYOUT_BOOKING.get(facts.reporting_category) for facts in facts_list
        ]
        inbound, outbound = self._stripe_find_payments(account, facts_list, booking)
        payouts = self._stripe_find_payouts(account, facts_list, booking)
        disputes = self._stripe_find_dispute_entries(account, facts_list, booking)
        links = []
        for facts, how in zip(facts_list, booking, strict=True):
            link = {}
            payment = None
            if how == "payment":
                payment = inbound.get(facts.source_id) or inbound.get(
                    facts.payment_intent_id
                )
            elif how == "refund":
                payment = outbound.get(facts.source_id)
            if payment:
                link["payment_id"] = payment.id
                if facts.fee and payment.stripe_fee_move_id:
                    link["fee_move_id"] = payment.stripe_fee_move_id.id
            elif how == "refund_failure":
                refund = outbound.get(facts.source_id)
                if refund and refund.move_id.reversal_move_ids:
                    link["move_id"] = refund.move_id.reversal_move_ids[:1].id
            elif how == "payout" and facts.source_id in payouts:
                link["document_ref"] = f"stripe.payout,{payouts[facts.source_id]}"
            elif how == "dispute" and facts.stripe_id in disputes:
                dispute, move = disputes[facts.stripe_id]
                link.update(
                    move_id=move.id,
                    fee_move_id=move.id if facts.fee else False,
                    document_ref=f"stripe.dispute,{dispute.id}",
                )
            links.append(link)
        return links

    @api.model
    def _stripe_find_payments(self, account, facts_list, booking):
        """The posted Stripe payments of charges and refunds, in one search.

        :return: ``({charge, PaymentIntent or object id: inbound payment},
            {refund id: outbound payment})``
        """
        keys = set()
        for facts, how in zip(facts_list, booking, strict=True):
            if how == "payment":
                keys.update((facts.source_id, facts.payment_intent_id))
            elif how in ("refund", "refund_failure"):
                keys.add(facts.source_id)
        keys.discard(None)
        inbound, outbound = {}, {}
        if not keys:
            return inbound, outbound
        payments = self.env["account.payment"].search_fetch(
            [
                ("stripe_account_id", "=", account.id),
                ("state", "in", ("in_process", "paid")),
                "|",
                ("stripe_object_id", "in", list(keys)),
                ("stripe_charge_id", "in", list(keys)),
            ],
            [
                "stripe_object_id",
                "stripe_charge_id",
                "payment_type",
                "move_id",
                "stripe_fee_move_id",
            ],
        )
        for payment in payments:
            if payment.payment_type == "inbound":
                inbound.setdefault(payment.stripe_charge_id, payment)
                inbound.setdefault(payment.stripe_object_id, payment)
            else:
                outbound[payment.stripe_object_id] = payment
        # Payments Odoo's own Stripe payment provider registered (on the Stripe
        # journal when it is the provider's journal): found by their PaymentIntent.
        intents = keys - set(inbound)
        if intents:
            provider_payments = self.env["account.payment"].search_fetch(
                [
                    ("journal_id", "=", account.journal_id.id),
                    ("payment_type", "=", "inbound"),
                    ("state", "in", ("in_process", "paid")),
                    ("payment_transaction_id.provider_reference", "in", list(intents)),
                ],
                ["payment_transaction_id", "move_id", "stripe_fee_move_id"],
            )
            for payment in provider_payments:
                inbound.setdefault(
                    payment.payment_transaction_id.provider_reference, payment
                )
        return inbound, outbound

    @api.model
    def _stripe_find_dispute_entries(self, account, facts_list, booking):
        """The dispute entries that booked dispute transactions, in one search.

        :return: ``{transaction Stripe id: (stripe.dispute, account.move)}``
        """
        transaction_ids = [
            facts.stripe_id
            for facts, how in zip(facts_list, booking, strict=True)
            if how == "dispute"
        ]
        if not transaction_ids:
            return {}
        disputes = self.env["stripe.dispute"].search_fetch(
            [
                ("account_id", "=", account.id),
                "|",
                ("withdrawal_transaction", "in", transaction_ids),
                ("reinstatement_transaction", "in", transaction_ids),
            ],
            [
                "withdrawal_transaction",
                "withdrawal_move_id",
                "reinstatement_transaction",
                "reinstatement_move_id",
            ],
        )
        entries = {}
        for dispute in disputes:
            if dispute.withdrawal_move_id:
                entries[dispute.withdrawal_transaction] = (
                    dispute,
                    dispute.withdrawal_move_id,
                )
            if dispute.reinstatement_move_id:
                entries[dispute.reinstatement_transaction] = (
                    dispute,
                    dispute.reinstatement_move_id,
                )
        return entries

    @api.model
    def _stripe_find_payouts(self, account, facts_list, booking):
        """The payouts that payout transactions are about, in one search.

        :return: ``{payout Stripe id: stripe.payout id}``
        """
        payout_ids = [
            facts.source_id
            for facts, how in zip(facts_list, booking, strict=True)
            if how == "payout" and facts.source_id
        ]
        if not payout_ids:
            return {}
        return {
            payout.stripe_id: payout.id
            for payout in self.env["stripe.payout"].search_fetch(
                [("account_id", "=", account.id), ("stripe_id", "in", payout_ids)],
                ["stripe_id"],
            )
        }

    def _stripe_facts(self):
        """The facts ``_stripe_find_documents`` needs, from stored transactions."""
        return [
            BalanceTransactionFacts(
                stripe_id=transaction.stripe_id,
                type=transaction.type,
                reporting_category=transaction.reporting_category,
                source_id=transaction.stripe_source_id,
                source_type=transaction.source_type,
                charge_id=transaction.stripe_charge_id,
                payment_intent_id=transaction.stripe_payment_intent_id,
                fee=utils.to_minor_units(transaction.fee, transaction.currency_id.name),
            )
            for transaction in self
        ]

    def _stripe_relink(self):
        """Link the transactions no document mirrored at import to the documents
        that mirror them now (a webhook may have come since)."""
        for account in self.account_id:
            transactions = self.filtered(lambda t, a=account: t.account_id == a)
            links = self._stripe_find_documents(account, transactions._stripe_facts())
            for transaction, link in zip(transactions, links, strict=True):
                if link:
                    transaction.write(dict(link, source_data=False))

    # === BOOKING AT PAYOUT TIME === #

    def _stripe_book_payment(self, invoice=None):
        """Register what a charge, refund or refund failure that no webhook brought
        adds to the Stripe balance, as a payment on the Stripe journal.

        A charge goes through the payment rules of webhooks (a user's pick, then
        metadata, references, customer and amount) to pay its invoice or order;
        when nothing matches, it becomes a customer payment without invoice (the
        partner from the Stripe customer when Odoo knows it), to reconcile later
        from the customer's outstanding credits. A refund is an outbound payment of
        the charge's customer, a refund failure an inbound one. Stripe's fee is not
        booked here: the payout's fee entry books all fees at once.

        :param invoice: the invoice a user picked for a charge, if any.
        :return: the payment.
        """
        self.ensure_one()
        how = const.PAYOUT_BOOKING.get(self.reporting_category)
        if how == "payment":
            payment = self._stripe_book_charge(invoice)
        elif how in ("refund", "refund_failure"):
            payment = self._stripe_book_refund(how)
        else:
            raise UserError(
                _("Transaction %s is not booked as a payment.", self.stripe_id)
            )
        self.write({"payment_id": payment.id, "source_data": False})
        return payment

    def _stripe_book_charge(self, invoice):
        source = self._stripe_source()
        intent = self._stripe_payment_intent(
            utils.object_id(source.get("payment_intent"))
        )
        rules = self.env["stripe.payment.rules"]._stripe_bind(self.account_id, invoice)
        if intent:
            # The integrator's metadata is on the PaymentIntent: Stripe does not
            # copy it onto the charge.
            facts = rules._stripe_payment_facts(intent)
            utils.add_charge_facts(facts, source)
        else:
            facts = rules._stripe_payment_facts(source)
        # The transaction gives Stripe's settled amount (the Stripe journal mirrors
        # it exactly); its fee is left to the payout's fee entry.
        facts.balance_transaction = self._stripe_balance_transaction_dict(fee=0)
        facts.balance_transaction_id = facts.balance_transaction["id"]
        try:
            result = rules._stripe_process_payment(facts)
        except StripeMatchError:
            return self._stripe_create_payment(
                rules, facts, "inbound", facts.key, facts.charge_id
            )
        except (StripeNothingToDo, StripeNotYet) as error:
            raise UserError(
                _(
                    "Charge %(charge)s of payout transaction %(transaction)s: "
                    "%(reason)s",
                    charge=self.stripe_source_id,
                    transaction=self.stripe_id,
                    reason=error,
                )
            ) from error
        return result["payments"][:1]

    def _stripe_book_refund(self, how):
        source = self._stripe_source()
        facts = PaymentFacts(
            key=source.get("id"),
            charge_id=self.stripe_charge_id,
            payment_intent_id=self.stripe_payment_intent_id,
            amount=source.get("amount"),
            currency=(source.get("currency") or "").upper(),
            created=source.get("created"),
            customer_id=self.stripe_customer_id,
        )
        facts.add_balance_transaction(self._stripe_balance_transaction_dict(fee=0))
        rules = self.env["stripe.payment.rules"]._stripe_bind(self.account_id)
        original = (
            self.env["account.payment"]
            ._stripe_find(
                self.account_id, [self.stripe_charge_id, self.stripe_payment_intent_id]
            )
            .filtered(lambda payment: payment.payment_type == "inbound")[:1]
        )
        partner = original.partner_id
        if how == "refund":
            return self._stripe_create_payment(
                rules, facts, "outbound", facts.key, self.stripe_charge_id, partner
            )
        # The refund came back: an inbound payment named after this transaction (the
        # refund's own id names its outbound payment).
        return self._stripe_create_payment(
            rules, facts, "inbound", self.stripe_id, self.stripe_charge_id, partner
        )

    def _stripe_create_payment(
        self, rules, facts, payment_type, object_id, charge_id, partner=None
    ):
        """Post a customer payment without invoice on the Stripe journal.

        :param rules: the ``stripe.payment.rules``, bound to the account.
        :param dict facts: payment facts (``utils.payment_facts`` keys).
        :param str payment_type: ``inbound`` or ``outbound``.
        :param str object_id: the Stripe object the payment is registered for.
        :param str charge_id: the charge it is about.
        :param partner: the customer; by default found from the Stripe customer.
        """
        account = self.account_id
        if facts.amount and facts.currency:
            currency = rules._stripe_get_currency(facts.currency)
            amount = float(utils.from_minor_units(facts.amount, currency.name))
        else:
            currency, amount = self.currency_id, self.amount
        date = rules._stripe_payment_date(facts)
        currency, amount = account._stripe_payment_currency(
            currency, amount, facts.balance_transaction, date
        )
        if partner is None:
            partner = rules._stripe_find_partner(facts, []) or self.env["res.partner"]
        vals = account._stripe_payment_vals(
            payment_type, partner, abs(amount), currency, date
        )
        vals.update(
            memo=_("Stripe %s", object_id),
            stripe_account_id=account.id,
            stripe_object_id=object_id,
            stripe_charge_id=charge_id,
        )
        payment = self.env["account.payment"].create(vals)
        payment.action_post()
        account._stripe_book_exchange_difference(payment, facts.balance_transaction)
        return payment

    def _stripe_payment_intent(self, intent_id):
        """The PaymentIntent of a charge no webhook brought, read through the API;
        ``None`` without a key (the charge alone is then matched).

        :raise UserError: Stripe did not send it (still rate limited after the
            retries, say): booking the charge without the PaymentIntent's metadata
            could leave its invoice unpaid, so the reconciliation fails instead.
        """
        account = self.account_id
        if not (intent_id and account.has_api_key):
            return None
        return account._stripe_call(
            _("PaymentIntent %s", intent_id), "payment_intents", "retrieve", intent_id
        ).to_dict()

    def _stripe_balance_transaction_dict(self, fee=None):
        """The transaction as Stripe shapes it (what payment helpers read)."""
        code = self.currency_id.name
        return {
            "id": self.stripe_id,
            "amount": utils.to_minor_units(self.amount, code),
            "fee": utils.to_minor_units(self.fee, code) if fee is None else fee,
            "currency": code.lower(),
            "exchange_rate": self.exchange_rate or None,
            "created": int(self.stripe_created.timestamp())
            if self.stripe_created
            else None,
        }

    def _stripe_source(self):
        """The transaction's source as a dict: what the import kept of it, else read
        from Stripe, else what the transaction itself tells."""
        self.ensure_one()
        if self.source_data:
            return dict(self.source_data)
        account = self.account_id
        kind = self.source_type
        service = {"charge": "charges", "refund": "refunds"}.get(kind)
        if (
            service
            and account.has_api_key
            and self.stripe_source_id.startswith(("ch_", "re_"))
        ):
            return account._stripe_call(
                self.stripe_source_id, service, "retrieve", self.stripe_source_id
            ).to_dict()
        code = self.currency_id.name
        return {
            "object": kind or "charge",
            "id": self.stripe_source_id or self.stripe_id,
            "amount": abs(utils.to_minor_units(self.amount, code)),
            "currency": code.lower(),
            "customer": self.stripe_customer_id,
            "payment_intent": self.stripe_payment_intent_id,
            "charge": self.stripe_charge_id,
            "created": int(self.stripe_created.timestamp())
            if self.stripe_created
            else None,
        }
