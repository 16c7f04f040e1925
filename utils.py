"""Small pure helpers: no Odoo environment, no I/O, easy to unit-test."""

import ipaddress
import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import urlsplit

from . import const
from .tools.facts import BalanceTransactionFacts, PaymentFacts


def currency_exponent(currency_code):
    """Return the number of decimals Stripe uses for a currency in API amounts.

    Stripe's own table, not Odoo's rounding: see ``const.ZERO_DECIMAL_CURRENCIES``
    and ``const.THREE_DECIMAL_CURRENCIES``; every other currency has two.

    :param str currency_code: ISO 4217 code, any case (Stripe sends lowercase).
    :return: 0, 2 or 3.
    :rtype: int
    """
    code = (currency_code or "").upper()
    if code in const.ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in const.THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def from_minor_units(amount, currency_code):
    """Convert a Stripe integer amount in minor units to a major-unit ``Decimal``.

    ``from_minor_units(1050, "usd") == Decimal("10.50")``,
    ``from_minor_units(1050, "jpy") == Decimal("1050")``,
    ``from_minor_units(1050, "kwd") == Decimal("1.050")``.

    :param int amount: amount as Stripe sends it (may be negative).
    :param str currency_code: ISO 4217 code.
    :return: the exact amount in major units.
    :rtype: Decimal
    """
    return Decimal(int(amount or 0)).scaleb(-currency_exponent(currency_code))


def to_minor_units(amount, currency_code):
    """Convert a major-unit amount to Stripe's integer minor units (half up).

    :param amount: a number (``float``, ``Decimal``, ``int`` or numeric ``str``).
    :param str currency_code: ISO 4217 code.
    :return: the amount in minor units.
    :rtype: int
    """
    scaled = Decimal(str(amount)).scaleb(currency_exponent(currency_code))
    return int(scaled.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def timestamp_to_datetime(timestamp):
    """Convert a Stripe Unix timestamp to a naive UTC ``datetime`` (Odoo's storage).

    :param timestamp: seconds since the epoch, or ``None``.
    :return: the datetime, or ``None`` when the timestamp is missing or absurd.
    """
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def clean_text(value, max_length=None):
    """Return ``value`` as a string PostgreSQL can store (no NUL), optionally cut.

    :param value: anything; non-strings give an empty string.
    :param int max_length: maximum length kept, if any.
    :rtype: str
    """
    if not isinstance(value, str):
        return ""
    value = value.replace("\x00", "")
    return value[:max_length] if max_length else value


def is_valid_unicode(data):
    """Whether every string in parsed JSON is valid Unicode (no lone surrogate,
    which JSON's ``\\ud800`` escapes can produce and no database stores).

    :param data: what ``json.loads`` returned.
    :rtype: bool
    """
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_strings(data):
    """Return parsed JSON with every NUL character replaced by U+FFFD.

    PostgreSQL refuses NUL in text, also in a search: a reference carrying one
    names no document (instead of failing the query).

    :param data: what ``json.loads`` returned.
    """
    if isinstance(data, str):
        return data.replace("\x00", "\ufffd") if "\x00" in data else data
    if isinstance(data, dict):
        return {key: clean_strings(value) for key, value in data.items()}
    if isinstance(data, list):
        return [clean_strings(value) for value in data]
    return data


def shorten(text, max_length=300):
    """Return a message from elsewhere (Stripe's) fit for a user: URLs reduced to
    their path (no query string), cut to ``max_length`` characters.

    :param str text: the message.
    :rtype: str
    """
    text = re.sub(r"(https?://[^\s?]*|/v1/[^\s?]*)\?\S*", r"\1", str(text or ""))
    text = " ".join(text.split())
    return text if len(text) <= max_length else text[: max_length - 3] + "..."


def get_path(data, *keys, default=None):
    """Walk nested dicts: ``get_path(event, "data", "object", "id")``.

    Stops at the first missing key or non-dict level and returns ``default``.
    """
    for key in keys:
        if not isinstance(data, dict):
            return default
        data = data.get(key)
        if data is None:
            return default
    return data


def object_id(value):
    """Return the id of a Stripe reference that may be expanded or not.

    Stripe sends ``"ch_123"`` or, when expanded, ``{"id": "ch_123", ...}``.
    """
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


_REFERENCE_RE = re.compile(r"[\w/.\-]+")


def references_in_text(text):
    """Split a free text (description, client reference) into candidate references.

    ``"Invoice INV/2026/00012, order S00042"`` gives ``["Invoice",
    "INV/2026/00012", "order", "S00042"]``; callers look each one up.

    :param str text: the text, or anything else (gives an empty list).
    :rtype: list[str]
    """
    if not isinstance(text, str):
        return []
    # "INV/2026/00012." ends a sentence: the dot is not part of the number.
    tokens = (token.rstrip("./-") for token in _REFERENCE_RE.findall(text))
    return [token for token in tokens if token][:20]


def backoff_delay(attempt, base, maximum=None):
    """Exponential backoff: ``base * 2 ** (attempt - 1)`` seconds, optionally capped.

    :param int attempt: 1 for the first retry.
    :param int base: delay of the first retry, in seconds.
    :param int maximum: cap, in seconds.
    :rtype: int
    """
    delay = base * 2 ** max(attempt - 1, 0)
    return min(delay, maximum) if maximum else delay


# === STRIPE OBJECTS -> PAYMENT FACTS === #


def payment_facts(obj):
    """Read what Odoo needs to book a payment from any object that reports one.

    Handles a PaymentIntent (current shape with ``latest_charge``, and the shape of
    API versions before 2022-11-15 with a ``charges`` list), a Charge and a Checkout
    Session. The result is a plain dict; missing facts are ``None``.

    :param dict obj: the event's ``data.object``.
    :rtype: tools.facts.PaymentFacts
    """
    kind = obj.get("object")
    facts = PaymentFacts(
        currency=(obj.get("currency") or "").upper() or None,
        customer_id=object_id(obj.get("customer")),
        created=obj.get("created"),
        source=kind,
    )
    charge = None
    if kind == "payment_intent":
        facts.payment_intent_id = obj.get("id")
        facts.amount = obj.get("amount_received") or obj.get("amount")
        charge = obj.get("latest_charge")
        legacy_charges = get_path(obj, "charges", "data", default=[])
        if not charge and legacy_charges:
            charge = next(
                (c for c in legacy_charges if c.get("status") == "succeeded"),
                legacy_charges[0],
            )
        facts.metadata.append(("PaymentIntent", obj.get("metadata") or {}))
        facts.references.append(obj.get("description"))
        facts.intent_description = obj.get("description")
        facts.email = obj.get("receipt_email")
    elif kind == "charge":
        charge = obj
        facts.payment_intent_id = object_id(obj.get("payment_intent"))
        facts.amount = obj.get("amount_captured") or obj.get("amount")
    elif kind == "checkout.session":
        facts.payment_intent_id = object_id(obj.get("payment_intent"))
        facts.amount = obj.get("amount_total")
        facts.metadata.append(("Checkout Session", obj.get("metadata") or {}))
        facts.references.append(obj.get("client_reference_id"))
        facts.email = get_path(obj, "customer_details", "email") or obj.get(
            "customer_email"
        )
        intent = obj.get("payment_intent")
        if isinstance(intent, dict):
            add_intent_facts(facts, intent)
    facts.charge_id = facts.charge_id or object_id(charge)
    if isinstance(charge, dict):
        add_charge_facts(facts, charge)
    facts.key = facts.payment_intent_id or facts.charge_id or obj.get("id")
    facts.references = [ref for ref in facts.references if ref]
    return facts


def add_intent_facts(facts, intent):
    """Complete the payment facts of a Checkout Session with its PaymentIntent
    (its metadata, description and charge), without overriding what the session
    already gave.

    :param PaymentFacts facts: as returned by ``payment_facts``; updated in place.
    :param dict intent: the PaymentIntent, ``latest_charge`` an id or expanded.
    """
    facts.metadata.append(("PaymentIntent", intent.get("metadata") or {}))
    if intent.get("description"):
        facts.references.append(intent["description"])
    facts.intent_description = intent.get("description")
    facts.customer_id = facts.customer_id or object_id(intent.get("customer"))
    charge = intent.get("latest_charge")
    facts.charge_id = facts.charge_id or object_id(charge)
    if isinstance(charge, dict):
        add_charge_facts(facts, charge)


def add_charge_facts(facts, charge):
    """Complete payment facts with what the charge says (metadata, description,
    billing e-mail, customer, balance transaction), without overriding facts that
    the PaymentIntent or Checkout Session already gave.

    :param PaymentFacts facts: as returned by ``payment_facts``; updated in place.
    :param dict charge: the charge.
    """
    facts.charge_id = facts.charge_id or charge.get("id")
    facts.metadata.append(("Charge", charge.get("metadata") or {}))
    if charge.get("description"):
        facts.references.append(charge["description"])
    facts.email = facts.email or get_path(charge, "billing_details", "email")
    facts.customer_id = facts.customer_id or object_id(charge.get("customer"))
    facts.add_balance_transaction(charge.get("balance_transaction"))


def metadata_references(metadata_sources, keys):
    """Return the Odoo references found in metadata, in order of precedence.

    Precedence is by key first (``keys`` order), then by source, so that
    ``odoo_invoice_id`` on the charge beats ``odoo_invoice`` on the PaymentIntent.

    :param list metadata_sources: ``(source, metadata)`` pairs.
    :param tuple keys: the metadata keys, in order of precedence.
    :return: ``(key, value, source)`` triples with non-empty values.
    :rtype: list[tuple]
    """
    found = []
    for key in keys:
        for source, metadata in metadata_sources:
            value = metadata.get(key) if isinstance(metadata, dict) else None
            if isinstance(value, str | int) and str(value).strip():
                found.append((key, str(value).strip(), source))
    return found


# === BALANCE TRANSACTIONS AND PAYOUTS === #


def source_kind(source):
    """Return the kind of Stripe object a balance transaction's source is.

    :param source: the source, expanded (a dict with ``object``) or an id.
    :return: ``charge``, ``refund``, ``dispute``, ``payout``... or ``None``.
    """
    if isinstance(source, dict):
        return source.get("object") or source_kind(source.get("id"))
    if not isinstance(source, str):
        return None
    return next(
        (
            kind
            for prefix, kind in const.SOURCE_PREFIXES.items()
            if source.startswith(prefix)
        ),
        None,
    )


def balance_transaction_facts(txn):
    """Read what Odoo keeps of a Stripe balance transaction.

    Works with the ``source`` expanded (``expand[]=data.source``) or not; expanded,
    it also tells the charge and PaymentIntent a refund or dispute is about.

    :param dict txn: the balance transaction.
    :return: ``stripe_id``, ``type``, ``reporting_category`` (from the type when
        missing), ``currency`` (upper case), ``amount``, ``fee``, ``net`` (minor
        units), ``exchange_rate``, ``fee_details`` (list of dicts ``type``,
        ``amount`` in minor units, ``description``, adding up to ``fee``),
        ``description``, ``source_id``, ``source_type``, ``charge_id``,
        ``payment_intent_id``, ``customer_id``, ``created``, ``available_on``,
        ``status``, ``source`` (the expanded source reduced to
        ``const.SOURCE_KEPT_KEYS``, or ``None``).
    :rtype: tools.facts.BalanceTransactionFacts
    """
    source = txn.get("source")
    kind = source_kind(source)
    expanded = source if isinstance(source, dict) else {}
    charge_id = payment_intent_id = customer_id = None
    if kind == "charge":
        charge_id = object_id(source)
        payment_intent_id = object_id(expanded.get("payment_intent"))
        customer_id = object_id(expanded.get("customer"))
    elif kind in ("refund", "dispute"):
        charge_id = object_id(expanded.get("charge"))
        payment_intent_id = object_id(expanded.get("payment_intent"))
    txn_type = txn.get("type") or ""
    fee = int(txn.get("fee") or 0)
    return BalanceTransactionFacts(
        stripe_id=txn["id"],
        type=txn_type,
        reporting_category=txn.get("reporting_category")
        or const.TRANSACTION_TYPE_CATEGORY.get(txn_type, "other_adjustment"),
        currency=(txn.get("currency") or "").upper(),
        amount=int(txn.get("amount") or 0),
        fee=fee,
        net=int(txn.get("net") or 0),
        exchange_rate=txn.get("exchange_rate"),
        fee_details=fee_details(txn.get("fee_details"), fee),
        description=clean_text(txn.get("description"), 1024) or None,
        source_id=object_id(source),
        source_type=kind,
        charge_id=charge_id,
        payment_intent_id=payment_intent_id,
        customer_id=customer_id,
        created=txn.get("created"),
        available_on=txn.get("available_on"),
        status=txn.get("status"),
        source={
            key: expanded[key]
            for key in const.SOURCE_KEPT_KEYS.get(kind, ())
            if key in expanded
        }
        or None,
    )


def fee_details(details, fee):
    """Return a transaction's fee split by fee type, adding up to its fee.

    Stripe's ``fee_details`` add up to ``fee``; a fee without details, or the part
    of a fee its details do not explain, gets ``const.DEFAULT_FEE_TYPE``.

    :param list details: Stripe's ``fee_details`` (may be ``None``).
    :param int fee: the transaction's ``fee`` (minor units).
    :return: dicts with ``type``, ``amount`` (minor units) and ``description``.
    :rtype: list[dict]
    """
    result = [
        {
            "type": detail.get("type") or const.DEFAULT_FEE_TYPE,
            "amount": int(detail.get("amount") or 0),
            "description": detail.get("description"),
        }
        for detail in details or []
        if isinstance(detail, dict) and detail.get("amount")
    ]
    rest = fee - sum(detail["amount"] for detail in result)
    if rest:
        result.append(
            {"type": const.DEFAULT_FEE_TYPE, "amount": rest, "description": None}
        )
    return result


def booking_categories(*hows):
    """Reporting categories whose transactions are booked one of these ways at
    payout time (see ``const.PAYOUT_BOOKING``).

    ``booking_categories("fee") == ["fee"]``

    :rtype: list[str]
    """
    return [category for category, how in const.PAYOUT_BOOKING.items() if how in hows]


def later_status(current, new, ranks):
    """Return the status a record should have after seeing ``new``.

    Stripe events arrive in any order: a status that ranks lower than the current
    one is an older snapshot and is ignored; an equal rank takes the new value.

    :param str current: the status stored now (or ``None``).
    :param str new: the status a snapshot shows (or ``None``).
    :param dict ranks: status -> rank, e.g. ``const.PAYOUT_STATUS_RANK``.
    """
    if not new:
        return current
    if not current:
        return new
    return new if ranks.get(new, 0) >= ranks.get(current, 0) else current


def sdk_retried(error):
    """Whether stripe-python already retried the request that ended in ``error``.

    Mirrors ``stripe._http_client.HTTPClient._should_retry``: the SDK retries (as
    often as ``max_network_retries`` allows) connection errors it deems
    retryable, answers carrying ``Stripe-Should-Retry: true``, 409 and 5xx, and
    never an answer carrying ``Stripe-Should-Retry: false``. A plain 429 is not
    retried.

    :param error: a ``stripe.StripeError``.
    :rtype: bool
    """
    if error.http_status is None:
        return bool(getattr(error, "should_retry", False))
    headers = {key.lower(): value for key, value in (error.headers or {}).items()}
    hint = headers.get("stripe-should-retry")
    if hint in ("true", "false"):
        return hint == "true"
    return error.http_status == 409 or error.http_status >= 500


def unreachable_host(url):
    """Why Stripe cannot reach a URL from the internet, or None: its host is
    ``localhost``, a loopback, private, link-local or reserved address, or a
    local name (no dot, ``.local``, ``.localhost``, ``.internal``). No DNS
    lookup: the host as written.

    :return: ``"local"`` (a local name or loopback), ``"private"`` (a private
        or reserved address) or None.
    """
    host = (urlsplit(url or "").hostname or "").rstrip(".").lower()
    if not host:
        return "local"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or "." not in host:
            return "local"
        if host.endswith((".localhost", ".local", ".internal", ".lan", ".home")):
            return "local"
        return None
    if address.is_loopback or address.is_unspecified:
        return "local"
    if address.is_private or address.is_link_local or address.is_reserved:
        return "private"
    return None
