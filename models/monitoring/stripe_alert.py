from markupsafe import Markup

from odoo import _, api, fields, models


class StripeAlert(models.Model):
    """Something about a Stripe account that needs a person, told once.

    An alert is opened for a cause (an event no retry can fix, events the webhook
    missed, a catch-up that failed, a silent webhook, an unknown API version, a
    balance difference) about one record (the event, or the account). It gives
    the responsible user one activity on that record and, when the account names
    one, posts in a Discuss channel. While it is open, the same cause seen again
    only updates it: a partial unique index keeps one open alert per account,
    cause and record, also between concurrent transactions. The check that finds
    the cause gone resolves it and marks its activity done."""

    _name = "stripe.alert"
    _description = "Stripe Alert"
    _inherit = ["stripe.owned.mixin"]
    _order = "create_date desc, id desc"
    _rec_name = "summary"

    cause = fields.Selection(
        [
            ("event_failed", "Event Needs a Person"),
            ("missed_events", "Missed Webhook Events"),
            ("catch_up_failed", "Catch-up Failed"),
            ("webhook_silent", "Silent Webhook"),
            ("api_version", "Unknown API Version"),
            ("balance_difference", "Balance Difference"),
        ],
        required=True,
        readonly=True,
        index=True,
    )
    res_model = fields.Char(string="Record Model", required=True, readonly=True)
    res_id = fields.Many2oneReference(
        string="Record ID", model_field="res_model", required=True, readonly=True
    )
    summary = fields.Char(readonly=True)
    note = fields.Html(readonly=True, sanitize=False)
    state = fields.Selection(
        [("open", "Open"), ("resolved", "Resolved")],
        required=True,
        default="open",
        readonly=True,
        index=True,
    )
    occurrences = fields.Integer(
        readonly=True,
        default=1,
        help="How many times the cause was seen while the alert was open.",
    )
    last_seen_at = fields.Datetime(
        string="Last Seen", readonly=True, default=fields.Datetime.now
    )
    resolved_at = fields.Datetime(string="Resolved On", readonly=True)
    resolution = fields.Text(readonly=True)
    activity_id = fields.Many2one(
        "mail.activity",
        readonly=True,
        ondelete="set null",
        help="The to-do of the responsible user; empty once done.",
    )

    # === CRUD METHODS === #

    def init(self):
        # One open alert per account, cause and record (concurrent checks
        # included); resolved ones are history.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS stripe_alert_open_uniq
                ON stripe_alert (account_id, cause, res_model, res_id)
             WHERE state = 'open'
            """
        )

    # === ACTION METHODS === #

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    # === BUSINESS METHODS === #

    @api.model
    def _stripe_record_domain(self, account, cause, record):
        return [
            ("account_id", "=", account.id),
            ("cause", "=", cause),
            ("res_model", "=", record._name),
            ("res_id", "=", record.id),
            ("state", "=", "open"),
        ]

    def _stripe_post_to_channel(self, body):
        """Post in the account's alert channel, if it has one."""
        self.ensure_one()
        channel = self.account_id.alert_channel_id
        if not channel:
            return
        record = self.env[self.res_model].browse(self.res_id)
        # sudo: the alert is posted on Stripe's behalf, whoever ran the check, as
        # OdooBot.
        channel.sudo().message_post(
            body=Markup("%s<br/>%s") % (record._get_html_link(), body),
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            author_id=self.env.ref("base.partner_root").id,
        )

    def _stripe_resolve(self, message):
        """Close these open alerts: their activity is marked done with ``message``,
        and the channel hears of it."""
        now = fields.Datetime.now()
        for alert in self:
            alert.write(
                {"state": "resolved", "resolved_at": now, "resolution": message}
            )
            if alert.activity_id:
                alert.activity_id.action_feedback(feedback=message)
            alert._stripe_post_to_channel(
                _(
                    "Resolved: %(summary)s. %(message)s",
                    summary=alert.summary,
                    message=message,
                )
            )
