"""Real Chromium through Playwright against pytest-django's live server (marker ``browser``).

A missing Chromium or missing node_modules (axe-core) fails the tests; they never skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the browser tests of a module (each test gets its own context, so no cookie or
    storage is shared; starting Playwright and Chromium costs about two seconds). The Playwright sync
    API runs an event loop in the tests' thread, so their own ORM calls (factories, assertions), which
    are synchronous and safe, need DJANGO_ALLOW_ASYNC_UNSAFE: set while this module's browser runs,
    never for the modules around it (a variable left in the environment would also reach their
    subprocesses, e.g. ``check --deploy``). Every test of a module that uses it is a browser test."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium is required at {CHROMIUM} (apt-get install chromium)"
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        # axe-core is injected as a script; the app's CSP (script-src 'self') would refuse it.
        bypass_csp=True,
    )
    context.set_default_timeout(30_000)  # two shared cores: be patient, not flaky
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def sign_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, f"sign-in failed for {username}"


def axe_violations(page, *, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core on the current page; the violations of the given impacts, summarized."""
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (axe-core is in package.json)"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in impacts
    ]


def describe(violations: list[dict]) -> str:
    return json.dumps(violations, indent=2)
