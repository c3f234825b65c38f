"""Federation: traffic and behaviour events, roll-ups and cross-bank dashboards.

Lives in the public schema (shared by the province).
"""
