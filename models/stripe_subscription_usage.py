from odoo import _, api, models

from .. import const, utils
from ..subscription_utils import item_terms, subscription_monthly, to_timestamp


class StripeSubscription(models.Model):
    """What a subscription's snapshot leaves out: the tiers of its tiered prices
    (read from Stripe), and the usage of its metered items (taken from its
    invoices, as *Import Subscriptions* reads them and as Stripe Billing mirrors
    them)."""

    _inherit = "stripe.subscription"

    # === TIERED PRICES === #

    @api.model
    def _stripe_expand_tiers(self, account, data, prices=None):
        """Read the tiers of a snapshot's tiered prices: Stripe shows them only
        when asked (``expand[]=tiers``), never in a webhook. A price's tiers never
        change on Stripe, so those of the snapshot Odoo keeps serve again; the
        others are read with the account's key. A price whose tiers cannot be
        read counts 0, and the note says so.

        :return: the snapshot and a note for the user (empty when all is known).
        :rtype: tuple
        """
        items = utils.get_path(data, "items", "data", default=[]) or []
        missing = {
            item["price"]["id"]
            for item in items
            if isinstance(item.get("price"), dict)
            and item["price"].get("id")
            and item_terms(item)["tiered"]
            and item_terms(item)["tiers"] is None
        }
        if not missing:
            return data, ""
        prices = {} if prices is None else prices
        known = self.search(
            [("account_id", "=", account.id), ("stripe_id", "=", data.get("id"))]
        ).snapshot
        for item in utils.get_path(known, "items", "data", default=[]) or []:
            price = item.get("price") if isinstance(item.get("price"), dict) else {}
            if price.get("id") in missing and isinstance(price.get("tiers"), list):
                prices.setdefault(price["id"], price["tiers"])
        errors = {}
        for price_id in sorted(missing - set(prices)):
            answer, error = account._stripe_read(
                _("the tiers of price %s", price_id),
                "prices",
                "retrieve",
                price_id,
                params={"expand": ["tiers"]},
            )
            tiers = (answer or {}).get("tiers")
            prices[price_id] = tiers if isinstance(tiers, list) else None
            if prices[price_id] is None:
                errors[price_id] = error or _("Stripe sent no tiers")
        new_items = []
        for item in items:
            price_id = utils.get_path(item, "price", "id")
            if price_id in missing and prices.get(price_id) is not None:
                price = dict(item["price"], tiers=prices[price_id])
                new_items.append(dict(item, price=price))
            else:
                new_items.append(item)
        data = dict(data, items=dict(data["items"], data=new_items))
        unread = sorted(p for p in missing if prices.get(p) is None)
        if not unread:
            return data, ""
        return data, _(
            "The tiers of price(s) %(prices)s could not be read (%(error)s): their "
            "items count 0 in the monthly amount until they are.",
            prices=", ".join(unread),
            error="; ".join(sorted(set(errors.values())))
            or _("read before, without success"),
        )

    # === METERED USAGE === #

    def _stripe_invoice_metered(self, invoice):
        """What a Stripe invoice of this subscription bills for its metered
        items (their lines summed: older API versions bill a graduated price in
        one line per tier), prorations left out.

        :return: subscription item id -> amount in minor units.
        :rtype: dict
        """
        self.ensure_one()
        metered = set(
            self.item_ids.filtered(lambda i: i.usage_type == "metered").mapped(
                "stripe_id"
            )
        )
        if not metered or invoice.get("status") in ("draft", "void"):
            return {}
        billed = {}
        for line in utils.get_path(invoice, "lines", "data", default=[]) or []:
            item_id = utils.object_id(
                utils.get_path(
                    line, "parent", "subscription_item_details", "subscription_item"
                )
                or line.get("subscription_item")
            )
            proration = utils.get_path(
                line, "parent", "subscription_item_details", "proration"
            ) or line.get("proration")
            if item_id in metered and not proration:
                billed[item_id] = billed.get(item_id, 0) + int(line.get("amount") or 0)
        return billed

    def _stripe_apply_invoice(self, invoice):
        """Take the last invoiced usage of metered items from a Stripe invoice of
        this subscription (its lines for the subscription's items); an invoice
        older than the one already read for an item leaves that item as it is.

        :param dict invoice: the Stripe invoice.
        :return: whether the usage changed.
        """
        self.ensure_one()
        billed = self._stripe_invoice_metered(invoice)
        if not billed:
            return False
        usage = dict(self.metered_usage or {})
        seen = dict(usage.pop("_invoice_created", {}) or {})
        created = invoice.get("created") or 0
        changed = False
        for item_id, amount in billed.items():
            if created < seen.get(item_id, 0):
                continue  # an older invoice than the one already read
            changed |= usage.get(item_id) != amount or seen.get(item_id) != created
            usage[item_id] = amount
            seen[item_id] = created
        if changed:
            usage["_invoice_created"] = seen
            self.metered_usage = usage
        return changed

    def _stripe_apply_invoice_usage(self, invoice):
        """A Stripe invoice of this subscription was mirrored: the monthly amount
        counts the usage it bills from the invoice's time on (a history row; the
        months before keep the usage they had), and, unless a newer invoice was
        read already, from now on.

        :param dict invoice: the Stripe invoice.
        :return: the monthly amount (subscription currency) from the invoice's
            time on, or ``None`` when nothing changed.
        """
        self.ensure_one()
        billed = self._stripe_invoice_metered(invoice)
        if not (billed and self.snapshot):
            return None
        changed = self._stripe_apply_invoice(invoice)
        if changed:
            self.write(
                self._stripe_prepare_vals(
                    self.account_id, self.snapshot, self.stripe_seen_at
                )
            )
            self._stripe_sync_items(self.snapshot, self.stripe_seen_at)
        when = utils.timestamp_to_datetime(invoice.get("created"))
        usage = dict(self.metered_usage or {}, **billed)
        vals = when and self._stripe_usage_history_vals(when, usage)
        if vals and self._stripe_put_history([vals]):
            return vals["recurring_monthly"]
        return self.recurring_monthly if changed else None

    def _stripe_usage_history_vals(self, when, usage):
        """History values of the subscription at ``when`` with the metered usage
        ``usage``: its state then (status, counting in MRR, product, quantity)
        from the history, its amount from the latest snapshot (a terminal one
        too: the invoice was of a time when it still ran).

        :return: the values, or ``None`` when nothing is known of that time.
        """
        self.ensure_one()
        before = self.history_ids.filtered(lambda r: r.date <= when).sorted(
            lambda r: (r.date, r.id)
        )[-1:]
        if not before or before.status in const.SUBSCRIPTION_TERMINAL_STATUSES:
            return None
        exponent = utils.currency_exponent(self.currency_id.name)
        monthly = float(
            subscription_monthly(self.snapshot, to_timestamp(when), usage).scaleb(
                -exponent
            )
        )
        # Paused collection counts 0 with an amount: the state then decides.
        counts = before.status in const.SUBSCRIPTION_MRR_STATUSES and not (
            before.recurring_monthly and not before.mrr
        )
        return {
            "subscription_id": self.id,
            "date": when,
            "status": before.status,
            "recurring_monthly": monthly,
            "mrr": monthly if counts else 0.0,
            "quantity": before.quantity,
            "product_id": before.product_id.id,
            "source": "invoice",
        }

    def _stripe_apply_mirrored_invoices(self):
        """Metered items with no usage yet: take it from the Stripe invoices of
        the subscription that Stripe Billing mirrored before Odoo knew the
        subscription (their events came first), oldest first.

        :return: whether the usage changed.
        """
        self.ensure_one()
        if self.metered_usage or "metered" not in self.item_ids.mapped("usage_type"):
            return False
        refs = [
            ref
            for ref in self.env["account.move"]
            .search(self._stripe_invoice_domain())
            .mapped("stripe_invoice_id")
            if ref
        ]
        if not refs:
            return False
        latest = {}
        for event in self.env["stripe.event"].search(
            [
                ("account_id", "=", self.account_id.id),
                ("object_type", "=", "invoice"),
                ("object_id", "in", refs),
            ],
            order="stripe_created desc, id desc",
        ):
            latest.setdefault(event.object_id, event)
        invoices = sorted(
            (event._get_object() for event in latest.values()),
            key=lambda invoice: invoice.get("created") or 0,
        )
        changed = False
        for invoice in invoices:
            changed |= self._stripe_apply_invoice_usage(invoice) is not None
        return changed
