from django.dispatch import Signal

# Sent inside the onboarding transaction, with the connection already in the new bank's
# schema, so that tenant apps (rewards, lending, ...) can seed their per-bank defaults
# without banks importing them. Arguments: bank.
bank_schema_ready = Signal()
