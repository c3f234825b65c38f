from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("p/<int:product_id>/", views.product, name="product"),
    path("shop/<int:merchant_id>/", views.shop, name="shop"),
    path("trace/<uuid:token>/", views.trace, name="trace"),
    path("favourites/", views.favourites, name="favourites"),
    path("favourites/toggle/", views.favourite_toggle, name="favourite-toggle"),
    path("trace/<uuid:token>/qr.<str:fmt>", views.trace_qr, name="trace-qr"),
]
