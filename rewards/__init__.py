"""Rewards: a bank's points programme, points ledger, points-mall offers and redemptions.

Lives in each bank's own schema (private to the bank).
"""
