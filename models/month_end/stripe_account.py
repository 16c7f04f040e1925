import time
from datetime import datetime
from datetime import time as dtime

from odoo import _, fields, models
from odoo.exceptions import UserError

from ... import const, utils
from ...tools import reporting

#: A report run not ready yet is read again at once, then after a delay that
#: doubles from REPORT_POLL_DELAY up to REPORT_POLL_MAX_DELAY seconds, at most
#: REPORT_POLL_MAX times (Stripe's runs take seconds to a few minutes).
REPORT_POLL_DELAY = 0.25
REPORT_POLL_MAX_DELAY = 10.0
REPORT_POLL_MAX = 40


class StripeAccount(models.Model):
    _inherit = "stripe.account"

    go_live_date = fields.Date(
        readonly=True,
        copy=False,
        help="The day Odoo started with this Stripe account (the go-live wizard): "
        "the Stripe journal opened with Stripe's balance then; transactions before "
        "it are in that opening balance, and the catch-up and imports never reach "
        "before it.",
    )
    go_live_move_id = fields.Many2one(
        "account.move", string="Opening Entry", readonly=True, copy=False
    )
    tieout_count = fields.Integer(compute="_compute_tieout_count")

    def _compute_tieout_count(self):
        counts = dict(
            self.env["stripe.tieout"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["__count"]
            )
        )
        for account in self:
            account.tieout_count = counts.get(account, 0)

    # === ACTION METHODS === #

    def action_go_live(self):
        """Open the *Start with Stripe on DATE* wizard."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Start with Stripe"),
            "res_model": "stripe.go.live",
            "view_mode": "form",
            "target": "new",
            "context": {"default_account_id": self.id},
        }

    def action_view_tieouts(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Month-end Tie-outs"),
            "res_model": "stripe.tieout",
            "view_mode": "list,form",
            "domain": [("account_id", "=", self.id)],
            "context": {"default_account_id": self.id},
        }

    # === REPORTING API === #

    def _stripe_report_availability(self, report_type):
        """From when and until when (unix times) Stripe's reports of this type
        have data: a run's interval must lie within."""
        self.ensure_one()
        report = self._stripe_call(
            _("report type %s", report_type),
            "reporting.report_types",
            "retrieve",
            report_type,
        )
        return report.data_available_start, report.data_available_end

    def _stripe_report_lines(self, report_type, parameters):
        """Run a report and yield its CSV file's lines, streamed.

        :param str report_type: ``balance.summary.1``...
        :param dict parameters: the run's parameters.
        :raise UserError: Stripe refused, failed the run, or it took too long.
        """
        self.ensure_one()
        run = self._stripe_call(
            _("a report run of %s", report_type),
            "reporting.report_runs",
            "create",
            params={"report_type": report_type, "parameters": parameters},
        )
        for attempt in range(REPORT_POLL_MAX):
            if run.status != "pending":
                break
            if attempt:
                time.sleep(
                    utils.backoff_delay(
                        attempt, REPORT_POLL_DELAY, REPORT_POLL_MAX_DELAY
                    )
                )
            run = self._stripe_call(
                _("report run %s", run.id), "reporting.report_runs", "retrieve", run.id
            )
        if run.status != "succeeded" or not run.result:
            raise UserError(
                _(
                    "Stripe's report run %(run)s of %(type)s did not succeed "
                    "(%(status)s): %(error)s",
                    run=run.id,
                    type=report_type,
                    status=run.status,
                    error=run.error or "-",
                )
            )
        yield from self._stripe_file_lines(
            _("the file of report run %s", run.id), run.result.id
        )

    def _stripe_balance_at(self, day):
        """Stripe's balance at the start of ``day`` in the account's currency,
        in major units, from ``balance.summary.1``.

        :raise UserError: Stripe has no data for that day yet.
        """
        self.ensure_one()
        start = reporting.utc_timestamp(day)
        first, available = self._stripe_report_availability(reporting.BALANCE_SUMMARY)
        if available <= start:
            raise UserError(
                _(
                    "Stripe's balance reports have data until %(until)s UTC: the "
                    "balance of %(day)s is not available yet.",
                    until=utils.timestamp_to_datetime(available),
                    day=day,
                )
            )
        currency = self.journal_id.currency_id or self.company_id.currency_id
        summary = reporting.summary(
            self._stripe_report_lines(
                reporting.BALANCE_SUMMARY,
                {
                    "interval_start": max(start, first),
                    "interval_end": min(start + 86400, available),
                    "currency": currency.name.lower(),
                    "columns": list(reporting.SUMMARY_COLUMNS),
                },
            ),
            utils.currency_exponent(currency.name),
        )
        return utils.from_minor_units(summary.get("starting_balance", 0), currency.name)

    # === GO-LIVE: NOTHING BEFORE IT === #

    def _stripe_go_live_start(self):
        """The go-live date as a naive UTC datetime (``None`` without one)."""
        self.ensure_one()
        if not self.go_live_date:
            return None
        return datetime.combine(self.go_live_date, dtime.min)

    def _stripe_fetch_missed_events(self, days=const.MISSED_EVENTS_DAYS):
        """The catch-up never reaches before the go-live date."""
        self.ensure_one()
        start = self._stripe_go_live_start()
        if start:
            reach = (fields.Datetime.now() - start).total_seconds() / 86400
            days = max(0, min(days, reach))
        return super()._stripe_fetch_missed_events(days=days)

    def _stripe_before_go_live(self, created):
        """Whether a Stripe object created at ``created`` (unix time) is before
        the go-live date, hence in the opening balance."""
        start = self._stripe_go_live_start()
        return bool(start and created and utils.timestamp_to_datetime(created) < start)
