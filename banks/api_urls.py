from django.urls import path

from banks import api

urlpatterns = [
    path("storefront/", api.StorefrontApi.as_view(), name="api-storefront"),
    path("console/branches/", api.ConsoleBranchListApi.as_view(), name="api-console-branches"),
    path("console/branches/<int:branch_id>/", api.ConsoleBranchDetailApi.as_view(),
         name="api-console-branch"),
    path("console/staff/", api.ConsoleStaffListApi.as_view(), name="api-console-staff"),
    path("console/staff/<int:membership_id>/", api.ConsoleStaffDetailApi.as_view(),
         name="api-console-staff-detail"),
    path("console/audit/", api.ConsoleAuditApi.as_view(), name="api-console-audit"),
    path("console/customer-group/", api.ConsoleCustomerGroupApi.as_view(),
         name="api-console-customer-group"),
]
