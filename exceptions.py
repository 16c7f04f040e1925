"""Exceptions an event handler raises to tell the processing loop what happened.

Any other exception means the handler failed: the event becomes ``failed`` with the
exception's message and is retried with a backoff.
"""

from odoo.exceptions import UserError


class StripeEventIgnored(Exception):
    """The event needs no work in Odoo; its message says why."""


class StripeEventRetryLater(Exception):
    """Something the event needs has not arrived yet; look at the event again later.

    The event is set to ``waiting`` and retried with a backoff; it only fails if what
    it waits for never comes.
    """


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
