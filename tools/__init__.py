"""Pure helpers (no Odoo environment, no I/O), imported by name:
billing, facts, payout, queue, subscription."""
