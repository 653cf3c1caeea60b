"""A viewer (read-only) finds no way to edit anything, and a forged POST is refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agreements.models import BusinessAssociateAgreement
from compliance.models import Finding
from tests.browser.conftest import sign_in
from tests.browser.pages import main_pages, seed
from vendors.models import Engagement

pytestmark = pytest.mark.browser

#: Paths of the pages that create or change something; a viewer's pages must not link to or post to them.
WRITE_PATH_MARKERS = ("/new/", "/edit/", "/transition/", "/renew/", "/documents/new/", "/acknowledge/", "/import/")


def write_controls(page) -> list[str]:
    """Links to write pages, and forms that post, inside the main content (the sign-out form is in the header)."""
    return page.evaluate(
        """(markers) => {
            const found = [];
            for (const a of document.querySelectorAll('main a[href]')) {
                const href = a.getAttribute('href');
                if (markers.some(m => href.includes(m))) found.push('link ' + href);
            }
            for (const form of document.querySelectorAll('main form')) {
                if ((form.getAttribute('method') || 'get').toLowerCase() === 'post') {
                    found.push('form ' + (form.getAttribute('action') || location.pathname));
                }
            }
            for (const b of document.querySelectorAll('main button, main input[type=submit]')) {
                const label = (b.innerText || b.value || '').trim();
                if (/^(edit|save|delete|archive|add|upload|acknowledge|execute|terminate|renew)/i.test(label)) {
                    found.push('button ' + label);
                }
            }
            return found;
        }""",
        list(WRITE_PATH_MARKERS),
    )


def test_it_shows_a_viewer_no_way_to_edit(page, transactional_db):
    result = seed()
    sign_in(page, "viewer", result.password)
    pages = main_pages(result.organization)
    engagement = Engagement.objects.filter(facility__organization=result.organization).order_by("pk").first()
    pages["checklist"] = reverse("checklists:detail", args=[engagement.pk])
    pages.pop("members")
    pages.pop("activity")
    # The termination page is a write step (it asks for the date and reason): a viewer is refused it.
    terminate_url = pages.pop("terminate agreement")
    assert page.goto(terminate_url).status == 403
    # A viewer's own API tokens and calendar feed are personal settings, not records: their forms stay.
    pages.pop("api tokens")
    pages.pop("calendar")
    pages.pop("sign_in_settings")  # administrators only
    pages.pop("two_factor_enrol")  # the viewer's own account: setting up their app is theirs to do
    problems = {}
    for name, url in pages.items():
        response = page.goto(url)
        if response.status == 404 and name == "checklist":
            continue  # not every engagement has a teleradiology checklist
        assert response.status == 200, f"{name}: {url} answered {response.status}"
        controls = write_controls(page)
        if controls:
            problems[name] = controls
    assert not problems, problems
    # The navigation has no administration either.
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Members").count() == 0
    assert nav.get_by_role("link", name="Audit log").count() == 0
    assert nav.get_by_role("link", name="Sign-in").count() == 0


def test_it_refuses_a_viewers_forged_posts(page, transactional_db):
    result = seed()
    sign_in(page, "viewer", result.password)
    finding = Finding.objects.filter(organization=result.organization, resolved_at=None).first()
    agreement = BusinessAssociateAgreement.objects.filter(organization=result.organization).first()
    page.goto(reverse("compliance:finding_detail", args=[finding.pk]))
    token = page.evaluate("document.querySelector('input[name=csrfmiddlewaretoken]').value")
    headers = {"X-CSRFToken": token, "Referer": page.url}
    for url, data in (
        (reverse("compliance:finding_acknowledge", args=[finding.pk]), {"note": "forged"}),
        (reverse("agreements:update", args=[agreement.pk]), {"title": "forged"}),
        (reverse("organizations:member_create"), {"username": "forged"}),
    ):
        response = page.request.post(url, form=data, headers=headers, max_redirects=0)
        assert response.status == 403, (url, response.status)
    finding.refresh_from_db()
    agreement.refresh_from_db()
    assert finding.acknowledged_at is None and agreement.title != "forged"
