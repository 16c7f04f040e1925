"""A small fake of the Stripe HTTP API, for tests and benchmarks.

The connector talks to Stripe only through the real ``stripe`` SDK. Tests must
not mock anything inside Odoo, so the one stand-in is Stripe itself, at the
HTTP boundary: :class:`FakeStripe` is a plain :mod:`http.server` running in a
daemon thread on ``127.0.0.1`` (ephemeral port) that answers the read-only
``/v1`` endpoints the connector uses, with the object shapes, list envelope,
cursor pagination, ``expand[]``, error envelopes and status codes that Stripe
documents. Point the account's ``api_base`` at :attr:`FakeStripe.api_base` and
the SDK cannot tell the difference.

This module imports nothing from Odoo and nothing outside the standard library
(``stripe`` is imported lazily by :func:`fast_sdk_retries` only).

Usage::

    from odoo.addons.stripe_connector.tests.fake_stripe import FakeStripe

    fake = FakeStripe(api_keys={"sk_test_123"}).start()   # or ``with FakeStripe():``
    charge = fake.add_charge(1000, "eur", metadata={"odoo_invoice": "INV/1"})
    fake.add_refund(charge["id"], 400)
    payout = fake.add_payout()                # pays out every available transaction
    account.api_base = fake.api_base          # the code under test builds its client
    ...
    assert fake.balance("eur") == expected_journal_balance
    assert all(q.get("limit") == "100" for _m, _p, q in fake.requests_for(
        "/v1/balance_transactions"))
    fake.stop()

Endpoints (GET; unknown ids answer 404 ``resource_missing``, unknown
parameters 400 ``parameter_unknown``, ``limit`` is 1..100, default 10)::

    /v1/balance
    /v1/balance_transactions   payout, type, source, currency, created[...]
    /v1/charges                payment_intent, customer, created[...]
    /v1/checkout/sessions      payment_intent, customer, created[...]
    /v1/customers              email, created[...]
    /v1/disputes               charge, payment_intent, created[...]
    /v1/events                 type (``charge.*`` wildcard), types[],
                               created[...], delivery_success
    /v1/payment_intents        customer, created[...]
    /v1/payouts                status, destination, created[...], arrival_date[...]
    /v1/refunds                charge, payment_intent, created[...]
    /v1/<one of the above>/<id>
    /v1/invoices/<id>/lines, /v1/credit_notes/<id>/lines

Payment links (what an Odoo invoice's payment link does)::

    POST /v1/checkout/sessions        mode=payment, line_items[] (price_data),
                                      customer, metadata, payment_intent_data,
                                      allowed_payment_method_types[] (checked
                                      against the currency), payment_method_
                                      options[customer_balance], success_url,
                                      cancel_url...; unknown ones at any depth
                                      answer 400 ``parameter_unknown``
    POST /v1/checkout/sessions/<id>/expire   an open session only
    POST /v1/customers                name, email, phone, description, metadata

:meth:`FakeStripe.pay_checkout_session` and
:meth:`FakeStripe.settle_checkout_session` play the customer and the bank.

Webhook endpoints (what Odoo's *Create Webhook* button does)::

    POST /v1/webhook_endpoints        url, enabled_events[], api_version,
                                      description, metadata[...]; the answer
                                      alone carries the signing ``secret``
    GET  /v1/webhook_endpoints/<id>   without ``secret``, as Stripe answers
    POST /v1/webhook_endpoints/<id>   url, enabled_events[], disabled,
                                      description, metadata[...]
    DELETE /v1/webhook_endpoints/<id>

Lists take ``starting_after`` / ``ending_before`` and ``expand[]=data.<field>``;
retrieves take ``expand[]=<field>``. Any id-valued field (``source``,
``balance_transaction``, ``latest_charge``, ``customer``, ``payment_intent``,
``charge``...) expands, dotted paths too (``latest_charge.balance_transaction``),
and ``refunds`` expands on a charge.

Objects are plain dicts in Stripe's shapes (API version 2022-11-15 and later:
PaymentIntent has ``latest_charge`` and no ``charges`` list, Charge carries no
``refunds`` unless expanded). The builder methods (``add_*``) return the stored
dict itself; changing a non-indexed field of it (``metadata``, ``description``)
shows in the next response. Amounts are integers in the smallest currency unit.

Listing and ordering: lists are newest first by ``created``, ties broken by
insertion order (the later-built object comes first; Stripe's own tie-break
within a second is not documented). Listing
``/v1/balance_transactions?payout=po_...`` returns the payout's own
``type=payout`` transaction too (negative amount), as Stripe does, so the nets
of such a list sum to zero; filtering on a manual payout answers 400, and on an
automatic payout whose ``reconciliation_status`` is still ``in_progress`` the
fake answers an empty list.

Every request is recorded in :attr:`FakeStripe.requests`, failed ones
included (injected faults, 401, 404), so tests can count pages and retries.

Retries: stripe-python 16.1.0 retries when ``max_network_retries`` allows it,
on connection errors, 409, any 5xx, and on any status carrying
``Stripe-Should-Retry: true`` (``false`` forbids the retry). A 429 *without*
that header is not retried. The delay does not look at ``Retry-After`` at all:
it is ``min(INITIAL_DELAY * 2 ** (n - 1), MAX_DELAY)`` with jitter, and never
below ``INITIAL_DELAY`` (0.5 s), both read from the class
``stripe._http_client.HTTPClient`` (exported as ``stripe.HTTPClient``). Tests
make retries instant by patching those SDK constants, not Odoo::

    with fast_sdk_retries():                  # INITIAL_DELAY = MAX_DELAY = 0
        fake.fail_next(2, status=429)
        ...  # code under test; the SDK retries twice without sleeping

(or ``unittest.mock.patch.object(stripe.HTTPClient, "INITIAL_DELAY", 0)``).
Patching a subclass has no effect: the SDK reads ``HTTPClient.INITIAL_DELAY``.

``tests/fake_stripe_selftest.py`` drives this fake through the real SDK and
documents the call forms that work.
"""

# pylint: disable=too-many-lines
# One file on purpose: tests import a single module; most lines are the
# object shapes Stripe documents, spelled out field by field.

import base64
import bisect
import calendar
import contextlib
import csv
import io
import json
import logging
import random
import re
import socket
import string
import threading
import time
from collections import namedtuple
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

#: API version the fake stamps on events and echoes when the client sends none
#: (the version pinned by stripe-python 16.1.0).
DEFAULT_API_VERSION = "2026-10-28.endive"

#: Stripe's bounds for the ``limit`` list parameter.
DEFAULT_LIMIT = 10
MAX_LIMIT = 100

#: Id prefix of each object kind the fake stores.
ID_PREFIXES = {
    "balance_transaction": "txn",
    "charge": "ch",
    "checkout.session": "cs_test",
    "customer": "cus",
    "dispute": "dp",
    "event": "evt",
    "payment_intent": "pi",
    "payout": "po",
    "refund": "re",
    "tax_id": "txi",
    "tax_rate": "txr",
    "invoice": "in",
    "line_item": "il",
    "invoice_payment": "inpay",
    "credit_note": "cn",
    "webhook_endpoint": "we",
    "coupon": "",
    "discount": "di",
    "price": "price",
    "product": "prod",
    "subscription": "sub",
    "reporting.report_run": "frr",
    "file": "file",
}

#: Default processing fee when a test gives none: 1.5 % + 25 (EEA card rate).
DEFAULT_FEE_PERCENT = Decimal("1.5")
DEFAULT_FEE_FIXED = 25

_ALPHANUM = string.ascii_letters + string.digits
_DECLINE = {
    "code": "card_declined",
    "decline_code": "generic_decline",
    "message": "Your card was declined.",
    "type": "card_error",
}
_DAY = 86400

_logger = logging.getLogger(__name__)

RecordedRequest = namedtuple("RecordedRequest", "method path query")
RecordedRequest.__doc__ = """One request received by the fake.

:param method: ``"GET"``, ``"POST"``...
:param path: URL path without the query string, e.g. ``/v1/charges/ch_...``
:param query: decoded parameters (query string, or form body for POST):
    ``{"limit": "100", "expand": ["data.source"], "created": {"gte": "17..."}}``;
    values stay strings as sent.
"""


class StripeApiError(Exception):
    """An error answer of the fake API, rendered in Stripe's error envelope.

    :param status: HTTP status code
    :param message: ``error.message``
    :param error_type: ``error.type`` (``invalid_request_error``, ``api_error``...)
    :param code: ``error.code`` or None
    :param param: ``error.param`` or None
    """

    def __init__(
        self, status, message, error_type="invalid_request_error", code=None, param=None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = error_type
        self.code = code
        self.param = param

    def body(self):
        """:return: the JSON-ready error envelope"""
        error = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + (
                self.code.replace("_", "-")
            )
        if self.param:
            error["param"] = self.param
        return {"error": error}


@contextlib.contextmanager
def fast_sdk_retries():
    """Make the stripe SDK retry without sleeping, for the duration of the block.

    Sets ``stripe.HTTPClient.INITIAL_DELAY`` and ``MAX_DELAY`` to 0 (the SDK
    ignores ``Retry-After``, see the module docstring) and restores them.
    """
    # Imported here: the fake itself needs nothing beyond the standard library.
    import stripe  # pylint: disable=import-outside-toplevel

    client_class = stripe.HTTPClient
    saved = client_class.INITIAL_DELAY, client_class.MAX_DELAY
    client_class.INITIAL_DELAY = client_class.MAX_DELAY = 0
    try:
        yield
    finally:
        client_class.INITIAL_DELAY, client_class.MAX_DELAY = saved


def parse_params(pairs):
    """Decode Stripe's form encoding (``a[b]=1``, ``expand[0]=x``, ``types[]=y``,
    nested ``line_items[0][price_data][currency]=eur`` as the SDK sends it,
    ``parameters[columns][0]=net``).

    :param pairs: iterable of ``(key, value)`` strings, in order
    :return: dict; bracketed keys become nested dicts, or lists when the
        bracket is empty or an index
    """
    params = {}
    for key, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])+)", key)
        if not match:
            params[key] = value
            continue
        name, brackets = match.groups()
        path = [name, *re.findall(r"\[([^\[\]]*)\]", brackets)]
        container = params
        for depth, part in enumerate(path[:-1]):
            following = path[depth + 1]
            empty = [] if following == "" or following.isdigit() else {}
            container = _child(container, part, empty)
            if container is None:
                break
        else:
            last = path[-1]
            if isinstance(container, list):
                if last == "":
                    container.append(value)
                else:
                    _child(container, last, value)
            elif isinstance(container, dict):
                container[last] = value
    return params


def _child(container, part, empty):
    """The child ``part`` of a dict or list being decoded, made ``empty`` if
    missing; None when the shapes disagree (a malformed key)."""
    if isinstance(container, dict):
        child = container.setdefault(part, empty)
    elif part.isdigit():
        index = int(part)
        while len(container) <= index:
            container.append(None)
        if container[index] is None:
            container[index] = empty
        child = container[index]
    else:
        return None
    return child if isinstance(child, type(empty)) else None


class RawBody(namedtuple("RawBody", "content content_type")):
    """An answer that is not JSON (a report file's CSV)."""


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to :meth:`FakeStripe._dispatch`; HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeStripe/1.0"
    # Headers and body leave in one segment: with keep-alive, Nagle plus the
    # client's delayed ACK would otherwise cost ~40 ms per request.
    disable_nagle_algorithm = True
    wbufsize = -1
    timeout = 60  # idle keep-alive connections are dropped after a minute

    def do_GET(self):  # pylint: disable=invalid-name
        self._respond("GET")

    def do_POST(self):  # pylint: disable=invalid-name
        self._respond("POST")

    def do_DELETE(self):  # pylint: disable=invalid-name
        self._respond("DELETE")

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Stay quiet: tests and benchmarks read the request log instead."""

    def _respond(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload, headers = self.server.fake._dispatch(
            method, self.path, self.headers, body
        )
        if status is None:  # injected network failure: hang up without answer
            self.close_connection = True
            return
        self.send_response(status)
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        # A report file goes out in chunks, as a download does.
        for start in range(0, len(payload), 1 << 16):
            self.wfile.write(payload[start : start + (1 << 16)])
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    """Threaded server that can also drop its open keep-alive connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self._connections = set()

    def process_request(self, request, client_address):
        self._connections.add(request)
        return super().process_request(request, client_address)

    def shutdown_request(self, request):
        self._connections.discard(request)
        return super().shutdown_request(request)

    def close_connections(self):
        """Hang up on every client, so that nothing is served after a stop."""
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class FakeStripe:
    """In-memory Stripe account served over HTTP for the real SDK.

    :param api_keys: secret keys accepted in ``Authorization: Bearer ...``;
        None accepts any key starting with ``sk_`` or ``rk_``
    :param seed: seed of the id generator, for reproducible ids
    :param livemode: ``livemode`` flag of every built object
    """

    # === LIFECYCLE === #

    def __init__(self, api_keys=None, seed=None, livemode=False):
        self.api_keys = set(api_keys) if api_keys is not None else None
        self.livemode = livemode
        self._rng = random.Random(seed)  # object ids only: reproducible with a seed
        self._request_ids = random.Random()
        self._lock = threading.RLock()
        self._server = None
        self._thread = None
        self.reset()

    def start(self):
        """Start serving on an ephemeral port of 127.0.0.1.

        :return: self, so ``fake = FakeStripe().start()`` reads well
        """
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-stripe",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket (the store is kept)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._thread.join(5)
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def api_base(self):
        """:return: ``http://127.0.0.1:<port>``, for ``base_addresses["api"]``"""
        if self._server is None:
            raise RuntimeError("FakeStripe is not started")
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def reset(self):
        """Forget every object, recorded request and pending fault."""
        with self._lock:
            self._objects = {}  # id -> object, all kinds
            self._by_kind = {kind: [] for kind in ID_PREFIXES}
            self._seq = {}  # id -> insertion number, the ordering tie-break
            self._next_seq = 0
            self._version = 0  # bumped by every change; keys the list cache
            self._paid_out = {}  # balance transaction id -> payout id
            self._payout_txns = {}  # payout id -> [balance transaction ids]
            self._price_tiers = {}  # price id -> tiers (shown when expanded)
            self._credit_note_lines = {}  # credit note id -> all its lines
            self._checkout_intent_data = {}  # session id -> payment_intent_data
            self._undelivered = set()  # ids of events with failed webhooks
            self.webhook_secrets = {}  # webhook endpoint id -> its signing secret
            self._list_cache = {}
            self._files = {}  # file id -> CSV bytes (report results)
            self._run_polls = {}  # report run id -> retrieves left before success
            self._hidden_report_rows = set()  # (payout id, txn id) left out
            #: Until when the Reporting API has data (unix time); None: the
            #: start of the current UTC day, as Stripe's daily refresh.
            self.report_data_available_end = None
            #: Retrieves of a report run that answer ``pending`` first.
            self.report_run_polls = 1
            self._faults = []
            self.requests = []

    # === BUILDERS === #

    def add_customer(  # pylint: disable=too-many-arguments
        self,
        email=None,
        name=None,
        metadata=None,
        created=None,
        address=None,
        phone=None,
        tax_ids=(),
    ):
        """Create a Customer.

        :param address: dict of Stripe's address keys (``line1``, ``city``,
            ``postal_code``, ``country``...), the others null
        :param tax_ids: ``(type, value)`` pairs, e.g. ``("eu_vat", "DE123")``;
            listed in ``tax_ids`` only when expanded (``expand[]=tax_ids``), as
            Stripe does
        :return: the stored customer dict
        """
        with self._lock:
            if address is not None:
                address = {
                    key: address.get(key)
                    for key in (
                        "city",
                        "country",
                        "line1",
                        "line2",
                        "postal_code",
                        "state",
                    )
                }
            customer = {
                "id": self._new_id("customer"),
                "object": "customer",
                "address": address,
                "balance": 0,
                "created": self._time(created),
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": None,
                "email": email,
                "invoice_prefix": None,
                "invoice_settings": {
                    "custom_fields": None,
                    "default_payment_method": None,
                    "footer": None,
                    "rendering_options": None,
                },
                "livemode": self.livemode,
                "metadata": dict(metadata or {}),
                "name": name,
                "phone": phone,
                "preferred_locales": [],
                "shipping": None,
                "tax_exempt": "none",
                "test_clock": None,
            }
            self._store(customer)
            for tax_type, value in tax_ids:
                self._store(
                    {
                        "id": self._new_id("tax_id"),
                        "object": "tax_id",
                        "country": value[:2],
                        "created": customer["created"],
                        "customer": customer["id"],
                        "livemode": self.livemode,
                        "owner": {"customer": customer["id"], "type": "customer"},
                        "type": tax_type,
                        "value": value,
                        "verification": {
                            "status": "verified",
                            "verified_address": None,
                            "verified_name": None,
                        },
                    }
                )
            return customer

    def add_payment_intent(
        self,
        amount,
        currency,
        *,
        status="requires_payment_method",
        customer=None,
        metadata=None,
        description=None,
        created=None,
    ):
        """Create a PaymentIntent without charge (pending or failed payment).

        :param status: ``requires_payment_method`` (with a
            ``last_payment_error``, as after a decline), ``processing``,
            ``canceled``...; :meth:`add_charge` with ``payment_intent=<id>``
            later makes it ``succeeded``
        :return: the stored payment intent dict
        """
        with self._lock:
            intent = self._build_payment_intent(
                amount, currency, status, customer, metadata, description, created
            )
            if status == "requires_payment_method":
                intent["last_payment_error"] = dict(_DECLINE)
            return self._store(intent)

    def add_charge(  # pylint: disable=too-many-arguments
        self,
        amount,
        currency,
        *,
        fee=None,
        metadata=None,
        customer=None,
        payment_intent=True,
        exchange_rate=None,
        settlement_currency=None,
        created=None,
        available_on=None,
        description=None,
        billing_details=None,
        status="succeeded",
        charge_metadata=None,
    ):
        """Create a captured card Charge with its balance transaction.

        The balance transaction has type and reporting category ``charge`` and
        a ``stripe_fee`` fee detail. With ``exchange_rate`` it is in
        ``settlement_currency``: ``amount = round_half_up(amount * rate)``.

        :param amount: charged amount, in ``currency`` minor units
        :param fee: Stripe fee in settlement minor units; default
            1.5 % + 25 of the settled amount
        :param metadata: the PaymentIntent's metadata (the charge's own when it
            has no PaymentIntent: Stripe does not copy it onto the charge)
        :param charge_metadata: the charge's own metadata when it has a
            PaymentIntent
        :param customer: customer id, or None
        :param payment_intent: True creates a succeeded PaymentIntent (its
            ``latest_charge`` is this charge), a ``pi_`` id completes that
            existing intent, False makes a legacy charge without intent
        :param exchange_rate: rate from ``currency`` to ``settlement_currency``
        :param created: unix time, default now
        :param available_on: unix time the funds become available, default
            ``created`` (status ``available``); a future time gives ``pending``
        :param billing_details: overrides of ``billing_details`` keys
        :param status: ``succeeded``, or ``failed`` (declined: no balance
            transaction, intent left in ``requires_payment_method``)
        :return: the stored charge dict
        """
        succeeded = status == "succeeded"
        with self._lock:
            created = self._time(created)
            metadata = dict(metadata or {})
            intent = None
            if payment_intent is True:
                intent = self._store(
                    self._build_payment_intent(
                        amount,
                        currency,
                        "requires_payment_method",
                        customer,
                        metadata,
                        description,
                        created,
                    )
                )
            elif payment_intent:
                intent = self._get("payment_intent", payment_intent)
                customer = customer or intent["customer"]
            # Stripe does not copy a PaymentIntent's metadata onto its charges.
            charge = self._store(
                self._build_charge(
                    amount,
                    currency,
                    status,
                    customer,
                    metadata if intent is None else charge_metadata,
                    created,
                )
            )
            charge["description"] = description
            charge["billing_details"].update(billing_details or {})
            if intent is not None:
                charge["payment_intent"] = intent["id"]
                intent["latest_charge"] = charge["id"]
                intent["payment_method"] = charge["payment_method"]
            if not succeeded:
                if intent is not None:
                    intent["last_payment_error"] = dict(_DECLINE)
                return charge
            settled = self._convert(amount, exchange_rate)
            txn = self._add_balance_transaction(
                settled,
                settlement_currency or currency,
                "charge",
                "charge",
                charge["id"],
                created,
                fee=self._default_fee(settled) if fee is None else fee,
                fee_description="Stripe processing fees",
                exchange_rate=exchange_rate,
                available_on=available_on,
                description=description,
            )
            charge["balance_transaction"] = txn["id"]
            if intent is not None:
                intent.update(
                    status="succeeded", amount_received=amount, last_payment_error=None
                )
            return charge

    def add_checkout_session(self, charge, payment_status="paid", **values):
        """Create the Checkout Session (payment mode) that made a charge's
        PaymentIntent, complete; ``values`` override its fields
        (``client_reference_id``, ``metadata``...).

        :return: the stored session dict
        """
        with self._lock:
            intent = self._get("payment_intent", charge["payment_intent"])
            session_id = self._new_id("checkout.session")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": charge["amount"],
                "amount_total": charge["amount"],
                "cancel_url": "https://example.com/cancel",
                "client_reference_id": None,
                "created": charge["created"],
                "currency": charge["currency"],
                "customer": charge["customer"],
                "customer_details": {
                    "address": None,
                    "email": charge["billing_details"]["email"],
                    "name": None,
                    "phone": None,
                    "tax_exempt": "none",
                    "tax_ids": [],
                },
                "customer_email": None,
                "expires_at": charge["created"] + _DAY,
                "invoice": None,
                "livemode": self.livemode,
                "metadata": {},
                "mode": "payment",
                "payment_intent": intent["id"],
                "payment_link": None,
                "payment_method_types": ["card"],
                "payment_status": payment_status,
                "setup_intent": None,
                "status": "complete",
                "subscription": None,
                "success_url": "https://example.com/success",
                "url": None,
            }
            session.update(values)
            return self._store(session)

    def add_many_charges(
        self,
        n,
        amount=1000,
        currency="eur",
        *,
        created=None,
        interval=0,
        metadata=None,
        **options,
    ):
        """Create ``n`` charges quickly (benchmarks); nothing is sorted here.

        10,000 charges build in a fraction of a second (without intents).

        :param amount: amount of every charge, or a callable ``i -> amount``
        :param created: unix time of the first charge, default now
        :param interval: seconds between two consecutive charges
        :param metadata: dict copied on every charge, or callable ``i -> dict``
        :param options: other :meth:`add_charge` options; ``payment_intent``
            defaults to False here
        :return: list of the stored charge dicts
        """
        options.setdefault("payment_intent", False)
        start = self._time(created)
        with self._lock:
            return [
                self.add_charge(
                    amount(i) if callable(amount) else amount,
                    currency,
                    created=start + i * interval,
                    metadata=metadata(i) if callable(metadata) else metadata,
                    **options,
                )
                for i in range(n)
            ]

    def add_refund(
        self,
        charge_id,
        amount=None,
        *,
        status="succeeded",
        reason=None,
        metadata=None,
        created=None,
        exchange_rate=None,
    ):
        """Refund (part of) a charge, with its balance transaction.

        The balance transaction has type and reporting category ``refund``, a
        negative amount in the charge's settlement currency and no fee. A
        ``failed`` refund also gets its ``refund_failure`` reversal (see
        :meth:`set_refund_status`).

        :param amount: refunded amount in the charge currency; default the
            amount still refundable
        :param status: ``succeeded``, ``pending`` or ``failed``
        :param exchange_rate: default the charge's own rate
        :return: the stored refund dict
        :raise ValueError: if more than the refundable amount is asked
        """
        with self._lock:
            charge = self._get("charge", charge_id)
            refundable = charge["amount_captured"] - charge["amount_refunded"]
            amount = refundable if amount is None else amount
            if not 0 < amount <= refundable:
                raise ValueError(
                    "Refund of %s on %s: only %s refundable"
                    % (amount, charge_id, refundable)
                )
            refund = {
                "id": self._new_id("refund"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": None,
                "charge": charge_id,
                "created": self._time(created),
                "currency": charge["currency"],
                "destination_details": {
                    "card": {
                        "reference_status": "pending",
                        "reference_type": "acquirer_reference_number",
                        "type": "refund",
                    },
                    "type": "card",
                },
                "metadata": dict(metadata or {}),
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "pending" if status == "failed" else status,
                "transfer_reversal": None,
            }
            self._store(refund)
            source_txn = self._objects[charge["balance_transaction"]]
            rate = exchange_rate or source_txn["exchange_rate"]
            txn = self._add_balance_transaction(
                -self._convert(amount, rate),
                source_txn["currency"],
                "refund",
                "refund",
                refund["id"],
                refund["created"],
                exchange_rate=rate,
                description="REFUND FOR CHARGE",
            )
            refund["balance_transaction"] = txn["id"]
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
            if status == "failed":
                self._set_refund_status(refund, "failed", "lost_or_stolen_card")
            self._touch()
            return refund

    def add_dispute(
        self,
        charge_id,
        amount=None,
        *,
        fee=1500,
        status="needs_response",
        reason="fraudulent",
        created=None,
    ):
        """Open a dispute on a charge: funds and dispute fee are withdrawn.

        Creates one balance transaction of type ``adjustment``, reporting
        category ``dispute``: ``amount = -disputed amount`` (settlement
        currency), ``fee = fee`` (``stripe_fee`` detail "Dispute fee"),
        ``net = amount - fee``; it is embedded in ``balance_transactions``.

        :param amount: disputed amount in the charge currency, default all of it
        :param fee: dispute fee in settlement minor units
        :return: the stored dispute dict
        """
        with self._lock:
            charge = self._get("charge", charge_id)
            amount = charge["amount"] if amount is None else amount
            source_txn = self._objects[charge["balance_transaction"]]
            created = self._time(created)
            dispute = {
                "id": self._new_id("dispute"),
                "object": "dispute",
                "amount": amount,
                "balance_transactions": [],
                "charge": charge_id,
                "created": created,
                "currency": charge["currency"],
                "evidence": {
                    "customer_email_address": None,
                    "product_description": None,
                    "uncategorized_text": None,
                },
                "evidence_details": {
                    "due_by": created + 7 * _DAY,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": self.livemode,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": status,
            }
            self._store(dispute)
            txn = self._add_balance_transaction(
                -self._convert(amount, source_txn["exchange_rate"]),
                source_txn["currency"],
                "adjustment",
                "dispute",
                dispute["id"],
                created,
                fee=fee,
                fee_description="Dispute fee",
                exchange_rate=source_txn["exchange_rate"],
                description="Chargeback withdrawal for %s" % charge_id,
            )
            dispute["balance_transactions"].append(txn)
            charge["disputed"] = True
            self._touch()
            return dispute

    def add_adjustment(
        self,
        amount,
        currency,
        description=None,
        *,
        reporting_category="other_adjustment",
        created=None,
    ):
        """Create a balance adjustment (type ``adjustment``), e.g. a correction.

        :param amount: signed amount; ``net == amount``, no fee
        :return: the stored balance transaction dict
        """
        with self._lock:
            return self._add_balance_transaction(
                amount,
                currency,
                "adjustment",
                reporting_category,
                None,
                self._time(created),
                description=description,
            )

    def add_stripe_fee(self, amount, currency, description="Billing fee", created=None):
        """Create a standalone Stripe fee (type ``stripe_fee``, category ``fee``).

        :param amount: positive fee; the transaction amount is ``-amount``
        :return: the stored balance transaction dict
        """
        with self._lock:
            return self._add_balance_transaction(
                -amount,
                currency,
                "stripe_fee",
                "fee",
                None,
                self._time(created),
                description=description,
            )

    def add_payout(  # pylint: disable=too-many-arguments
        self,
        transactions=None,
        *,
        amount=None,
        automatic=True,
        status="paid",
        currency=None,
        arrival_date=None,
        created=None,
        reconciliation_status=None,
        method="standard",
        description=None,
        metadata=None,
    ):
        """Pay out balance transactions to the bank.

        The payout takes the given transactions, or every available
        transaction of the currency not yet paid out; its amount is the sum of
        their nets. It gets its own balance transaction (type and category
        ``payout``, ``amount = -payout amount``), listed with the others under
        ``?payout=``. A manual payout (``automatic=False``) has
        ``reconciliation_status`` ``not_applicable``: Stripe cannot list its
        transactions (400), yet they count as paid out here.

        :param transactions: balance transaction ids or dicts, or None
        :param amount: payout amount, default the sum of the nets
        :param status: ``paid``, ``pending``, ``in_transit``, ``failed``...
            (for ``failed`` prefer :meth:`fail_payout`)
        :param currency: needed only when nothing else tells it
        :param arrival_date: unix time, default midnight UTC two days after
            ``created``
        :param created: unix time, default now or just after the newest
            included transaction
        :param reconciliation_status: default ``completed`` (automatic) or
            ``not_applicable`` (manual); with ``in_progress`` the
            ``?payout=`` list is empty until :meth:`set_payout_status`
        :return: the stored payout dict
        :raise ValueError: on a transaction already paid out, mixed
            currencies, or a payout amount that is not positive
        """
        with self._lock:
            txns = self._payout_candidates(transactions, currency)
            currencies = {txn["currency"] for txn in txns}
            if len(currencies) > 1 or (currency and currencies - {currency}):
                raise ValueError("Payout mixes currencies %s" % sorted(currencies))
            currency = currency or (currencies.pop() if currencies else None)
            if not currency:
                raise ValueError("Nothing to pay out: give a currency and amount")
            amount = sum(txn["net"] for txn in txns) if amount is None else amount
            if amount <= 0:
                raise ValueError("Payout amount must be positive, got %s" % amount)
            latest = max((txn["created"] for txn in txns), default=0)
            created = self._time(created) if created else max(self._time(), latest + 1)
            if arrival_date is None:
                arrival_date = created - created % _DAY + 2 * _DAY
            if reconciliation_status is None:
                reconciliation_status = "completed" if automatic else "not_applicable"
            payout = {
                "id": self._new_id("payout"),
                "object": "payout",
                "amount": amount,
                "application_fee": None,
                "application_fee_amount": None,
                "arrival_date": arrival_date,
                "automatic": automatic,
                "balance_transaction": None,
                "created": created,
                "currency": currency,
                "description": description or ("STRIPE PAYOUT" if automatic else None),
                "destination": "ba_" + self._random(24),
                "failure_balance_transaction": None,
                "failure_code": None,
                "failure_message": None,
                "livemode": self.livemode,
                "metadata": dict(metadata or {}),
                "method": method,
                "original_payout": None,
                "reconciliation_status": reconciliation_status,
                "reversed_by": None,
                "source_type": "card",
                "statement_descriptor": None,
                "status": status,
                "trace_id": {
                    "status": "supported" if status == "paid" else "pending",
                    "value": None,
                },
                "type": "bank_account",
            }
            self._store(payout)
            own = self._add_balance_transaction(
                -amount,
                currency,
                "payout",
                "payout",
                payout["id"],
                created,
                description="STRIPE PAYOUT",
            )
            payout["balance_transaction"] = own["id"]
            self._payout_txns[payout["id"]] = [txn["id"] for txn in txns] + [own["id"]]
            for txn in txns:
                self._paid_out[txn["id"]] = payout["id"]
            self._paid_out[own["id"]] = payout["id"]
            self._touch()
            return payout

    # === BILLING === #

    def add_tax_rate(
        self, percentage, *, inclusive=False, display_name="VAT", country="DE"
    ):
        """Create a TaxRate (``txr_``).

        :param percentage: e.g. ``19`` or ``"7.5"``
        :return: the stored tax rate dict
        """
        with self._lock:
            return self._store(
                {
                    "id": self._new_id("tax_rate"),
                    "object": "tax_rate",
                    "active": True,
                    "country": country,
                    "created": self._time(),
                    "description": None,
                    "display_name": display_name,
                    "effective_percentage": float(percentage),
                    "flat_amount": None,
                    "inclusive": inclusive,
                    "jurisdiction": country,
                    "jurisdiction_level": None,
                    "livemode": self.livemode,
                    "metadata": {},
                    "percentage": float(percentage),
                    "rate_type": "percentage",
                    "state": None,
                    "tax_type": "vat",
                }
            )

    def add_invoice(  # pylint: disable=too-many-arguments,too-many-locals
        self,
        customer,
        lines,
        currency="usd",
        *,
        status="open",
        default_tax_rates=(),
        subscription="sub_renewal",
        billing_reason="subscription_cycle",
        created=None,
        number=None,
        starting_balance=0,
        embedded_lines=10,
    ):
        """Create a finalized Invoice in the shape of API versions since
        ``2025-03-31.basil`` (no ``payment_intent``, ``charge`` nor ``paid``;
        lines name their tax rates by id in ``taxes[].tax_rate_details``).

        Each line is a dict: ``amount`` (minor units, before discount, tax
        included when its tax rate is inclusive), ``quantity`` (default 1),
        ``description``, ``tax_rate`` (a stored tax rate dict, or None),
        ``product`` (``prod_`` id), ``proration`` (bool), ``period`` (``(start,
        end)``), ``discount`` (minor units, a coupon's share of the line). Taxes are
        computed per line as Stripe does, on the discounted amount, rounded half
        up to the minor unit.

        :param customer: the stored customer dict
        :param default_tax_rates: tax rate dicts listed on the invoice
        :param status: ``open`` (finalized, unpaid), ``paid`` (amount 0), ``draft``
        :param starting_balance: customer balance applied (negative: a credit)
        :param embedded_lines: how many lines the invoice itself carries; the
            others are only listed by ``GET /v1/invoices/<id>/lines``
        :return: the stored invoice dict
        """
        with self._lock:
            created = self._time(created)
            invoice_id = self._new_id("invoice")
            built = []
            tax_totals = {}
            discount_totals = {}
            for spec in lines:
                line = self._build_invoice_line(invoice_id, spec, currency, created)
                built.append(line)
                for tax in line["taxes"]:
                    key = (tax["tax_rate_details"]["tax_rate"], tax["tax_behavior"])
                    total = tax_totals.setdefault(key, [0, 0])
                    total[0] += tax["amount"]
                    total[1] += tax["taxable_amount"]
                for discount in line["discount_amounts"]:
                    discount_totals[discount["discount"]] = (
                        discount_totals.get(discount["discount"], 0)
                        + discount["amount"]
                    )
            subtotal = sum(line["amount"] for line in built)
            discount = sum(discount_totals.values())
            exclusive_tax = sum(
                amount
                for (_rate, how), (amount, _b) in tax_totals.items()
                if how == "exclusive"
            )
            inclusive_tax = sum(
                amount
                for (_rate, how), (amount, _b) in tax_totals.items()
                if how == "inclusive"
            )
            total = subtotal - discount + exclusive_tax
            amount_due = max(total + starting_balance, 0)
            finalized = status != "draft"
            for line in built:
                self._store(line)
            invoice = {
                "id": invoice_id,
                "object": "invoice",
                "account_country": "DE",
                "account_name": "Fake Stripe",
                "account_tax_ids": None,
                "amount_due": amount_due,
                "amount_overpaid": 0,
                "amount_paid": 0,
                "amount_paid_off_stripe": 0,
                "amount_remaining": amount_due,
                "amount_shipping": 0,
                "application": None,
                "attempt_count": 0,
                "attempted": False,
                "auto_advance": finalized,
                "automatic_tax": {
                    "disabled_reason": None,
                    "enabled": False,
                    "liability": None,
                    "provider": None,
                    "status": None,
                },
                "automatically_finalizes_at": None,
                "billing_reason": billing_reason,
                "collection_method": "charge_automatically",
                "created": created,
                "currency": currency,
                "custom_fields": None,
                "customer": customer["id"],
                "customer_account": None,
                "customer_address": customer.get("address"),
                "customer_email": customer.get("email"),
                "customer_name": customer.get("name"),
                "customer_phone": customer.get("phone"),
                "customer_shipping": None,
                "customer_tax_exempt": "none",
                "customer_tax_ids": [
                    {"type": t["type"], "value": t["value"]}
                    for t in self._customer_tax_ids(customer)["data"]
                ],
                "default_payment_method": None,
                "default_source": None,
                "default_tax_rates": [dict(rate) for rate in default_tax_rates],
                "description": None,
                "discounts": list(discount_totals),
                "due_date": None,
                "effective_at": created if finalized else None,
                "ending_balance": (starting_balance + total - amount_due)
                if finalized
                else None,
                "footer": None,
                "from_invoice": None,
                "hosted_invoice_url": None,
                "invoice_pdf": None,
                "issuer": {"type": "self"},
                "last_finalization_error": None,
                "latest_revision": None,
                "lines": None,  # set below: the first ``embedded_lines``
                "livemode": self.livemode,
                "metadata": {},
                "next_payment_attempt": None,
                "number": (number or "FAKE-%04d" % (len(self._by_kind["invoice"]) + 1))
                if finalized
                else None,
                "on_behalf_of": None,
                "parent": {
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": {},
                        "subscription": subscription,
                    },
                    "type": "subscription_details",
                }
                if subscription
                else None,
                "payment_settings": {
                    "default_mandate": None,
                    "payment_method_options": None,
                    "payment_method_types": None,
                },
                "period_end": created,
                "period_start": created,
                "post_payment_credit_notes_amount": 0,
                "pre_payment_credit_notes_amount": 0,
                "receipt_number": None,
                "rendering": None,
                "shipping_cost": None,
                "shipping_details": None,
                "starting_balance": starting_balance,
                "statement_descriptor": None,
                "status": status,
                "status_transitions": {
                    "finalized_at": created if finalized else None,
                    "marked_uncollectible_at": None,
                    "paid_at": None,
                    "voided_at": None,
                },
                "subtotal": subtotal,
                "subtotal_excluding_tax": subtotal - inclusive_tax,
                "test_clock": None,
                "total": total,
                "total_discount_amounts": [
                    {"amount": amount, "discount": discount_id}
                    for discount_id, amount in discount_totals.items()
                ],
                "total_excluding_tax": total - exclusive_tax - inclusive_tax,
                "total_pretax_credit_amounts": [
                    {
                        "amount": amount,
                        "credit_balance_transaction": None,
                        "discount": discount_id,
                        "type": "discount",
                    }
                    for discount_id, amount in discount_totals.items()
                ],
                "total_taxes": [
                    {
                        "amount": amount,
                        "tax_behavior": how,
                        "tax_rate_details": {"tax_rate": rate},
                        "taxability_reason": "standard_rated",
                        "taxable_amount": base,
                        "type": "tax_rate_details",
                    }
                    for (rate, how), (amount, base) in tax_totals.items()
                ],
                "webhooks_delivered_at": created,
            }
            if status == "paid" and amount_due == 0:
                invoice["status_transitions"]["paid_at"] = created
            invoice["lines"] = {
                "object": "list",
                "data": built[:embedded_lines],
                "has_more": len(built) > embedded_lines,
                "total_count": len(built),
                "url": "/v1/invoices/%s/lines" % invoice_id,
            }
            return self._store(invoice)

    def _build_invoice_line(self, invoice_id, spec, currency, created):
        amount = spec["amount"]
        quantity = spec.get("quantity", 1)
        rate = spec.get("tax_rate")
        discount = spec.get("discount") or 0
        start, end = spec.get("period") or (created, created + 30 * _DAY)
        proration = bool(spec.get("proration"))
        discount_id = None
        if discount:
            discount_id = "di_" + self._random(24)
        taxes = []
        if rate:
            base = amount - discount
            pct = Decimal(str(rate["percentage"]))
            if rate["inclusive"]:
                net = (Decimal(base) * 100 / (100 + pct)).quantize(1, ROUND_HALF_UP)
                tax, taxable = base - int(net), int(net)
            else:
                tax = int((Decimal(base) * pct / 100).quantize(1, ROUND_HALF_UP))
                taxable = base
            taxes.append(
                {
                    "amount": tax,
                    "tax_behavior": "inclusive" if rate["inclusive"] else "exclusive",
                    "tax_rate_details": {"tax_rate": rate["id"]},
                    "taxability_reason": "standard_rated",
                    "taxable_amount": taxable,
                    "type": "tax_rate_details",
                }
            )
        unit = Decimal(amount) / quantity if quantity else Decimal(0)
        return {
            "id": self._new_id("line_item"),
            "object": "line_item",
            "amount": amount,
            "currency": currency,
            "description": spec.get("description") or "1 x Pro plan",
            "discount_amounts": [{"amount": discount, "discount": discount_id}]
            if discount
            else [],
            "discountable": not proration,
            "discounts": [discount_id] if discount else [],
            "invoice": invoice_id,
            "livemode": self.livemode,
            "metadata": {},
            "parent": {
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": "sub_renewal",
                    "subscription_item": "si_" + self._random(14),
                },
                "type": "subscription_item_details",
            },
            "period": {"end": end, "start": start},
            "pretax_credit_amounts": [
                {
                    "amount": discount,
                    "credit_balance_transaction": None,
                    "discount": discount_id,
                    "type": "discount",
                }
            ]
            if discount
            else [],
            "pricing": {
                "price_details": {
                    "price": "price_" + self._random(14),
                    "product": spec.get("product") or "prod_pro",
                },
                "type": "price_details",
                "unit_amount_decimal": str(unit.normalize()),
            },
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "subtotal": amount,
            "taxes": taxes,
        }

    def pay_invoice(self, invoice_id, *, fee=None, created=None):
        """Collect an open invoice: a PaymentIntent and its charge (with balance
        transaction and fee), and the ``invoice_payment`` linking them.

        :return: ``(invoice, payment_intent, invoice_payment)``
        """
        with self._lock:
            invoice = self._get("invoice", invoice_id)
            created = self._time(created)
            charge = self.add_charge(
                invoice["amount_due"],
                invoice["currency"],
                customer=invoice["customer"],
                fee=fee,
                created=created,
                description="Subscription update",
            )
            intent = self._objects[charge["payment_intent"]]
            invoice_payment = self._store(
                {
                    "id": self._new_id("invoice_payment"),
                    "object": "invoice_payment",
                    "amount_paid": invoice["amount_due"],
                    "amount_requested": invoice["amount_due"],
                    "created": created,
                    "currency": invoice["currency"],
                    "invoice": invoice_id,
                    "is_default": True,
                    "livemode": self.livemode,
                    "payment": {
                        "payment_intent": intent["id"],
                        "type": "payment_intent",
                    },
                    "status": "paid",
                    "status_transitions": {"canceled_at": None, "paid_at": created},
                }
            )
            invoice.update(
                status="paid",
                amount_paid=invoice["amount_due"],
                amount_remaining=0,
                attempted=True,
                attempt_count=1,
            )
            invoice["status_transitions"]["paid_at"] = created
            self._touch()
            return invoice, intent, invoice_payment

    def set_invoice_status(self, invoice_id, status, created=None):
        """``void`` or ``uncollectible`` an open invoice."""
        with self._lock:
            invoice = self._get("invoice", invoice_id)
            invoice["status"] = status
            key = {"void": "voided_at", "uncollectible": "marked_uncollectible_at"}
            invoice["status_transitions"][key[status]] = self._time(created)
            if status == "void":
                invoice["amount_remaining"] = 0
            self._touch()
            return invoice

    def add_credit_note(  # pylint: disable=too-many-locals,too-many-arguments
        self,
        invoice_id,
        lines,
        *,
        refund=False,
        created=None,
        reason=None,
        embedded_lines=10,
    ):
        """Credit (part of) an invoice's lines, as Stripe's credit notes do.

        :param lines: ``(line_item_id, amount)`` pairs (amount before tax, as
            the line's ``amount``); the line's tax rate is credited in proportion
        :param embedded_lines: how many lines the credit note carries (Stripe:
            10); all of them are listed by ``GET /v1/credit_notes/<id>/lines``
        :param refund: True refunds the credited total on the invoice's charge
            (the credit note lists the refund in ``refunds``); otherwise a paid
            invoice's credit goes to the customer balance, an open one's lowers
            the amount due
        :return: ``(credit_note, refund or None)``
        """
        with self._lock:
            invoice = self._get("invoice", invoice_id)
            created = self._time(created)
            cn_lines, tax_total = [], 0
            credit_note_id = self._new_id("credit_note")
            for line_id, amount in lines:
                line = self._get("line_item", line_id)
                tax_rates, taxes = [], []
                for tax in line["taxes"]:
                    rate = self._objects[tax["tax_rate_details"]["tax_rate"]]
                    pct = Decimal(str(rate["percentage"]))
                    if rate["inclusive"]:
                        net = (Decimal(amount) * 100 / (100 + pct)).quantize(
                            1, ROUND_HALF_UP
                        )
                        tax_amount, taxable = amount - int(net), int(net)
                    else:
                        tax_amount = int(
                            (Decimal(amount) * pct / 100).quantize(1, ROUND_HALF_UP)
                        )
                        taxable = amount
                        tax_total += tax_amount
                    tax_rates.append(dict(rate))
                    taxes.append(
                        {
                            "amount": tax_amount,
                            "tax_behavior": tax["tax_behavior"],
                            "tax_rate_details": {"tax_rate": rate["id"]},
                            "taxability_reason": "standard_rated",
                            "taxable_amount": taxable,
                            "type": "tax_rate_details",
                        }
                    )
                cn_lines.append(
                    {
                        "id": "cnli_" + self._random(24),
                        "object": "credit_note_line_item",
                        "amount": amount,
                        "description": line["description"],
                        "discount_amount": 0,
                        "discount_amounts": [],
                        "invoice_line_item": line_id,
                        "livemode": self.livemode,
                        "metadata": {},
                        "pretax_credit_amounts": [],
                        "quantity": line["quantity"],
                        "tax_rates": tax_rates,
                        "taxes": taxes,
                        "type": "invoice_line_item",
                        "unit_amount": None,
                        "unit_amount_decimal": None,
                    }
                )
            total = sum(amount for _l, amount in lines) + tax_total
            paid = invoice["status"] == "paid"
            refund_obj = None
            if refund:
                intents = [
                    p["payment"]["payment_intent"]
                    for p in self._by_kind["invoice_payment"]
                    if p["invoice"] == invoice_id and p["status"] == "paid"
                ]
                charge_id = self._objects[intents[0]]["latest_charge"]
                refund_obj = self.add_refund(charge_id, total, created=created)
            credit_note = {
                "id": credit_note_id,
                "object": "credit_note",
                "amount": total,
                "amount_shipping": 0,
                "created": created,
                "currency": invoice["currency"],
                "customer": invoice["customer"],
                "customer_account": None,
                "customer_balance_transaction": None
                if refund or not paid
                else "cbtxn_" + self._random(14),
                "discount_amount": 0,
                "discount_amounts": [],
                "effective_at": created,
                "invoice": invoice_id,
                "lines": {
                    "object": "list",
                    "data": cn_lines[:embedded_lines],
                    "has_more": len(cn_lines) > embedded_lines,
                    "url": "/v1/credit_notes/%s/lines" % credit_note_id,
                },
                "livemode": self.livemode,
                "memo": None,
                "metadata": {},
                "number": "%s-CN-%02d"
                % (
                    invoice["number"],
                    1
                    + sum(
                        1
                        for c in self._by_kind["credit_note"]
                        if c["invoice"] == invoice_id
                    ),
                ),
                "out_of_band_amount": None,
                "pdf": None,
                "post_payment_amount": total if paid else 0,
                "pre_payment_amount": 0 if paid else total,
                "pretax_credit_amounts": [],
                "reason": reason,
                "refunds": [
                    {
                        "amount_refunded": refund_obj["amount"],
                        "payment_record_refund": None,
                        "refund": refund_obj["id"],
                        "type": "refund",
                    }
                ]
                if refund_obj
                else [],
                "shipping_cost": None,
                "status": "issued",
                "subtotal": total - tax_total,
                "subtotal_excluding_tax": total - tax_total,
                "total": total,
                "total_excluding_tax": total - tax_total,
                "total_pretax_credit_amounts": [],
                "total_taxes": [],
                "type": "post_payment" if paid else "pre_payment",
                "voided_at": None,
            }
            if paid:
                invoice["post_payment_credit_notes_amount"] += total
            else:
                invoice["pre_payment_credit_notes_amount"] += total
                invoice["amount_due"] -= total
                invoice["amount_remaining"] -= total
            self._store(credit_note)
            self._credit_note_lines[credit_note_id] = cn_lines
            return credit_note, refund_obj

    def void_credit_note(self, credit_note_id, created=None):
        with self._lock:
            credit_note = self._get("credit_note", credit_note_id)
            credit_note.update(status="void", voided_at=self._time(created))
            self._touch()
            return credit_note

    def event(  # pylint: disable=redefined-builtin
        self,
        type,
        obj,
        *,
        previous_attributes=None,
        livemode=None,
        api_version=DEFAULT_API_VERSION,
        created=None,
        delivered=True,
        store=True,
    ):
        """Build an Event about ``obj`` (a snapshot of it, taken now).

        :param type: e.g. ``payment_intent.succeeded``
        :param obj: the object dict (stored or not)
        :param previous_attributes: for ``*.updated`` events
        :param livemode: default the object's
        :param delivered: False makes the event count as not delivered
            (``pending_webhooks`` 1, listed with ``delivery_success=false``)
        :param store: False builds the event without making it listable
        :return: the event dict (``json.dumps`` it to get a webhook payload)
        """
        if livemode is None:
            livemode = obj.get("livemode", self.livemode)
        with self._lock:
            data = {"object": json.loads(json.dumps(obj))}
            if previous_attributes is not None:
                data["previous_attributes"] = previous_attributes
            event = {
                "id": self._new_id("event"),
                "object": "event",
                "api_version": api_version,
                "created": self._time(created),
                "data": data,
                "livemode": livemode,
                "pending_webhooks": 0 if delivered else 1,
                "request": {"id": None, "idempotency_key": None},
                "type": type,
            }
            if store:
                self._store(event)
                if not delivered:
                    self._undelivered.add(event["id"])
            return event

    # === SUBSCRIPTIONS: PRODUCTS, PRICES, COUPONS, SUBSCRIPTIONS, INVOICES === #

    def add_product(self, name, created=None):
        """Create a Product (``fixtures3.json`` shape).

        :return: the stored product dict
        """
        with self._lock:
            created = self._time(created)
            return self._store(
                {
                    "id": self._new_id("product"),
                    "object": "product",
                    "active": True,
                    "created": created,
                    "default_price": None,
                    "description": None,
                    "images": [],
                    "livemode": self.livemode,
                    "marketing_features": [],
                    "metadata": {},
                    "name": name,
                    "package_dimensions": None,
                    "shippable": None,
                    "statement_descriptor": None,
                    "tax_code": None,
                    "type": "service",
                    "unit_label": None,
                    "updated": created,
                    "url": None,
                }
            )

    def add_price(  # pylint: disable=too-many-arguments
        self,
        product,
        unit_amount,
        currency="usd",
        interval="month",
        interval_count=1,
        usage_type="licensed",
        nickname=None,
        created=None,
        *,
        tiers=None,
        tiers_mode=None,
    ):
        """Create a recurring Price of ``product`` (a product dict or id).

        :param unit_amount: per unit and interval, minor units (metered prices
            too: their invoices bill usage x unit amount); ``None`` when tiered
        :param interval: ``day``, ``week``, ``month`` or ``year``
        :param usage_type: ``licensed`` or ``metered``
        :param tiers: a tiered price's tiers (``billing_scheme: tiered``), each
            ``{"up_to": int or None, "unit_amount": ..., "flat_amount": ...}``;
            like Stripe, shown only with ``expand[]=tiers``
        :param tiers_mode: ``graduated`` or ``volume`` (with ``tiers``)
        :return: the stored price dict
        """
        with self._lock:
            product_id = product["id"] if isinstance(product, dict) else product
            price = self._store(
                {
                    "id": self._new_id("price"),
                    "object": "price",
                    "active": True,
                    "billing_scheme": "tiered" if tiers else "per_unit",
                    "created": self._time(created),
                    "currency": currency,
                    "custom_unit_amount": None,
                    "livemode": self.livemode,
                    "lookup_key": None,
                    "metadata": {},
                    "nickname": nickname,
                    "product": product_id,
                    "recurring": {
                        "interval": interval,
                        "interval_count": interval_count,
                        "meter": None,
                        "usage_type": usage_type,
                        "trial_period_days": None,
                    },
                    "tax_behavior": "unspecified",
                    "tiers_mode": tiers_mode if tiers else None,
                    "transform_quantity": None,
                    "type": "recurring",
                    "unit_amount": unit_amount,
                    "unit_amount_decimal": None
                    if unit_amount is None
                    else str(unit_amount),
                }
            )
            if tiers:
                self._price_tiers[price["id"]] = [
                    {
                        "flat_amount": tier.get("flat_amount"),
                        "flat_amount_decimal": None
                        if tier.get("flat_amount") is None
                        else str(tier["flat_amount"]),
                        "unit_amount": tier.get("unit_amount"),
                        "unit_amount_decimal": None
                        if tier.get("unit_amount") is None
                        else str(tier["unit_amount"]),
                        "up_to": tier.get("up_to"),
                    }
                    for tier in tiers
                ]
            product_obj = self._objects.get(product_id)
            if product_obj and not product_obj["default_price"]:
                product_obj["default_price"] = price["id"]
            return price

    def add_coupon(
        self,
        percent_off=None,
        amount_off=None,
        currency=None,
        duration="forever",
        duration_in_months=None,
        name=None,
        created=None,
    ):
        """Create a Coupon (``percent_off`` or ``amount_off`` in ``currency``).

        :param duration: ``once``, ``repeating`` (with ``duration_in_months``)
            or ``forever``
        :return: the stored coupon dict
        """
        with self._lock:
            return self._store(
                {
                    "id": self._random(8).upper(),
                    "object": "coupon",
                    "amount_off": amount_off,
                    "created": self._time(created),
                    "currency": currency if amount_off else None,
                    "duration": duration,
                    "duration_in_months": duration_in_months,
                    "livemode": self.livemode,
                    "max_redemptions": None,
                    "metadata": {},
                    "name": name or (f"{percent_off}% off" if percent_off else None),
                    "percent_off": percent_off,
                    "redeem_by": None,
                    "times_redeemed": 1,
                    "valid": True,
                }
            )

    def add_subscription(  # pylint: disable=too-many-arguments
        self,
        customer,
        items,
        *,
        status="active",
        created=None,
        trial_end=None,
        period_end=None,
        metadata=None,
    ):
        """Create a Subscription in the shape of API versions since
        ``2025-03-31.basil``: the current period is on its items.

        :param customer: customer id
        :param items: ``[(price dict or id, quantity), ...]``
        :param status: ``active``, ``trialing`` (with ``trial_end``),
            ``incomplete``...
        :param created: unix time, default now (also the start and the billing
            cycle anchor)
        :param period_end: end of the first period, default one interval later
            (the trial's end while trialing)
        :return: the stored subscription dict
        """
        with self._lock:
            created = self._time(created)
            sub_id = self._new_id("subscription")
            subscription = {
                "id": sub_id,
                "object": "subscription",
                "application": None,
                "application_fee_percent": None,
                "automatic_tax": {
                    "disabled_reason": None,
                    "enabled": False,
                    "liability": None,
                },
                "billing_cycle_anchor": created,
                "billing_cycle_anchor_config": None,
                "billing_mode": {"type": "classic"},
                "billing_thresholds": None,
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {
                    "comment": None,
                    "feedback": None,
                    "reason": None,
                },
                "collection_method": "charge_automatically",
                "created": created,
                "currency": None,
                "customer": customer,
                "days_until_due": None,
                "default_payment_method": None,
                "default_source": None,
                "default_tax_rates": [],
                "description": None,
                "discounts": [],
                "ended_at": None,
                "invoice_settings": {
                    "account_tax_ids": None,
                    "issuer": {"type": "self"},
                },
                "items": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "total_count": 0,
                    "url": "/v1/subscription_items?subscription=" + sub_id,
                },
                "latest_invoice": None,
                "livemode": self.livemode,
                "metadata": dict(metadata or {}),
                "next_pending_invoice_item_invoice": None,
                "on_behalf_of": None,
                "pause_collection": None,
                "payment_settings": {
                    "payment_method_options": None,
                    "payment_method_types": None,
                    "save_default_payment_method": "off",
                },
                "pending_invoice_item_interval": None,
                "pending_setup_intent": None,
                "pending_update": None,
                "schedule": None,
                "start_date": created,
                "status": status,
                "test_clock": None,
                "transfer_data": None,
                "trial_end": trial_end,
                "trial_settings": {
                    "end_behavior": {"missing_payment_method": "create_invoice"}
                },
                "trial_start": created if trial_end else None,
            }
            self._store(subscription)
            self.set_subscription_items(
                sub_id, items, at=created, period_end=period_end or trial_end
            )
            return subscription

    def set_subscription_items(self, subscription_id, items, at=None, period_end=None):
        """Replace the items of a subscription (an upgrade, a downgrade, a
        quantity change). An item of an unchanged price keeps its id and period.

        :param items: ``[(price dict or id, quantity), ...]``
        :param at: unix time of the change (the start of a new item's period)
        :return: the subscription dict
        """
        with self._lock:
            subscription = self._get("subscription", subscription_id)
            at = self._time(at)
            old = {i["price"]["id"]: i for i in subscription["items"]["data"]}
            data = []
            for price_ref, quantity in items:
                price = self._get(
                    "price",
                    price_ref["id"] if isinstance(price_ref, dict) else price_ref,
                )
                item = old.get(price["id"])
                if item is None:
                    start = at
                    end = period_end or self._period_end(start, price["recurring"])
                    item = {
                        "id": "si_" + self._random(14),
                        "object": "subscription_item",
                        "billing_thresholds": None,
                        "created": at,
                        "current_period_end": end,
                        "current_period_start": start,
                        "discounts": [],
                        "metadata": {},
                        "plan": self._plan_of(price),
                        "price": json.loads(json.dumps(price)),
                        "subscription": subscription_id,
                        "tax_rates": [],
                    }
                item["quantity"] = (
                    None if price["recurring"]["usage_type"] == "metered" else quantity
                )
                data.append(item)
            subscription["items"]["data"] = data
            subscription["items"]["total_count"] = len(data)
            subscription["currency"] = data[0]["price"]["currency"] if data else None
            self._touch()
            return subscription

    def update_subscription(self, subscription_id, **changes):
        """Change top-level fields of a subscription (``status``,
        ``cancel_at_period_end``, ``canceled_at``, ``ended_at``,
        ``pause_collection``...).

        :return: the subscription dict
        """
        with self._lock:
            subscription = self._get("subscription", subscription_id)
            subscription.update(changes)
            self._touch()
            return subscription

    def renew_subscription(self, subscription_id, at=None):
        """Start the next period of every item (a renewal) at ``at``.

        :return: the subscription dict
        """
        with self._lock:
            subscription = self._get("subscription", subscription_id)
            at = self._time(at)
            for item in subscription["items"]["data"]:
                item["current_period_start"] = at
                item["current_period_end"] = self._period_end(
                    at, item["price"]["recurring"]
                )
            self._touch()
            return subscription

    def add_subscription_discount(self, subscription_id, coupon, start=None):
        """Apply a coupon to a subscription: a Discount object, listed by id in
        the subscription's ``discounts`` (webhooks never expand it; retrieve with
        ``expand[]=discounts.source.coupon``).

        :return: the stored discount dict
        """
        with self._lock:
            subscription = self._get("subscription", subscription_id)
            coupon = self._get(
                "coupon", coupon["id"] if isinstance(coupon, dict) else coupon
            )
            start = self._time(start)
            end = None
            if coupon["duration"] == "repeating":
                end = self._add_months(start, coupon["duration_in_months"])
            discount = self._store(
                {
                    "id": self._new_id("discount"),
                    "object": "discount",
                    "checkout_session": None,
                    "customer": subscription["customer"],
                    "end": end,
                    "invoice": None,
                    "invoice_item": None,
                    "promotion_code": None,
                    "source": {"coupon": coupon["id"], "type": "coupon"},
                    "start": start,
                    "subscription": subscription_id,
                    "subscription_item": None,
                }
            )
            subscription["discounts"].append(discount["id"])
            self._touch()
            return discount

    def add_subscription_invoice(
        self, subscription_id, created=None, status="paid", usage=None
    ):
        """Create the Invoice of the subscription's current period, with one line
        per item (``2025-03-31.basil`` shape: ``parent.subscription_details``,
        lines with ``parent.subscription_item_details`` and ``pricing``), its
        discounts in ``discount_amounts``.

        :param usage: subscription item id -> quantity used (metered items)
        :return: the stored invoice dict
        """
        with self._lock:
            subscription = self._get("subscription", subscription_id)
            created = self._time(created)
            invoice_id = self._new_id("invoice")
            lines = []
            for item in subscription["items"]["data"]:
                price = item["price"]
                quantity = (
                    (usage or {}).get(item["id"], 0)
                    if (item["quantity"] is None)
                    else item["quantity"]
                )
                amount = price["unit_amount"] * quantity
                off = self._discount_amount(subscription, amount, created)
                lines.append(
                    {
                        "id": "il_" + self._random(24),
                        "object": "line_item",
                        "amount": amount,
                        "currency": price["currency"],
                        "description": f"{quantity} x {price['product']}",
                        "discount_amounts": [{"amount": off, "discount": None}]
                        if off
                        else [],
                        "discountable": True,
                        "discounts": [],
                        "invoice": invoice_id,
                        "livemode": self.livemode,
                        "metadata": {},
                        "parent": {
                            "invoice_item_details": None,
                            "subscription_item_details": {
                                "invoice_item": None,
                                "proration": False,
                                "proration_details": {"credited_items": None},
                                "subscription": subscription_id,
                                "subscription_item": item["id"],
                            },
                            "type": "subscription_item_details",
                        },
                        "period": {
                            "end": item["current_period_end"],
                            "start": item["current_period_start"],
                        },
                        "pretax_credit_amounts": [],
                        "pricing": {
                            "price_details": {
                                "price": price["id"],
                                "product": price["product"],
                            },
                            "type": "price_details",
                            "unit_amount_decimal": price["unit_amount_decimal"],
                        },
                        "quantity": quantity,
                        "taxes": [],
                    }
                )
            subtotal = sum(line["amount"] for line in lines)
            total = subtotal - sum(
                d["amount"] for line in lines for d in line["discount_amounts"]
            )
            invoice = self._store(
                {
                    "id": invoice_id,
                    "object": "invoice",
                    "amount_due": total,
                    "amount_paid": total if status == "paid" else 0,
                    "amount_remaining": 0 if status == "paid" else total,
                    "attempt_count": 1,
                    "attempted": True,
                    "billing_reason": "subscription_cycle",
                    "collection_method": "charge_automatically",
                    "created": created,
                    "currency": subscription["currency"],
                    "customer": subscription["customer"],
                    "discounts": list(subscription["discounts"]),
                    "lines": {
                        "object": "list",
                        "data": lines,
                        "has_more": False,
                        "total_count": len(lines),
                        "url": f"/v1/invoices/{invoice_id}/lines",
                    },
                    "livemode": self.livemode,
                    "metadata": {},
                    "number": None,
                    "parent": {
                        "quote_details": None,
                        "subscription_details": {
                            "metadata": {},
                            "subscription": subscription_id,
                        },
                        "type": "subscription_details",
                    },
                    "period_end": created,
                    "period_start": created,
                    "status": status,
                    "status_transitions": {
                        "finalized_at": None if status == "draft" else created,
                        "marked_uncollectible_at": None,
                        "paid_at": created if status == "paid" else None,
                        "voided_at": None,
                    },
                    "subtotal": subtotal,
                    "total": total,
                }
            )
            subscription["latest_invoice"] = invoice_id
            return invoice

    def _discount_amount(self, subscription, amount, at):
        off = 0
        for discount_id in subscription["discounts"]:
            discount = self._objects[discount_id]
            coupon = self._objects[discount["source"]["coupon"]]
            if discount["end"] and discount["end"] <= at:
                continue
            if coupon["percent_off"]:
                off += int(
                    (
                        Decimal(amount - off)
                        * Decimal(str(coupon["percent_off"]))
                        / 100
                    ).quantize(1, ROUND_HALF_UP)
                )
            elif coupon["amount_off"]:
                off += min(coupon["amount_off"], amount - off)
        return off

    @staticmethod
    def _plan_of(price):
        """The legacy ``plan`` Stripe still sends beside an item's price."""
        recurring = price["recurring"]
        return {
            "id": price["id"],
            "object": "plan",
            "active": True,
            "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"],
            "billing_scheme": price["billing_scheme"],
            "created": price["created"],
            "currency": price["currency"],
            "interval": recurring["interval"],
            "interval_count": recurring["interval_count"],
            "livemode": price["livemode"],
            "metadata": {},
            "meter": None,
            "nickname": price["nickname"],
            "product": price["product"],
            "tiers_mode": price["tiers_mode"],
            "transform_usage": None,
            "trial_period_days": None,
            "usage_type": recurring["usage_type"],
        }

    @classmethod
    def _period_end(cls, start, recurring):
        count = recurring["interval_count"]
        interval = recurring["interval"]
        if interval == "day":
            return start + count * _DAY
        if interval == "week":
            return start + count * 7 * _DAY
        return cls._add_months(start, count * (12 if interval == "year" else 1))

    @staticmethod
    def _add_months(timestamp, months):
        """``timestamp`` plus whole calendar months (day clamped to the month's
        last), as Stripe's billing cycles do."""
        moment = datetime.fromtimestamp(timestamp, timezone.utc)
        month = moment.month - 1 + months
        year, month = moment.year + month // 12, month % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return int(moment.replace(year=year, month=month, day=day).timestamp())

    # === STATE CHANGES === #

    def set_refund_status(self, refund_id, status, failure_reason="declined"):
        """Move a refund to ``succeeded``, ``failed`` or ``canceled``.

        ``failed`` returns the money: a ``refund_failure`` balance transaction
        (reporting category ``refund_failure``, positive amount) becomes the
        refund's ``failure_balance_transaction`` and the charge's
        ``amount_refunded`` goes down.

        :return: the refund dict
        """
        with self._lock:
            refund = self._get("refund", refund_id)
            self._set_refund_status(refund, status, failure_reason)
            self._touch()
            return refund

    def win_dispute(self, dispute_id, refund_fee=True):
        """Close a dispute as won: the funds (and, by default, the fee) return.

        Adds a balance transaction of type ``adjustment``, reporting category
        ``dispute_reversal``: ``amount = +disputed``, ``fee = -fee`` when
        ``refund_fee`` (0 otherwise), ``net = amount - fee``.

        :return: the dispute dict
        """
        with self._lock:
            dispute = self._get("dispute", dispute_id)
            withdrawal = dispute["balance_transactions"][0]
            fee = withdrawal["fee"] if refund_fee else 0
            txn = self._add_balance_transaction(
                -withdrawal["amount"],
                withdrawal["currency"],
                "adjustment",
                "dispute_reversal",
                dispute_id,
                self._time(),
                fee=-fee,
                fee_description="Dispute fee refund",
                exchange_rate=withdrawal["exchange_rate"],
                description="Chargeback reversal for %s" % dispute["charge"],
            )
            dispute["balance_transactions"].append(txn)
            dispute["status"] = "won"
            self._touch()
            return dispute

    def lose_dispute(self, dispute_id):
        """Close a dispute as lost (the withdrawal stays; no new transaction).

        :return: the dispute dict
        """
        with self._lock:
            dispute = self._get("dispute", dispute_id)
            dispute["status"] = "lost"
            self._touch()
            return dispute

    def set_payout_status(self, payout_id, status, reconciliation_status=None):
        """Move a payout along (``pending`` -> ``in_transit`` -> ``paid``).

        :param reconciliation_status: e.g. ``completed`` to make the
            ``?payout=`` list available after ``in_progress``
        :return: the payout dict
        """
        with self._lock:
            payout = self._get("payout", payout_id)
            payout["status"] = status
            if status == "paid":
                payout["trace_id"]["status"] = "supported"
            if reconciliation_status:
                payout["reconciliation_status"] = reconciliation_status
            self._touch()
            return payout

    def cancel_payout(self, payout_id):
        """Cancel a payout: the money stays in the balance.

        Adds a ``payout_cancel`` balance transaction (reporting category
        ``payout_reversal``, ``amount = +payout amount``), not paid out yet so
        the next payout takes it.

        :return: the payout dict
        """
        with self._lock:
            payout = self._get("payout", payout_id)
            self._add_balance_transaction(
                payout["amount"],
                payout["currency"],
                "payout_cancel",
                "payout_reversal",
                payout_id,
                self._time(),
                description="Payout cancellation",
            )
            payout["status"] = "canceled"
            self._touch()
            return payout

    def fail_payout(self, payout_id, failure_code="account_closed", message=None):
        """Fail a payout: the bank returned the money.

        Adds a ``payout_failure`` balance transaction (reporting category
        ``payout_reversal``, ``amount = +payout amount``), not paid out yet so
        the next payout takes it, as the payout's
        ``failure_balance_transaction``.

        :return: the payout dict
        """
        with self._lock:
            payout = self._get("payout", payout_id)
            txn = self._add_balance_transaction(
                payout["amount"],
                payout["currency"],
                "payout_failure",
                "payout_reversal",
                payout_id,
                self._time(),
                description="Payout failure",
            )
            payout.update(
                status="failed",
                failure_balance_transaction=txn["id"],
                failure_code=failure_code,
                failure_message=message or "The bank account has been closed.",
            )
            self._touch()
            return payout

    def settle(self, until=None):
        """Make pending balance transactions available once ``available_on``.

        :param until: unix time, default now
        :return: number of transactions that became available
        """
        until = self._time(until)
        count = 0
        with self._lock:
            for txn in self._by_kind["balance_transaction"]:
                if txn["status"] == "pending" and txn["available_on"] <= until:
                    txn["status"] = "available"
                    count += 1
            self._touch()
        return count

    # === QUERIES === #

    def get(self, obj_id):
        """:return: the stored object with this id (live dict), or None"""
        return self._objects.get(obj_id)

    def objects(self, kind):
        """:return: the stored objects of a kind (``"charge"``...), built order"""
        with self._lock:
            return list(self._by_kind[kind])

    def payout_transactions(self, payout_id):
        """:return: the balance transactions of a payout, its own one last"""
        with self._lock:
            return [self._objects[i] for i in self._payout_txns.get(payout_id, [])]

    def balance(self, currency):
        """Balance of the account in a currency: available plus pending.

        :return: sum of the nets of all balance transactions in that currency
        """
        with self._lock:
            return sum(
                txn["net"]
                for txn in self._by_kind["balance_transaction"]
                if txn["currency"] == currency
            )

    def balance_object(self):
        """:return: the Balance object that ``GET /v1/balance`` answers"""
        totals = {"available": {}, "pending": {}}
        with self._lock:
            for txn in self._by_kind["balance_transaction"]:
                bucket = totals[
                    "available" if txn["status"] == "available" else "pending"
                ]
                bucket[txn["currency"]] = bucket.get(txn["currency"], 0) + txn["net"]
        return {
            "object": "balance",
            "available": [
                {"amount": amount, "currency": cur, "source_types": {"card": amount}}
                for cur, amount in sorted(totals["available"].items())
            ],
            "livemode": self.livemode,
            "pending": [
                {"amount": amount, "currency": cur, "source_types": {"card": amount}}
                for cur, amount in sorted(totals["pending"].items())
            ],
        }

    def requests_for(self, path_prefix, method="GET"):
        """:return: the recorded requests whose path starts with the prefix"""
        return [
            req
            for req in list(self.requests)
            if req.method == method and req.path.startswith(path_prefix)
        ]

    # === FAULT INJECTION === #

    def fail_next(
        self,
        n=1,
        status=429,
        path_prefix=None,
        *,
        method=None,
        should_retry=True,
        code=None,
        message=None,
        after=0,
    ):
        """Make the next ``n`` matching requests fail.

        Bodies follow Stripe: 429 is an ``invalid_request_error`` with code
        ``rate_limit`` (``code="lock_timeout"`` for lock contention), 5xx an
        ``api_error``. The SDK retries them itself within
        ``max_network_retries`` (see the module docstring for the rules and
        :func:`fast_sdk_retries`).

        :param status: HTTP status, or ``"disconnect"`` to close the connection
            without answering (the SDK sees a retryable connection error)
        :param path_prefix: only requests whose path starts with it, e.g.
            ``/v1/balance_transactions``; None matches all
        :param method: only this HTTP method; None matches all
        :param should_retry: ``Stripe-Should-Retry`` header: True sends
            ``true``, False ``false``, None omits it (the SDK then retries
            only 409 and 5xx)
        :param after: let this many matching requests through first (fail
            the second page of a list: ``after=1``)
        """
        with self._lock:
            self._faults.append(
                {
                    "remaining": n,
                    "status": status,
                    "path_prefix": path_prefix,
                    "method": method,
                    "should_retry": should_retry,
                    "code": code,
                    "message": message,
                    "after": after,
                }
            )

    def clear_faults(self):
        """Drop the faults :meth:`fail_next` queued and not yet served."""
        with self._lock:
            self._faults = []

    # === HTTP DISPATCH === #

    _LISTS = {
        "balance_transactions": "balance_transaction",
        "charges": "charge",
        "checkout/sessions": "checkout.session",
        "customers": "customer",
        "disputes": "dispute",
        "events": "event",
        "payment_intents": "payment_intent",
        "payouts": "payout",
        "refunds": "refund",
        "invoices": "invoice",
        "invoice_payments": "invoice_payment",
        "credit_notes": "credit_note",
        "tax_rates": "tax_rate",
        "webhook_endpoints": "webhook_endpoint",
        "subscriptions": "subscription",
        "products": "product",
        "prices": "price",
        "coupons": "coupon",
    }

    #: list filters per kind: parameter -> (field, how the value compares)
    _FILTERS = {
        "balance_transaction": {
            "created": ("created", "range"),
            "currency": ("currency", "eq"),
            "payout": (None, "payout"),
            "source": ("source", "eq"),
            "type": ("type", "eq"),
        },
        "charge": {
            "created": ("created", "range"),
            "customer": ("customer", "eq"),
            "payment_intent": ("payment_intent", "eq"),
        },
        "checkout.session": {
            "created": ("created", "range"),
            "customer": ("customer", "eq"),
            "payment_intent": ("payment_intent", "eq"),
        },
        "customer": {"created": ("created", "range"), "email": ("email", "eq")},
        "dispute": {
            "charge": ("charge", "eq"),
            "created": ("created", "range"),
            "payment_intent": ("payment_intent", "eq"),
        },
        "event": {
            "created": ("created", "range"),
            "delivery_success": (None, "delivery"),
            "type": ("type", "event_type"),
            "types": ("type", "in"),
        },
        "payment_intent": {
            "created": ("created", "range"),
            "customer": ("customer", "eq"),
        },
        "payout": {
            "arrival_date": ("arrival_date", "range"),
            "created": ("created", "range"),
            "destination": ("destination", "eq"),
            "status": ("status", "eq"),
        },
        "refund": {
            "charge": ("charge", "eq"),
            "created": ("created", "range"),
            "payment_intent": ("payment_intent", "eq"),
        },
        "invoice_payment": {
            "invoice": ("invoice", "eq"),
            "payment": ("payment", "sub"),
            "status": ("status", "eq"),
        },
        "credit_note": {
            "created": ("created", "range"),
            "customer": ("customer", "eq"),
            "invoice": ("invoice", "eq"),
        },
        "tax_rate": {"created": ("created", "range")},
        "webhook_endpoint": {},
        "subscription": {
            "created": ("created", "range"),
            "customer": ("customer", "eq"),
            "price": (None, "subscription_price"),
            "status": ("status", "subscription_status"),
        },
        "invoice": {
            "created": ("created", "range"),
            "customer": ("customer", "eq"),
            "status": ("status", "eq"),
            "subscription": (None, "invoice_subscription"),
        },
        "product": {"created": ("created", "range")},
        "price": {"created": ("created", "range"), "product": ("product", "eq")},
        "coupon": {"created": ("created", "range")},
    }

    _PAGINATION = {"limit", "starting_after", "ending_before", "expand"}

    def _dispatch(self, method, raw_path, headers, body):
        """Answer one HTTP request.

        :return: ``(status, json bytes, extra headers)``; status None means
            hang up without answering
        """
        url = urlsplit(raw_path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        if body:
            pairs += parse_qsl(body.decode(), keep_blank_values=True)
        params = parse_params(pairs)
        self.requests.append(RecordedRequest(method, url.path, params))
        out_headers = {
            "Request-Id": "req_" + "".join(self._request_ids.choices(_ALPHANUM, k=14)),
            "Stripe-Version": headers.get("Stripe-Version") or DEFAULT_API_VERSION,
        }
        if headers.get("Idempotency-Key"):
            out_headers["Idempotency-Key"] = headers["Idempotency-Key"]
        fault = self._take_fault(method, url.path)
        try:
            if fault:
                if fault["status"] == "disconnect":
                    return None, b"", {}
                if fault["should_retry"] is not None:
                    out_headers["Stripe-Should-Retry"] = (
                        "true" if fault["should_retry"] else "false"
                    )
                raise self._fault_error(fault)
            self._authenticate(headers.get("Authorization") or "")
            with self._lock:
                result = self._route(method, url.path, params)
                if isinstance(result, RawBody):
                    out_headers["Content-Type"] = result.content_type
                    payload = result.content
                else:
                    payload = json.dumps(result, separators=(",", ":"))
            status = 200
        except StripeApiError as error:
            status, payload = error.status, json.dumps(error.body())
        except Exception as error:  # pylint: disable=broad-exception-caught
            # A bug of the fake: logged as an ERROR (which fails an Odoo test)
            # and answered as a final 500, so that the SDK does not retry it.
            _logger.exception("FakeStripe failed on %s %s", method, raw_path)
            out_headers["Stripe-Should-Retry"] = "false"
            status = 500
            payload = json.dumps(
                StripeApiError(
                    500, "FakeStripe internal error: %r" % error, "api_error"
                ).body()
            )
        if isinstance(payload, str):
            payload = payload.encode()
        return status, payload, out_headers

    def _take_fault(self, method, path):
        with self._lock:
            for fault in self._faults:
                if (fault["method"] in (None, method)) and path.startswith(
                    fault["path_prefix"] or ""
                ):
                    if fault["after"] > 0:
                        fault["after"] -= 1
                        return None
                    fault["remaining"] -= 1
                    if fault["remaining"] <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @staticmethod
    def _fault_error(fault):
        status = fault["status"]
        if status == 429:
            return StripeApiError(
                429,
                fault["message"]
                or "Request rate limit exceeded. Learn more about rate limits "
                "here https://stripe.com/docs/rate-limits.",
                code=fault["code"] or "rate_limit",
            )
        if status >= 500:
            return StripeApiError(
                status,
                fault["message"] or "An unknown error occurred",
                error_type="api_error",
                code=fault["code"],
            )
        return StripeApiError(
            status, fault["message"] or "Injected error", code=fault["code"]
        )

    def _authenticate(self, authorization):
        scheme, _sep, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                credentials = base64.b64decode(credentials).decode().split(":")[0]
            except ValueError:
                credentials = ""
        elif scheme.lower() != "bearer":
            credentials = ""
        if not credentials:
            raise StripeApiError(
                401,
                "You did not provide an API key. You need to provide your API "
                "key in the Authorization header, using Bearer auth (e.g. "
                "'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if (
            credentials not in self.api_keys
            if self.api_keys is not None
            else not credentials.startswith(("sk_", "rk_"))
        ):
            raise StripeApiError(
                401,
                "Invalid API Key provided: %s" % _mask_key(credentials),
                code="api_key_invalid",
            )

    def _route(self, method, path, params):  # pylint: disable=too-many-return-statements
        parts = path.strip("/").split("/")
        if parts[1:2] == ["checkout"]:  # /v1/checkout/sessions[/<id>]
            parts = [parts[0], "/".join(parts[1:3]), *parts[3:]]
        if parts[1:2] in (["reporting"], ["files"]):
            return self._route_reporting(method, parts, params)
        if method == "GET" and parts[0] == "v1":
            if parts[1:] == ["balance"]:
                self._check_params(params, {"expand"})
                return self.balance_object()
            if len(parts) == 2 and parts[1] in self._LISTS:
                return self._list(parts[1], params)
            if len(parts) == 4 and parts[1] == "invoices" and parts[3] == "lines":
                return self._invoice_lines(parts[2], params)
            if len(parts) == 4 and parts[1] == "credit_notes" and parts[3] == "lines":
                return self._credit_note_lines_page(parts[2], params)
            if len(parts) == 3 and parts[1] in self._LISTS:
                self._check_params(params, {"expand"})
                kind = self._LISTS[parts[1]]
                obj = self._objects.get(parts[2])
                if obj is None or obj["object"] != kind:
                    raise StripeApiError(
                        404,
                        "No such %s: '%s'" % (kind, parts[2]),
                        code="resource_missing",
                        param="id",
                    )
                return self._expand(obj, params.get("expand") or [])
        if method == "POST":
            answer = self._route_post(parts, params)
            if answer is not None:
                return answer
        if (
            method == "DELETE"
            and parts[:2] == ["v1", "webhook_endpoints"]
            and len(parts) == 3
        ):
            endpoint = self._webhook_endpoint(parts[2])
            del self._objects[endpoint["id"]]
            self._by_kind["webhook_endpoint"].remove(endpoint)
            self._touch()
            return {
                "id": endpoint["id"],
                "object": "webhook_endpoint",
                "deleted": True,
            }
        raise StripeApiError(
            404,
            "Unrecognized request URL (%s: %s). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/." % (method, path),
        )

    # === REPORTING API === #

    #: Report types served, with the columns each knows (a subset of Stripe's
    #: documented schema: docs.stripe.com/reports/report-types) and its defaults.
    #: Columns of the itemized reports: what one balance transaction says, then
    #: the optional columns (not in Stripe's defaults).
    _ITEMIZED_DEFAULT = (
        "balance_transaction_id",
        "created_utc",
        "created",
        "available_on_utc",
        "available_on",
        "currency",
        "gross",
        "fee",
        "net",
        "reporting_category",
        "source_id",
        "description",
    )
    _ITEMIZED_OPTIONAL = ("customer_id", "charge_id", "payment_intent_id")
    _PAYOUT_COLUMNS = ("automatic_payout_id", "automatic_payout_effective_at")
    _ITEMIZED_PARAMETERS = {
        "interval_start",
        "interval_end",
        "currency",
        "reporting_category",
        "timezone",
        "columns",
    }
    REPORT_TYPES = {
        "balance.summary.1": {
            "name": "Balance summary",
            "columns": ("category", "description", "net_amount", "currency"),
            "default": ("category", "description", "net_amount", "currency"),
            "parameters": {"interval_start", "interval_end", "currency", "columns"},
        },
        "balance_change_from_activity.itemized.3": {
            "name": "Balance change from activity",
            "columns": _ITEMIZED_DEFAULT + _PAYOUT_COLUMNS + _ITEMIZED_OPTIONAL,
            "default": _ITEMIZED_DEFAULT,
            "parameters": _ITEMIZED_PARAMETERS,
        },
        "payout_reconciliation.itemized.5": {
            "name": "Payout reconciliation",
            "columns": _PAYOUT_COLUMNS + _ITEMIZED_DEFAULT + _ITEMIZED_OPTIONAL,
            "default": _PAYOUT_COLUMNS + _ITEMIZED_DEFAULT,
            "parameters": _ITEMIZED_PARAMETERS | {"payout"},
        },
    }
    #: Categories Stripe's balance reports count as payouts, not activity.
    PAYOUT_CATEGORIES = ("payout", "payout_reversal")
    _ZERO_DECIMAL = {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
    _THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}

    def hide_from_payout_report(self, payout_id, txn_id):
        """Leave a transaction out of the payout's ``payout_reconciliation`` rows
        (a report row missing: what a tie-out must flag)."""
        with self._lock:
            self._hidden_report_rows.add((payout_id, txn_id))

    def report_availability(self):
        """:return: ``(data_available_start, data_available_end)``"""
        end = self.report_data_available_end
        if end is None:
            now = self._time()
            end = now - now % _DAY
        created = [txn["created"] for txn in self._by_kind["balance_transaction"]]
        start = min(created, default=end)
        return start - start % _DAY, max(end, start - start % _DAY)

    def _route_reporting(self, method, parts, params):
        if (
            method == "GET"
            and parts[1:3] == ["reporting", "report_types"]
            and len(parts) == 4
        ):
            self._check_params(params, {"expand"})
            return self._report_type(parts[3])
        if parts[1:3] == ["reporting", "report_runs"]:
            if method == "POST" and len(parts) == 3:
                return self._create_report_run(params)
            if method == "GET" and len(parts) == 4:
                self._check_params(params, {"expand"})
                return self._retrieve_report_run(parts[3])
        if (
            method == "GET"
            and len(parts) == 4
            and parts[3] == "contents"
            and parts[2] in self._files
        ):
            self._check_params(params, set())
            return RawBody(self._files[parts[2]], "text/csv")
        if method == "GET" and parts[1] == "files" and len(parts) == 3:
            self._check_params(params, {"expand"})
            obj = self._objects.get(parts[2])
            if obj is not None and obj["object"] == "file":
                return obj
        raise StripeApiError(
            404,
            "Unrecognized request URL (%s: %s)." % (method, "/".join(parts)),
        )

    def _report_type(self, type_id):
        spec = self.REPORT_TYPES.get(type_id)
        if spec is None:
            raise StripeApiError(
                404,
                "No such report type: '%s'" % type_id,
                code="resource_missing",
                param="id",
            )
        start, end = self.report_availability()
        return {
            "id": type_id,
            "object": "reporting.report_type",
            "data_available_end": end,
            "data_available_start": start,
            "default_columns": list(spec["default"]),
            "livemode": self.livemode,
            "name": spec["name"],
            "updated": end,
            "version": int(type_id.rsplit(".", 1)[1]),
        }

    def _create_report_run(self, params):
        self._check_params(params, {"report_type", "parameters", "expand"})
        type_id = params.get("report_type")
        spec = self.REPORT_TYPES.get(type_id)
        if spec is None:
            raise StripeApiError(
                400, "Invalid report type: %s" % type_id, param="report_type"
            )
        run_params = params.get("parameters") or {}
        for name in run_params:
            if name not in spec["parameters"]:
                raise StripeApiError(
                    400,
                    "Invalid parameter for %s: %s" % (type_id, name),
                    param="parameters[%s]" % name,
                )
        columns = run_params.get("columns") or list(spec["default"])
        unknown = [column for column in columns if column not in spec["columns"]]
        if unknown:
            raise StripeApiError(
                400,
                "Invalid columns for %s: %s" % (type_id, ", ".join(unknown)),
                param="parameters[columns]",
            )
        try:
            interval_start = int(run_params["interval_start"])
            interval_end = int(run_params["interval_end"])
        except (KeyError, ValueError) as error:
            raise StripeApiError(
                400,
                "Missing required param: parameters[interval_start] and "
                "parameters[interval_end].",
                param="parameters",
            ) from error
        available_start, available_end = self.report_availability()
        if not available_start <= interval_start < interval_end <= available_end:
            raise StripeApiError(
                400,
                "Interval [%s, %s) is outside the available data [%s, %s]."
                % (interval_start, interval_end, available_start, available_end),
                param="parameters[interval_end]",
            )
        now = self._time()
        run = {
            "id": self._new_id("reporting.report_run"),
            "object": "reporting.report_run",
            "created": now,
            "error": None,
            "livemode": self.livemode,
            "parameters": dict(
                run_params,
                interval_start=interval_start,
                interval_end=interval_end,
                columns=list(columns),
            ),
            "report_type": type_id,
            "result": None,
            "status": "pending",
            "succeeded_at": None,
        }
        self._run_polls[run["id"]] = self.report_run_polls
        return self._store(run)

    def _retrieve_report_run(self, run_id):
        run = self._objects.get(run_id)
        if run is None or run["object"] != "reporting.report_run":
            raise StripeApiError(
                404,
                "No such report run: '%s'" % run_id,
                code="resource_missing",
                param="id",
            )
        if run["status"] == "pending":
            if self._run_polls.get(run_id, 0) > 0:
                self._run_polls[run_id] -= 1
            else:
                self._finish_report_run(run)
        return run

    def _finish_report_run(self, run):
        """Compute the run's CSV from the ledger, as a file object."""
        content = self.report_csv(run["report_type"], run["parameters"])
        now = self._time()
        file_id = self._new_id("file")
        self._files[file_id] = content
        run["result"] = self._store(
            {
                "id": file_id,
                "object": "file",
                "created": now,
                "expires_at": now + 7 * _DAY,
                "filename": "%s.csv" % run["id"],
                "links": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": "/v1/file_links?file=%s" % file_id,
                },
                "purpose": "finance_report_run",
                "size": len(content),
                "title": "%s %s" % (run["report_type"], run["id"]),
                "type": "csv",
                "url": "https://files.stripe.com/v1/files/%s/contents" % file_id,
            }
        )
        run["status"] = "succeeded"
        run["succeeded_at"] = now

    def report_csv(self, type_id, parameters):
        """The CSV of a report run, computed from the ledger.

        :param parameters: the run's parameters (``interval_start``,
            ``interval_end``, ``columns``, ``currency``, ``payout``)
        :rtype: bytes
        """
        start = int(parameters["interval_start"])
        end = int(parameters["interval_end"])
        currency = parameters.get("currency")
        columns = parameters.get("columns") or self.REPORT_TYPES[type_id]["default"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        txns = [
            txn
            for txn in self._by_kind["balance_transaction"]
            if currency is None or txn["currency"] == currency
        ]
        if type_id == "balance.summary.1":
            for row in self._summary_rows(txns, start, end, currency):
                writer.writerow([row[column] for column in columns])
        elif type_id == "balance_change_from_activity.itemized.3":
            for txn in sorted(txns, key=lambda t: (t["created"], self._seq[t["id"]])):
                if (
                    start <= txn["created"] < end
                    and txn["reporting_category"] not in self.PAYOUT_CATEGORIES
                    and parameters.get("reporting_category")
                    in (None, txn["reporting_category"])
                ):
                    row = self._itemized_row(txn)
                    writer.writerow([row[column] for column in columns])
        else:
            wanted = parameters.get("payout")
            for payout in self._by_kind["payout"]:
                if not payout["automatic"] or (wanted and payout["id"] != wanted):
                    continue
                if currency and payout["currency"] != currency:
                    continue
                if not start <= payout["arrival_date"] < end:
                    continue
                for txn_id in self._payout_txns.get(payout["id"], []):
                    txn = self._objects[txn_id]
                    if txn["source"] == payout["id"] or (
                        (payout["id"], txn_id) in self._hidden_report_rows
                    ):
                        continue
                    row = self._itemized_row(txn)
                    writer.writerow([row[column] for column in columns])
        return out.getvalue().encode()

    def _summary_rows(self, txns, start, end, currency):
        before = sum(txn["net"] for txn in txns if txn["created"] < start)
        within = [txn for txn in txns if start <= txn["created"] < end]
        payouts = sum(
            txn["net"]
            for txn in within
            if txn["reporting_category"] in self.PAYOUT_CATEGORIES
        )
        activity = sum(txn["net"] for txn in within) - payouts
        code = currency or (txns[0]["currency"] if txns else "usd")
        first = self._utc(start)[:10]
        last = self._utc(end - 1)[:10]
        for category, description, amount in (
            ("starting_balance", "Starting balance (%s)" % first, before),
            ("activity", "Activity", activity),
            ("payouts", "Less payouts", payouts),
            (
                "ending_balance",
                "Ending balance (%s)" % last,
                before + activity + payouts,
            ),
        ):
            yield {
                "category": category,
                "description": description,
                "net_amount": self._major(amount, code),
                "currency": code,
            }

    def _itemized_row(self, txn):
        code = txn["currency"]
        payout_id = self._paid_out.get(txn["id"])
        payout = self._objects.get(payout_id) if payout_id else None
        source = self._objects.get(txn["source"]) if txn["source"] else None
        charge_id = intent_id = customer_id = None
        if source:
            if source["object"] == "charge":
                charge_id = source["id"]
            elif source.get("charge"):
                charge_id = source["charge"]
            charge = self._objects.get(charge_id) if charge_id else None
            if charge:
                intent_id = charge.get("payment_intent")
                customer_id = charge.get("customer")
        automatic = payout and payout["automatic"]
        return {
            "balance_transaction_id": txn["id"],
            "created_utc": self._utc(txn["created"]),
            "created": self._utc(txn["created"]),
            "available_on_utc": self._utc(txn["available_on"]),
            "available_on": self._utc(txn["available_on"]),
            "currency": code,
            "gross": self._major(txn["amount"], code),
            "fee": self._major(txn["fee"], code),
            "net": self._major(txn["net"], code),
            "reporting_category": txn["reporting_category"],
            "source_id": txn["source"] or "",
            "description": txn["description"] or "",
            "automatic_payout_id": payout_id if automatic else "",
            "automatic_payout_effective_at": (
                self._utc(payout["arrival_date"]) if automatic else ""
            ),
            "customer_id": customer_id or "",
            "charge_id": charge_id or "",
            "payment_intent_id": intent_id or "",
        }

    @classmethod
    def _major(cls, amount, currency):
        """Minor units -> Stripe's report text in major units (``-12.34``)."""
        if currency in cls._ZERO_DECIMAL:
            return str(amount)
        exponent = 3 if currency in cls._THREE_DECIMAL else 2
        return str(
            Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
        )

    @staticmethod
    def _utc(timestamp):
        return datetime.fromtimestamp(timestamp, timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S"
        )

    def _route_post(self, parts, params):
        """The answer of a ``POST`` the fake serves, or None."""
        if parts[:2] == ["v1", "checkout/sessions"]:
            if len(parts) == 2:
                return self._create_checkout_session(params)
            if len(parts) == 4 and parts[3] == "expire":
                return self._expire_checkout_session(parts[2], params)
        if parts == ["v1", "customers"]:
            return self._create_customer(params)
        if parts[:2] == ["v1", "webhook_endpoints"]:
            if len(parts) == 2:
                return self._create_webhook_endpoint(params)
            if len(parts) == 3:
                return self._update_webhook_endpoint(parts[2], params)
        return None

    # === CHECKOUT SESSIONS AND CUSTOMERS (POST) === #

    #: What ``POST /v1/checkout/sessions`` understands, at every depth (a dict:
    #: its keys; None: a free value or free keys, as ``metadata``). Anything
    #: else is refused as Stripe refuses an unknown parameter.
    _CHECKOUT_SESSION_PARAMS = {
        "mode": None,
        "line_items": {
            "quantity": None,
            "price": None,
            "price_data": {
                "currency": None,
                "unit_amount": None,
                "product": None,
                "product_data": {"name": None, "description": None, "metadata": None},
            },
        },
        "customer": None,
        "customer_email": None,
        "client_reference_id": None,
        "metadata": None,
        "payment_intent_data": {
            "metadata": None,
            "description": None,
            "receipt_email": None,
        },
        "allowed_payment_method_types": None,
        "payment_method_options": {
            "customer_balance": {
                "funding_type": None,
                "bank_transfer": {
                    "type": None,
                    "eu_bank_transfer": {"country": None},
                },
            },
        },
        "success_url": None,
        "cancel_url": None,
        "expires_at": None,
        "locale": None,
        "expand": None,
    }
    _CUSTOMER_PARAMS = {"name", "email", "phone", "description", "metadata"}
    #: Payment method types Checkout accepts, and their currencies (None: any).
    _CHECKOUT_METHODS = {
        "card": None,
        "sepa_debit": {"eur"},
        "us_bank_account": {"usd"},
        "bacs_debit": {"gbp"},
        "customer_balance": {"eur", "usd", "gbp", "jpy", "mxn"},
    }

    def _check_nested(self, params, allowed, where=""):
        for name, value in params.items():
            inner = "%s[%s]" % (where, name) if where else name
            if name not in allowed:
                raise StripeApiError(
                    400,
                    "Received unknown parameter: %s" % inner,
                    code="parameter_unknown",
                    param=inner,
                )
            spec = allowed[name]
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(spec, dict):
                    if not isinstance(item, dict):
                        raise StripeApiError(
                            400,
                            "Invalid object: %s" % inner,
                            code="parameter_invalid_string",
                            param=inner,
                        )
                    self._check_nested(item, spec, inner)

    def _create_checkout_session(self, params):
        """``POST /v1/checkout/sessions`` (payment mode, ``price_data`` lines):
        an open session, its ``url`` on the fake's own host."""
        self._check_nested(params, self._CHECKOUT_SESSION_PARAMS)
        if params.get("mode") != "payment":
            raise StripeApiError(400, "Missing required param: mode.", param="mode")
        lines = params.get("line_items") or []
        if not lines:
            raise StripeApiError(
                400, "Missing required param: line_items.", param="line_items"
            )
        currencies = {line["price_data"]["currency"] for line in lines}
        if len(currencies) != 1:
            raise StripeApiError(
                400, "All line items must use the same currency.", param="line_items"
            )
        currency = currencies.pop()
        amount = 0
        for index, line in enumerate(lines):
            unit = line["price_data"].get("unit_amount", "")
            if not unit.isdigit():
                raise StripeApiError(
                    400,
                    "Invalid integer: %s" % unit,
                    param="line_items[%d][price_data][unit_amount]" % index,
                )
            amount += int(unit) * int(line.get("quantity") or 1)
        methods = params.get("allowed_payment_method_types") or ["card"]
        for method in methods:
            if method not in self._CHECKOUT_METHODS:
                raise StripeApiError(
                    400,
                    "Invalid allowed_payment_method_types[]: %s" % method,
                    param="allowed_payment_method_types",
                )
            if currency not in (self._CHECKOUT_METHODS[method] or {currency}):
                raise StripeApiError(
                    400,
                    "The payment method type %r is invalid for currency %s."
                    % (method, currency),
                    param="allowed_payment_method_types",
                )
        customer = params.get("customer")
        if customer is not None:
            self._get_or_404("customer", customer, "customer")
        if "customer_balance" in methods and not customer:
            raise StripeApiError(
                400,
                "customer_balance requires a customer.",
                param="customer",
            )
        for url_param in ("success_url", "cancel_url"):
            url = params.get(url_param)
            if url is not None and not url.startswith(("https://", "http://")):
                raise StripeApiError(400, "Not a valid URL", param=url_param)
        created = self._time()
        session_id = self._new_id("checkout.session")
        metadata = params.get("metadata") or {}
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": created,
            "currency": currency,
            "customer": customer,
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "expires_at": int(params.get("expires_at") or created + _DAY),
            "invoice": None,
            "livemode": self.livemode,
            "metadata": dict(metadata),
            "mode": "payment",
            "payment_intent": None,
            "payment_link": None,
            "payment_method_types": list(methods),
            "payment_status": "unpaid",
            "setup_intent": None,
            "status": "open",
            "subscription": None,
            "success_url": params.get("success_url"),
            "url": "%s/c/pay/%s" % (self.api_base, session_id),
        }
        self._checkout_intent_data[session_id] = dict(
            params.get("payment_intent_data") or {}
        )
        return self._store(session)

    def _expire_checkout_session(self, session_id, params):
        """``POST /v1/checkout/sessions/<id>/expire``: only an open session."""
        self._check_params(params, {"expand"})
        session = self._get_or_404("checkout.session", session_id, "session")
        if session["status"] != "open":
            raise StripeApiError(
                400,
                'Only Checkout Sessions with a status in ["open"] can be '
                'expired. This Checkout Session has a status of "%s".'
                % session["status"],
                code="checkout_session_not_open",
            )
        session.update(status="expired", url=None)
        self._touch()
        return session

    def _create_customer(self, params):
        """``POST /v1/customers``."""
        self._check_params(params, self._CUSTOMER_PARAMS | {"expand"})
        if "metadata" in params and not isinstance(params["metadata"], dict):
            raise StripeApiError(400, "Invalid object", param="metadata")
        return self.add_customer(
            email=params.get("email"),
            name=params.get("name"),
            metadata=params.get("metadata"),
            phone=params.get("phone"),
        )

    def _get_or_404(self, kind, obj_id, param):
        obj = self._objects.get(obj_id)
        if obj is None or obj["object"] != kind:
            raise StripeApiError(
                404,
                "No such %s: '%s'" % (kind, obj_id),
                code="resource_missing",
                param=param,
            )
        return obj

    def pay_checkout_session(
        self, session_id, payment_method="card", succeeded=True, **charge_options
    ):
        """The customer pays an open Checkout Session: its PaymentIntent (with
        the session's ``payment_intent_data``) and, for a card, its charge. A
        debit or a transfer (``sepa_debit``, ``us_bank_account``,
        ``customer_balance``...) leaves the PaymentIntent ``processing`` and the
        session ``unpaid``: :meth:`settle_checkout_session` ends it later.

        :return: the session dict
        """
        with self._lock:
            session = self._get("checkout.session", session_id)
            if session["status"] != "open":
                raise ValueError("%s is %s" % (session_id, session["status"]))
            data = self._checkout_intent_data.get(session_id, {})
            intent = self._store(
                self._build_payment_intent(
                    session["amount_total"],
                    session["currency"],
                    "processing",
                    session["customer"],
                    data.get("metadata"),
                    data.get("description"),
                    None,
                )
            )
            intent["payment_method_types"] = [payment_method]
            session.update(status="complete", payment_intent=intent["id"])
            if payment_method == "card" and succeeded:
                self.add_charge(
                    session["amount_total"],
                    session["currency"],
                    payment_intent=intent["id"],
                    **charge_options,
                )
                session["payment_status"] = "paid"
            elif payment_method == "card":
                intent.update(
                    status="requires_payment_method",
                    last_payment_error=dict(_DECLINE),
                )
                session.update(status="open", payment_intent=None)
            self._touch()
            return session

    def settle_checkout_session(self, session_id, succeeded=True, **charge_options):
        """A processing debit or transfer of a Checkout Session ends: it succeeds
        (its charge and balance transaction, the session ``paid``) or fails (the
        PaymentIntent back to ``requires_payment_method`` with its error).

        :return: the session dict
        """
        with self._lock:
            session = self._get("checkout.session", session_id)
            intent = self._get("payment_intent", session["payment_intent"])
            if succeeded:
                self.add_charge(
                    session["amount_total"],
                    session["currency"],
                    payment_intent=intent["id"],
                    **charge_options,
                )
                session["payment_status"] = "paid"
            else:
                intent.update(
                    status="requires_payment_method",
                    last_payment_error={
                        "code": "insufficient_funds",
                        "message": "The account has insufficient funds.",
                        "type": "invalid_request_error",
                    },
                )
            self._touch()
            return session

    # === WEBHOOK ENDPOINTS === #

    _WEBHOOK_ENDPOINT_PARAMS = {"url", "enabled_events", "description", "metadata"}

    def _create_webhook_endpoint(self, params):
        """``POST /v1/webhook_endpoints``: the new endpoint, with its signing secret
        (Stripe shows the secret in this answer only)."""
        self._check_params(
            params, self._WEBHOOK_ENDPOINT_PARAMS | {"api_version", "connect", "expand"}
        )
        for name in ("url", "enabled_events"):
            if not params.get(name):
                raise StripeApiError(
                    400, "Missing required param: %s." % name, param=name
                )
        version = params.get("api_version")
        if version is not None and not re.fullmatch(
            r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", version
        ):
            raise StripeApiError(
                400, "Invalid api_version: %s" % version, param="api_version"
            )
        endpoint = {
            "id": self._new_id("webhook_endpoint"),
            "object": "webhook_endpoint",
            "api_version": version,
            "application": None,
            "created": self._time(),
            "description": None,
            "enabled_events": [],
            "livemode": self.livemode,
            "metadata": {},
            "status": "enabled",
            "url": None,
        }
        self._write_webhook_endpoint(endpoint, params)
        self._store(endpoint)
        secret = "whsec_" + self._random(32)
        self.webhook_secrets[endpoint["id"]] = secret
        return dict(endpoint, secret=secret)

    def _update_webhook_endpoint(self, endpoint_id, params):
        """``POST /v1/webhook_endpoints/<id>``: the endpoint, changed."""
        self._check_params(params, self._WEBHOOK_ENDPOINT_PARAMS | {"disabled"})
        endpoint = self._webhook_endpoint(endpoint_id)
        self._write_webhook_endpoint(endpoint, params)
        if "disabled" in params:
            endpoint["status"] = (
                "disabled" if params["disabled"] == "true" else "enabled"
            )
        self._touch()
        return endpoint

    def _webhook_endpoint(self, endpoint_id):
        endpoint = self._objects.get(endpoint_id)
        if endpoint is None or endpoint["object"] != "webhook_endpoint":
            raise StripeApiError(
                404,
                "No such webhook_endpoint: '%s'" % endpoint_id,
                code="resource_missing",
                param="id",
            )
        return endpoint

    @staticmethod
    def _write_webhook_endpoint(endpoint, params):
        url = params.get("url")
        if url is not None:
            if not url.startswith(("https://", "http://")):
                raise StripeApiError(400, "Invalid URL: %s" % url, param="url")
            endpoint["url"] = url
        events = params.get("enabled_events")
        if events is not None:
            if not isinstance(events, list) or not all(
                event == "*" or re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", event)
                for event in events
            ):
                raise StripeApiError(
                    400, "Invalid enabled_events: %s" % events, param="enabled_events"
                )
            endpoint["enabled_events"] = list(events)
        if "description" in params:
            endpoint["description"] = params["description"] or None
        if isinstance(params.get("metadata"), dict):
            endpoint["metadata"].update(params["metadata"])

    # === LISTING === #

    def _list(self, collection, params):
        kind = self._LISTS[collection]
        filters = self._FILTERS[kind]
        self._check_params(params, self._PAGINATION | set(filters))
        limit = self._limit(params.get("limit"))
        expand = params.get("expand") or []
        for path in expand:
            if not path.startswith("data."):
                raise StripeApiError(
                    400,
                    "This property cannot be expanded (%s). You may want to try "
                    "expanding 'data.%s' instead." % (path, path),
                    param="expand",
                )
        if "type" in params and "types" in params:
            raise StripeApiError(
                400, "You may pass either type or types, but not both.", param="types"
            )
        if kind == "subscription" and "status" not in params:
            params = dict(params, status="_default")
        after, before = params.get("starting_after"), params.get("ending_before")
        if after and before:
            raise StripeApiError(
                400,
                "You may only specify one of these parameters: ending_before, "
                "starting_after.",
            )
        items, keys = self._sorted_matches(kind, params, cursor=after or before)
        start, end, has_more = self._page(kind, keys, limit, after, before)
        inner = [path[len("data.") :] for path in expand]
        return {
            "object": "list",
            "data": [self._expand(obj, inner) for obj in items[start:end]],
            "has_more": has_more,
            "url": "/v1/" + collection,
        }

    def _page(self, kind, keys, limit, after, before):
        """Slice of the sorted list to answer, found by bisection on the cursor.

        :return: ``(start, end, has_more)``
        """
        if not (after or before):
            return 0, limit, limit < len(keys)
        cursor = self._objects.get(after or before)
        if cursor is None or cursor["object"] != kind:
            raise StripeApiError(
                400,
                "No such %s: '%s'" % (kind, after or before),
                code="resource_missing",
                param="starting_after" if after else "ending_before",
            )
        key = self._sort_key(cursor)
        if after:
            start = bisect.bisect_right(keys, key)
            return start, start + limit, start + limit < len(keys)
        end = bisect.bisect_left(keys, key)
        start = max(0, end - limit)
        return start, end, start > 0

    def _sorted_matches(self, kind, params, cursor):
        """Objects matching the filters, newest first, with their sort keys.

        The result is cached per filter set while the store does not change,
        and reused by the follow-up pages (those with a cursor), so walking
        10,000 transactions by pages of 100 sorts once.
        """
        filters = {
            name: value
            for name, value in params.items()
            if name not in self._PAGINATION
        }
        cache_key = (kind, json.dumps(filters, sort_keys=True))
        cached = self._list_cache.get(cache_key)
        if cursor and cached and cached[0] == self._version:
            return cached[1], cached[2]
        if len(self._list_cache) > 32:
            self._list_cache.clear()
        candidates = self._by_kind[kind]
        if kind == "balance_transaction" and "payout" in filters:
            candidates = self._payout_candidates_for_list(filters["payout"])
        predicates = [
            self._predicate(kind, name, value) for name, value in filters.items()
        ]
        items = [obj for obj in candidates if all(pred(obj) for pred in predicates)]
        items.sort(key=self._sort_key)
        keys = [self._sort_key(obj) for obj in items]
        self._list_cache[cache_key] = (self._version, items, keys)
        return items, keys

    def _invoice_lines(self, invoice_id, params):
        """``GET /v1/invoices/<id>/lines``: the invoice's lines in their order."""
        self._check_params(params, {"limit", "starting_after", "expand"})
        invoice = self._objects.get(invoice_id)
        if invoice is None or invoice["object"] != "invoice":
            raise StripeApiError(
                404,
                "No such invoice: '%s'" % invoice_id,
                code="resource_missing",
                param="invoice",
            )
        lines = [
            line for line in self._by_kind["line_item"] if line["invoice"] == invoice_id
        ]
        limit = self._limit(params.get("limit"))
        start = 0
        if params.get("starting_after"):
            ids = [line["id"] for line in lines]
            start = ids.index(params["starting_after"]) + 1
        return {
            "object": "list",
            "data": lines[start : start + limit],
            "has_more": start + limit < len(lines),
            "url": "/v1/invoices/%s/lines" % invoice_id,
        }

    def _credit_note_lines_page(self, credit_note_id, params):
        """``GET /v1/credit_notes/<id>/lines``: the credit note's lines in their
        order."""
        self._check_params(params, {"limit", "starting_after", "expand"})
        if credit_note_id not in self._credit_note_lines:
            raise StripeApiError(
                404,
                "No such credit note: '%s'" % credit_note_id,
                code="resource_missing",
                param="credit_note",
            )
        lines = self._credit_note_lines[credit_note_id]
        limit = self._limit(params.get("limit"))
        start = 0
        if params.get("starting_after"):
            ids = [line["id"] for line in lines]
            start = ids.index(params["starting_after"]) + 1
        return {
            "object": "list",
            "data": lines[start : start + limit],
            "has_more": start + limit < len(lines),
            "url": "/v1/credit_notes/%s/lines" % credit_note_id,
        }

    def _payout_candidates_for_list(self, payout_id):
        payout = self._objects.get(payout_id)
        if payout is None or payout["object"] != "payout":
            raise StripeApiError(
                404,
                "No such payout: '%s'" % payout_id,
                code="resource_missing",
                param="payout",
            )
        if not payout["automatic"]:
            raise StripeApiError(
                400,
                "Balance transaction history can only be filtered on automatic "
                "transfers, not manual.",
                param="payout",
            )
        if payout["reconciliation_status"] != "completed":
            return []
        return [self._objects[i] for i in self._payout_txns[payout_id]]

    def _predicate(self, kind, name, value):  # pylint: disable=too-many-return-statements
        field, how = self._FILTERS[kind][name]
        if how == "eq":
            return lambda obj: obj.get(field) == value
        if how == "in":
            types = set(value) if isinstance(value, list) else {value}
            return lambda obj: obj[field] in types
        if how == "event_type":
            if value.endswith("*"):
                prefix = value[:-1]
                return lambda obj: obj[field].startswith(prefix)
            return lambda obj: obj[field] == value
        if how == "delivery":
            delivered = value == "true"
            return lambda obj: (obj["id"] not in self._undelivered) == delivered
        if how == "payout":
            return lambda obj: True  # the candidates are the payout's already
        if how == "sub":  # payment[payment_intent]=pi_...: every key must match
            return lambda obj: all(
                (obj.get(field) or {}).get(key) == sub for key, sub in value.items()
            )
        if how == "subscription_status":
            if value == "all":
                return lambda obj: True
            if value == "_default":  # Stripe leaves canceled ones out by default
                return lambda obj: obj["status"] not in ("canceled",)
            return lambda obj: obj["status"] == value
        if how == "subscription_price":
            return lambda obj: any(
                item["price"]["id"] == value for item in obj["items"]["data"]
            )
        if how == "invoice_subscription":
            return lambda obj: (
                ((obj.get("parent") or {}).get("subscription_details") or {}).get(
                    "subscription"
                )
                == value
            )
        bounds = self._range(name, value)
        return lambda obj: all(check(obj[field]) for check in bounds)

    @staticmethod
    def _range(name, value):
        ops = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        if not isinstance(value, dict):
            value = {"eq": value}
        checks = []
        for op, raw in value.items():
            if op not in ops and op != "eq":
                raise StripeApiError(
                    400,
                    "Received unknown parameter: %s[%s]" % (name, op),
                    code="parameter_unknown",
                    param="%s[%s]" % (name, op),
                )
            try:
                bound = int(raw)
            except ValueError:
                raise StripeApiError(
                    400, "Invalid integer: %s" % raw, param="%s[%s]" % (name, op)
                ) from None
            compare = ops.get(op, lambda a, b: a == b)
            checks.append(lambda v, compare=compare, bound=bound: compare(v, bound))
        return checks

    @staticmethod
    def _limit(raw):
        if raw is None:
            return DEFAULT_LIMIT
        try:
            limit = int(raw)
        except ValueError:
            raise StripeApiError(
                400, "Invalid integer: %s" % raw, param="limit"
            ) from None
        if limit < 1:
            raise StripeApiError(
                400,
                "This value must be greater than or equal to 1.",
                param="limit",
            )
        if limit > MAX_LIMIT:
            raise StripeApiError(
                400,
                "This value must be less than or equal to %d (it currently is "
                "'%d')." % (MAX_LIMIT, limit),
                param="limit",
            )
        return limit

    @staticmethod
    def _check_params(params, allowed):
        for name in params:
            if name not in allowed:
                raise StripeApiError(
                    400,
                    "Received unknown parameter: %s" % name,
                    code="parameter_unknown",
                    param=name,
                )

    def _sort_key(self, obj):
        """Stripe's list order: newest first, the later-built first on ties."""
        return (-obj["created"], -self._seq[obj["id"]])

    # === EXPANSION === #

    def _expand(self, obj, paths):
        """Copy of ``obj`` with the dotted ``paths`` expanded (never mutates)."""
        for path in paths:
            obj = self._expand_path(obj, path.split("."), path)
        return obj

    def _expand_path(self, obj, parts, path):
        if isinstance(obj, list):
            return [self._expand_path(item, parts, path) for item in obj]
        field, rest = parts[0], parts[1:]
        if obj.get("object") == "charge" and field == "refunds":
            value = obj.get("refunds") or self._charge_refunds(obj)
        elif obj.get("object") == "customer" and field == "tax_ids":
            value = self._customer_tax_ids(obj)
        elif obj.get("object") == "price" and field == "tiers":
            value = json.loads(json.dumps(self._price_tiers.get(obj["id"])))
        elif field in obj and (obj[field] is None or isinstance(obj[field], str)):
            value = obj[field]
            if value is not None:
                value = self._objects.get(value, value)
        elif isinstance(obj.get(field), list) and all(
            isinstance(v, str) for v in obj[field]
        ):
            value = [self._objects.get(v, v) for v in obj[field]]  # ids: expand
        elif isinstance(obj.get(field), (dict, list)) and rest:
            value = obj[field]  # already expanded or nested: go deeper
        else:
            raise StripeApiError(
                400, "This property cannot be expanded (%s)." % path, param="expand"
            )
        if rest and isinstance(value, (dict, list)):
            value = self._expand_path(value, rest, path)
        obj = dict(obj)
        obj[field] = value
        return obj

    def _customer_tax_ids(self, customer):
        tax_ids = [
            t for t in self._by_kind["tax_id"] if t["customer"] == customer["id"]
        ]
        return {
            "object": "list",
            "data": tax_ids,
            "has_more": False,
            "url": "/v1/customers/%s/tax_ids" % customer["id"],
        }

    def _charge_refunds(self, charge):
        refunds = [r for r in self._by_kind["refund"] if r["charge"] == charge["id"]]
        refunds.sort(key=self._sort_key)
        return {
            "object": "list",
            "data": refunds,
            "has_more": False,
            "total_count": len(refunds),
            "url": "/v1/charges/%s/refunds" % charge["id"],
        }

    # === INTERNALS === #

    def _build_charge(self, amount, currency, status, customer, metadata, created):
        succeeded = status == "succeeded"
        customer_obj = self._objects.get(customer) if customer else None
        email = customer_obj["email"] if customer_obj else None
        return {
            "id": self._new_id("charge"),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if succeeded else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None,
            "billing_details": {
                "address": {
                    "city": None,
                    "country": None,
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "email": email,
                "name": customer_obj["name"] if customer_obj else None,
                "phone": None,
                "tax_id": None,
            },
            "calculated_statement_descriptor": "ODOO STRIPE",
            "captured": succeeded,
            "created": created,
            "currency": currency,
            "customer": customer,
            "description": None,
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None if succeeded else "card_declined",
            "failure_message": None if succeeded else "Your card was declined.",
            "fraud_details": {},
            "livemode": self.livemode,
            "metadata": metadata,
            "on_behalf_of": None,
            "outcome": {
                "network_status": (
                    "approved_by_network" if succeeded else "declined_by_network"
                ),
                "reason": None if succeeded else "generic_decline",
                "risk_level": "normal",
                "seller_message": (
                    "Payment complete." if succeeded else "The bank declined."
                ),
                "type": "authorized" if succeeded else "issuer_declined",
            },
            "paid": succeeded,
            "payment_intent": None,
            "payment_method": "pm_" + self._random(24),
            "payment_method_details": {
                "card": {
                    "brand": "visa",
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "funding": "credit",
                    "last4": "4242",
                    "network": "visa",
                },
                "type": "card",
            },
            "receipt_email": email,
            "receipt_number": None,
            "receipt_url": None,
            "refunded": False,
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
        }

    @staticmethod
    def _default_fee(settled):
        percent = Decimal(settled) * DEFAULT_FEE_PERCENT / 100
        return int(percent.quantize(1, ROUND_HALF_UP)) + DEFAULT_FEE_FIXED

    def _build_payment_intent(
        self, amount, currency, status, customer, metadata, description, created
    ):
        intent_id = self._new_id("payment_intent")
        return {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": amount if status == "succeeded" else 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": {
                "allow_redirects": "always",
                "enabled": True,
            },
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": "%s_secret_%s" % (intent_id, self._random(25)),
            "confirmation_method": "automatic",
            "created": self._time(created),
            "currency": currency,
            "customer": customer,
            "description": description,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": self.livemode,
            "metadata": dict(metadata or {}),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": None,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
        }

    def _add_balance_transaction(  # pylint: disable=too-many-arguments
        self,
        amount,
        currency,
        txn_type,
        reporting_category,
        source,
        created,
        *,
        fee=0,
        fee_description=None,
        exchange_rate=None,
        available_on=None,
        description=None,
    ):
        available_on = created if available_on is None else available_on
        fee_details = []
        if fee:
            fee_details.append(
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": fee_description,
                    "type": "stripe_fee",
                }
            )
        txn = {
            "id": self._new_id("balance_transaction"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": available_on,
            "balance_type": "payments",
            "created": created,
            "currency": currency,
            "description": description,
            "exchange_rate": exchange_rate,
            "fee": fee,
            "fee_details": fee_details,
            "net": amount - fee,
            "reporting_category": reporting_category,
            "source": source,
            "status": "available" if available_on <= self._time() else "pending",
            "type": txn_type,
        }
        return self._store(txn)

    def _set_refund_status(self, refund, status, failure_reason):
        if status == "failed" and refund["status"] != "failed":
            charge = self._objects[refund["charge"]]
            debit = self._objects[refund["balance_transaction"]]
            txn = self._add_balance_transaction(
                -debit["amount"],
                debit["currency"],
                "refund_failure",
                "refund_failure",
                refund["id"],
                self._time(),
                exchange_rate=debit["exchange_rate"],
                description="REFUND FAILURE",
            )
            refund["failure_balance_transaction"] = txn["id"]
            refund["failure_reason"] = failure_reason
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
        if status == "succeeded":
            refund["destination_details"]["card"]["reference_status"] = "available"
            refund["destination_details"]["card"]["reference"] = self._random(23)
        refund["status"] = status

    def _payout_candidates(self, transactions, currency):
        if transactions is None:
            return [
                txn
                for txn in self._by_kind["balance_transaction"]
                if txn["id"] not in self._paid_out
                and txn["status"] == "available"
                and txn["type"] != "payout"
                and (currency is None or txn["currency"] == currency)
            ]
        txns = []
        for ref in transactions:
            txn = self._get(
                "balance_transaction", ref if isinstance(ref, str) else ref["id"]
            )
            if txn["id"] in self._paid_out:
                raise ValueError(
                    "%s is already paid out in %s"
                    % (txn["id"], self._paid_out[txn["id"]])
                )
            txns.append(txn)
        return txns

    def _store(self, obj):
        self._objects[obj["id"]] = obj
        self._by_kind[obj["object"]].append(obj)
        self._seq[obj["id"]] = self._next_seq
        self._next_seq += 1
        self._version += 1
        return obj

    def _touch(self):
        """Invalidate cached list orders after a change of stored fields."""
        self._version += 1

    def _get(self, kind, obj_id):
        obj = self._objects.get(obj_id)
        if obj is None or obj["object"] != kind:
            raise KeyError("No such %s: %r" % (kind, obj_id))
        return obj

    def _new_id(self, kind):
        prefix = ID_PREFIXES[kind] + "_"
        while True:
            obj_id = prefix + self._random(24)
            if obj_id not in self._objects:
                return obj_id

    def _random(self, length):
        return "".join(self._rng.choices(_ALPHANUM, k=length))

    @staticmethod
    def _time(value=None):
        return int(time.time()) if value is None else int(value)

    @staticmethod
    def _convert(amount, rate):
        """``amount * rate`` rounded half up to the minor unit (or ``amount``)."""
        if not rate:
            return amount
        return int((Decimal(amount) * Decimal(str(rate))).quantize(1, ROUND_HALF_UP))


def _mask_key(key):
    """``sk_test_****...1234``, as Stripe shows a rejected key."""
    tail = key[-4:] if len(key) > 12 else ""
    return key[:8] + "*" * (len(key) - 8 - len(tail)) + tail
