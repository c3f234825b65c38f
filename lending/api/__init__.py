"""Financing API on a bank's domain: a shopper's credit, pay later and instalments at
checkout and their loans; a shop's members' order financing; the bank's credit officers'
queue, decisions, profiles, scoring runs, portfolio and loans.

Everything here runs in the schema of the bank whose domain it is (the tenant
middleware put the connection there): a lookup of another bank's application, loan or
profile finds nothing and answers 404. Every id in a URL goes through a scoped
accessor: another shopper's loan, another shop's order and another bank's merchant are
all 404. Money-moving POSTs (checkout financing, order financing, card repayments) take
an ``Idempotency-Key`` header.

One module per audience: ``shopper``, ``merchant`` and ``console`` (credit officers and
bank admins); what they share is in ``_common``.
"""

from lending.api._common import LoanQuerySerializer
from lending.api.console import (
    ConsoleApplicationApi,
    ConsoleApplicationDecideApi,
    ConsoleApplicationsApi,
    ConsoleLoanApi,
    ConsoleLoansApi,
    ConsoleLoanWriteOffApi,
    ConsoleOverdueApi,
    ConsolePolicyApi,
    ConsolePortfolioApi,
    ConsoleProfileApi,
    ConsoleProfileRecomputeApi,
    ConsoleProfilesApi,
    ConsoleScoringRunApi,
    ConsoleScoringRunsApi,
)
from lending.api.merchant import (
    MerchantApplicationsApi,
    MerchantConsentApi,
    MerchantFinanceableOrdersApi,
    MerchantFinancingApi,
    MerchantLoanDetailApi,
    MerchantLoanRepaymentApi,
    MerchantLoansApi,
    MerchantOrderFinanceApi,
    MerchantOrderQuoteApi,
)
from lending.api.shopper import (
    CheckoutFinanceApi,
    CheckoutFinancingOptionsApi,
    CreditApi,
    CreditConsentApi,
    LoanDetailApi,
    LoanListApi,
    LoanRepaymentApi,
)

__all__ = [
    "MerchantLoanRepaymentApi",
    "CheckoutFinanceApi",
    "CheckoutFinancingOptionsApi",
    "ConsoleApplicationApi",
    "ConsoleApplicationDecideApi",
    "ConsoleApplicationsApi",
    "ConsoleLoanApi",
    "ConsoleLoanWriteOffApi",
    "ConsoleLoansApi",
    "ConsoleOverdueApi",
    "ConsolePolicyApi",
    "ConsolePortfolioApi",
    "ConsoleProfileApi",
    "ConsoleProfileRecomputeApi",
    "ConsoleProfilesApi",
    "ConsoleScoringRunApi",
    "ConsoleScoringRunsApi",
    "CreditApi",
    "CreditConsentApi",
    "LoanDetailApi",
    "LoanListApi",
    "LoanQuerySerializer",
    "LoanRepaymentApi",
    "MerchantApplicationsApi",
    "MerchantConsentApi",
    "MerchantFinanceableOrdersApi",
    "MerchantFinancingApi",
    "MerchantLoanDetailApi",
    "MerchantLoansApi",
    "MerchantOrderFinanceApi",
    "MerchantOrderQuoteApi",
]
