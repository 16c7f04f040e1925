#!/usr/bin/env python3
"""Post a signed Stripe test event to a running Odoo, as Stripe would.

Builds a ``payment_intent.succeeded`` event (or another type with --type) for an
amount, with Odoo's reference in its metadata, signs it with the endpoint's
signing secret through the stripe SDK's own helper, and POSTs it to the webhook
URL. Then look at Accounting > Stripe > Events: the event is processed within
seconds by the processing cron.

    .venv/bin/python dev/send-test-event.py --invoice INV/2026/00005 --amount 294.00

Defaults match ``make run``'s demo database (its Stripe account's URL and
public test secret).
"""

import argparse
import json
import secrets
import sys
import time

import requests
import stripe


def random_id(prefix):
    return f"{prefix}_{secrets.token_hex(12)}"


def build_event(args):
    minor = round(float(args.amount) * (1 if args.currency in ("jpy", "krw") else 100))
    metadata = {}
    if args.invoice:
        metadata["odoo_invoice"] = args.invoice
    if args.order:
        metadata["odoo_sale_order"] = args.order
    created = int(time.time())
    intent = {
        "id": random_id("pi"),
        "object": "payment_intent",
        "amount": minor,
        "amount_received": minor,
        "currency": args.currency,
        "customer": args.customer,
        "description": args.description,
        "latest_charge": random_id("ch"),
        "livemode": False,
        "metadata": metadata,
        "status": "succeeded",
        "created": created,
    }
    return {
        "id": random_id("evt"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": created,
        "data": {"object": intent},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": args.type,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:8069/stripe/webhook/1")
    parser.add_argument("--secret", default="whsec_demo_stripe_connector")
    parser.add_argument("--type", default="payment_intent.succeeded")
    parser.add_argument("--invoice", help="invoice number, put in metadata")
    parser.add_argument("--order", help="sales order name, put in metadata")
    parser.add_argument("--amount", default="10.00", help="in major units")
    parser.add_argument("--currency", default="usd")
    parser.add_argument("--customer", help="Stripe customer id, e.g. cus_demo_gemini")
    parser.add_argument("--description")
    args = parser.parse_args()
    payload = json.dumps(build_event(args), indent=2)
    signature = stripe.WebhookSignature.generate_signature_header(payload, args.secret)
    response = requests.post(
        args.url,
        data=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": signature},
        timeout=30,
    )
    sys.stdout.write(f"{response.status_code} {response.text}\n")
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
