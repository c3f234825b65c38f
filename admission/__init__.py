"""Merchant admission: a bank's merchant admission dossiers, inspections, monitoring and
suspensions.

Lives in each bank's own schema (private to the bank).
"""
