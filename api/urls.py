from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import pages, views
from api.base import login_not_required_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("facilities", views.FacilityViewSet, basename="facility")
router.register("vendors", views.VendorViewSet, basename="vendor")
router.register("engagements", views.EngagementViewSet, basename="engagement")
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("documents", views.DocumentViewSet, basename="document")
router.register("findings", views.FindingViewSet, basename="finding")
router.register("checklist-items", views.ChecklistItemViewSet, basename="checklistitem")
router.register("reports", views.ReportViewSet, basename="report")

app_name = "api"
urlpatterns = [
    path("v1/", include(router.urls)),
    # The schema answers a token (schemathesis, client generators) as well as a signed-in browser.
    path("v1/schema/", login_not_required_api(SpectacularAPIView.as_view()), name="schema"),
    # The docs page is a page: signed-out browsers are sent to sign in. Swagger UI comes from
    # drf-spectacular-sidecar, served by the app (no CDN), with its script in a file (the CSP).
    path("v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("tokens/", pages.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", pages.token_revoke, name="token_revoke"),
]
