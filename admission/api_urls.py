from django.urls import path

from admission import api

urlpatterns = [
    path("merchant/apply/", api.ApplyApi.as_view(), name="api-merchant-apply"),
    path("console/merchants/", api.AdmissionQueueApi.as_view(), name="api-admission-queue"),
    path("console/merchants/<int:merchant_id>/", api.DossierApi.as_view(),
         name="api-dossier"),
    path("console/merchants/<int:merchant_id>/inspections/", api.InspectionApi.as_view(),
         name="api-inspections"),
    path("console/merchants/<int:merchant_id>/documents/", api.DocumentApi.as_view(),
         name="api-dossier-documents"),
    path("merchant/<int:merchant_id>/licences/<int:licence_id>/scan/",
         api.LicenceScanApi.as_view(), name="api-licence-scan"),
    path("console/merchants/<int:merchant_id>/decisions/", api.DecisionApi.as_view(),
         name="api-decisions"),
    path("console/listings/", api.ListingQueueApi.as_view(), name="api-listings"),
    path("console/listings/<int:product_id>/decisions/", api.ListingDecisionApi.as_view(),
         name="api-listing-decisions"),
]
