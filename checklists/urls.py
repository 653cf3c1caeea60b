from django.urls import path

from checklists import views

app_name = "checklists"
urlpatterns = [
    path("engagements/<int:engagement_pk>/", views.checklist_detail, name="detail"),
    path("items/<int:pk>/edit/", views.checklist_item_update_view, name="item_update"),
    path("items/<int:pk>/evidence/", views.evidence_download, name="evidence_download"),
    path(
        "items/<int:pk>/evidence/<int:history_id>/",
        views.evidence_version_download,
        name="evidence_version_download",
    ),
]
