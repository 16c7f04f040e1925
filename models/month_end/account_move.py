from markupsafe import Markup

from odoo import _, models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"

    def _check_fiscal_lock_dates(self):
        """Refuse entries of a Stripe journal dated in a closed month."""
        result = super()._check_fiscal_lock_dates()
        for move in self:
            lock = move.journal_id.stripe_lock_date
            if lock and move.date and move.date <= lock and move.state == "posted":
                raise UserError(
                    _(
                        "The Stripe month of journal %(journal)s is closed up to "
                        "%(date)s: entries of that period cannot be added or "
                        "changed.",
                        journal=move.journal_id.display_name,
                        date=lock,
                    )
                )
        return result

    def _post(self, soft=True):
        """An entry of a closed Stripe month is posted on the first open day
        (Odoo's ``_get_accounting_date`` moves it); it says so, with a link to
        the closed tie-out."""
        late = {
            move: move.date
            for move in self
            if move.journal_id.stripe_lock_date
            and move.date
            and move.date <= move.journal_id.stripe_lock_date
        }
        posted = super()._post(soft=soft)
        for move, original in late.items():
            tieout = move.journal_id.stripe_lock_tieout_id
            link = (
                Markup(
                    '<a href="#" data-oe-model="stripe.tieout" data-oe-id="%s">%s</a>'
                )
                % (tieout.id, tieout.display_name)
                if tieout
                else ""
            )
            move.message_post(
                body=Markup("%s %s")
                % (
                    _(
                        "Dated %(original)s, in a closed Stripe month: booked on "
                        "%(date)s, the first open day. Closed tie-out:",
                        original=original,
                        date=move.date,
                    ),
                    link,
                )
            )
        return posted
