from django.urls import path

from partners import console_views as views

app_name = "partner_console"
urlpatterns = [
    path("", views.console_entry, name="entry"),
    path("<int:partner_id>/", views.overview, name="overview"),
    path("<int:partner_id>/keys/", views.keys, name="keys"),
    path("<int:partner_id>/keys/<int:key_id>/rotate/", views.key_rotate_page,
         name="key-rotate"),
    path("<int:partner_id>/keys/<int:key_id>/revoke/", views.key_revoke_page,
         name="key-revoke"),
    path("<int:partner_id>/orders/", views.orders, name="orders"),
    path("<int:partner_id>/orders/<str:number>/", views.order_detail, name="order"),
    path("<int:partner_id>/webhooks/", views.webhooks, name="webhooks"),
    path("<int:partner_id>/webhooks/endpoints/<int:endpoint_id>/active/",
         views.endpoint_active, name="endpoint-active"),
    path("<int:partner_id>/webhooks/deliveries/<int:delivery_id>/replay/",
         views.delivery_replay_page, name="delivery-replay"),
    path("<int:partner_id>/statements/", views.statements, name="statements"),
    path("<int:partner_id>/statements.csv", views.statement_csv, name="statement-csv"),
]
