from django.urls import path

from catalog import api

public_urlpatterns = [
    path("catalog/categories/", api.CategoryListApi.as_view(), name="api-categories"),
    path("catalog/products/", api.ProductListApi.as_view(), name="api-products"),
    path("catalog/suggest/", api.SuggestApi.as_view(), name="api-suggest"),
    path("catalog/products/<int:product_id>/", api.ProductDetailApi.as_view(),
         name="api-product"),
    path("catalog/shops/<int:merchant_id>/", api.ShopApi.as_view(), name="api-shop"),
    path("catalog/trace/<uuid:token>/", api.TraceApi.as_view(), name="api-trace"),
    path("me/favourites/", api.FavouriteListApi.as_view(), name="api-favourites"),
    path("me/favourites/products/<int:pk>/", api.FavouriteProductApi.as_view(),
         name="api-favourite-product"),
    path("me/favourites/shops/<int:pk>/", api.FavouriteShopApi.as_view(),
         name="api-favourite-shop"),
]

merchant_urlpatterns = [
    path("merchant/<int:merchant_id>/products/", api.MerchantProductListApi.as_view(),
         name="api-merchant-products"),
    path("merchant/<int:merchant_id>/products/<int:product_id>/",
         api.MerchantProductDetailApi.as_view(), name="api-merchant-product"),
    path("merchant/<int:merchant_id>/products/<int:product_id>/skus/",
         api.MerchantSkuCreateApi.as_view(), name="api-merchant-skus"),
    path("merchant/<int:merchant_id>/products/<int:product_id>/skus/<int:sku_id>/stock/",
         api.MerchantStockApi.as_view(), name="api-merchant-stock"),
    path("merchant/<int:merchant_id>/products/<int:product_id>/batches/",
         api.MerchantBatchCreateApi.as_view(), name="api-merchant-batches"),
    path("merchant/<int:merchant_id>/products/<int:product_id>/image/",
         api.MerchantProductImageApi.as_view(), name="api-merchant-product-image"),
    path("merchant/<int:merchant_id>/products/<int:product_id>/batches/<int:batch_id>/report/",
         api.MerchantBatchReportApi.as_view(), name="api-merchant-batch-report"),
    path("merchant/<int:merchant_id>/products/<int:product_id>/batches/<int:batch_id>/"
         "lab-reports/", api.MerchantLabReportsApi.as_view(), name="api-merchant-lab-reports"),
    path("merchant/<int:merchant_id>/products/<int:product_id>/actions/",
         api.MerchantProductActionApi.as_view(), name="api-merchant-product-action"),
]
