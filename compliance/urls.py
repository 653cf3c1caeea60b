from django.urls import path

from compliance import views

app_name = "compliance"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("coverage/", views.coverage, name="coverage"),
    path("findings/updating/", views.findings_updating, name="findings_updating"),
    path("findings/", views.finding_list, name="finding_list"),
    path("findings/export/", views.finding_export, name="finding_export"),
    path("findings/<int:pk>/", views.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/assessment/", views.finding_assessment, name="finding_assessment"),
    path("findings/<int:pk>/acknowledge/", views.finding_acknowledge_view, name="finding_acknowledge"),
]
