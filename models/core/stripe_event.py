import contextlib
import json
import logging
import time
from datetime import timedelta

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import LazyTranslate, format_datetime, formatLang

from ... import const, utils
from ...exceptions import StripeNothingToDo, StripeNotYet
from ...tools import queue

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

# What an event of a type that names no payment, refund, dispute or payout is
# about, in words (its title, see StripeEvent._stripe_title).
EVENT_KINDS = {
    "invoice.finalized": _lt("Stripe invoice finalized"),
    "invoice.paid": _lt("Stripe invoice paid"),
    "invoice.payment_succeeded": _lt("Stripe invoice paid"),
    "invoice_payment.paid": _lt("Stripe invoice payment"),
    "invoice.payment_failed": _lt("Stripe invoice payment failed"),
    "invoice.voided": _lt("Stripe invoice voided"),
    "invoice.marked_uncollectible": _lt("Stripe invoice uncollectible"),
    "credit_note.created": _lt("Stripe credit note"),
    "credit_note.voided": _lt("Stripe credit note voided"),
    "customer.created": _lt("Customer created"),
    "customer.updated": _lt("Customer updated"),
    "customer.subscription.created": _lt("Subscription created"),
    "customer.subscription.updated": _lt("Subscription updated"),
    "customer.subscription.deleted": _lt("Subscription canceled"),
    "customer.subscription.paused": _lt("Subscription paused"),
    "customer.subscription.resumed": _lt("Subscription resumed"),
    "customer.subscription.trial_will_end": _lt("Subscription trial ending"),
    "customer.subscription.pending_update_applied": _lt("Subscription update applied"),
    "customer.subscription.pending_update_expired": _lt("Subscription update expired"),
}

# Whether a pending wake-up of the processing cron will do (see
# StripeEvent._stripe_wakeup_params): parameters cron, low, high.
WAKEUP_PENDING_SQL = """
    EXISTS(
        SELECT 1 FROM ir_cron_trigger
         WHERE cron_id = %(cron)s
           AND call_at <= %(high)s
           AND call_at >= COALESCE(%(low)s, (
                   SELECT create_date FROM ir_cron_progress
                    WHERE cron_id = %(cron)s
                    ORDER BY id DESC LIMIT 1
               ), '-infinity'::timestamp)
    )
"""

# An event as the ORM would write it (see StripeEvent._receive), whether a
# wake-up of the processing cron is pending, and whether the account counts
# refused webhooks: one statement.
RECEIVE_SQL = f"""
    WITH new AS (
        INSERT INTO "stripe_event" (
            stripe_id, type, title, account_id, company_id, livemode, api_version,
            stripe_created, stripe_object_id, object_type, payload, received_via,
            state, attempts, next_attempt_at, routing_key, lane, facts_pending,
            create_uid, create_date, write_uid, write_date
        )
        VALUES (
            %(stripe_id)s, %(type)s, %(type)s, %(account_id)s, %(company_id)s,
            %(livemode)s, %(api_version)s, %(stripe_created)s, %(stripe_object_id)s,
            %(object_type)s, %(payload)s, %(received_via)s, 'pending', 0, %(now)s,
            %(routing_key)s, %(lane)s, TRUE, %(uid)s, (now() AT TIME ZONE 'UTC'),
            %(uid)s, (now() AT TIME ZONE 'UTC')
        )
        ON CONFLICT (account_id, stripe_id) DO NOTHING
        RETURNING id
    )
    SELECT (SELECT id FROM new), {WAKEUP_PENDING_SQL},
           (SELECT webhook_refused_count > 0 FROM stripe_account
             WHERE id = %(account_id)s)
"""
WAKEUP_PENDING_QUERY = f"SELECT {WAKEUP_PENDING_SQL}"


class StripeEvent(models.Model):
    """A Stripe webhook event: the durable log and the processing queue at once.

    The controller only stores events (``_receive``); the processing cron takes due
    events oldest first with ``FOR UPDATE SKIP LOCKED`` and runs each one in its own
    savepoint through the handler named in ``_get_event_handlers()``. Handlers live
    in the files of their domain (``models/payments/stripe_event.py``, ...).

    What an event is about, in words a user reads in the log: its title, amount,
    customer and date, read from the payload when the event is processed and
    stored so that they can be listed, searched and grouped (until then its title
    is its type); the screens around a failed event (documents, ignoring)."""

    _name = "stripe.event"
    _description = "Stripe Event"
    _inherit = ["stripe.binding.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "stripe_created desc, id desc"
    _rec_name = "stripe_id"

    # === STRIPE DATA === #

    stripe_id = fields.Char(string="Event ID")
    type = fields.Char(string="Event Type", required=True, readonly=True, index=True)
    livemode = fields.Boolean(readonly=True)
    api_version = fields.Char(string="API Version", readonly=True)
    stripe_created = fields.Datetime(
        string="Created on Stripe", readonly=True, index=True
    )
    stripe_object_id = fields.Char(string="Object ID", readonly=True, index=True)
    object_type = fields.Char(readonly=True)
    payload = fields.Text(
        string="Raw Payload", readonly=True, help="The event exactly as Stripe sent it."
    )
    payload_pretty = fields.Text(string="Payload", compute="_compute_payload_pretty")
    received_via = fields.Selection(
        [("webhook", "Webhook"), ("catch_up", "Catch-up")],
        required=True,
        default="webhook",
        readonly=True,
        help="Webhook: Stripe delivered it.\nCatch-up: the webhook never did; the "
        "daily catch-up fetched it from Stripe's API.",
    )
    # === PROCESSING === #

    routing_key = fields.Char(
        readonly=True,
        index="btree_not_null",
        help="What the event books (its Stripe customer, else invoice, else "
        "object): events of one key are processed by one worker at a time.",
    )
    lane = fields.Selection(
        [
            ("payments", "Payments"),
            ("billing", "Stripe Billing"),
            ("payouts", "Payouts"),
            ("other", "Other"),
        ],
        readonly=True,
        default="other",
        help="The kind of work: each batch of the processing cron takes due events "
        "from every lane, so that a storm of one kind never starves another.",
    )
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("waiting", "Waiting"),
            ("done", "Done"),
            ("ignored", "Ignored"),
            ("failed", "Failed"),
        ],
        required=True,
        default="pending",
        readonly=True,
        index=True,
        help="Pending: received, not processed yet.\n"
        "Waiting: needs something that has not arrived yet; looked at again later.\n"
        "Done: Odoo did what the event asks.\n"
        "Ignored: nothing to do in Odoo (the message says why).\n"
        "Failed: processing raised an error; retried automatically a few times, "
        "then waits for a user.",
    )
    state_message = fields.Text(string="Message", readonly=True)
    attempts = fields.Integer(readonly=True, default=0)
    next_attempt_at = fields.Datetime(
        string="Next Attempt",
        readonly=True,
        index=True,
        help="When the processing cron looks at this event next.",
    )
    processed_at = fields.Datetime(string="Processed On", readonly=True)
    wait_deadline = fields.Datetime(
        readonly=True,
        copy=False,
        help="When waiting for what the event needs ends (the event then fails, "
        "or its handler takes another way).",
    )
    can_retry = fields.Boolean(compute="_compute_can_retry")
    # === ODOO DOCUMENTS === #

    payment_ids = fields.Many2many(
        "account.payment", string="Payments", readonly=True, copy=False
    )
    move_ids = fields.Many2many(
        "account.move", string="Journal Entries", readonly=True, copy=False
    )
    sale_order_ids = fields.Many2many(
        "sale.order", string="Sales Orders", readonly=True, copy=False
    )
    document_count = fields.Integer(compute="_compute_document_count")
    # === WHAT THE EVENT IS ABOUT (read from the payload when processed) === #

    title = fields.Char(
        string="Stored Title",
        readonly=True,
        help="What the event is about, e.g. 'Payment of $ 147.00 from cus_...'; "
        "the event type until the event is processed. Stored in the account's "
        "language, for searching.",
    )
    title_text = fields.Char(
        string="Title",
        compute="_compute_title_text",
        help="What the event is about, in your language.",
    )
    amount = fields.Monetary(
        readonly=True, help="The amount of the Stripe object, in its own currency."
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    stripe_customer_id = fields.Char(readonly=True, index="btree_not_null")
    customer_email = fields.Char(string="Customer E-mail", readonly=True)
    description = fields.Char(readonly=True)
    object_date = fields.Datetime(
        readonly=True,
        help="When the Stripe object (payment, refund, payout...) was created.",
    )
    facts_pending = fields.Boolean(
        readonly=True,
        copy=False,
        help="Stored by the webhook, what it is about (title, amount, customer...) "
        "not read from its payload yet: that is done when it is processed.",
    )
    books_money = fields.Boolean(
        compute="_compute_books_money",
        help="Processing this event books an amount in Odoo.",
    )

    # === COMPUTE METHODS === #

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for event in self:
            try:
                event.payload_pretty = json.dumps(
                    json.loads(event.payload or "null"), indent=2, sort_keys=True
                )
            except ValueError:
                event.payload_pretty = event.payload

    @api.depends(
        "type",
        "facts_pending",
        "amount",
        "currency_id",
        "stripe_customer_id",
        "customer_email",
    )
    @api.depends_context("lang")
    def _compute_title_text(self):
        # From the stored facts, in the reader's language: nothing is read from
        # the payload.
        for event in self:
            if event.facts_pending:
                event.title_text = event._stripe_title(None, event.currency_id)
            else:
                event.title_text = event._stripe_title(
                    event.amount if event.currency_id else None,
                    event.currency_id,
                    event.stripe_customer_id,
                    event.customer_email,
                )

    @api.depends("state")
    def _compute_can_retry(self):
        for event in self:
            event.can_retry = event.state in ("failed", "waiting", "ignored")

    @api.depends("payment_ids", "move_ids", "sale_order_ids")
    def _compute_document_count(self):
        for event in self:
            event.document_count = (
                len(event.payment_ids) + len(event.move_ids) + len(event.sale_order_ids)
            )

    @api.depends("type", "amount", "state")
    def _compute_books_money(self):
        handlers = self._get_event_handlers()
        for event in self:
            event.books_money = bool(
                event.type in handlers
                and event.type not in const.NO_MONEY_EVENT_TYPES
                and event.amount
            )

    # === ACTION METHODS === #

    def action_retry(self):
        """Process failed, waiting or ignored events again now, with a fresh count
        of attempts."""
        events = self.filtered("can_retry")
        if not events:
            raise UserError(_("Only failed, waiting or ignored events can be retried."))
        for event in events:
            event.message_post(body=_("Retried by %s.", self.env.user.name))
        events.write(
            {
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": fields.Datetime.now(),
            }
        )
        # sudo: processing books accounting entries on Stripe's behalf, exactly as
        # the cron (which runs as the superuser) would; the button is restricted to
        # Stripe managers.
        events.sudo()._process_events()
        return True

    def action_open_documents(self):
        """Open what the event produced: the document itself, a list of one kind,
        or, for several kinds, the journal entries of all of them (a payment is a
        journal entry too) and the orders."""
        self.ensure_one()
        documents = [
            (self.payment_ids, "account.payment"),
            (self.move_ids, "account.move"),
            (self.sale_order_ids, "sale.order"),
        ]
        documents = [(records, model) for records, model in documents if records]
        if len(documents) == 1:
            records, model = documents[0]
            action = {
                "type": "ir.actions.act_window",
                "res_model": model,
                "name": _("Documents of %s", self.stripe_id),
            }
            if len(records) == 1:
                action.update(view_mode="form", res_id=records.id)
            else:
                action.update(view_mode="list,form", domain=[("id", "in", records.ids)])
            return action
        moves = self.move_ids | self.payment_ids.move_id
        if not moves:
            return False
        action = {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "name": _("Documents of %s", self.stripe_id),
            "view_mode": "list,form",
            "views": [
                (self.env.ref("account.view_move_tree").id, "list"),
                (False, "form"),
            ],
            "domain": [
                "|",
                ("id", "in", moves.ids),
                ("id", "in", self.sale_order_ids.invoice_ids.ids),
            ],
            "context": {"create": False},
        }
        return action

    def action_mark_ignored(self):
        """Ignore events; one that would have booked money asks for a confirmation
        and a reason first (kept in its chatter)."""
        self.check_access("write")
        self._stripe_fill_display_facts()  # whether it would book money
        if not self.env.context.get("stripe_ignore_confirmed") and any(
            event.books_money for event in self if event.state != "done"
        ):
            return {
                "type": "ir.actions.act_window",
                "name": _("Mark as Ignored"),
                "res_model": "stripe.event.ignore",
                "view_mode": "form",
                "target": "new",
                "context": {"default_event_ids": self.ids},
            }
        for event in self.filtered(lambda e: e.state != "done"):
            event.message_post(body=_("Marked as ignored by %s.", self.env.user.name))
            event._set_state(
                "ignored", _("Marked as ignored by %s.", self.env.user.name)
            )
        self.activity_ids.action_done()
        return True

    # === INTAKE (called by the controller) === #

    @api.model
    def _receive(
        self, account, event_data, payload, received_via="webhook", savepoint=True
    ):
        """Store a verified webhook event and wake the processing cron up.

        One ``INSERT ... ON CONFLICT DO NOTHING``: the unique constraint on
        (account, Stripe id) decides about duplicates, without a search first, also
        between concurrent deliveries on several workers. Nothing else is computed
        here: what the event is about (title, amount, customer...) is read from the
        payload when it is processed (``_stripe_fill_display_facts``); until then
        its title is its type. The row is written as the ORM would create it, but
        without the ORM's ``create`` (no chatter message, no follower, no compute):
        a stored field added to ``stripe.event`` by another module is left empty
        here, and is to be filled when the event is processed.

        :param account: the ``stripe.account`` the event was posted to.
        :param dict event_data: the parsed and verified event.
        :param bytes payload: the raw body (UTF-8), kept as Stripe sent it.
        :param str received_via: ``webhook``, or ``catch_up`` for an event the
            daily catch-up read through the API.
        :param bool savepoint: insert in a savepoint, so that a copy another
            worker committed after this transaction began (PostgreSQL refuses the
            insert: serialization failure) is answered as a duplicate. The
            controller does without (two queries less): Odoo's HTTP layer runs
            the request again on a serialization failure, and the copy is then
            visible.
        :return: the stored event and whether it is new; for a duplicate, the
            copy stored before, or an empty recordset when another worker
            committed it after this transaction began (not in its snapshot).
        :rtype: tuple
        """
        data_object = utils.get_path(event_data, "data", "object", default={})
        stripe_id = utils.clean_text(event_data["id"], 255)
        event_type = utils.clean_text(event_data["type"], 255)
        now = fields.Datetime.now()
        values = {
            "stripe_id": stripe_id,
            "type": event_type,
            "account_id": account.id,
            # The related field's value (cached for webhooks: no query).
            "company_id": (
                account._stripe_webhook_config(account.id) or (account.company_id.id,)
            )[0],
            "livemode": bool(event_data.get("livemode")),
            "api_version": utils.clean_text(event_data.get("api_version"), 64),
            "stripe_created": utils.timestamp_to_datetime(event_data.get("created")),
            "stripe_object_id": utils.clean_text(data_object.get("id"), 255) or None,
            "object_type": utils.clean_text(data_object.get("object"), 64) or None,
            "payload": utils.clean_text(payload.decode("utf-8")),
            "received_via": received_via,
            "now": now,
            "routing_key": queue.routing_key(event_data),
            "lane": queue.lane(
                event_data.get("type"),
                event_data,
                const.EVENT_LANES,
                const.BILLING_INTENT_DESCRIPTIONS,
            ),
            "uid": self.env.uid,
        }
        values.update(self._stripe_wakeup_params(now, now))
        try:
            with (
                self.env.cr.savepoint(flush=False)
                if savepoint
                else contextlib.nullcontext()
            ):
                self.env.cr.execute(RECEIVE_SQL, values, log_exceptions=False)
                event_id, wakeup_pending, refused_before = self.env.cr.fetchone()
        except pg_errors.SerializationFailure:
            if not savepoint:
                raise
            # Odoo's transactions are REPEATABLE READ: a copy another worker
            # committed after this transaction began is not skipped silently,
            # PostgreSQL refuses instead. Any other cause (the account's row
            # updated meanwhile) is not a duplicate: raised, and Odoo's HTTP
            # layer runs the request again.
            if not self._stripe_event_committed(account.id, stripe_id):
                raise
            return self.browse(), False
        if refused_before and received_via == "webhook":
            account._stripe_note_accepted(account.id)
        if not event_id:
            # A redelivery (the constraint decided): the copy stored before.
            return self.search(
                [("account_id", "=", account.id), ("stripe_id", "=", stripe_id)]
            ), False
        # What the ORM's create keeps in step: the account's list of events.
        account.invalidate_recordset(["event_ids"], flush=False)
        if not wakeup_pending:
            self._stripe_add_wakeup(now)
        return self.browse(event_id), True

    @api.model
    def _stripe_event_committed(self, account_id, stripe_id):
        """Whether an event is stored, as committed now (a cursor of its own: rare
        races only)."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT 1 FROM stripe_event WHERE account_id = %s AND stripe_id = %s",
                (account_id, stripe_id),
            )
            return bool(cr.fetchone())

    @api.model
    def _trigger_processing(self, at=None):
        """Wake the processing cron up at ``at`` (default: now), unless a wake-up
        already pending will do (see ``_stripe_wakeup_params``).

        :param datetime at: when the cron should run (naive UTC).
        """
        now = fields.Datetime.now()
        at = at or now
        self.env.cr.execute(WAKEUP_PENDING_QUERY, self._stripe_wakeup_params(at, now))
        if not self.env.cr.fetchone()[0]:
            self._stripe_add_wakeup(at)

    @api.model
    def _stripe_wakeup_params(self, at, now):
        """The parameters of ``WAKEUP_PENDING_SQL`` for a wake-up of the
        processing cron wanted at ``at``.

        At most one wake-up is pending that the cron has not started on: for
        now, any pending trigger at or before now that is not older than the
        cron's last batch (an older one may belong to a run that has already
        looked for due events, and goes when that run ends); for later (a retry),
        one at ``at`` or up to ``const.TRIGGER_GRACE`` seconds after it (an
        earlier one would wake the cron before the event is due). Two
        transactions checking at the same moment may each add one: harmless.

        :param datetime at: when the cron should run (naive UTC).
        :param datetime now: the current time (naive UTC).
        :rtype: dict
        """
        if at > now:
            low, high = at, at + timedelta(seconds=const.TRIGGER_GRACE)
        else:
            low, high = None, now
        return {"cron": self._stripe_processing_cron_id(), "low": low, "high": high}

    @api.model
    def _stripe_add_wakeup(self, at):
        """Add a wake-up of the processing cron at ``at``: Odoo's own
        ``ir.cron._trigger``, which also notifies the cron threads when it is
        due now."""
        # sudo: ir.cron is not readable by the public user who posts webhooks.
        self.env["ir.cron"].sudo().browse(self._stripe_processing_cron_id())._trigger(
            at=at
        )

    @api.model
    def _stripe_processing_cron_id(self):
        # Cached by ir.model.data: no query.
        return self.env["ir.model.data"]._xmlid_to_res_id(
            "stripe_connector.ir_cron_stripe_event_process"
        )

    # === PROCESSING === #

    @api.model
    def _cron_process_events(self):
        """Process a batch of due events; the cron framework calls again while some
        remain (``ir.cron._notify_progress``) and commits between batches.

        A batch stops early after ``const.PROCESS_BATCH_SECONDS`` so that a
        transaction never outlives the server's time limits; events taken but not
        processed are released at commit and taken by the next batch.

        :return: the number of events processed (none when other workers hold
            every due event).
        """
        events = self._acquire_due_events(const.PROCESS_BATCH_SIZE)
        done = events._process_acquired(time_limit=const.PROCESS_BATCH_SECONDS)
        remaining = self.search_count(self._due_domain())
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    def _process_events(self):
        """Process these events now, skipping any another worker holds."""
        now = fields.Datetime.now()
        self.flush_model(["state", "next_attempt_at"])
        self._lock_events(
            """
            SELECT id FROM stripe_event
             WHERE id IN %s AND state IN %s
               AND next_attempt_at <= %s
             ORDER BY stripe_created, id
               FOR UPDATE SKIP LOCKED
            """,
            (tuple(self.ids) or (0,), const.DUE_EVENT_STATES, now),
        )._process_acquired()

    @api.model
    def _due_domain(self):
        return [
            ("state", "in", const.DUE_EVENT_STATES),
            ("next_attempt_at", "<=", fields.Datetime.now()),
        ]

    @api.model
    def _acquire_due_events(self, limit):
        """Lock and return up to ``limit`` due events, and the other due events
        of their routing keys.

        Fair: the events are taken from every lane in turn, each lane oldest
        ``created`` first (``tools.queue.interleave``), so that a storm in one
        lane (the month's renewals) leaves room to the others (a one-off
        payment). Routed: the routing key of each event taken is locked for the
        transaction (``pg_try_advisory_xact_lock``); a key another worker holds
        is skipped with its events, and the due events of a key taken come
        along, so that the related events of one customer are processed by one
        worker, in one batch. ``FOR UPDATE SKIP LOCKED`` then locks the rows:
        several cron workers, on one server or many, share the queue.
        """
        now = fields.Datetime.now()
        # The candidates: the oldest due events of each lane that no other
        # worker holds (SKIP LOCKED), their row locks given back at once (the
        # savepoint is rolled back): only the events taken are locked below.
        try:
            with self.env.cr.savepoint(flush=False) as savepoint:
                self.env.cr.execute(
                    """
                    SELECT e.lane, e.id, e.routing_key
                      FROM unnest(%s::varchar[]) AS l(lane)
                     CROSS JOIN LATERAL (
                           SELECT id, routing_key, COALESCE(lane, 'other') AS lane
                             FROM stripe_event
                            WHERE COALESCE(lane, 'other') = l.lane
                              AND state IN %s
                              AND next_attempt_at <= %s
                            ORDER BY stripe_created, id
                            LIMIT %s
                              FOR UPDATE SKIP LOCKED
                           ) e
                    """,
                    (list(queue.LANES), const.DUE_EVENT_STATES, now, limit),
                    log_exceptions=False,
                )
                rows = self.env.cr.fetchall()
                savepoint.rollback()
        except pg_errors.SerializationFailure:
            _logger.info("Stripe events taken by another worker meanwhile: skipped")
            return self.browse()
        rows_by_lane = {}
        for lane, event_id, key in rows:
            rows_by_lane.setdefault(lane, []).append((event_id, key))
        taken = queue.interleave(rows_by_lane, limit)
        if not taken:
            return self.browse()
        keys = list(
            dict.fromkeys(key or f"event:{event_id}" for event_id, key in taken)
        )
        self.env.cr.execute(
            """
            SELECT key FROM unnest(%s::varchar[]) AS k(key)
             WHERE pg_try_advisory_xact_lock(%s, hashtext(key))
            """,
            (keys, const.QUEUE_LOCK_CLASS),
        )
        locked = {row[0] for row in self.env.cr.fetchall()}
        ids = [
            event_id
            for event_id, key in taken
            if (key or f"event:{event_id}") in locked
        ]
        routed = [key for key in locked if not key.startswith("event:")]
        if routed:
            self.env.cr.execute(
                """
                SELECT id FROM stripe_event
                 WHERE routing_key = ANY(%s)
                   AND state IN %s
                   AND next_attempt_at <= %s
                 ORDER BY stripe_created, id
                 LIMIT %s
                """,
                # A key's events come along, up to as many again as the batch.
                (routed, const.DUE_EVENT_STATES, now, 2 * limit),
            )
            ids += [row[0] for row in self.env.cr.fetchall()]
        if not ids:
            return self.browse()
        return self._lock_events(
            """
            SELECT id FROM stripe_event
             WHERE id IN %s AND state IN %s
             ORDER BY stripe_created, id
               FOR UPDATE SKIP LOCKED
            """,
            (tuple(set(ids)), const.DUE_EVENT_STATES),
        )

    @api.model
    def _lock_events(self, query, params):
        """The events a ``FOR UPDATE SKIP LOCKED`` query locks.

        Odoo's transactions are REPEATABLE READ: an event another worker
        processed and committed after this transaction began cannot be locked
        here (PostgreSQL refuses with a serialization failure). It is no longer
        due anyway; this batch takes nothing and the next one, in a new
        transaction, sees what remains.
        """
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, params, log_exceptions=False)
                rows = self.env.cr.fetchall()
        except pg_errors.SerializationFailure:
            _logger.info("Stripe events taken by another worker meanwhile: skipped")
            return self.browse()
        return self.browse([row[0] for row in rows])

    def _process_acquired(self, time_limit=None):
        """Process these (locked) events in order, after the batch bookers have
        booked together what several of them would book one by one
        (``_stripe_prebook``).

        :param int time_limit: seconds after which no further event is started.
        :return: the number of events processed.
        """
        self._stripe_fill_display_facts()
        start = time.monotonic()
        notes = self._stripe_prebook()
        accounts = {}  # each account of the batch in its messages' language
        for count, event in enumerate(self):
            if time_limit and time.monotonic() - start > time_limit:
                return count
            if event.account_id not in accounts:
                accounts[event.account_id] = event.account_id._stripe_in_own_lang()
            event.with_env(accounts[event.account_id].env)._process_one(
                notes.get(event.id)
            )
        return len(self)

    def _stripe_batch_bookers(self):
        """The batch bookers: a list of ``(handler names, method name)``.

        The method is called on the events of a batch whose handler is one of
        these, when they are at least ``const.BATCH_BOOKING_MIN``; it books in
        a few calls (one ``create``, one ``action_post``, one payment
        registration...) what their handlers would book one by one, and
        returns what it booked for each: ``{event id: [messages]}``. Each event
        is then processed by its handler as usual, finds its documents booked
        (a handler never books twice) and adds these messages to its own. A
        booker leaves out any event it is not sure of: its handler books it.
        Extend the list with ``super()``.
        """
        return []

    def _stripe_prebook(self):
        """Run the batch bookers on these events, each in a savepoint: one that
        fails books nothing (logged), and the events are processed one by one.

        :return: dict event id -> messages.
        """
        handlers = self._get_event_handlers()
        notes = {}
        for handler_names, method in self._stripe_batch_bookers():
            group = self.filtered(
                lambda event, names=handler_names: handlers.get(event.type) in names
            )
            if len(group) < const.BATCH_BOOKING_MIN:
                continue
            try:
                with self.env.cr.savepoint():
                    booked = getattr(group, method)()
            except Exception:  # pylint: disable=broad-exception-caught
                _logger.warning(
                    "Stripe batch booking %s of %s events failed: they are "
                    "processed one by one",
                    method,
                    len(group),
                    exc_info=True,
                )
                continue
            for event_id, messages in booked.items():
                notes.setdefault(event_id, []).extend(messages)
        return notes

    @api.model
    def _get_event_handlers(self):
        """Return the table of handled event types: type -> method name.

        The module's own table is ``const.EVENT_HANDLERS``; another addon adds or
        replaces entries by overriding this method and updating the dict that
        ``super()`` returns. Types missing from it are stored and ignored.

        :return: a new dict on each call (safe to update).
        :rtype: dict
        """
        return dict(const.EVENT_HANDLERS)

    def _process_one(self, notes=None):
        """Run the event's handler in a savepoint and record the outcome.

        :param list notes: what a batch booker booked for the event already
            (``_stripe_prebook``): the first words of its message.

        Handler outcomes: a message (done), ``StripeNothingToDo`` (ignored),
        ``StripeNotYet`` (waiting), a PostgreSQL concurrency error (put back
        in the queue), any other exception (failed, retried with a backoff). Every
        attempt counts, the one that ends the event done or ignored too.
        """
        self.ensure_one()
        attempts = self.attempts
        handler_name = self._get_event_handlers().get(self.type)
        try:
            with self.env.cr.savepoint():
                if not handler_name:
                    raise StripeNothingToDo(
                        _("Odoo does not handle events of type %s.", self.type)
                    )
                message = getattr(self, handler_name)()
        except StripeNothingToDo as outcome:
            self._set_state("ignored", str(outcome))
        except StripeNotYet as outcome:
            self._set_waiting(outcome)
        except (
            pg_errors.SerializationFailure,
            pg_errors.LockNotAvailable,
            pg_errors.DeadlockDetected,
            pg_errors.UniqueViolation,
        ) as error:
            self._set_race(error)
        except UserError as error:
            # An expected business failure (nothing matches, a setting is
            # missing): its message says it all.
            _logger.info("Stripe event %s failed: %s", self.stripe_id, error.args[0])
            self._set_failed(error.args[0], error=error)
        # Any other error of a handler fails the event (with its message) instead
        # of the whole batch; the traceback goes to the log.
        except Exception as error:  # pylint: disable=broad-exception-caught
            _logger.warning(
                "Stripe event %s (%s) failed", self.stripe_id, self.type, exc_info=True
            )
            self._set_failed(f"{type(error).__name__}: {error}")
        else:
            self._set_state(
                "done", " ".join([*(notes or ()), message or _("Processed.")])
            )
        if self.state in ("done", "ignored") and self.attempts == attempts:
            self.attempts = attempts + 1

    # === STATE METHODS === #

    def _set_state(self, state, message):
        self.write(
            {
                "state": state,
                "state_message": message,
                "wait_deadline": False,
                "next_attempt_at": False,
                "processed_at": fields.Datetime.now(),
            }
        )

    def _set_race(self, error):
        """Another worker booked the same Stripe object, or held its rows, at the
        same time: look again in a few seconds, when its work is visible (the
        event then finds it done). Counted as an attempt, so that a persistent
        conflict still ends ``failed``."""
        _logger.info("Stripe event %s lost a race, retrying: %s", self.stripe_id, error)
        if self.attempts + 1 >= const.MAX_ATTEMPTS:
            self._set_failed(f"{type(error).__name__}: {error}")
            return
        self.write(
            {
                "attempts": self.attempts + 1,
                "next_attempt_at": fields.Datetime.now()
                + timedelta(seconds=const.CONCURRENCY_RETRY_DELAY),
            }
        )
        self._trigger_processing(at=self.next_attempt_at)

    def _set_waiting(self, outcome):
        """Put the event back to wait for what ``outcome`` (``StripeNotYet``) says;
        fail it once the wait is over.

        It is looked at again after the outcome's ``seconds``, else after a delay
        that grows with the time already waited (so doubles at each look), from
        ``WAIT_BASE_DELAY`` up to ``WAIT_MAX_DELAY``. The wait ends at the
        outcome's deadline (``give_up_after`` from the first time the event waited
        with one; kept until the event is done or ignored), else as long after the
        event's receipt as Stripe itself keeps retrying a delivery.
        """
        now = fields.Datetime.now()
        message = str(outcome)
        if outcome.give_up_after:
            # Counted from the first wait with a deadline: failures and retries
            # in between do not start it again.
            deadline = self.wait_deadline or now + timedelta(
                seconds=outcome.give_up_after
            )
            limit, waited_for = deadline, outcome.give_up_after
        else:
            deadline = False
            limit = self.create_date + timedelta(seconds=const.WAIT_GIVE_UP_AFTER)
            waited_for = const.WAIT_GIVE_UP_AFTER
        if now >= limit:
            self._set_failed(
                _(
                    "Gave up waiting after %(duration)s: %(reason)s",
                    duration=self._stripe_duration_text(waited_for),
                    reason=message,
                )
            )
            return
        waited = (now - self.create_date).total_seconds()
        delay = outcome.seconds or min(
            max(waited, const.WAIT_BASE_DELAY), const.WAIT_MAX_DELAY
        )
        # A deadline is looked at when it passes, not up to an hour later.
        delay = max(min(delay, (limit - now).total_seconds()), 1)
        self.write(
            {
                "state": "waiting",
                "state_message": message,
                "next_attempt_at": now + timedelta(seconds=delay),
                "wait_deadline": deadline,
            }
        )
        self._trigger_processing(at=self.next_attempt_at)

    @api.model
    def _stripe_datetime_text(self, value):
        """A date and time for an event's message, in the time zone of the
        account's responsible (who reads it; the cron has none), else the
        user's."""
        if not value:
            return ""
        tz = self.account_id.user_id.tz or self.env.user.tz or "UTC"
        return format_datetime(self.env, value, tz=tz)

    def _stripe_amount_in_words(self, amount, currency):
        """``49.00 USD``: the amount with its currency's decimals (in the
        language's number format) and the currency's code."""
        return "%s %s" % (
            formatLang(self.env, amount, digits=currency.decimal_places),
            currency.name,
        )

    def _stripe_duration_text(self, seconds):
        """A duration in words: whole days, else hours, else minutes."""
        seconds = round(seconds)
        if seconds >= 86400 and not seconds % 86400:
            days = seconds // 86400
            return _("a day") if days == 1 else _("%s days", days)
        if seconds >= 3600 and not seconds % 3600:
            hours = seconds // 3600
            return _("an hour") if hours == 1 else _("%s hours", hours)
        minutes = max(seconds // 60, 1)
        return _("a minute") if minutes == 1 else _("%s minutes", minutes)

    def _stripe_wait_over(self):
        """Whether the deadline of what the event waits for has passed (a handler
        with another way asks before waiting again)."""
        self.ensure_one()
        return bool(self.wait_deadline and fields.Datetime.now() >= self.wait_deadline)

    def _set_failed(self, message, error=None):  # pylint: disable=unused-argument
        """Fail the event; schedule the next automatic attempt or, after the last
        one, an activity for the account's responsible user.

        :param str message: why, for the event's message.
        :param Exception error: the handler's error, when there is one (an alert
            may tell someone at once, see ``models/monitoring/stripe_event.py``).
        """
        now = fields.Datetime.now()
        attempts = self.attempts + 1
        if attempts < const.MAX_ATTEMPTS:
            next_attempt = now + timedelta(
                seconds=utils.backoff_delay(attempts, const.RETRY_BASE_DELAY)
            )
        else:
            next_attempt = False
        self.write(
            {
                "state": "failed",
                "state_message": message,
                "attempts": attempts,
                "next_attempt_at": next_attempt,
                "processed_at": now,
            }
        )
        if next_attempt:
            self._trigger_processing(at=next_attempt)
        else:
            self.message_post(
                body=_(
                    "Failed %(count)s times, no more automatic retries: %(message)s",
                    count=attempts,
                    message=message,
                )
            )
            self._stripe_schedule_activity(
                _("Stripe event %s needs attention", self.stripe_id), message
            )

    # === HANDLER HELPERS === #

    def _stripe_check_settlement(self, balance_transaction):
        """See ``stripe.payment.rules._stripe_check_settlement``."""
        self.env["stripe.payment.rules"]._stripe_bind(
            self.account_id
        )._stripe_check_settlement(balance_transaction)

    def _get_object(self):
        """Return the event's ``data.object`` as a dict, its texts storable (see
        ``utils.clean_strings``)."""
        self.ensure_one()
        return utils.clean_strings(
            utils.get_path(json.loads(self.payload), "data", "object", default={})
        )

    def _link_documents(self, payments=None, moves=None, orders=None):
        """Record on the event the Odoo documents its processing produced (those
        not recorded yet)."""
        vals = {}
        for fname, records in (
            ("payment_ids", payments),
            ("move_ids", moves),
            ("sale_order_ids", orders),
        ):
            known = self[fname] if len(self) == 1 else records.browse()
            new = records and records - known
            if new:
                vals[fname] = [fields.Command.link(record.id) for record in new]
        if vals:
            self.write(vals)

    # === BUSINESS METHODS === #

    def _stripe_mark_ignored_with_reason(self, reason):
        """Ignore the events: the reason is the event's message (shown on it)
        and said once in its chatter."""
        self.check_access("write")
        for event in self.filtered(lambda e: e.state != "done"):
            if event.books_money:
                done = _(
                    "Marked as ignored by %(user)s although it would have booked "
                    "%(amount)s.",
                    user=self.env.user.name,
                    amount=event._stripe_amount_text(),
                )
            else:
                done = _("Marked as ignored by %s.", self.env.user.name)
            why = _("Reason: %s", reason)
            event.message_post(body=Markup("%s<br/>%s") % (done, why))
            event._set_state("ignored", f"{done} {why}")
        self.activity_ids.action_done()
        return True

    def _stripe_fill_display_facts(self):
        """Read what these events are about from their payloads, for those that
        have not been yet (``facts_pending``): title, amount and currency,
        Stripe customer and e-mail, description, the object's date.

        The webhook stores an event without them (its title is its type until
        then); processing fills them first, for the events of its batch, and so
        does marking an event ignored (whether it would book money depends on its
        amount). Written in the cache: the batch's first flush writes them.
        """
        currencies = {}
        langs = {}  # the stored title is in the account's language
        for event in self.filtered("facts_pending"):
            if event.account_id not in langs:
                langs[event.account_id] = event.account_id._stripe_message_lang()
            event.write(
                event.with_context(lang=langs[event.account_id])._stripe_display_facts(
                    currencies
                )
            )

    def _stripe_display_facts(self, currencies):
        """The values of the display fields of this event, from its payload.

        :param dict currencies: currency code -> ``res.currency``, a cache shared
            by the events of a batch.
        :rtype: dict
        """
        self.ensure_one()
        try:
            obj = utils.get_path(
                json.loads(self.payload or "{}"), "data", "object", default={}
            )
        except ValueError:
            obj = {}
        if not isinstance(obj, dict):
            obj = {}
        minor, code = self._stripe_display_amount(obj)
        currency = self.env["res.currency"]
        if code:
            if code not in currencies:
                currencies[code] = (
                    self.env["res.currency"]
                    .with_context(active_test=False)
                    .search([("name", "=", code)], limit=1)
                )
            currency = currencies[code]
        amount = (
            float(utils.from_minor_units(minor, code))
            if currency and minor is not None
            else 0.0
        )
        customer = utils.clean_text(utils.object_id(obj.get("customer")), 255)
        email = utils.clean_text(
            obj.get("receipt_email")
            or utils.get_path(obj, "customer_details", "email")
            or obj.get("customer_email")
            or utils.get_path(obj, "billing_details", "email"),
            255,
        )
        return {
            "amount": amount,
            "currency_id": currency.id,
            "stripe_customer_id": customer or False,
            "customer_email": email or False,
            "description": utils.clean_text(obj.get("description"), 255) or False,
            "object_date": utils.timestamp_to_datetime(obj.get("created")) or False,
            "title": self._stripe_title(
                amount if currency else None, currency, customer, email
            ),
            "facts_pending": False,
        }

    @api.model
    def _stripe_display_amount(self, obj):
        """The amount an object is about, in minor units, and its currency.

        :return: ``(int or None, str or None)``
        """
        kind = obj.get("object")
        if kind == "payment_intent":
            minor = obj.get("amount_received") or obj.get("amount")
        elif kind == "checkout.session":
            minor = obj.get("amount_total")
        elif kind in ("invoice", "credit_note"):
            minor = obj.get("total")
        elif (
            kind == "charge"
            and obj.get("refunded") is not None
            and obj.get("amount_refunded")
        ):
            minor = obj.get("amount_refunded")
        else:
            minor = obj.get("amount")
        code = (obj.get("currency") or "").upper() or None
        if not isinstance(minor, int) or not code:
            return None, code
        return minor, code

    def _stripe_amount_text(self):
        self.ensure_one()
        if not self.currency_id:
            return _("an amount")
        return self.currency_id.format(self.amount)

    def _stripe_title(self, amount, currency, customer=None, email=None):
        """A human title for the event from its type and object.

        :param float amount: the object's amount (None: none).
        :param currency: its ``res.currency`` (empty: none).
        :param str customer: the Stripe customer id, if any.
        :param str email: the customer's e-mail, if any.
        """
        self.ensure_one()
        event_type = self.type or ""
        who = customer or email
        if customer and email:
            who = f"{customer} ({email})"
        what = currency.format(amount) if currency and amount is not None else None
        if event_type in const.NO_MONEY_EVENT_TYPES:
            kind = _("Failed payment")
        elif event_type.startswith(("payment_intent.", "checkout.session.")) or (
            event_type == "charge.succeeded"
        ):
            kind = _("Payment")
        elif event_type.startswith("charge.dispute."):
            kind = _("Dispute")
        elif event_type.startswith("refund.") or event_type == "charge.refunded":
            kind = _("Refund")
        elif event_type.startswith("payout."):
            kind = _("Payout")
        elif event_type in EVENT_KINDS:
            kind = self.env._(EVENT_KINDS[event_type])
            return " · ".join(part for part in (kind, what, who) if part)
        else:
            return event_type
        if what and who:
            return _(
                "%(kind)s of %(amount)s from %(who)s", kind=kind, amount=what, who=who
            )
        if what:
            return _("%(kind)s of %(amount)s", kind=kind, amount=what)
        return _("%(kind)s (%(type)s)", kind=kind, type=event_type)
