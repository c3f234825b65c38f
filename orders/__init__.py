"""Orders: carts, checkouts split into per-merchant orders, fulfilment, refunds and
referral attribution.

Lives in the public schema (shared by the province).
"""
