"""Payments and clearing: gateway calls, webhooks, the double-entry clearing ledger,
settlement and payouts.

Lives in the public schema (shared by the province).
"""
