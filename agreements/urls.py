from django.urls import path

from agreements import views

app_name = "agreements"
urlpatterns = [
    path("", views.agreement_list, name="list"),
    path("new/", views.agreement_create, name="create"),
    path("export/", views.agreement_export, name="export"),
    path("<int:pk>/", views.agreement_detail, name="detail"),
    path("<int:pk>/edit/", views.agreement_update, name="update"),
    path("<int:pk>/transition/", views.agreement_transition_view, name="transition"),
    path("<int:pk>/renew/", views.agreement_renew_view, name="renew"),
    path("<int:pk>/terminate/", views.agreement_terminate_view, name="terminate"),
    path("<int:pk>/correct-termination/", views.agreement_correct_termination_view, name="correct_termination"),
    path("<int:pk>/documents/new/", views.document_upload, name="upload"),
    path("documents/<int:pk>/download/", views.document_download, name="document_download"),
]
