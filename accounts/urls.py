from django.urls import path

from accounts import address_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("password/code/", views.password_code_ask, name="password-code"),
    path("password/set/", views.password_code_set_page, name="password-code-set"),
    path("profile/", views.profile, name="profile"),
    path("consents/behaviour/", views.behaviour_consent, name="behaviour-consent"),
    path("privacy/", views.privacy_notice, name="privacy"),
    path("tokens/", views.token_create, name="token-create"),
    path("tokens/<str:key>/revoke/", views.token_revoke, name="token-revoke"),
    path("unlock/", views.sign_in_unlock, name="unlock"),
    path("addresses/", address_views.address_book, name="addresses"),
    path("addresses/new/", address_views.address_new, name="address-new"),
    path("addresses/<int:address_id>/edit/", address_views.address_edit,
         name="address-edit"),
    path("addresses/<int:address_id>/default/", address_views.address_default,
         name="address-default"),
    path("addresses/<int:address_id>/delete/", address_views.address_delete,
         name="address-delete"),
]
