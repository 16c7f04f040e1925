from markupsafe import Markup

from odoo import fields, models
from odoo.tools import plaintext2html


class StripeOwnedMixin(models.AbstractModel):
    """What belongs to a Stripe account: events, disputes, payouts, balance
    transactions, alerts, checks. They live in its company, follow its record
    rules, and tell its responsible user what needs a person."""

    _name = "stripe.owned.mixin"
    _description = "Belongs to a Stripe Account"
    _check_company_auto = True

    account_id = fields.Many2one(
        "stripe.account",
        string="Stripe Account",
        required=True,
        readonly=True,
        ondelete="restrict",
        index=True,
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True, precompute=True
    )

    def _stripe_schedule_activity(self, summary, note):
        """Give a to-do on this record (which must have activities): see
        ``_stripe_schedule_activity_on``."""
        self.ensure_one()
        return self._stripe_schedule_activity_on(self, summary, note)

    def _stripe_schedule_activity_on(self, document, summary, note):
        """The one way the module gives a person a to-do about this record: on
        ``document`` (this record, or the invoice or payment it is about), for
        whoever must hear of it (see ``_stripe_activity_user``), unless one is
        already open for them on this record (on another document: the same
        to-do, same summary).

        :param document: a record with activities (``mail.activity.mixin``).
        :param str summary: the to-do's title (plain text).
        :param note: plain text (Stripe's words may be in it: escaped here), or
            ``Markup`` already safe.
        :return: the activity, or an empty recordset (nobody to tell, or told).
        """
        self.ensure_one()
        user = self._stripe_activity_user()
        activities = self.env["mail.activity"]
        # On the record itself, one open to-do per person; on another document
        # (an invoice), one per person and summary: several kinds may be open.
        if not user or document.activity_ids.filtered(
            lambda activity: (
                activity.user_id == user
                and (document == self or activity.summary == summary)
            )
        ):
            return activities
        return document.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=note if isinstance(note, Markup) else plaintext2html(note or ""),
            user_id=user.id,
        )

    def _stripe_activity_user(self):
        """Who is told about this record: the account's responsible; when it has
        none (or an archived one), the user who created the account if still
        active and working in its company; else the first Stripe manager of the
        account's company.

        :return: the user, empty only when the company has no Stripe manager.
        :rtype: res.users
        """
        self.ensure_one()
        # sudo: who is told does not depend on who triggers it (the cron, or a user
        # whose record rules hide other users).
        account = self.account_id.sudo()
        company = account.company_id
        if account.user_id.active:
            return account.user_id
        creator = account.create_uid
        if creator.active and not creator.share and company in creator.company_ids:
            return creator
        managers = self.env.ref("stripe_connector.group_stripe_manager")
        return (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("groups_id", "in", managers.id),
                    ("share", "=", False),
                    ("company_ids", "in", company.id),
                ],
                order="id",
                limit=1,
            )
        )
