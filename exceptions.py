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


class StripeMatchError(UserError):
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
