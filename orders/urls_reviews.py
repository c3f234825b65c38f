"""Reviews pages and API: the buyer's (every host), a shop's members' and the bank
console's (bank domains), and the photos (every host)."""

from django.urls import path

from orders import api_reviews as api
from orders import views_reviews as views

# Pages on every host (namespace "reviews").
shopper_urlpatterns = [
    path("reviews/mine/", views.my_reviews, name="mine"),
    path("reviews/photos/<int:photo_id>/", views.review_photo, name="photo"),
    path("p/<int:product_id>/reviews/", views.product_reviews, name="product"),
    path("orders/<str:number>/reviews/", views.order_review_write, name="write"),
    path("reviews/<int:review_id>/edit/", views.review_edit, name="edit"),
]

# Pages on a bank's domain (namespace "reviews_console"): the shop's and the bank's.
console_urlpatterns = [
    path("merchant/<int:merchant_id>/reviews/", views.merchant_reviews, name="merchant"),
    path("merchant/<int:merchant_id>/reviews/<int:review_id>/reply/", views.merchant_reply,
         name="reply"),
    path("console/reviews/", views.console_reviews, name="moderation"),
    path("console/reviews/<int:review_id>/hide/", views.console_hide, name="hide"),
    path("console/reviews/<int:review_id>/unhide/", views.console_unhide, name="unhide"),
]

# API on every host: public reading and the buyer's own.
api_shopper_urlpatterns = [
    path("catalog/products/<int:product_id>/reviews/", api.ProductReviewListApi.as_view(),
         name="api-product-reviews"),
    path("orders/<str:number>/reviews/", api.OrderReviewCreateApi.as_view(),
         name="api-order-reviews"),
    path("me/reviews/", api.MyReviewListApi.as_view(), name="api-my-reviews"),
    path("me/reviews/<int:review_id>/", api.MyReviewApi.as_view(), name="api-my-review"),
]

# API on a bank's domain: the shop's members and the bank's staff.
api_console_urlpatterns = [
    path("merchant/<int:merchant_id>/reviews/", api.MerchantReviewListApi.as_view(),
         name="api-merchant-reviews"),
    path("merchant/<int:merchant_id>/reviews/<int:review_id>/reply/",
         api.MerchantReviewReplyApi.as_view(), name="api-merchant-review-reply"),
    path("console/reviews/", api.ConsoleReviewListApi.as_view(), name="api-console-reviews"),
    path("console/reviews/<int:review_id>/hide/", api.ConsoleReviewHideApi.as_view(),
         name="api-console-review-hide"),
    path("console/reviews/<int:review_id>/unhide/", api.ConsoleReviewUnhideApi.as_view(),
         name="api-console-review-unhide"),
]
