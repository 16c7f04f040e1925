import calendar
import json
from datetime import datetime, time, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ... import utils
from ...exceptions import StripeNothingToDo, StripeNotYet

# Invoices a cron run imports before it commits and calls again.
IMPORT_BATCH_SIZE = 25


class StripeBillingImport(models.Model):
    """Mirror the Stripe invoices of a date range (with their payments and credit
    notes) through the API, as their events would have: a company that starts
    mid-year gets its history.

    The invoices' ids are listed once; a cron imports them in batches, each in a
    savepoint, and the form shows how far it got. Everything is keyed as the
    events are (one Odoo invoice per Stripe invoice, one payment per
    PaymentIntent, one credit note per Stripe credit note): running it again
    imports what is missing and nothing twice."""

    _name = "stripe.billing.import"
    _description = "Import of Stripe Invoices"
    _inherit = ["stripe.owned.mixin"]
    _order = "id desc"

    account_id = fields.Many2one(readonly=False)
    date_from = fields.Date(
        string="Created From",
        required=True,
        default=lambda self: fields.Date.context_today(self).replace(month=1, day=1),
    )
    date_to = fields.Date(
        string="Created To", required=True, default=fields.Date.context_today
    )
    state = fields.Selection(
        [("draft", "Draft"), ("running", "Running"), ("done", "Done")],
        default="draft",
        required=True,
        readonly=True,
    )
    stripe_invoice_ids = fields.Text(readonly=True, help="Technical: JSON list.")
    invoice_count = fields.Integer(string="Stripe Invoices", readonly=True)
    position = fields.Integer(string="Imported", readonly=True)
    failed_count = fields.Integer(string="Failed", readonly=True)
    progress = fields.Float(compute="_compute_progress")
    log = fields.Text(readonly=True)

    # === COMPUTE METHODS === #

    @api.depends("account_id", "date_from", "date_to")
    def _compute_display_name(self):
        for job in self:
            if not (job.date_from and job.date_to):
                job.display_name = _("New import of Stripe invoices")
                continue
            job.display_name = _(
                "Stripe invoices of %(account)s, %(date_from)s to %(date_to)s",
                account=job.account_id.name or "-",
                date_from=fields.Date.to_string(job.date_from),
                date_to=fields.Date.to_string(job.date_to),
            )

    @api.depends("position", "invoice_count")
    def _compute_progress(self):
        for job in self:
            job.progress = (
                100.0 * job.position / job.invoice_count if job.invoice_count else 0.0
            )

    # === CONSTRAINT METHODS === #

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for job in self:
            if job.date_from > job.date_to:
                raise ValidationError(_("The first date is after the last."))

    # === ACTION METHODS === #

    def action_start(self):
        """List the Stripe invoices of the range, then import them in the
        background (again from the start when run again)."""
        self.ensure_one()
        account = self.account_id
        if not account.has_api_key:
            raise UserError(
                _(
                    "Set a secret key on %s to import its invoices.",
                    account.display_name,
                )
            )
        start = calendar.timegm(datetime.combine(self.date_from, time.min).timetuple())
        end = calendar.timegm(
            datetime.combine(self.date_to + timedelta(days=1), time.min).timetuple()
        )
        invoices = account._stripe_list_all(
            _("the invoices"),
            "invoices",
            created={"gte": start, "lt": end},
        )
        # Oldest first, finalized only: drafts are not invoices yet.
        ids = [
            invoice["id"]
            for invoice in sorted(invoices, key=lambda inv: (inv["created"], inv["id"]))
            if invoice.get("status") != "draft"
        ]
        self.write(
            {
                "state": "running",
                "stripe_invoice_ids": json.dumps(ids),
                "invoice_count": len(ids),
                "position": 0,
                "failed_count": 0,
                "log": False,
            }
        )
        self.env.ref("stripe_connector.ir_cron_stripe_billing_import")._trigger()
        return True

    # === BUSINESS METHODS === #

    @api.model
    def _cron_import(self):
        job = self.search([("state", "=", "running")], order="id", limit=1)
        if not job:
            return
        done = job.with_company(job.company_id)._import_batch(IMPORT_BATCH_SIZE)
        remaining = sum(
            j.invoice_count - j.position
            for j in self.search([("state", "=", "running")])
        )
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    def _import_batch(self, size):
        """Import the next ``size`` invoices, each in a savepoint.

        :return: how many were looked at.
        """
        self.ensure_one()
        ids = json.loads(self.stripe_invoice_ids or "[]")
        batch = ids[self.position : self.position + size]
        lines = []
        failed = 0
        for stripe_invoice_id in batch:
            try:
                with self.env.cr.savepoint():
                    message = self._import_invoice(stripe_invoice_id)
            except (UserError, StripeNotYet) as error:
                failed += 1
                message = _("failed: %s", error.args[0])
            lines.append(f"{stripe_invoice_id}: {message}")
        position = self.position + len(batch)
        self.write(
            {
                "position": position,
                "failed_count": self.failed_count + failed,
                "log": "\n".join(filter(None, [self.log, *lines])),
                "state": "done" if position >= len(ids) else "running",
            }
        )
        if self.state == "running":
            self.env.ref("stripe_connector.ir_cron_stripe_billing_import")._trigger()
        return len(batch)

    def _import_invoice(self, stripe_invoice_id):
        """Mirror one Stripe invoice, its payments and its credit notes, through
        the handlers of their events."""
        account = self.account_id
        stripe_invoice = account._stripe_billing_read_invoice(stripe_invoice_id)
        status = stripe_invoice.get("status")
        messages = [self._run_handler("invoice.finalized", stripe_invoice)]
        follow_up = {
            "paid": "invoice.paid",
            "void": "invoice.voided",
            "uncollectible": "invoice.marked_uncollectible",
        }.get(status)
        if follow_up:
            messages.append(self._run_handler(follow_up, stripe_invoice))
        for credit_note in account._stripe_list_all(
            _("the credit notes of %s", stripe_invoice_id),
            "credit_notes",
            invoice=stripe_invoice_id,
        ):
            messages.append(self._run_handler("credit_note.created", credit_note))
            for refund in credit_note.get("refunds") or []:
                refund_id = utils.object_id(refund.get("refund"))
                if refund_id:
                    messages.append(
                        self._run_handler(
                            "refund.created",
                            account._stripe_call(
                                _("refund %s", refund_id),
                                "refunds",
                                "retrieve",
                                refund_id,
                            ).to_dict(),
                        )
                    )
            if credit_note.get("status") == "void":
                messages.append(self._run_handler("credit_note.voided", credit_note))
        return " ".join(filter(None, messages))

    def _run_handler(self, event_type, obj):
        """Run the handler of an event of this type about ``obj``, as if Stripe
        had sent it (an unsaved event record); its outcome as a message."""
        event = self._new_event(event_type, obj)
        handler = event._get_event_handlers()[event_type]
        try:
            return getattr(event, handler)()
        except StripeNothingToDo as outcome:
            return str(outcome)

    def _new_event(self, event_type, obj):
        """An unsaved event of this type about ``obj``."""
        return self.env["stripe.event"].new(
            {
                "account_id": self.account_id.id,
                "stripe_id": f"import:{obj.get('id')}",
                "type": event_type,
                "stripe_object_id": obj.get("id"),
                "object_type": obj.get("object"),
                "payload": json.dumps({"data": {"object": obj}}, default=str),
            }
        )
