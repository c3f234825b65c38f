"""Lending: a bank's credit profiles, financing applications, loans and repayments.

Lives in each bank's own schema (private to the bank).
"""
