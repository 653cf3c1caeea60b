"""axe-core in Chromium: no serious or critical violation on the main pages (WCAG 2.1 AA rules)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, describe, sign_in
from tests.browser.pages import main_pages, seed

pytestmark = pytest.mark.browser


def test_it_has_no_serious_accessibility_violation_on_the_sign_in_page(page):
    page.goto("/accounts/login/")
    violations = axe_violations(page)
    assert not violations, describe(violations)


#: A phone (issue #18 item 3: 390x844) and a laptop.
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 900}}


@pytest.mark.parametrize("viewport", VIEWPORTS.values(), ids=VIEWPORTS.keys())
def test_it_has_no_serious_accessibility_violation_on_the_main_pages(page, transactional_db, viewport):
    page.set_viewport_size(viewport)
    result = seed()
    sign_in(page, "admin", result.password)
    problems = {}
    for name, url in main_pages(result.organization).items():
        response = page.goto(url)
        assert response.status == 200, f"{name}: {url} answered {response.status}"
        violations = axe_violations(page)
        if violations:
            problems[name] = violations
    assert not problems, describe(problems)
    assert not page.js_errors


def test_it_can_be_used_with_the_keyboard(page, transactional_db):
    result = seed()
    sign_in(page, "officer", result.password)
    page.goto("/")
    # The first Tab reaches the skip link, which moves the focus to the main content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("element => element === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Then the keyboard goes on into the page: to the first link of the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    # Headings are in order: one h1, and no level is skipped.
    levels = page.evaluate("Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6')).map(h => +h.tagName[1])")
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
