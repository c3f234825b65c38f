"""Shared catalog: merchants' public shop profiles, categories, products, SKUs, stock,
batches and traceability.

Lives in the public schema (shared by the province).
"""
