from django.contrib import admin
from django.urls import include, path

from baatracker.views import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", healthz, name="healthz"),
    path("", include("compliance.urls")),
    path("organization/", include("organizations.urls")),
    path("facilities/", include("facilities.urls")),
    path("vendors/", include("vendors.urls")),
    path("agreements/", include("agreements.urls")),
    path("checklists/", include("checklists.urls")),
    path("readers/", include("readers.urls")),
    path("alerts/", include("alerts.urls")),
    path("reports/", include("reports.urls")),
    # Single sign-on, two-factor sign-in, sign-in settings (identity app).
    path("", include("identity.urls")),
    # Reading signed documents (issue 12).
    path("documents/", include("documents.urls")),
    path("onboarding/", include("onboarding.urls")),
]

# --- REST API and calendar feeds (issue #14, "api") ---------------------------------------------------
urlpatterns += [
    path("api/", include("api.urls")),
    path("calendar/", include("calendars.urls")),
]
