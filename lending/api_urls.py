"""Financing API: buyers' (every bank host), merchants' and credit officers' endpoints.

All of them are on bank domains only: credit is the bank's own (its schema)."""

from django.urls import path

from lending import api
from lending.api import pledges

# The signed-in shopper's credit, checkout financing and loans at the bank of this host.
shopper_urlpatterns = [
    path("credit/", api.CreditApi.as_view(), name="api-credit"),
    path("credit/consent/", api.CreditConsentApi.as_view(), name="api-credit-consent"),
    path("credit/checkouts/<str:number>/options/", api.CheckoutFinancingOptionsApi.as_view(),
         name="api-credit-checkout-options"),
    path("credit/checkouts/<str:number>/finance/", api.CheckoutFinanceApi.as_view(),
         name="api-credit-checkout-finance"),
    path("credit/loans/", api.LoanListApi.as_view(), name="api-credit-loans"),
    path("credit/loans/<int:loan_id>/", api.LoanDetailApi.as_view(), name="api-credit-loan"),
    path("credit/loans/<int:loan_id>/repayments/", api.LoanRepaymentApi.as_view(),
         name="api-credit-loan-repayments"),
]

_financing = "merchant/<int:merchant_id>/financing/"

# A shop's members (shops of this bank).
merchant_urlpatterns = [
    path(_financing, api.MerchantFinancingApi.as_view(), name="api-merchant-financing"),
    path(f"{_financing}consent/", api.MerchantConsentApi.as_view(),
         name="api-merchant-financing-consent"),
    path(f"{_financing}orders/", api.MerchantFinanceableOrdersApi.as_view(),
         name="api-merchant-financing-orders"),
    path(f"{_financing}orders/<str:number>/", api.MerchantOrderQuoteApi.as_view(),
         name="api-merchant-financing-order"),
    path(f"{_financing}orders/<str:number>/finance/", api.MerchantOrderFinanceApi.as_view(),
         name="api-merchant-financing-order-finance"),
    path(f"{_financing}pledges/", pledges.MerchantPledgesApi.as_view(),
         name="api-merchant-financing-pledges"),
    path(f"{_financing}applications/", api.MerchantApplicationsApi.as_view(),
         name="api-merchant-financing-applications"),
    path(f"{_financing}loans/", api.MerchantLoansApi.as_view(),
         name="api-merchant-financing-loans"),
    path(f"{_financing}loans/<int:loan_id>/", api.MerchantLoanDetailApi.as_view(),
         name="api-merchant-financing-loan"),
    path(f"{_financing}loans/<int:loan_id>/repayments/",
         api.MerchantLoanRepaymentApi.as_view(), name="api-merchant-financing-loan-repayments"),
]

_console = "console/lending/"

# The bank's credit officers and admins.
console_urlpatterns = [
    path(f"{_console}applications/", api.ConsoleApplicationsApi.as_view(),
         name="api-console-lending-applications"),
    path(f"{_console}applications/<int:application_id>/", api.ConsoleApplicationApi.as_view(),
         name="api-console-lending-application"),
    path(f"{_console}applications/<int:application_id>/decide/",
         api.ConsoleApplicationDecideApi.as_view(),
         name="api-console-lending-application-decide"),
    path(f"{_console}profiles/", api.ConsoleProfilesApi.as_view(),
         name="api-console-lending-profiles"),
    path(f"{_console}profiles/recompute/", api.ConsoleProfileRecomputeApi.as_view(),
         name="api-console-lending-profile-recompute"),
    path(f"{_console}profiles/<int:profile_id>/", api.ConsoleProfileApi.as_view(),
         name="api-console-lending-profile"),
    path(f"{_console}scoring-runs/", api.ConsoleScoringRunsApi.as_view(),
         name="api-console-lending-scoring-runs"),
    path(f"{_console}scoring-runs/<int:run_id>/", api.ConsoleScoringRunApi.as_view(),
         name="api-console-lending-scoring-run"),
    path(f"{_console}portfolio/", api.ConsolePortfolioApi.as_view(),
         name="api-console-lending-portfolio"),
    path(f"{_console}overdue/", api.ConsoleOverdueApi.as_view(),
         name="api-console-lending-overdue"),
    path(f"{_console}loans/", api.ConsoleLoansApi.as_view(), name="api-console-lending-loans"),
    path(f"{_console}loans/<int:loan_id>/", api.ConsoleLoanApi.as_view(),
         name="api-console-lending-loan"),
    path(f"{_console}loans/<int:loan_id>/write-off/", api.ConsoleLoanWriteOffApi.as_view(),
         name="api-console-lending-loan-write-off"),
    path(f"{_console}loans/<int:loan_id>/collateral-sale/",
         pledges.ConsoleLoanCollateralSaleApi.as_view(),
         name="api-console-lending-loan-collateral-sale"),
    path(f"{_console}margin-calls/", pledges.ConsoleMarginCallsApi.as_view(),
         name="api-console-lending-margin-calls"),
    path(f"{_console}margin-calls/<int:call_id>/close/",
         pledges.ConsoleMarginCallCloseApi.as_view(),
         name="api-console-lending-margin-call-close"),
    path(f"{_console}policy/", api.ConsolePolicyApi.as_view(),
         name="api-console-lending-policy"),
]
