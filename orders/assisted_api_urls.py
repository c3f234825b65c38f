"""Branch desk API (a bank's domain, its staff): /api/v1/console/desk/..."""

from django.urls import path

from orders import assisted_api as api

_one = "console/desk/assisted/<str:number>/"

console_urlpatterns = [
    path("console/desk/assisted/", api.AssistedListApi.as_view(), name="api-desk-assisted"),
    path(_one, api.AssistedDetailApi.as_view(), name="api-desk-assisted-detail"),
    path(f"{_one}confirm/", api.AssistedConfirmApi.as_view(), name="api-desk-assisted-confirm"),
    path(f"{_one}resend-code/", api.AssistedResendApi.as_view(),
         name="api-desk-assisted-resend"),
    path(f"{_one}cancel/", api.AssistedCancelApi.as_view(), name="api-desk-assisted-cancel"),
    path("console/desk/waiting/", api.DeskWaitingApi.as_view(), name="api-desk-waiting"),
]
