"""The benchmark's URLs: the application's, plus the trivial view the pages are compared with.

Only the benchmark uses this module (override_settings(ROOT_URLCONF=...)); the site never serves it.
"""

from django.http import HttpResponse
from django.urls import include, path


def trivial(request):
    """A static response through the same middleware as every page: the floor of a page."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial/", trivial, name="bench_trivial"),
    path("", include("baatracker.urls")),
]
