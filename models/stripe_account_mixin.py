from markupsafe import Markup

from odoo import fields, models
from odoo.tools import plaintext2html


class StripeAccountMixin(models.AbstractModel):
    """What belongs to a Stripe account: events, disputes, payouts, balance
    transactions. They live in its company, and follow its record rules."""

    _name = "stripe.account.mixin"
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
        """Give a to-do on this record to whoever must hear of it (see
        ``_stripe_activity_user``), unless one is already open for them (the record
        must have activities).

        :param str summary: the to-do's title (plain text).
        :param note: plain text (Stripe's words may be in it: escaped here), or
            ``Markup`` already safe.
        """
        self.ensure_one()
        user = self._stripe_activity_user()
        if not user or self.activity_ids.filtered(lambda a: a.user_id == user):
            return
        self.activity_schedule(
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
