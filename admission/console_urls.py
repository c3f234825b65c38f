from django.urls import path

from admission import views

app_name = "admission"
urlpatterns = [
    path("merchants/", views.queue, name="queue"),
    path("merchants/<int:merchant_id>/", views.dossier, name="dossier"),
    path("merchants/<int:merchant_id>/inspections/", views.inspection_add,
         name="inspection-add"),
    path("merchants/<int:merchant_id>/feature/", views.feature, name="feature"),
    path("merchants/<int:merchant_id>/documents/", views.document_upload,
         name="document-upload"),
    path("merchants/<int:merchant_id>/files/<str:kind>/<int:item_id>/", views.private_file,
         name="private-file"),
    path("merchants/<int:merchant_id>/<str:action>/", views.decide, name="decide"),
    path("listings/", views.listings, name="listings"),
    path("listings/<int:product_id>/<str:action>/", views.listing_decide,
         name="listing-decide"),
]
