"""Response headers that Django's SecurityMiddleware does not set (#15).

* ``Cache-Control: no-store`` on every page a signed-in user gets (unless the view chose its own
  caching): the pages name vendors, agreements and findings, and a shared or back-button cache must
  not keep them after sign-out or automatic logoff (45 CFR 164.312(a)(2)(iii)).
* ``Permissions-Policy``: the app uses no camera, microphone, location, payment or USB, so no page
  (nor anything injected into one) may ask for them.
"""

from __future__ import annotations

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "browsing-topics",
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store, private"
        return response
