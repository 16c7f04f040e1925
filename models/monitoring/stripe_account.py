import logging
import re
from datetime import timedelta

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime, mute_logger, plaintext2html

from ... import const

_logger = logging.getLogger(__name__)


API_VERSION_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.[a-z]+)?$")


class StripeAccount(models.Model):
    """Monitoring of a Stripe account: alerts (one activity per cause on the
    account or the event concerned, and an optional Discuss channel), the balance
    check history, the webhook watch, and the overview card's figures."""

    _name = "stripe.account"
    _inherit = ["stripe.account", "mail.activity.mixin"]

    # === ALERTS === #

    alert_channel_id = fields.Many2one(
        "discuss.channel",
        help="Discuss channel that hears of every alert of this account (besides "
        "the activity of the responsible user) and of its resolution.",
    )
    alert_ids = fields.One2many("stripe.alert", "account_id", string="Alerts")
    open_alert_count = fields.Integer(compute="_compute_open_alert_count")
    # === BALANCE CHECK === #

    balance_check_ids = fields.One2many(
        "stripe.balance.check", "account_id", string="Balance Checks"
    )
    last_balance_check_id = fields.Many2one(
        "stripe.balance.check",
        compute="_compute_last_balance_check_id",
    )
    balance_check_state = fields.Selection(
        [("ok", "Agrees"), ("difference", "Differs"), ("error", "Not Checked")],
        string="Balance Check",
        compute="_compute_last_balance_check_id",
    )
    balance_check_difference = fields.Monetary(
        string="Balance Difference", compute="_compute_last_balance_check_id"
    )
    balance_check_date = fields.Datetime(
        string="Balance Checked On", compute="_compute_last_balance_check_id"
    )
    # === OVERVIEW === #

    waiting_event_count = fields.Integer(compute="_compute_overview")
    to_check_event_count = fields.Integer(
        compute="_compute_overview",
        help="Payments waiting for the event that links them to a document (a "
        "Checkout Session, a Stripe invoice): they fail, and someone is told, if "
        "it does not come within an hour.",
    )
    today_payment_count = fields.Integer(
        string="Payments Today", compute="_compute_overview"
    )
    today_payment_amount = fields.Monetary(
        string="Received Today", compute="_compute_overview"
    )
    volume_30d = fields.Monetary(
        string="Received in 30 Days", compute="_compute_overview"
    )
    sparkline_svg = fields.Html(
        string="Last 30 Days", compute="_compute_overview", sanitize=False
    )
    last_payout_id = fields.Many2one("stripe.payout", compute="_compute_last_payout_id")
    last_payout_amount = fields.Monetary(
        compute="_compute_last_payout_id", currency_field="last_payout_currency_id"
    )
    last_payout_currency_id = fields.Many2one(
        "res.currency", compute="_compute_last_payout_id"
    )
    last_payout_arrival = fields.Date(compute="_compute_last_payout_id")
    last_payout_status = fields.Selection(
        lambda self: self.env["stripe.payout"]._fields["status"].selection,
        compute="_compute_last_payout_id",
    )
    last_payout_state = fields.Selection(
        lambda self: self.env["stripe.payout"]._fields["state"].selection,
        compute="_compute_last_payout_id",
    )

    # === COMPUTE METHODS === #

    def _compute_open_alert_count(self):
        counts = dict(
            self.env["stripe.alert"]._read_group(
                [("account_id", "in", self.ids), ("state", "=", "open")],
                ["account_id"],
                ["__count"],
            )
        )
        for account in self:
            account.open_alert_count = counts.get(account, 0)

    def _compute_last_balance_check_id(self):
        for account in self:
            check = self.env["stripe.balance.check"].search(
                [("account_id", "=", account.id)], limit=1
            )
            account.last_balance_check_id = check
            account.balance_check_state = check.state
            account.balance_check_difference = check.difference
            account.balance_check_date = check.checked_at

    def _compute_last_payout_id(self):
        for account in self:
            payout = self.env["stripe.payout"].search(
                [("account_id", "=", account.id)],
                order="stripe_created desc, id desc",
                limit=1,
            )
            account.last_payout_id = payout
            account.last_payout_amount = payout.amount
            account.last_payout_currency_id = payout.currency_id
            account.last_payout_arrival = payout.arrival_date
            account.last_payout_status = payout.status
            account.last_payout_state = payout.state

    def _compute_overview(self):
        waiting, to_check = {}, {}
        for account, flagged, count in self.env["stripe.event"]._read_group(
            [("account_id", "in", self.ids), ("state", "=", "waiting")],
            ["account_id", "to_check"],
            ["__count"],
        ):
            waiting[account] = waiting.get(account, 0) + count
            if flagged:
                to_check[account] = count
        today = fields.Date.context_today(self)
        start = today - timedelta(days=const.OVERVIEW_SPARKLINE_DAYS - 1)
        for account in self:
            account.waiting_event_count = waiting.get(account, 0)
            account.to_check_event_count = to_check.get(account, 0)
            daily = account._stripe_daily_payments(start)
            count, amount = daily.get(today, (0, 0.0))
            account.today_payment_count = count
            account.today_payment_amount = amount
            values = [
                daily.get(start + timedelta(days=n), (0, 0.0))[1]
                for n in range(const.OVERVIEW_SPARKLINE_DAYS)
            ]
            account.volume_30d = sum(values)
            account.sparkline_svg = self._stripe_sparkline(values)

    # === ACTION METHODS === #

    def action_check_balance(self):
        """Compare Stripe's balance with the Stripe journal's now, and say how it
        went."""
        self.ensure_one()
        # sudo: the check records what Stripe and the journal say, and alerts on
        # Stripe's behalf; any Stripe user may ask for it.
        check = self.env["stripe.balance.check"].sudo()._stripe_run(self.sudo())
        check = check.with_env(self.env)
        notification_type = {"ok": "success", "difference": "warning"}.get(
            check.state, "danger"
        )
        return self._stripe_notification(
            _("Balance check"),
            check.message,
            notification_type=notification_type,
            sticky=check.state != "ok",
            next_action={"type": "ir.actions.client", "tag": "soft_reload"},
        )

    def action_view_balance_checks(self):
        return self._stripe_action("stripe_connector.stripe_balance_check_action")

    def action_view_alerts(self):
        return self._stripe_action(
            "stripe_connector.stripe_alert_action", {"search_default_open": 1}
        )

    def action_view_failed_events(self):
        return self._stripe_action(
            "stripe_connector.stripe_event_action",
            {"search_default_failed": 1, "default_account_id": self.id},
        )

    def action_view_waiting_events(self):
        return self._stripe_action(
            "stripe_connector.stripe_event_action",
            {"search_default_waiting": 1, "default_account_id": self.id},
        )

    def action_view_to_check_events(self):
        return self._stripe_action(
            "stripe_connector.stripe_event_action",
            {"search_default_to_check": 1, "default_account_id": self.id},
        )

    def action_view_last_payout(self):
        self.ensure_one()
        if not self.last_payout_id:
            return self.action_view_payouts()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stripe.payout",
            "res_id": self.last_payout_id.id,
            "view_mode": "form",
        }

    def action_view_last_balance_check(self):
        self.ensure_one()
        if not self.last_balance_check_id:
            return self.action_view_balance_checks()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stripe.balance.check",
            "res_id": self.last_balance_check_id.id,
            "view_mode": "form",
        }

    # === ALERT METHODS === #

    def _stripe_alert(self, cause, summary, note, record=None):
        """Tell whoever must hear of it that ``cause`` needs a person.

        One open alert per account, cause and record: the first time, the
        responsible user (see ``stripe.owned.mixin._stripe_activity_user``) gets
        an activity on ``record`` and the alert channel a message; while the alert
        is open, the cause seen again only updates its note and count. An activity
        a user marked done is not given again before the cause is resolved.

        :param str cause: a ``stripe.alert`` cause.
        :param str summary: the activity's title (plain text).
        :param note: plain text (escaped here), or ``Markup``.
        :param record: the record the activity goes on; the account by default.
        :return: the open ``stripe.alert`` (empty if a concurrent transaction
            opened it).
        """
        self.ensure_one()
        record = record or self
        note = note if isinstance(note, Markup) else plaintext2html(note or "")
        # sudo: alerts are raised on Stripe's behalf, whoever triggers the check
        # (a webhook processed by the cron, a user's button).
        alert_model = self.env["stripe.alert"].sudo()
        alert = alert_model.search(
            alert_model._stripe_record_domain(self, cause, record), limit=1
        )
        if alert:
            alert.write(
                {
                    "occurrences": alert.occurrences + 1,
                    "last_seen_at": fields.Datetime.now(),
                    "summary": summary,
                    "note": note,
                }
            )
            if alert.activity_id:
                alert.activity_id.write({"summary": summary, "note": note})
            return alert
        try:
            # A concurrent transaction that opened the same alert wins; its insert
            # failing here is expected, not an error in the log.
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                alert = alert_model.create(
                    {
                        "account_id": self.id,
                        "cause": cause,
                        "res_model": record._name,
                        "res_id": record.id,
                        "summary": summary,
                        "note": note,
                    }
                )
        except pg_errors.UniqueViolation:
            return alert_model
        user = alert._stripe_activity_user()
        if user:
            alert.activity_id = record.sudo().activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=note,
                user_id=user.id,
            )
        alert._stripe_post_to_channel(Markup("<b>%s</b><br/>%s") % (summary, note))
        return alert

    def _stripe_alert_resolve(self, cause, message, record=None):
        """Resolve the open alert of ``cause`` about ``record`` (the account by
        default): its activity is marked done with ``message``.

        :return: the alerts resolved.
        """
        self.ensure_one()
        record = record or self
        alert_model = self.env["stripe.alert"].sudo()
        alerts = alert_model.search(
            alert_model._stripe_record_domain(self, cause, record)
        )
        alerts._stripe_resolve(message)
        return alerts

    # === BALANCE CHECK === #

    @api.model
    def _cron_check_balances(self):
        """Daily: compare Stripe's balance with the Stripe journal's, for every
        account with an API key (each in its own savepoint)."""
        for api_account in self._stripe_api_accounts():
            account = api_account._stripe_in_own_lang()
            try:
                with self.env.cr.savepoint():
                    account.env["stripe.balance.check"]._stripe_run(account)
            except UserError as error:
                _logger.warning(
                    "Stripe account %s: balance not checked: %s",
                    account.id,
                    error.args[0],
                )

    # === MISSED EVENTS === #

    def _stripe_fetch_missed_events(self, days=const.MISSED_EVENTS_DAYS):
        """Also alert when the catch-up found events the webhook never delivered
        (once per catch-up that finds some; one that finds none resolves it)."""
        self.ensure_one()
        event_model = self.env["stripe.event"].sudo()
        last = event_model.search(
            [("account_id", "=", self.id)], order="id desc", limit=1
        )
        stored = super()._stripe_fetch_missed_events(days=days)
        grace = fields.Datetime.now() - timedelta(
            minutes=const.MISSED_EVENTS_GRACE_MINUTES
        )
        missed = event_model.search(
            [
                ("account_id", "=", self.id),
                ("id", ">", last.id or 0),
                ("received_via", "=", "catch_up"),
                # Younger ones may still be on their way through the webhook.
                ("stripe_created", "<", grace),
            ],
            order="stripe_created, id",
        )
        if missed:
            self._stripe_alert_missed_events(missed)
        else:
            self._stripe_resolve_missed_events()
        self._stripe_alert_resolve(
            "catch_up_failed", _("The catch-up of missed events worked again.")
        )
        return stored

    def _stripe_catch_up_failed(self, message):
        """Alert: the daily catch-up of this account failed (the other accounts'
        went on); resolved by the next catch-up that works."""
        res = super()._stripe_catch_up_failed(message)
        self._stripe_alert(
            "catch_up_failed",
            _("The daily catch-up of missed Stripe events failed"),
            _(
                "Odoo could not fetch the events the webhook of %(account)s may "
                "have missed: %(message)s\nNothing of this catch-up was kept; it "
                "runs again tomorrow (or click Fetch Missed Events on the "
                "account).",
                account=self.display_name,
                message=message,
            ),
        )
        return res

    def _stripe_resolve_missed_events(self):
        """Resolve the missed-events alert once the endpoint shows it works: the
        catch-up found nothing missing and the webhook delivered an event since
        the alert was opened."""
        alerts = (
            self.env["stripe.alert"]
            .sudo()
            .search(
                self.env["stripe.alert"]._stripe_record_domain(
                    self, "missed_events", self
                )
            )
        )
        for alert in alerts:
            delivered = self.env["stripe.event"].search_count(
                [
                    ("account_id", "=", self.id),
                    ("received_via", "=", "webhook"),
                    ("create_date", ">=", alert.create_date),
                ],
                limit=1,
            )
            if delivered:
                alert._stripe_resolve(
                    _(
                        "The webhook delivers again and the last catch-up found no "
                        "missed event."
                    )
                )

    def _stripe_alert_missed_events(self, missed):
        since = format_datetime(self.env, missed[0].stripe_created)
        types = sorted(set(missed.mapped("type")))
        summary = _(
            "The Stripe webhook missed %(count)s events since %(since)s",
            count=len(missed),
            since=since,
        )
        note = _(
            "The webhook endpoint missed %(count)s events since %(since)s "
            "(%(types)s): the daily catch-up fetched them from Stripe and they are "
            "processed. In Stripe's dashboard (Developers > Webhooks), check that "
            "the endpoint %(url)s is enabled, listens to these event types and "
            "answers 200.",
            count=len(missed),
            since=since,
            types=", ".join(types),
            url=self.webhook_url,
        )
        return self._stripe_alert("missed_events", summary, note)

    # === WEBHOOK WATCH === #

    @api.model
    def _cron_watch_webhooks(self):
        """Hourly: alert on a webhook silent for longer than its usual traffic
        makes plausible, and on events of an API version the module does not
        know; resolve those alerts when the cause is gone."""
        # sudo: the cron looks at every account that receives webhooks; only
        # counts are read (the secret is not).
        for account_sudo in self.sudo().search([("webhook_secret", "!=", False)]):
            account = self.browse(account_sudo.id)._stripe_in_own_lang()
            account._stripe_watch_silence()
            account._stripe_watch_api_versions()

    def _stripe_watch_silence(self):
        """Alert when the webhook has been silent for much longer than the mean
        interval between its events (see ``const.WEBHOOK_SILENCE_FACTOR``).

        The traffic is measured over the ``WEBHOOK_TRAFFIC_DAYS`` before the last
        webhook event, so that a long silence does not erase its own evidence.

        :return: the silence threshold (``timedelta``), or ``None`` when the
            account has too little traffic to judge.
        """
        self.ensure_one()
        event_model = self.env["stripe.event"]
        webhook_domain = [
            ("account_id", "=", self.id),
            ("received_via", "=", "webhook"),
        ]
        [(last,)] = event_model._read_group(webhook_domain, [], ["create_date:max"])
        if not last:
            return None
        [(count, first)] = event_model._read_group(
            [
                *webhook_domain,
                (
                    "create_date",
                    ">=",
                    last - timedelta(days=const.WEBHOOK_TRAFFIC_DAYS),
                ),
            ],
            [],
            ["__count", "create_date:min"],
        )
        if count < const.WEBHOOK_SILENCE_MIN_EVENTS:
            return None
        mean_interval = (last - first) / (count - 1)
        threshold = max(
            timedelta(hours=const.WEBHOOK_SILENCE_MIN_HOURS),
            const.WEBHOOK_SILENCE_FACTOR * mean_interval,
        )
        silent_for = fields.Datetime.now() - last
        if silent_for <= threshold:
            self._stripe_alert_resolve(
                "webhook_silent",
                _(
                    "Stripe's webhook is delivering again (last event %s).",
                    format_datetime(self.env, last),
                ),
            )
            return threshold
        hours = round(silent_for.total_seconds() / 3600)
        summary = _("No Stripe webhook for %s hours", hours)
        note = _(
            "No event has reached the webhook of %(account)s since %(last)s "
            "(%(hours)s hours), while the %(days)s days before brought "
            "%(count)s events, one every %(interval)s minutes on average. In "
            "Stripe's dashboard (Developers > Webhooks), check that the endpoint "
            "%(url)s is enabled and answers 200; the daily catch-up fetches what "
            "it missed.",
            account=self.display_name,
            last=format_datetime(self.env, last),
            hours=hours,
            days=const.WEBHOOK_TRAFFIC_DAYS,
            count=count,
            interval=round(mean_interval.total_seconds() / 60),
            url=self.webhook_url,
        )
        self._stripe_alert("webhook_silent", summary, note)
        return threshold

    def _stripe_watch_api_versions(self):
        """Alert when events of the last hours come in an API version newer than
        the one the module knows (``const.WEBHOOK_API_VERSION``).

        :return: the unknown versions seen.
        :rtype: list
        """
        self.ensure_one()
        since = fields.Datetime.now() - timedelta(hours=const.API_VERSION_WATCH_HOURS)
        versions = self.env["stripe.event"]._read_group(
            [("account_id", "=", self.id), ("create_date", ">=", since)],
            ["api_version"],
            ["__count"],
        )
        if not versions:
            return []
        unknown = sorted(
            (version, count)
            for version, count in versions
            if not self._stripe_api_version_known(version)
        )
        if not unknown:
            self._stripe_alert_resolve(
                "api_version",
                _("The events of the last hours come in API versions Odoo knows."),
            )
            return []
        summary = _("Stripe events in an unknown API version")
        note = _(
            "In the last %(hours)s hours, %(account)s received events rendered in "
            "the Stripe API version %(versions)s, newer than the newest one this "
            "module knows (%(known)s): some fields may have moved. Watch the failed "
            "events, or set the endpoint's API version to %(known)s in Stripe's "
            "dashboard (Developers > Webhooks).",
            hours=const.API_VERSION_WATCH_HOURS,
            account=self.display_name,
            versions=", ".join(
                self.env._(
                    "%(version)s (%(count)s events)", version=version, count=count
                )
                for version, count in unknown
            ),
            known=const.WEBHOOK_API_VERSION,
        )
        self._stripe_alert("api_version", summary, note)
        return [version for version, _count in unknown]

    @api.model
    def _stripe_api_version_known(self, version):
        """Whether the module knows the shapes of an API version: any dated
        version up to ``const.WEBHOOK_API_VERSION`` (older ones are read
        defensively). An event without version says nothing."""
        if not version:
            return True
        match = API_VERSION_DATE.match(version)
        newest = API_VERSION_DATE.match(const.WEBHOOK_API_VERSION).group(1)
        return bool(match) and match.group(1) <= newest

    # === OVERVIEW === #

    def _stripe_daily_payments(self, start):
        """Customer payments received on the Stripe journal per day since
        ``start``: ``{date: (count, amount in the journal's currency)}``."""
        self.ensure_one()
        journal = self.journal_id
        if not journal.default_account_id:
            return {}
        foreign = (
            journal.currency_id and journal.currency_id != self.company_id.currency_id
        )
        groups = self.env["account.move.line"]._read_group(
            [
                ("account_id", "=", journal.default_account_id.id),
                ("company_id", "=", self.company_id.id),
                ("parent_state", "=", "posted"),
                ("date", ">=", start),
                ("payment_id.payment_type", "=", "inbound"),
            ],
            ["date:day"],
            [
                "payment_id:count_distinct",
                "amount_currency:sum" if foreign else "balance:sum",
            ],
        )
        return {
            fields.Date.to_date(day): (count, amount) for day, count, amount in groups
        }

    @api.model
    def _stripe_sparkline(self, values):
        """A small inline SVG line of ``values`` (numbers only, nothing to
        escape), for the overview card."""
        width, height, pad = 300, 48, 3
        top = max(values) if values and max(values) > 0 else 1.0
        step = (width - 2 * pad) / max(len(values) - 1, 1)
        points = " ".join(
            f"{pad + index * step:.1f},"
            f"{height - pad - (value / top) * (height - 2 * pad):.1f}"
            for index, value in enumerate(values)
        )
        return Markup(
            '<svg class="o_stripe_sparkline" viewBox="0 0 %(w)s %(h)s" '
            'preserveAspectRatio="none" width="100%%" height="%(h)s" '
            'role="img" aria-label="%(label)s">'
            '<polyline fill="none" stroke="currentColor" stroke-width="2" '
            'points="%(points)s"/></svg>'
        ) % {
            "w": width,
            "h": height,
            "points": points,
            "label": _("Payments of the last %s days", len(values)),
        }
