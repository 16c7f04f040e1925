from datetime import timedelta, timezone

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_datetime

from ... import const, utils


class StripeBalanceCheck(models.Model):
    """One comparison of Stripe's balance (``GET /v1/balance``) with the Stripe
    journal's balance in Odoo, for the account's currency, and what explains a
    difference.

    Stripe's *payments balance* is ``available`` plus ``pending``: every balance
    transaction's net, paid out or not yet. That is what the Stripe journal
    mirrors. What else the Balance object reports is said, not compared:
    ``connect_reserved`` (held against connected accounts' negative balances, a
    platform's matter), ``instant_available`` (the part of ``available`` Instant
    Payouts can pay out: already counted), ``issuing`` (the separate balance
    that funds Stripe Issuing cards) and ``refund_and_dispute_prefunding`` (money
    set aside for refunds and disputes, out of the payments balance).

    A difference lists its causes: the Stripe transactions since the last
    reconciled payout that Odoo has not booked (read through the API, page by
    page), each with its event when there is one, and the entries on the Stripe
    journal's account that no Stripe object explains (typed by hand)."""

    _name = "stripe.balance.check"
    _description = "Stripe Balance Check"
    _inherit = ["stripe.owned.mixin"]
    _order = "checked_at desc, id desc"
    _rec_name = "checked_at"

    checked_at = fields.Datetime(
        string="Checked On", required=True, readonly=True, default=fields.Datetime.now
    )
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    state = fields.Selection(
        [("ok", "Agrees"), ("difference", "Differs"), ("error", "Not Checked")],
        required=True,
        readonly=True,
        index=True,
    )
    message = fields.Text(readonly=True)
    stripe_available = fields.Monetary(string="Available on Stripe", readonly=True)
    stripe_pending = fields.Monetary(string="Pending on Stripe", readonly=True)
    stripe_balance = fields.Monetary(
        readonly=True,
        help="Available plus pending: Stripe's payments balance.",
    )
    odoo_balance = fields.Monetary(
        string="Stripe Journal Balance",
        readonly=True,
        help="Posted entries on the Stripe journal's account.",
    )
    difference = fields.Monetary(readonly=True, help="Stripe balance minus Odoo's.")
    held_note = fields.Text(
        string="Also Held by Stripe",
        readonly=True,
        help="What else Stripe's Balance reports, and why it is not compared.",
    )
    since = fields.Datetime(
        string="Transactions Since",
        readonly=True,
        help="The Stripe transactions created since then were read to explain a "
        "difference (the last reconciled payout, less a few days).",
    )
    line_ids = fields.One2many(
        "stripe.balance.check.line", "check_id", string="Causes", readonly=True
    )
    unbooked_total = fields.Monetary(
        string="Not Booked in Odoo",
        readonly=True,
        help="What the Stripe transactions Odoo has not booked add to Stripe's "
        "balance.",
    )
    unexplained_total = fields.Monetary(
        string="Not in Stripe",
        readonly=True,
        help="What the entries no Stripe object explains add to the Stripe journal.",
    )
    remainder = fields.Monetary(
        string="Unexplained",
        readonly=True,
        help="The part of the difference the causes listed do not explain: older "
        "transactions, an opening balance, a currency difference.",
    )

    @api.model
    def _stripe_run(self, account):
        """Check one account's balance now and record the result; a difference
        opens (or updates) the account's alert, an agreement resolves it.

        :param account: the ``stripe.account``.
        :return: the ``stripe.balance.check`` recorded (state ``error`` when
            Stripe or the journal could not be read).
        """
        vals = {"account_id": account.id, "currency_id": account.currency_id.id}
        try:
            vals.update(self._stripe_compare(account))
        except UserError as error:
            return self.create(dict(vals, state="error", message=error.args[0]))
        check = self.create(vals)
        check._stripe_alert()
        return check

    @api.model
    def _stripe_compare(self, account):
        """:return: the values of a check of ``account``, causes included.
        :raise UserError: Stripe could not be read, or there is no journal."""
        currency = account.currency_id
        journal = account._stripe_get_journal()
        balance = account._stripe_call(_("the balance"), "balance", "retrieve")
        balance = balance.to_dict()
        code = currency.name
        available = self._stripe_amount(balance.get("available"), code)
        pending = self._stripe_amount(balance.get("pending"), code)
        stripe_balance = available + pending
        odoo_balance = self._stripe_journal_balance(account, journal)
        difference = currency.round(stripe_balance - odoo_balance)
        vals = {
            "stripe_available": available,
            "stripe_pending": pending,
            "stripe_balance": stripe_balance,
            "odoo_balance": odoo_balance,
            "difference": difference,
            "held_note": self._stripe_held_note(account, balance),
        }
        if currency.is_zero(difference):
            vals.update(
                state="ok",
                message=_(
                    "Stripe's balance and the Stripe journal agree: %s.",
                    currency.format(stripe_balance),
                ),
            )
            return vals
        since = self._stripe_since(account)
        unbooked, unbooked_total = self._stripe_unbooked_transactions(account, since)
        unexplained, unexplained_total = self._stripe_unexplained_entries(account)
        remainder = currency.round(difference - unbooked_total + unexplained_total)
        message = _(
            "Stripe's balance (%(stripe)s) and the Stripe journal (%(odoo)s) differ "
            "by %(difference)s. Stripe transactions not booked in Odoo: %(unbooked)s "
            "(%(unbooked_count)s); entries on the journal no Stripe transaction "
            "explains: %(unexplained)s (%(unexplained_count)s).",
            stripe=currency.format(stripe_balance),
            odoo=currency.format(odoo_balance),
            difference=currency.format(difference),
            unbooked=currency.format(unbooked_total),
            unbooked_count=len(unbooked),
            unexplained=currency.format(unexplained_total),
            unexplained_count=len(unexplained),
        )
        if not currency.is_zero(remainder):
            message += " " + _(
                "%(remainder)s is explained by neither (older transactions than "
                "%(since)s, an opening balance, a currency difference).",
                remainder=currency.format(remainder),
                since=format_datetime(self.env, since),
            )
        vals.update(
            state="difference",
            message=message,
            since=since,
            unbooked_total=unbooked_total,
            unexplained_total=unexplained_total,
            remainder=remainder,
            line_ids=[
                fields.Command.create(line)
                for line in unbooked[: const.BALANCE_CHECK_MAX_CAUSES]
                + unexplained[: const.BALANCE_CHECK_MAX_CAUSES]
            ],
        )
        return vals

    @api.model
    def _stripe_amount(self, items, code):
        """Sum of a Balance list's amounts in a currency, in major units."""
        minor = sum(
            item.get("amount") or 0
            for item in items or []
            if (item.get("currency") or "").upper() == code
        )
        return float(utils.from_minor_units(minor, code))

    @api.model
    def _stripe_held_note(self, account, balance):
        """What else Stripe's Balance reports, and why it is not compared."""
        code = account.currency_id.name
        prefunding = balance.get("refund_and_dispute_prefunding") or {}
        held = [
            (
                balance.get("connect_reserved"),
                _(
                    "Connect reserve: %s, held against negative balances of "
                    "connected accounts; not part of the payments balance."
                ),
            ),
            (
                balance.get("instant_available"),
                _(
                    "Instant Payouts: %s of the available balance can be paid out "
                    "instantly; already counted in it."
                ),
            ),
            (
                utils.get_path(balance, "issuing", "available"),
                _(
                    "Issuing: %s, the separate balance that funds Stripe Issuing "
                    "cards; not mirrored by the Stripe journal."
                ),
            ),
            (
                (prefunding.get("available") or []) + (prefunding.get("pending") or []),
                _(
                    "Refund and dispute prefunding: %s, set aside for refunds and "
                    "disputes, out of the payments balance."
                ),
            ),
        ]
        lines = []
        for items, text in held:
            amount = self._stripe_amount(items, code)
            if amount:
                lines.append(text % account.currency_id.format(amount))
        booked = {account.currency_id.name} | set(
            account._stripe_sibling_accounts().currency_id.mapped("name")
        )
        others = {
            (item.get("currency") or "").upper()
            for item in (balance.get("available") or [])
            + (balance.get("pending") or [])
            if item.get("amount")
        } - booked
        for other in sorted(others):
            amount = utils.from_minor_units(
                sum(
                    item.get("amount") or 0
                    for item in (balance.get("available") or [])
                    + (balance.get("pending") or [])
                    if (item.get("currency") or "").upper() == other
                ),
                other,
            )
            lines.append(
                _(
                    "Stripe also holds %(amount)s %(currency)s, which no Stripe "
                    "account in Odoo books (add one with a journal in that "
                    "currency).",
                    amount=amount,
                    currency=other,
                )
            )
        return "\n".join(lines) or False

    @api.model
    def _stripe_journal_balance(self, account, journal):
        """Posted balance of the Stripe journal's account, in its currency."""
        foreign = (
            journal.currency_id
            and journal.currency_id != account.company_id.currency_id
        )
        aggregate = "amount_currency:sum" if foreign else "balance:sum"
        [(total,)] = self.env["account.move.line"]._read_group(
            [
                ("account_id", "=", journal.default_account_id.id),
                ("company_id", "=", account.company_id.id),
                ("parent_state", "=", "posted"),
            ],
            [],
            [aggregate],
        )
        return account.currency_id.round(total or 0.0)

    @api.model
    def _stripe_since(self, account):
        """From when Stripe transactions may be unbooked: the creation of the last
        reconciled payout (everything it paid out is booked), else of the account,
        less ``const.BALANCE_CHECK_LOOKBACK_DAYS`` (transactions wait that long
        for their payout)."""
        payout = self.env["stripe.payout"].search(
            [("account_id", "=", account.id), ("state", "=", "reconciled")],
            order="stripe_created desc, id desc",
            limit=1,
        )
        start = payout.stripe_created or account.create_date
        return start - timedelta(days=const.BALANCE_CHECK_LOOKBACK_DAYS)

    # === CAUSES === #

    @api.model
    def _stripe_unbooked_transactions(self, account, since):
        """The Stripe transactions created since ``since`` that Odoo has not
        booked, page by page (one search per kind of document and page).

        :return: (check line values, what they add to Stripe's balance)
        :rtype: tuple
        """
        code = account.currency_id.name
        params = {
            "created": {"gte": int(since.replace(tzinfo=timezone.utc).timestamp())},
            "currency": code.lower(),
            "limit": const.API_PAGE_SIZE,
            "expand": ["data.source"],
        }
        transaction_model = self.env["stripe.balance.transaction"]
        payout_model = self.env["stripe.payout"]
        lines, total = [], 0
        for listed in account._stripe_pages(
            _("the transactions"), "balance_transactions", params
        ):
            # Other balances (Issuing...) are not the payments balance.
            page = [
                txn for txn in listed if txn.get("balance_type") in (None, "payments")
            ]
            facts_list = [utils.balance_transaction_facts(txn) for txn in page]
            stored = {
                txn.stripe_id: txn
                for txn in transaction_model.search(
                    [
                        ("account_id", "=", account.id),
                        ("stripe_id", "in", [f.stripe_id for f in facts_list]),
                    ]
                )
            }
            links = transaction_model._stripe_find_documents(account, facts_list)
            payouts = {
                payout.stripe_id: payout
                for payout in payout_model.search(
                    [
                        ("account_id", "=", account.id),
                        (
                            "stripe_id",
                            "in",
                            [f.source_id for f in facts_list if f.source_id],
                        ),
                    ]
                )
            }
            found = []
            for facts, link in zip(facts_list, links, strict=True):
                unbooked, reason = self._stripe_unbooked_amount(
                    facts, link, stored.get(facts.stripe_id), payouts
                )
                if unbooked:
                    total += unbooked
                    found.append((facts, unbooked, reason))
            events = self._stripe_events_of(account, [facts for facts, *_r in found])
            for facts, unbooked, reason in found:
                lines.append(
                    {
                        "kind": "stripe",
                        "amount": float(utils.from_minor_units(unbooked, code)),
                        "reference": facts.stripe_id,
                        "transaction_type": facts.type,
                        "stripe_source_id": facts.source_id,
                        "description": facts.description,
                        "date": utils.timestamp_to_datetime(facts.created),
                        "reason": reason,
                        "event_id": self._stripe_pick_event(events, facts).id,
                    }
                )
        lines.sort(key=lambda line: line["date"] or fields.Datetime.now())
        return lines, float(utils.from_minor_units(total, code))

    @api.model
    def _stripe_unbooked_amount(self, facts, link, stored, payouts):
        """What of one Stripe transaction is not on the Stripe journal yet.

        :param dict facts: ``utils.balance_transaction_facts`` of it.
        :param dict link: what ``_stripe_find_documents`` found for it.
        :param stored: its ``stripe.balance.transaction``, if imported.
        :param dict payouts: ``{payout Stripe id: stripe.payout}``.
        :return: (amount in minor units it adds to Stripe's balance and not to
            Odoo's, why)
        :rtype: tuple
        """
        if stored and stored.payout_id and stored.payout_id._stripe_is_reconciled():
            return 0, None  # its payout's reconciliation booked what was missing
        how = const.PAYOUT_BOOKING.get(facts.reporting_category)
        if how == "payout":
            payout = payouts.get(facts.source_id)
            if not payout:
                return facts.net, _("payout %s is not in Odoo", facts.source_id)
            booked = (
                payout.transfer_move_id
                if facts.type == "payout"
                else payout.transfer_reversal_move_id
            )
            if booked:
                return 0, None
            return facts.net, _(
                "payout %s is not reconciled in Odoo yet", facts.source_id
            )
        linked = any(link.get(key) for key in ("payment_id", "move_id", "document_ref"))
        if stored:
            linked = linked or stored.link_state == "linked"
        if not linked:
            return facts.net, _("nothing in Odoo books it")
        fee_booked = link.get("fee_move_id") or (stored and stored.fee_move_id)
        if facts.fee and not fee_booked:
            return -facts.fee, _(
                "its fee is not booked yet (booked when its payout is reconciled)"
            )
        return 0, None

    @api.model
    def _stripe_events_of(self, account, facts_list):
        """The events about the sources of these transactions, in one search."""
        object_ids = {
            key
            for facts in facts_list
            for key in (
                facts.source_id,
                facts.charge_id,
                facts.payment_intent_id,
            )
            if key
        }
        if not object_ids:
            return self.env["stripe.event"]
        return self.env["stripe.event"].search(
            [
                ("account_id", "=", account.id),
                ("stripe_object_id", "in", list(object_ids)),
            ]
        )

    @api.model
    def _stripe_pick_event(self, events, facts):
        """The event a user should look at for a transaction: one that is not done
        first (it says what went wrong), else the latest."""
        keys = {facts.source_id, facts.charge_id, facts.payment_intent_id}
        mine = events.filtered(lambda event: event.stripe_object_id in keys)
        open_ones = mine.filtered(lambda event: event.state != "done")
        return (open_ones or mine)[:1]

    @api.model
    def _stripe_unexplained_entries(self, account):
        """The posted entries on the Stripe journal's account that no Stripe
        object of the account explains, an entry and its reversal left out
        together.

        An entry is explained when a record of the account (a payment, an event,
        a payout, a dispute, a balance transaction...) links it through any field
        to ``account.move``, when it is a payment of Odoo's own Stripe payment
        provider, or when it reverses such an entry.

        :return: (check line values, what they add to the Stripe journal)
        :rtype: tuple
        """
        journal = account.journal_id
        foreign = (
            journal.currency_id
            and journal.currency_id != account.company_id.currency_id
        )
        amount_column = SQL("aml.amount_currency" if foreign else "aml.balance")
        self.env.flush_all()
        explained = self._stripe_explained_moves_query(account)
        self.env.cr.execute(
            SQL(
                """
                WITH explained AS (%(explained)s)
                SELECT aml.move_id, move.reversed_entry_id, SUM(%(amount)s)
                  FROM account_move_line aml
                  JOIN account_move move ON move.id = aml.move_id
                 WHERE aml.account_id = %(account)s
                   AND aml.company_id = %(company)s
                   AND aml.parent_state = 'posted'
                   AND aml.move_id NOT IN (
                       SELECT move_id FROM explained WHERE move_id IS NOT NULL)
                   AND (move.reversed_entry_id IS NULL
                        OR move.reversed_entry_id NOT IN (
                            SELECT move_id FROM explained WHERE move_id IS NOT NULL))
                 GROUP BY aml.move_id, move.reversed_entry_id, move.date
                 ORDER BY move.date, aml.move_id
                """,
                explained=explained,
                amount=amount_column,
                account=journal.default_account_id.id,
                company=account.company_id.id,
            )
        )
        rows = self.env.cr.fetchall()
        listed = {move_id for move_id, _reversed, _amount in rows}
        pairs = {
            move_id for move_id, reversed_id, _amount in rows if reversed_id in listed
        }
        pairs |= {
            reversed_id for _move, reversed_id, _amount in rows if reversed_id in listed
        }
        rows = [row for row in rows if row[0] not in pairs]
        moves = self.env["account.move"].browse([row[0] for row in rows])
        lines = [
            {
                "kind": "odoo",
                "amount": amount,
                "move_id": move.id,
                "reference": move.name,
                "description": move.ref,
                "date": fields.Datetime.to_datetime(move.date),
                # self.env._: a comprehension has no ``self`` for ``_`` to find.
                "reason": self.env._("no Stripe transaction explains it"),
            }
            for move, (_move_id, _reversed, amount) in zip(moves, rows, strict=True)
        ]
        total = account.currency_id.round(sum(row[2] for row in rows))
        return lines, total

    @api.model
    def _stripe_explained_moves_query(self, account):
        """SQL listing (``move_id``) the entries a Stripe object of ``account``
        links: every stored field to ``account.move`` of every model whose
        ``account_id`` (``stripe_account_id`` on payments) is a Stripe account, so
        that the links other parts of the module (or other addons) add count too,
        and the payments of Odoo's Stripe payment provider on the journal."""
        selects = [
            SQL(
                "SELECT move_id FROM account_payment WHERE journal_id = %s "
                "AND payment_transaction_id IS NOT NULL",
                account.journal_id.id,
            )
        ]
        for model in self.env.registry.values():
            if model._abstract or model._transient or not model._auto:
                continue
            if model._name in (self._name, "stripe.balance.check.line", "stripe.alert"):
                continue
            owner = next(
                (
                    name
                    for name in ("account_id", "stripe_account_id")
                    if name in model._fields
                    and model._fields[name].comodel_name == "stripe.account"
                    and model._fields[name].store
                ),
                None,
            )
            if not owner:
                continue
            for field in model._fields.values():
                if field.comodel_name != "account.move" or not field.store:
                    continue
                if field.type == "many2one":
                    selects.append(
                        SQL(
                            "SELECT %s FROM %s WHERE %s = %s",
                            SQL.identifier(field.name),
                            SQL.identifier(model._table),
                            SQL.identifier(owner),
                            account.id,
                        )
                    )
                elif field.type == "many2many":
                    selects.append(
                        SQL(
                            "SELECT rel.%s FROM %s rel JOIN %s owner "
                            "ON owner.id = rel.%s WHERE owner.%s = %s",
                            SQL.identifier(field.column2),
                            SQL.identifier(field.relation),
                            SQL.identifier(model._table),
                            SQL.identifier(field.column1),
                            SQL.identifier(owner),
                            account.id,
                        )
                    )
        return SQL(" UNION ").join(selects)

    # === ALERTS === #

    def _stripe_alert(self):
        """Open (or update) the account's balance alert on a difference; resolve
        it on an agreement."""
        self.ensure_one()
        account = self.account_id
        if self.state == "ok":
            account._stripe_alert_resolve(
                "balance_difference",
                _(
                    "The balance check of %s agrees.",
                    format_datetime(self.env, self.checked_at),
                ),
            )
            return
        if self.state != "difference":
            return
        causes = Markup("").join(
            Markup("<li>%s %s: %s</li>")
            % (line.reference, self.currency_id.format(line.amount), line.reason)
            for line in self.line_ids[:10]
        )
        note = Markup("<p>%s</p><ul>%s</ul><p>%s</p>") % (
            self.message,
            causes,
            self._get_html_link(title=_("Open the balance check")),
        )
        account._stripe_alert(
            "balance_difference",
            _(
                "Stripe balance and Odoo differ by %s",
                self.currency_id.format(self.difference),
            ),
            note,
        )


class StripeBalanceCheckLine(models.Model):
    """One cause of a balance difference: a Stripe transaction Odoo has not
    booked, or an entry on the Stripe journal no Stripe object explains."""

    _name = "stripe.balance.check.line"
    _description = "Stripe Balance Check Cause"
    _order = "kind desc, date, id"

    check_id = fields.Many2one(
        "stripe.balance.check", required=True, ondelete="cascade", index=True
    )
    currency_id = fields.Many2one(related="check_id.currency_id")
    kind = fields.Selection(
        [("stripe", "Not Booked in Odoo"), ("odoo", "Not in Stripe")],
        required=True,
        help="Not Booked in Odoo: a Stripe transaction (or its fee) the Stripe "
        "journal does not hold yet.\nNot in Stripe: an entry on the Stripe journal "
        "no Stripe object explains (typed by hand?).",
    )
    amount = fields.Monetary(
        help="What it adds to Stripe's balance (not booked in Odoo) or to the "
        "Stripe journal (not in Stripe)."
    )
    reference = fields.Char(help="The transaction (txn_...) or the entry.")
    transaction_type = fields.Char(string="Type")
    stripe_source_id = fields.Char(string="Stripe Object", help="ch_, re_, po_...")
    description = fields.Char()
    date = fields.Datetime()
    reason = fields.Char()
    event_id = fields.Many2one("stripe.event", ondelete="set null")
    move_id = fields.Many2one("account.move", string="Entry", ondelete="set null")
