"""Issue #18 item 3: on a phone (390x844) no main page scrolls sideways, the dashboard's actions and
columns are on screen, and the list filters start collapsed behind a button (Bootstrap collapse)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.pages import main_pages, seed

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()


def test_no_main_page_scrolls_sideways_on_a_phone(phone, transactional_db):
    result = seed()
    sign_in(phone, "admin", result.password)
    too_wide = {}
    for name, url in main_pages(result.organization).items():
        response = phone.goto(url)
        assert response.status == 200, f"{name}: {url} answered {response.status}"
        width = phone.evaluate("document.scrollingElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[name] = width
    assert not too_wide, too_wide
    assert not phone.js_errors


def _inside_the_screen(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_the_dashboard_actions_and_findings_column_are_on_screen(phone, transactional_db):
    result = seed()
    sign_in(phone, "officer", result.password)
    phone.goto(reverse("compliance:dashboard"))
    record = phone.get_by_role("link", name="Add the BAA").first  # the most urgent finding's fix
    expect(record).to_be_visible()
    assert _inside_the_screen(record)
    header = phone.get_by_role("columnheader", name="Open findings").first
    expect(header).to_be_visible()
    assert _inside_the_screen(header)


@pytest.mark.parametrize("list_name", ["vendors:list", "agreements:list", "compliance:finding_list", "alerts:list"])
def test_list_filters_start_collapsed_on_a_phone_and_open_with_their_button(phone, transactional_db, list_name):
    result = seed()
    sign_in(phone, "officer", result.password)
    phone.goto(reverse(list_name))
    filters = phone.locator("form[data-list-filters]")
    expect(filters).to_be_hidden()
    toggle = phone.get_by_role("button", name="Filters")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(filters).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert not phone.js_errors


def test_list_filters_are_open_on_a_wide_screen(page, transactional_db):
    result = seed()
    sign_in(page, "officer", result.password)
    page.goto(reverse("vendors:list"))
    expect(page.locator("form[data-list-filters]")).to_be_visible()
    expect(page.get_by_role("button", name="Filters")).to_be_hidden()
