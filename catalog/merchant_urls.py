from django.urls import path

from catalog import merchant_views as views

app_name = "merchant"
urlpatterns = [
    path("", views.home, name="home"),
    path("<int:merchant_id>/", views.shop, name="shop"),
    path("<int:merchant_id>/profile/", views.profile, name="profile"),
    path("<int:merchant_id>/products/new/", views.product_new, name="product-new"),
    path("<int:merchant_id>/products/<int:product_id>/", views.product_edit, name="product"),
    path("<int:merchant_id>/products/<int:product_id>/skus/", views.sku_add, name="sku-add"),
    path("<int:merchant_id>/products/<int:product_id>/skus/<int:sku_id>/stock/",
         views.stock_set, name="stock-set"),
    path("<int:merchant_id>/products/<int:product_id>/batches/", views.batch_add,
         name="batch-add"),
    path("<int:merchant_id>/products/<int:product_id>/batches/<int:batch_id>/report/",
         views.batch_report, name="batch-report"),
    path("<int:merchant_id>/products/<int:product_id>/batches/<int:batch_id>/lab-reports/",
         views.lab_report_add, name="lab-report-add"),
    path("<int:merchant_id>/products/<int:product_id>/<str:action>/", views.product_action,
         name="product-action"),
]
