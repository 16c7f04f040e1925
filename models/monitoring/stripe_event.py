import stripe

from odoo import _, api, models
from odoo.exceptions import UserError

from ... import const
from ...exceptions import StripeActionRequired


class StripeEvent(models.Model):
    """Alerts about events: a failure no automatic retry can fix tells the
    responsible user at once (the retries still run); one that may pass keeps
    its retries and tells them after the last one. Either way one activity per
    event, closed when the event is done or ignored."""

    _inherit = "stripe.event"

    # === STATE METHODS === #

    def _set_state(self, state, message):
        res = super()._set_state(state, message)
        if state in ("done", "ignored"):
            for event in self:
                event.account_id._stripe_alert_resolve(
                    "event_failed",
                    _(
                        "Event %(event)s is %(state)s: %(message)s",
                        event=event.stripe_id,
                        state=state,
                        message=message,
                    ),
                    record=event,
                )
        return res

    def _set_failed(self, message, error=None):
        res = super()._set_failed(message, error=error)
        # After the last attempt, the base method has already told someone.
        if (
            self.next_attempt_at
            and error is not None
            and self._stripe_needs_person(error)
        ):
            self._stripe_schedule_activity(
                _("Stripe event %s needs a person", self.stripe_id),
                _(
                    "%(message)s\nNo automatic retry can fix this: Odoo tries "
                    "%(count)s more times in case someone fixes it meanwhile.",
                    message=message,
                    count=const.MAX_ATTEMPTS - self.attempts,
                ),
            )
        return res

    def _stripe_schedule_activity(self, summary, note):
        """Through the account's alerts: one activity per event, and the alert
        channel hears of it."""
        self.ensure_one()
        self.account_id._stripe_alert("event_failed", summary, note, record=self)

    @api.model
    def _stripe_needs_person(self, error):
        """Whether no automatic retry can fix a handler's failure.

        ``StripeActionRequired`` (nothing matches, metadata names a document that
        does not exist) and any other ``UserError`` of a handler (a setting is
        missing, a document is in a state that forbids the booking) need a person;
        an error of the Stripe API may pass (a network error, a 5xx, a rate limit)
        unless Stripe refused the key (the key is a setting). Any other exception
        is unexpected and keeps its retries.

        :param Exception error: what the handler raised.
        :rtype: bool
        """
        if isinstance(error, StripeActionRequired):
            return True
        if not isinstance(error, UserError):
            return False
        cause = error.__cause__
        while cause is not None and not isinstance(cause, stripe.StripeError):
            cause = cause.__cause__
        if cause is None:
            return True
        return isinstance(cause, (stripe.AuthenticationError, stripe.PermissionError))
