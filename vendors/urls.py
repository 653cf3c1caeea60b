from django.urls import path

from vendors import views

app_name = "vendors"
urlpatterns = [
    path("", views.vendor_list, name="list"),
    path("new/", views.vendor_create, name="create"),
    path("import/", views.vendor_import, name="import"),
    path("export/", views.vendor_export, name="export"),
    path("<int:pk>/", views.vendor_detail, name="detail"),
    path("<int:pk>/edit/", views.vendor_update, name="update"),
    path("<int:vendor_pk>/engagements/new/", views.engagement_create, name="engagement_create"),
    path("engagements/<int:pk>/edit/", views.engagement_update, name="engagement_update"),
    path("<int:vendor_pk>/subcontractors/new/", views.subcontractor_create, name="subcontractor_create"),
    path("subcontractors/<int:pk>/edit/", views.subcontractor_update, name="subcontractor_update"),
    path("subcontractors/<int:pk>/attestation/", views.attestation_download, name="attestation_download"),
]
