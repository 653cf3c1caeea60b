"""Issue #15 item 4: no page, export or report names a facility the user may not see.

A crawler signs in as a member limited to one facility, for each role, follows every link from the
dashboard (pages, filters, exports, downloads, generated reports) and reads every answer (HTML, CSV,
XLSX, PDF), asserting that the name of the other facility never appears. The organization is built
so that the hidden facility is everywhere a name could leak: a BAA covering both facilities, a
coverage change recorded in history, engagements, findings, a checklist and reports about it. The
crawl must reach every routed page that takes no POST only (a new page that is not reached fails).
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import zipfile
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import override_settings
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from openpyxl import load_workbook

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from agreements.services import agreement_save
from alerts.models import Alert, AlertKind, SendStatus
from alerts.services import alerts_dispatch
from checklists.models import ItemStatus, TeleradiologyChecklist
from checklists.services import checklist_item_update
from compliance.models import Finding
from compliance.services import run_compliance
from onboarding.models import DraftState, OnboardingDraft
from organizations.models import Role
from reports.models import ReportStatus
from reports.services import audit_report_generate, audit_report_request
from tests import factories as f
from tests.reports.conftest import tool
from vendors.models import Engagement, VendorCategory
from vendors.services import engagement_save

HIDDEN = "Zebrawood Hidden Clinic"
HIDDEN_WORDS = ("Zebrawood",)
VISIBLE = "Lakeside Visible Center"
#: Routes a GET crawl does not reach by design: POST-only actions, the admin, sign-in machinery.
NOT_CRAWLED = {
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "alerts:unsubscribe",
    # The vendor contact's unsubscribe link (signed token, no sign-in) and the roster's POST-only switch.
    "alerts:vendor_unsubscribe",
    "readers:contact_reminders",
    # The JSON API (crawled below by its own links, ``crawl_api``), its schema, and POST-only actions.
    "api:schema",
    "api:token_revoke",
    "calendars:revoke",
    # Calendar clients' URL: its secret is shown once; the feed is read below (``calendar_texts``).
    "calendars:feed",
    # POST-only decisions on a document's provision review and key terms (documents app).
    "documents:provision_decide",
    "documents:key_term_decide",
    "identity:sso_by_email",
    "identity:sso_start",
    "identity:sso_callback",
    "identity:two_factor",
    "identity:two_factor_verify",
    "identity:recovery_codes_new",
}
API_LISTS = (
    "facilities",
    "vendors",
    "engagements",
    "agreements",
    "documents",
    "findings",
    "checklist-items",
    "reports",
)
#: Pages for administrators only, who are never limited to facilities (Membership.limited_facility_ids).
ADMIN_ONLY = {
    "facilities:create",
    "organizations:members",
    "organizations:member_create",
    "organizations:member_update",
    "organizations:member_set_active",
    "identity:sign_in_settings",
    "identity:member_two_factor_reset",
}
MAX_VARIANTS_PER_PATH = 4


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module inside a transaction rolled back at its end."""
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        with f.module_transaction():
            yield _build()
            transaction.set_rollback(True)


def _build() -> dict:
    org = f.organization(name="Lakeside Imaging Network")
    visible = f.facility(org, name=VISIBLE)
    hidden = f.facility(org, name=HIDDEN)
    pacs = f.vendor(org, legal_name="Shared PACS Co")
    tele = f.vendor(org, legal_name="Night Reads Teleradiology", category=VendorCategory.TELERADIOLOGY)
    only_hidden = f.vendor(org, legal_name="Hidden Only Billing")
    for vendor in (pacs, tele):
        for facility in (visible, hidden):
            engagement_save(
                engagement=Engagement(
                    vendor=vendor,
                    facility=facility,
                    service_description="Reads and storage",
                    status="active",
                    phi_receives=True,
                    phi_access_starts_on=f.days(-300),
                )
            )
    f.engagement(only_hidden, hidden)
    # A radiologist reading at both facilities, privileged at both, licensed in neither's state only
    # partly: findings with and without a facility, and the readers pages to crawl.
    reader = f.radiologist(tele, first_name="Crawl", last_name="Reader")
    f.state_license(reader, "TX", expires_on=f.days(30))
    for engagement in Engagement.objects.filter(vendor=tele):
        f.assignment(reader, engagement)
        f.privilege(reader, engagement.facility)
    baa = f.agreement(pacs, facilities=[visible], title="Shared PACS BAA", expires_on=f.days(40))
    # A coverage change in history: the hidden facility added, then removed again.
    baa.covers_all_facilities = False
    agreement_save(agreement=baa, covered_facilities=[visible, hidden])
    agreement_save(agreement=BusinessAssociateAgreement.objects.get(pk=baa.pk), covered_facilities=[visible])
    both = f.agreement(
        tele,
        facilities=[visible, hidden],
        title="Teleradiology BAA",
        breach_notification_days=90,
        expires_on=f.days(20),
    )
    link = f.subcontractor_link(tele)
    link.attestation_file = ContentFile(b"%PDF-1.4 assurance", name="assurance.pdf")
    link.save()
    # Lifecycle pages of agreements within the visible facility: a draft (its transition forms) and a
    # terminated one (the correction of a termination).
    f.agreement(pacs, facilities=[visible], title="Draft PACS BAA", status=AgreementStatus.DRAFT)
    f.agreement(pacs, facilities=[visible], title="Ended PACS BAA", status=AgreementStatus.TERMINATED)
    # A past period of PHI without a BAA at each facility: its finding links to the risk assessment form.
    former = f.vendor(org, legal_name="Former Courier Imaging")
    for facility in (visible, hidden):
        f.engagement(former, facility, phi_access_starts_on=f.days(-900), ends_on=f.days(-500))
    verifier = f.user(org, role=Role.ADMIN, username="crawl-verifier")
    for checklist in TeleradiologyChecklist.objects.filter(engagement__vendor=tele):
        item = checklist.items.get(number=4)
        checklist_item_update(
            item=item,
            status=ItemStatus.COMPLETE,
            evidence_note=f"Licenses checked at {checklist.engagement.facility.name}",
            verified_by=verifier,
            verified_on=f.days(-10),
            next_review_on=f.days(-1),
            evidence_file=ContentFile(b"%PDF-1.4 evidence", name="licenses.pdf"),
        )
        # A second upload: the first file becomes an earlier version, listed and downloadable.
        checklist_item_update(
            item=item,
            status=ItemStatus.COMPLETE,
            evidence_note=item.evidence_note,
            verified_by=verifier,
            verified_on=f.days(-10),
            next_review_on=f.days(-1),
            evidence_file=ContentFile(b"%PDF-1.4 evidence v2", name="licenses-2.pdf"),
        )
    run_compliance(organization_id=org.pk)
    run_compliance(organization_id=org.pk, as_of=f.TODAY)
    admin = f.user(org, role=Role.ADMIN, username="crawl-organization-admin")
    # Administrators are never limited to facilities (Membership.limited_facility_ids).
    users = {
        role: f.user(org, role=role, facilities=[visible], username=f"crawl-{role}")
        for role in (Role.COMPLIANCE_OFFICER, Role.VIEWER, Role.AUDITOR)
    }
    # A failed alert about each facility's finding (the alerts page offers a retry of the visible one).
    for facility in (visible, hidden):
        finding = Finding.objects.open().filter(facility=facility).first()
        Alert.objects.create(
            organization=org,
            finding=finding,
            kind=AlertKind.MISSING_BAA,
            threshold=0,
            recipient=users[Role.COMPLIANCE_OFFICER],
            planned_on=f.TODAY,
            status=SendStatus.FAILED,
            attempts=5,
            last_error=f"550 refused for {finding.facility.name}",
        )
    for requester in (admin, users[Role.COMPLIANCE_OFFICER]):
        report = audit_report_request(requested_by=requester, facility=visible, as_of=f.TODAY)
        report = audit_report_generate(report_id=report.pk)
        assert report.status == ReportStatus.DONE, report.error
    # A signed BAA waiting in the onboarding queue for each facility (the hidden one's names its facility).
    for facility, vendor in ((visible, pacs), (hidden, only_hidden)):
        draft = OnboardingDraft.objects.create(
            organization=org,
            uploaded_by=admin,
            original_name=f"signed-{facility.pk}.pdf",
            size_bytes=len(f.MINIMAL_PDF),
            sha256=hashlib.sha256(f.MINIMAL_PDF + str(facility.pk).encode()).hexdigest(),
            state=DraftState.READY,
            file=ContentFile(f.MINIMAL_PDF, name="signed.pdf"),
            vendor=vendor,
            vendor_score=100,
            key_terms={"parties": {"value": {"names": {"Covered Entity": facility.name}}, "quote": facility.name}},
        )
        draft.facilities.set([facility])
    return {"org": org, "users": users, "agreement": both, "admin": admin}


def _texts(response) -> str:
    """Everything a person could read in the answer."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if kind.startswith("application/pdf"):
        return subprocess.run(
            [tool("pdftotext"), "-enc", "UTF-8", "-", "-"], input=content, capture_output=True, check=True
        ).stdout.decode()
    if "spreadsheetml" in kind:
        book = load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(
            " ".join(str(cell) for cell in row if cell is not None)
            for sheet in book
            for row in sheet.iter_rows(values_only=True)
        )
    if kind.startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(name).decode(errors="replace") for name in archive.namelist())
    return content.decode(errors="replace")


#: Links, form targets (a POST-only route answers a GET with 405, and must not leak either) and the
#: URLs scripts fetch (``data-status-url``).
HREF = re.compile(r'(?:href|action|data-[a-z-]*url)="([^"#]+)')


def _route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    continue
                walk(pattern.url_patterns, f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(prefix + pattern.name)

    walk(get_resolver().url_patterns)
    return names


def crawl(client, start="/"):
    seen_paths: dict[str, int] = {}
    queue, visited, routes = deque([start]), set(), set()
    leaks = []
    while queue:
        url = queue.popleft()
        if url in visited:
            continue
        visited.add(url)
        response = client.get(url)
        try:
            routes.add(resolve(urlsplit(url).path).view_name)
        except Resolver404:
            pass  # e.g. a file's MEDIA_URL link, which the app does not serve: a 404
        assert response.status_code in (200, 302, 403, 404, 405), (url, response.status_code)
        if response.status_code == 302:
            continue
        text = _texts(response)  # refusals too: a 403 or 404 page must not name it either
        for word in HIDDEN_WORDS:
            if word in text:
                leaks.append(url)
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        for href in HREF.findall(text):
            href = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(href)
            if parts.netloc and parts.netloc != "testserver":
                continue
            path = parts.path
            if path.startswith(("/admin/", "/static/", "/media/", "/accounts/")):
                continue
            local = path + (f"?{parts.query}" if parts.query else "")
            if local in visited:
                continue
            if parts.query:
                seen_paths[path] = seen_paths.get(path, 0) + 1
                if seen_paths[path] > MAX_VARIANTS_PER_PATH:
                    continue
            queue.append(local)
    return visited, routes, leaks


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.VIEWER, Role.AUDITOR])
def test_a_facility_limited_member_never_reads_the_name_of_a_hidden_facility(client, world, role):
    client.force_login(world["users"][role], backend="django.contrib.auth.backends.ModelBackend")
    visited, routes, leaks = crawl(client)
    assert not leaks, f"{HIDDEN} appears on {leaks}"
    assert len(visited) > 30
    if role == Role.COMPLIANCE_OFFICER:
        json_api = {name for name in _route_names() if name.startswith("api:") and "-" in name}  # crawl_api
        missing = _route_names() - routes - NOT_CRAWLED - ADMIN_ONLY - json_api
        assert missing == set(), f"routes the crawl did not reach: {sorted(missing)}"


def crawl_api(client) -> tuple[set[str], list[str]]:
    """Every API list, every row's detail and every download a list names, read as the client."""
    routes, leaks = set(), []

    def read(url: str):
        response = client.get(url)
        routes.add(resolve(urlsplit(url).path).view_name)
        assert response.status_code in (200, 404), (url, response.status_code)
        if any(word in _texts(response) for word in HIDDEN_WORDS):
            leaks.append(url)
        return response

    for name in API_LISTS:
        url = f"/api/v1/{name}/?page_size=200"
        rows = read(url).json()["results"]
        for row in rows:
            read(f"/api/v1/{name}/{row['id']}/")
            if row.get("download_url"):
                read(row["download_url"])
            for document in row.get("documents", []):
                read(document["download_url"])
    return routes, leaks


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.VIEWER])
def test_the_api_and_the_calendar_feed_never_name_a_hidden_facility(client, world, role):
    from calendars.services import calendar_feed_create

    user = world["users"][role]
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    routes, leaks = crawl_api(client)
    assert not leaks, f"{HIDDEN} appears in {leaks}"
    api_routes = {name for name in _route_names() if name.startswith("api:") and name.endswith(("-list", "-detail"))}
    assert api_routes <= routes, sorted(api_routes - routes)
    _, secret = calendar_feed_create(user=user)
    feed = client.get(f"/calendar/feed/{secret}.ics")
    assert feed.status_code == 200 and "BEGIN:VEVENT" in feed.content.decode()
    assert not any(word in feed.content.decode() for word in HIDDEN_WORDS)


@pytest.mark.django_db
def test_an_alert_email_to_a_facility_limited_officer_names_only_their_facilities(world):
    alerts_dispatch(as_of=f.TODAY, daily=True)

    officer = world["users"][Role.COMPLIANCE_OFFICER]
    to_officer = [m for m in mail.outbox if m.to == [officer.email]]
    to_admin = [m for m in mail.outbox if m.to == [world["admin"].email]]
    assert to_officer and to_admin
    for message in to_officer:
        for text in (message.subject, message.body, message.alternatives[0][0]):
            assert HIDDEN not in text
    expiry = next(m for m in to_officer if "Teleradiology BAA" in m.subject)
    assert f"Facility:   {VISIBLE}, 1 other facility" in expiry.body
    assert any(HIDDEN in m.body for m in to_admin), "the administrator sees every facility"
