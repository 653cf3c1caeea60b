from django.urls import path

from readers import views

app_name = "readers"
urlpatterns = [
    path("vendor/<int:vendor_pk>/", views.roster, name="roster"),
    path("vendor/<int:vendor_pk>/new/", views.radiologist_create, name="radiologist_create"),
    path("vendor/<int:vendor_pk>/import/", views.readers_import, name="import"),
    path("vendor/<int:vendor_pk>/contact-reminders/", views.contact_reminders, name="contact_reminders"),
    path("vendor/<int:vendor_pk>/proxy-agreements/new/", views.proxy_agreement_create, name="proxy_agreement_create"),
    path("facility/<int:facility_pk>/", views.facility_matrix, name="facility_matrix"),
    path("<int:pk>/", views.radiologist_detail, name="radiologist_detail"),
    path("<int:pk>/licenses/new/", views.license_create, name="license_create"),
    path("<int:pk>/imlc/new/", views.imlc_letter_create, name="imlc_letter_create"),
    path("<int:pk>/assignments/new/", views.assignment_create, name="assignment_create"),
    path("<int:pk>/privileges/new/", views.privilege_create, name="privilege_create"),
    path("<int:pk>/remove/", views.radiologist_remove, name="radiologist_remove"),
]
