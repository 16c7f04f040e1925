import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize

from ... import utils
from ...tools import billing as billing_tools

_logger = logging.getLogger(__name__)


# Partner field -> how its value is read from a Stripe customer (or from an
# invoice's ``customer_*`` fields, brought to the same shape). These are the
# fields Stripe keeps in step (see ``_stripe_update_from_customer``).
CUSTOMER_SYNCED_FIELDS = (
    "name",
    "email",
    "phone",
    "street",
    "street2",
    "city",
    "zip",
    "state_id",
    "country_id",
)


class ResPartner(models.Model):
    _inherit = "res.partner"

    stripe_customer_id = fields.Char(
        copy=False,
        index="btree_not_null",
        help="Stripe's customer id (cus_...). Payments of this Stripe customer are "
        "matched with this partner's open invoices. Filled in automatically once a "
        "payment of the customer has been matched.",
    )
    stripe_customer_sync = fields.Json(
        copy=False,
        groups="base.group_system",
        help="Technical: the customer's values as Odoo last took them from Stripe "
        "(and the time of that snapshot). A later Stripe change replaces a value "
        "only while the partner still holds the one Stripe gave.",
    )

    @api.model
    def _stripe_partner_from_customer(self, account, customer):
        """The commercial partner of a Stripe customer; found, else created.

        In this order: the partner whose *Stripe Customer* is the customer's id
        (in the account's company or shared), else the partner with the
        customer's e-mail (its *Stripe Customer* is then filled in, unless it
        names another customer), else a new partner made from the customer:
        name, e-mail, phone, address and tax id (VAT).

        :param account: the ``stripe.account``.
        :param customer: the customer as a dict (a Stripe customer, or an
            invoice's ``customer_*`` fields brought to that shape by
            ``utils.invoice_customer``), or its ``cus_`` id: read through the API
            when the account has a key (with its tax ids).
        :return: the commercial partner, or an empty recordset when there is no
            customer at all.
        """
        if isinstance(customer, str):
            customer = self._stripe_fetch_customer(account, customer) or {
                "id": customer
            }
        if not isinstance(customer, dict) or not (
            customer.get("id") or customer.get("email")
        ):
            return self.browse()
        partner = self._stripe_find_customer_partner(account, customer)
        if partner:
            return partner
        vals = self._stripe_customer_values(customer)
        if not vals.get("name"):
            vals["name"] = customer.get("id")
        tax_id = self._stripe_customer_vat(customer)
        partner = self.create(
            {
                **vals,
                "company_id": account.company_id.id,
                "is_company": bool(tax_id),
                "vat": tax_id,
                "stripe_customer_id": customer.get("id") or False,
            }
        )
        # sudo: the snapshot is technical (readable by administrators only).
        partner.sudo().stripe_customer_sync = {
            "values": self._stripe_sync_snapshot(partner),
            "created": customer.get("created") or 0,
        }
        partner._message_log(
            body=_("Created from Stripe customer %s.", customer.get("id") or "-")
        )
        return partner

    def _stripe_learn_customer(self, customer_id):
        """Learn once that this partner is a Stripe customer (a customer names
        one partner): when it names none yet and no other partner is it."""
        if (
            customer_id
            and len(self) == 1
            and not self.stripe_customer_id
            and not self.search_count(
                [("stripe_customer_id", "=", customer_id)], limit=1
            )
        ):
            self.stripe_customer_id = customer_id

    @api.model
    def _stripe_partner_from_invoice(self, account, stripe_invoice):
        """The partner of a Stripe invoice's customer: found by id or e-mail,
        else created from the customer read through the API (with a key), else
        from the invoice's ``customer_*`` fields."""
        customer = billing_tools.invoice_customer(stripe_invoice)
        partner = self._stripe_find_customer_partner(account, customer)
        if partner:
            return partner
        fetched = self._stripe_fetch_customer(account, customer.get("id"))
        partner = self._stripe_partner_from_customer(account, fetched or customer)
        if not partner:
            raise UserError(
                _("Stripe invoice %s names no customer.", stripe_invoice["id"])
            )
        return partner

    def _stripe_update_from_customer(self, customer, timestamp, previous=None):
        """Keep name, e-mail, phone and address in step with the Stripe customer
        (``customer.updated``), without undoing what a user changed in Odoo.

        Odoo keeps, per partner, the values it last took from Stripe and the time
        of that snapshot. A field is written only while the partner still holds
        the value Stripe gave last time (or holds nothing): a user's change in
        Odoo wins until the user puts Stripe's value back. Without a snapshot yet
        (a partner found by e-mail), Stripe's value before this change
        (``previous_attributes``) plays its part. A snapshot older than the last
        one applied (Stripe does not guarantee order) changes nothing.

        :param dict customer: the Stripe customer.
        :param int timestamp: when Stripe took this snapshot (the event's time).
        :param dict previous: the event's ``previous_attributes``, if any.
        :return: the names of the fields written, and of those left as the user
            changed them.
        :rtype: tuple(list, list)
        """
        self.ensure_one()
        # sudo: the snapshot is technical (readable by administrators only).
        sync = self.sudo().stripe_customer_sync or {}
        if timestamp and sync.get("created") and timestamp < sync["created"]:
            return [], []
        current = self._stripe_sync_snapshot(self)
        incoming = self._stripe_sync_snapshot(
            self.new(self._stripe_customer_values(customer))
        )
        before = sync.get("values") or self._stripe_sync_snapshot(
            self.new(self._stripe_customer_values({**customer, **(previous or {})}))
        )
        vals, kept = {}, []
        for name in CUSTOMER_SYNCED_FIELDS:
            if incoming[name] == current[name] or (
                name == "name" and not incoming[name]
            ):
                continue
            if current[name] and current[name] != before.get(name):
                kept.append(name)  # changed in Odoo since: the user's value stays
                continue
            vals[name] = incoming[name]
        if vals:
            self.write(vals)
        snapshot = {
            name: incoming[name]
            if name in vals or incoming[name] == current[name]
            else before.get(name, incoming[name])
            for name in CUSTOMER_SYNCED_FIELDS
        }
        self.sudo().stripe_customer_sync = {
            "values": snapshot,
            "created": max(timestamp or 0, sync.get("created") or 0),
        }
        return list(vals), kept

    # === HELPERS === #

    @api.model
    def _stripe_customer_partners(self, company, customer_id=None, email=None):
        """The one lookup of a Stripe customer's partners: the commercial partners
        whose *Stripe Customer* is ``customer_id``, else the active ones with the
        e-mail ``email``, in the company or shared; those without another Stripe
        customer first, then the oldest. Callers decide what several mean (the
        payment rules guess nothing; Billing takes the first).

        :param company: the ``res.company`` of the Stripe account.
        :return: the commercial partners, best first.
        """
        partner_model = self.with_context(active_test=False)
        company_domain = [("company_id", "in", (False, company.id))]
        if customer_id:
            partners = partner_model.search(
                [("stripe_customer_id", "=", customer_id), *company_domain],
                order="id",
            ).commercial_partner_id
            if partners:
                return partners.sorted("id")
        email = email_normalize(email or "")
        if not email:
            return self.browse()
        return (
            partner_model.search(
                [("email_normalized", "=", email), *company_domain], order="id"
            )
            .commercial_partner_id.filtered("active")
            .sorted(lambda p: (bool(p.stripe_customer_id), p.id))
        )

    @api.model
    def _stripe_find_customer_partner(self, account, customer):
        """The commercial partner of the customer by id, else by e-mail (the
        oldest one without another Stripe customer first), or empty; one found by
        e-mail gets the customer's id."""
        customer_id = customer.get("id")
        partner = self._stripe_customer_partners(
            account.company_id, customer_id, customer.get("email")
        )[:1]
        if partner and customer_id and not partner.stripe_customer_id:
            partner.stripe_customer_id = customer_id
        return partner

    @api.model
    def _stripe_fetch_customer(self, account, customer_id):
        """The Stripe customer with its tax ids, read through the API; ``None``
        without a key or when Stripe cannot be read (the caller goes on with
        what it has)."""
        if not (customer_id and account.has_api_key):
            return None
        try:
            customer = account._stripe_call(
                _("customer %s", customer_id),
                "customers",
                "retrieve",
                customer_id,
                params={"expand": ["tax_ids"]},
            )
        except Exception:  # pylint: disable=broad-exception-caught
            _logger.info(
                "Could not read Stripe customer %s", customer_id, exc_info=True
            )
            return None
        return customer.to_dict()

    @api.model
    def _stripe_customer_values(self, customer):
        """Partner values of a Stripe customer (only those Stripe gives)."""
        address = customer.get("address") or {}
        country = self.env["res.country"]
        if address.get("country"):
            country = country.search(
                [("code", "=", address["country"].upper())], limit=1
            )
        state = self.env["res.country.state"]
        if country and address.get("state"):
            state = state.search(
                [
                    ("country_id", "=", country.id),
                    "|",
                    ("code", "=ilike", address["state"]),
                    ("name", "=ilike", address["state"]),
                ],
                limit=1,
            )
        return {
            "name": utils.clean_text(customer.get("name"), 255) or False,
            "email": utils.clean_text(customer.get("email"), 255) or False,
            "phone": utils.clean_text(customer.get("phone"), 64) or False,
            "street": utils.clean_text(address.get("line1"), 255) or False,
            "street2": utils.clean_text(address.get("line2"), 255) or False,
            "city": utils.clean_text(address.get("city"), 255) or False,
            "zip": utils.clean_text(address.get("postal_code"), 32) or False,
            "state_id": state.id or False,
            "country_id": country.id or False,
        }

    @api.model
    def _stripe_customer_vat(self, customer):
        """The customer's first tax id (``tax_ids`` expanded, or an invoice's
        ``customer_tax_ids``), or False."""
        tax_ids = customer.get("tax_ids")
        if isinstance(tax_ids, dict):
            tax_ids = tax_ids.get("data")
        for tax_id in tax_ids or []:
            if isinstance(tax_id, dict) and tax_id.get("value"):
                return utils.clean_text(tax_id["value"], 64)
        return False

    @api.model
    def _stripe_sync_snapshot(self, partner):
        """The synced fields of a partner (or a new record) as plain values."""
        return {
            name: (partner[name].id or False)
            if partner._fields[name].type == "many2one"
            else (partner[name] or False)
            for name in CUSTOMER_SYNCED_FIELDS
        }
