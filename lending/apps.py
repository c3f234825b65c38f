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
        from lending.services import (
            financed_orders_among,
            loan_reduce_for_refund,
            policy_seed_for_bank,
            repayments_at_settlement,
        )
        from lending.views import checkout_payment_options
        from payments.interfaces import (
            register_credit_refund_handler,
            register_payment_options,
            register_repayment_provider,
        )

        bank_schema_ready.connect(policy_seed_for_bank, dispatch_uid="lending-policy-seed")
        register_repayment_provider(repayments_at_settlement,
                                    candidates=financed_orders_among)
        # A refund of an order paid with pay later or instalments reduces the loan.
        register_credit_refund_handler(loan_reduce_for_refund)
        # The card page offers the storefront bank's pay later / instalments.
        register_payment_options(checkout_payment_options)

        from banks.audit import register_audit_source
        from lending.selectors import audit_entries as lending_audit

        register_audit_source(("lending",), lending_audit)
