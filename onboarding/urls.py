from django.urls import path

from onboarding import views

app_name = "onboarding"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("terms/", views.terms_upload, name="terms"),
    path("drafts/<int:pk>/", views.draft_review, name="draft"),
    path("drafts/<int:pk>/discard/", views.draft_discard_view, name="discard"),
]
