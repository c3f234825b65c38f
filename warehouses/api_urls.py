"""Warehouses API under /api/v1/: the bank console's and the merchants' on bank domains;
the public verification of a receipt on every host."""

from django.urls import path

from warehouses import api

console_urlpatterns = [
    path("console/warehouses/", api.ConsoleWarehousesApi.as_view(),
         name="api-console-warehouses"),
    path("console/warehouses/<int:warehouse_id>/decide/", api.ConsoleWarehouseDecideApi.as_view(),
         name="api-console-warehouse-decide"),
    path("console/warehouse-lots/", api.ConsoleLotsApi.as_view(),
         name="api-console-warehouse-lots"),
    path("console/warehouse-receipts/", api.ConsoleReceiptsApi.as_view(),
         name="api-console-warehouse-receipts"),
    path("console/warehouse-receipts/<int:receipt_id>/cancel/",
         api.ConsoleReceiptCancelApi.as_view(), name="api-console-warehouse-receipt-cancel"),
]

_merchant = "merchant/<int:merchant_id>/"

merchant_urlpatterns = [
    path(f"{_merchant}warehouse-lots/", api.MerchantLotsApi.as_view(),
         name="api-merchant-warehouse-lots"),
    path(f"{_merchant}warehouse-lots/<int:lot_id>/outbound/",
         api.MerchantLotOutboundApi.as_view(), name="api-merchant-warehouse-lot-outbound"),
    path(f"{_merchant}warehouse-lots/<int:lot_id>/transfer/",
         api.MerchantLotTransferApi.as_view(), name="api-merchant-warehouse-lot-transfer"),
    path(f"{_merchant}warehouse-lots/<int:lot_id>/stocktake/",
         api.MerchantLotStocktakeApi.as_view(), name="api-merchant-warehouse-lot-stocktake"),
    path(f"{_merchant}warehouse-receipts/", api.MerchantReceiptsApi.as_view(),
         name="api-merchant-warehouse-receipts"),
    path(f"{_merchant}warehouse-receipts/<int:receipt_id>/transfer/",
         api.MerchantReceiptTransferApi.as_view(),
         name="api-merchant-warehouse-receipt-transfer"),
]

public_urlpatterns = [
    path("warehouse-receipts/verify/<uuid:token>/", api.ReceiptVerifyApi.as_view(),
         name="api-warehouse-receipt-verify"),
]
