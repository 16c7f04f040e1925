from odoo import _, api, models


class ResCompany(models.Model):
    _inherit = "res.company"

    def _get_violated_lock_dates(self, accounting_date, has_tax, journal):
        """Odoo's lock dates, and the Stripe journal's own (a closed month)."""
        locks = super()._get_violated_lock_dates(accounting_date, has_tax, journal)
        lock = journal and journal.stripe_lock_date
        if lock and accounting_date and accounting_date <= lock:
            locks.append((lock, "stripe_lock_date"))
            locks.sort()
        return locks

    @api.model
    def _format_lock_dates(self, lock_dates):
        stripe_locks = [lock for lock in lock_dates if lock[1] == "stripe_lock_date"]
        others = [lock for lock in lock_dates if lock[1] != "stripe_lock_date"]
        text = super()._format_lock_dates(others) if others else ""
        for lock_date, _field in stripe_locks:
            label = _("Stripe month closed (%s)", lock_date)
            text = f"{text}, {label}" if text else label
        return text
