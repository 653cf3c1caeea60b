"""The API docs page in Chromium, with the app's content security policy enforced: Swagger UI comes
from the app itself (drf-spectacular-sidecar), nothing from another host, and it lists the endpoints.
A token made on the tokens page then works against the API."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in
from tests.browser.pages import seed

pytestmark = pytest.mark.browser


def test_the_docs_page_is_served_by_the_app_under_its_csp(chromium, live_server, transactional_db):
    result = seed()
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    requested, console = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: console.append(message.text))
    try:
        sign_in(page, "officer", result.password)
        page.goto("/api/v1/docs/")
        page.get_by_text("/api/v1/agreements/", exact=True).first.wait_for()
        assert page.get_by_text("BAA Tracker API").first.is_visible()
        outside = [url for url in requested if not url.startswith(live_server.url)]
        assert not outside, outside
        assert not [text for text in console if "Content Security Policy" in text and "script" in text], console

        page.goto("/api/tokens/")
        page.get_by_label("Name").fill("Browser check")
        page.get_by_role("button", name="Create token").click()
        token = page.locator("#new-token").inner_text().strip()
        assert token.startswith("bt_")
        response = context.request.get("/api/v1/vendors/", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200 and response.json()["count"] > 0
    finally:
        context.close()
