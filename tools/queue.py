"""Where an event goes in the processing queue: its routing key and its lane.

Pure functions of the event as Stripe sent it (no Odoo, no I/O), computed once
when the event is stored.

- The **routing key** names what the event books: the Stripe customer, else
  the Stripe invoice, else the object itself. Events of one key are processed by
  one worker at a time, in one batch when they are due together (an invoice's
  ``invoice.paid`` and its PaymentIntent's ``payment_intent.succeeded``), so that
  two cron workers never race to mirror or pay the same invoice.
- The **lane** is the kind of work (``const.EVENT_LANES``): each batch takes
  events from every lane that has some due, so that a storm of one kind (the
  month-start renewals) never starves another (a one-off payment).
"""

# Lanes in the order a batch serves them; the first is also the default.
LANES = ("payments", "billing", "payouts", "other")


def routing_key(event_data):
    """The routing key of a Stripe event (a str of at most 255 characters), or
    None when it carries no object id."""
    obj = (event_data.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        return None
    for value in (obj.get("customer"), obj.get("invoice"), obj.get("id")):
        key = value.get("id") if isinstance(value, dict) else value
        if isinstance(key, str) and key:
            return key[:255]
    return None


def lane(event_type, event_data, type_lanes, billing_descriptions=()):
    """The lane of a Stripe event.

    :param dict type_lanes: event type -> lane (``const.EVENT_LANES``); types
        missing from it go to ``other``.
    :param billing_descriptions: PaymentIntent descriptions Stripe gives the
        payments of its invoices: such a payment travels with its invoice.
    """
    found = type_lanes.get(event_type, "other")
    if found != "payments":
        return found
    obj = (event_data.get("data") or {}).get("object") or {}
    if isinstance(obj, dict) and (
        obj.get("invoice") or obj.get("description") in billing_descriptions
    ):
        return "billing"
    return found


def interleave(rows_by_lane, limit):
    """Take up to ``limit`` rows from the lanes in turn: the first row of each
    lane, then the second of each, and so on (lanes in ``LANES`` order, each
    lane's rows oldest first), so that every lane with due events gets its share
    of a batch and a busy lane takes what the others leave.

    :param dict rows_by_lane: lane -> rows, oldest first.
    :return: the rows taken, in that order.
    """
    taken = []
    queues = [list(rows_by_lane.get(name) or ()) for name in LANES]
    queues += [list(rows) for name, rows in rows_by_lane.items() if name not in LANES]
    depth = 0
    while len(taken) < limit and any(depth < len(rows) for rows in queues):
        for rows in queues:
            if depth < len(rows) and len(taken) < limit:
                taken.append(rows[depth])
        depth += 1
    return taken
