"""Lending: a bank's credit profiles, financing applications, loans and repayments.

Lives in each bank's own schema (private to the bank).
"""
from core import appconfig


class LendingConfig(appconfig.PlatformAppConfig):
    name = "lending"
    scope = "tenant"
    verbose_name = "Lending"

    def ready(self) -> None:
        from banks.signals import bank_schema_ready
        from lending.services import policy_seed_for_bank, repayments_at_settlement
        from payments.interfaces import register_repayment_provider

        bank_schema_ready.connect(policy_seed_for_bank, dispatch_uid="lending-policy-seed")
        register_repayment_provider(repayments_at_settlement)
