"""Points API on bank domains: the shopper's (/api/v1/points/...) and the bank console's
(/api/v1/console/points/...). Points are the bank's own (its schema)."""

from django.urls import path

from rewards import api

shopper_urlpatterns = [
    path("points/", api.PointsApi.as_view(), name="api-points"),
    path("points/history/", api.PointsHistoryApi.as_view(), name="api-points-history"),
    path("points/offers/", api.OfferListApi.as_view(), name="api-points-offers"),
    path("points/offers/<int:offer_id>/", api.OfferApi.as_view(), name="api-points-offer"),
    path("points/offers/<int:offer_id>/redeem/", api.OfferRedeemApi.as_view(),
         name="api-points-offer-redeem"),
    path("points/redemptions/", api.RedemptionListApi.as_view(),
         name="api-points-redemptions"),
    path("points/redemptions/<int:redemption_id>/", api.RedemptionApi.as_view(),
         name="api-points-redemption"),
    path("points/redemptions/<int:redemption_id>/pay/", api.RedemptionPayApi.as_view(),
         name="api-points-redemption-pay"),
    path("points/redemptions/<int:redemption_id>/cancel/", api.RedemptionCancelApi.as_view(),
         name="api-points-redemption-cancel"),
    path("points/checkouts/<str:number>/", api.CheckoutPointsApi.as_view(),
         name="api-points-checkout"),
]

_console = "console/points/"

console_urlpatterns = [
    path(f"{_console}programme/", api.ConsoleProgrammeApi.as_view(),
         name="api-console-points-programme"),
    path(f"{_console}earning-rules/", api.ConsoleEarningRulesApi.as_view(),
         name="api-console-points-rules"),
    path(f"{_console}earning-rules/<int:rule_id>/", api.ConsoleEarningRuleApi.as_view(),
         name="api-console-points-rule"),
    path(f"{_console}offers/", api.ConsoleOffersApi.as_view(),
         name="api-console-points-offers"),
    path(f"{_console}offers/<int:offer_id>/", api.ConsoleOfferApi.as_view(),
         name="api-console-points-offer"),
    path(f"{_console}redemptions/", api.ConsoleRedemptionsApi.as_view(),
         name="api-console-points-redemptions"),
    path(f"{_console}redemptions/collect/", api.ConsoleCollectApi.as_view(),
         name="api-console-points-collect"),
]
