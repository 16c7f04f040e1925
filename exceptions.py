"""Outcomes the module's services raise, and the errors they share.

A service (the payment rules, the Billing mirror, a handler) says what happened in
the domain's words: there is nothing to do (``StripeNothingToDo``), something it
needs has not arrived yet (``StripeNotYet``, with its own delay and deadline, as
OCA queue_job's ``RetryableJobError(seconds=...)``), a person must act
(``StripeActionRequired``). The event layer (``stripe.event._process_one``) maps
them to the event's states; a caller without an event (a payout, a wizard) maps
them its own way. Any other exception of a handler fails the event, which is
retried with a backoff.
"""

from odoo.exceptions import UserError


class StripeNothingToDo(Exception):
    """Nothing to do in Odoo; the message says why (the event is ``ignored``)."""


class StripeNotYet(Exception):
    """Something needed has not arrived yet; look again later.

    The event is set to ``waiting`` and looked at again after ``seconds`` (default:
    a backoff that grows with the time waited); once it has waited
    ``give_up_after`` seconds for it (counted from the first time it waited with
    that deadline; default: as long as Stripe retries a delivery, from the
    event's receipt), it fails. A handler that has another way once the wait is
    over asks ``stripe.event._stripe_wait_over()`` first.

    :param str message: what it waits for.
    :param int seconds: when to look again.
    :param int give_up_after: how long to wait at most.
    :param bool to_check: what it waits for is the link to the document a
        payment pays (an event Stripe sends within minutes): the event shows as
        *to check* on the overview while it waits.
    """

    def __init__(self, message, seconds=None, give_up_after=None, to_check=False):
        super().__init__(message)
        self.seconds = seconds
        self.give_up_after = give_up_after
        self.to_check = to_check


class StripeActionRequired(UserError):
    """A failure that no automatic retry can fix: a person must act (pick the
    document, fix a setting). The responsible user is told at the first failure;
    the automatic retries still run, and the first one that succeeds closes the
    alert.

    Any other ``UserError`` of a handler counts as such too, unless it wraps an
    error of the Stripe API that may pass (see
    ``stripe.event._stripe_needs_person``).
    """


class StripeMatchError(StripeActionRequired):
    """No Odoo document, or several, match the Stripe object.

    :param str message: what was tried.
    :param candidates: the documents that matched equally (may be empty).
    """

    def __init__(self, message, candidates=None):
        super().__init__(message)
        self.candidates = candidates or []


class WebhookRefused(Exception):
    """A webhook delivery that must be refused: nothing is stored.

    :param int status: the HTTP status to answer.
    :param str reason: why, for the log line and the response body (never a secret).
    """

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason
