"""The compliance officer's pages: dashboard, coverage matrix, findings, acknowledgement, export."""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from openpyxl import load_workbook

from compliance.models import Finding, FindingKind, Severity
from compliance.services import run_compliance
from organizations.models import AccessAction, AccessLogEntry, Role
from tests import factories as f
from vendors.models import VendorCategory

BACKEND = "django.contrib.auth.backends.ModelBackend"


def today() -> datetime.date:
    return timezone.localdate()


def login(client, user):
    client.force_login(user, backend=BACKEND)
    return client


@dataclass
class Org:
    org: object
    a: object
    b: object
    pacs: object
    ai: object
    cloud: object
    pacs_baa: object
    cloud_baa: object
    officer: object
    viewer: object


def build_org(name: str = "Lakeside") -> Org:
    """Two facilities. PACS at both, covered everywhere (expires in 45 days); an AI tool at A with no
    BAA; cloud storage at A and B whose auto-renewing BAA covers only A; a conduit and a vendor with
    no PHI that never count."""
    org = f.organization(name=f"{name} Network")
    a = f.facility(org, name=f"{name} A Imaging")
    b = f.facility(org, name=f"{name} B Hospital")
    pacs = f.vendor(org, legal_name=f"{name} PACS Co", category=VendorCategory.PACS)
    ai = f.vendor(org, legal_name=f"{name} Triage AI", category=VendorCategory.AI_DIAGNOSTIC)
    cloud = f.vendor(org, legal_name=f"{name} Cloud DICOM", category=VendorCategory.CLOUD_DICOM_STORAGE)
    isp = f.vendor(org, legal_name=f"{name} Fiber ISP", category=VendorCategory.OTHER, is_conduit=True)
    billing = f.vendor(org, legal_name=f"{name} Paper Supplies", category=VendorCategory.OTHER)
    for facility in (a, b):
        f.engagement(pacs, facility, phi_maintains=True)
        f.engagement(cloud, facility)
    f.engagement(ai, a)
    f.engagement(isp, a, phi_transmits=True)
    f.engagement(billing, a, phi_receives=False)
    pacs_baa = f.agreement(pacs, title=f"{name} PACS BAA", expires_on=today() + datetime.timedelta(days=45))
    cloud_baa = f.agreement(
        cloud,
        title=f"{name} Cloud BAA",
        facilities=[a],
        expires_on=today() + datetime.timedelta(days=100),
        auto_renews=True,
        renewal_term_months=12,
        renewal_notice_days=30,
    )
    run_compliance(organization_id=org.pk, as_of=today())
    return Org(
        org=org,
        a=a,
        b=b,
        pacs=pacs,
        ai=ai,
        cloud=cloud,
        pacs_baa=pacs_baa,
        cloud_baa=cloud_baa,
        officer=f.user(org, role=Role.COMPLIANCE_OFFICER),
        viewer=f.user(org, role=Role.VIEWER),
    )


@pytest.fixture
def world(db) -> Org:
    build_org("Other")  # another organization's gaps never count
    return build_org()


def grow(world: Org, n: int) -> None:
    """More facilities, vendors, agreements and findings, to show that the query count stays put."""
    for i in range(n):
        facility = f.facility(world.org, name=f"Grown facility {i}")
        vendor = f.vendor(world.org, legal_name=f"Grown vendor {i}")
        f.engagement(vendor, facility)
        f.engagement(world.ai, facility)
        covered = f.vendor(world.org, legal_name=f"Grown covered vendor {i}")
        f.engagement(covered, facility)
        f.agreement(covered, expires_on=today() + datetime.timedelta(days=30 * (i + 1)), signed_document=False)
    run_compliance(organization_id=world.org.pk, as_of=today())


# --- Dashboard --------------------------------------------------------------------------------------


def test_it_asks_for_a_sign_in(client, world):
    for name in ("compliance:dashboard", "compliance:coverage", "compliance:finding_list", "compliance:finding_export"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_counts_vendors_coverage_and_findings_on_the_dashboard(client, world):
    response = login(client, world.officer).get(reverse("compliance:dashboard"))
    assert response.status_code == 200
    data = response.context["data"]
    # PACS, AI and cloud touch PHI; the conduit and the supplier do not count.
    assert (data.vendors_with_phi, data.vendors_covered, data.vendors_with_gaps) == (3, 1, 2)
    expected = {
        severity: Finding.objects.filter(organization=world.org, resolved_at=None, severity=severity).count()
        for severity in Severity.values
    }
    assert {item.value: item.count for item in data.severity_counts} == expected
    assert expected[Severity.CRITICAL] == 2  # the AI tool at A and the cloud store at B
    rates = {row.facility.name: (row.covered, row.engagements, row.rate) for row in data.facilities}
    assert rates == {"Lakeside A Imaging": (2, 3, 67), "Lakeside B Hospital": (1, 2, 50)}
    html = response.content.decode()
    assert 'data-metric="vendors-with-phi">3<' in html
    assert "2 vendors with a coverage gap" in html
    assert "Other Triage AI" not in html


def test_it_lists_the_most_urgent_findings_first_with_a_link_to_fix_them(client, world):
    response = login(client, world.officer).get(reverse("compliance:dashboard"))
    urgent = response.context["data"].urgent_findings
    ranks = [Severity.values.index(finding.severity) for finding in urgent]
    assert ranks == sorted(ranks) and urgent[0].severity == Severity.CRITICAL
    missing = Finding.objects.get(kind=FindingKind.MISSING_BAA, vendor=world.ai)
    html = response.content.decode()
    assert reverse("compliance:finding_detail", args=[missing.pk]) in html
    create = reverse("agreements:create")
    assert f"{create}?vendor={world.ai.pk}&amp;facility={world.a.pk}" in html


def test_it_charts_the_expirations_of_the_next_twelve_months(client, world):
    response = login(client, world.officer).get(reverse("compliance:dashboard"))
    months = response.context["data"].expirations
    assert len(months) == 12 and months[0].month == today().replace(day=1)
    by_month = {m.month: (m.expiring, m.auto_renewing) for m in months if m.total}
    pacs_month = (today() + datetime.timedelta(days=45)).replace(day=1)
    cloud_month = (today() + datetime.timedelta(days=100)).replace(day=1)
    if pacs_month == cloud_month:
        assert by_month == {pacs_month: (1, 1)}
    else:
        assert by_month == {pacs_month: (1, 0), cloud_month: (0, 1)}
    html = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in html and 'role="img"' in html
    assert '<title id="expiry-chart-title">BAA expirations over the next 12 months</title>' in html
    assert "2 agreement(s) in force reach their expiry date" in html
    # The table fallback has the same numbers, one row per month.
    assert html.count('<th scope="row" class="fw-normal">') >= 12
    assert (today() + relativedelta(months=11)).strftime("%B %Y") in html


def test_it_runs_the_same_number_of_queries_on_the_dashboard_whatever_the_data(client, world):
    login(client, world.officer)
    url = reverse("compliance:dashboard")
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    grow(world, 8)
    with CaptureQueriesContext(connection) as large:
        response = client.get(url)
    assert len(response.context["data"].facilities) == 10
    assert len(large.captured_queries) == len(small.captured_queries), [q["sql"] for q in large.captured_queries]


# --- Coverage matrix -----------------------------------------------------------------------------------


def cells(response) -> dict[tuple[str, str], object]:
    matrix = response.context["matrix"]
    vendors = [vendor.legal_name for vendor in matrix.vendors]
    return {(row.facility.name, vendors[i]): cell for row in matrix.rows for i, cell in enumerate(row.cells)}


def test_it_shows_which_facility_and_vendor_pairs_are_covered(client, world):
    response = login(client, world.officer).get(reverse("compliance:coverage"))
    assert response.status_code == 200
    grid = {key: cell.state for key, cell in cells(response).items()}
    assert grid == {
        # Expiring as the findings say (issue 10 item 2): its notice deadline falls within the horizon.
        ("Lakeside A Imaging", "Lakeside Cloud DICOM"): "expiring",
        ("Lakeside A Imaging", "Lakeside PACS Co"): "expiring",
        ("Lakeside A Imaging", "Lakeside Triage AI"): "missing",
        ("Lakeside B Hospital", "Lakeside Cloud DICOM"): "missing",
        ("Lakeside B Hospital", "Lakeside PACS Co"): "expiring",
        ("Lakeside B Hospital", "Lakeside Triage AI"): "none",
    }
    html = response.content.decode()
    assert reverse("agreements:detail", args=[world.cloud_baa.pk]) in html
    assert f"{reverse('agreements:create')}?vendor={world.cloud.pk}&amp;facility={world.b.pk}" in html
    assert "Fiber ISP" not in html and "Other Cloud DICOM" not in html


def test_it_shows_only_the_gaps_when_asked(client, world):
    response = login(client, world.officer).get(reverse("compliance:coverage") + "?gaps=1")
    grid = {key: cell.state for key, cell in cells(response).items()}
    assert {key for key, state in grid.items() if state == "missing"} == {
        ("Lakeside A Imaging", "Lakeside Triage AI"),
        ("Lakeside B Hospital", "Lakeside Cloud DICOM"),
    }
    assert "Lakeside PACS Co" not in {vendor for _, vendor in grid}


def test_it_offers_no_agreement_creation_to_a_viewer(client, world):
    html = login(client, world.viewer).get(reverse("compliance:coverage")).content.decode()
    assert "Missing BAA" in html
    assert reverse("agreements:create") not in html


def test_it_turns_the_cell_covered_once_a_baa_is_in_force(client, world):
    f.agreement(world.ai, title="AI BAA")
    response = login(client, world.officer).get(reverse("compliance:coverage"))
    assert cells(response)[("Lakeside A Imaging", "Lakeside Triage AI")].state == "covered"


def test_it_runs_the_same_number_of_queries_on_the_coverage_matrix_whatever_the_data(client, world):
    login(client, world.officer)
    url = reverse("compliance:coverage")
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    grow(world, 6)
    with CaptureQueriesContext(connection) as large:
        response = client.get(url)
    assert len(response.context["matrix"].rows) == 8
    assert len(large.captured_queries) == len(small.captured_queries)


# --- Findings ------------------------------------------------------------------------------------------


def listed(response) -> list[Finding]:
    return list(response.context["page"].object_list)


def test_it_lists_the_open_findings_most_urgent_first(client, world):
    response = login(client, world.officer).get(reverse("compliance:finding_list"))
    findings = listed(response)
    assert {finding.organization_id for finding in findings} == {world.org.pk}
    assert len(findings) == Finding.objects.filter(organization=world.org, resolved_at=None).count()
    ranks = [Severity.values.index(finding.severity) for finding in findings]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=missing_baa", lambda w: {("missing_baa", w.ai.pk), ("missing_baa", w.cloud.pk)}),
        ("vendor={cloud}&kind=missing_baa", lambda w: {("missing_baa", w.cloud.pk)}),
        ("facility={b}&severity=critical", lambda w: {("missing_baa", w.cloud.pk)}),
        ("facility={a}&kind=missing_baa", lambda w: {("missing_baa", w.ai.pk)}),
    ],
)
def test_it_filters_the_findings(client, world, query, expected):
    url = reverse("compliance:finding_list") + "?" + query.format(cloud=world.cloud.pk, a=world.a.pk, b=world.b.pk)
    response = login(client, world.officer).get(url)
    assert {(finding.kind, finding.vendor_id) for finding in listed(response)} == expected(world)


def test_it_filters_by_every_kind_and_severity_as_stored_by_the_engine(client, world):
    login(client, world.officer)
    open_findings = Finding.objects.filter(organization=world.org, resolved_at=None)
    for field, values in (("kind", FindingKind.values), ("severity", Severity.values)):
        for value in values:
            response = client.get(reverse("compliance:finding_list") + f"?{field}={value}")
            assert {x.pk for x in listed(response)} == set(
                open_findings.filter(**{field: value}).values_list("pk", flat=True)
            ), (field, value)


def test_it_counts_agreement_findings_at_the_facilities_the_agreement_covers(client, world):
    expiring = Finding.objects.get(kind=FindingKind.BAA_EXPIRING, agreement=world.pacs_baa)
    login(client, world.officer)
    for facility in (world.a, world.b):
        response = client.get(reverse("compliance:finding_list") + f"?facility={facility.pk}")
        assert expiring in listed(response)


def test_it_filters_by_acknowledged_and_resolved(client, world):
    finding = Finding.objects.get(kind=FindingKind.MISSING_BAA, vendor=world.ai)
    login(client, world.officer).post(
        reverse("compliance:finding_acknowledge", args=[finding.pk]), {"note": "Vendor sent its BAA for review."}
    )
    response = client.get(reverse("compliance:finding_list") + "?state=acknowledged")
    assert listed(response) == [finding]
    assert finding not in listed(client.get(reverse("compliance:finding_list") + "?state=unacknowledged"))
    f.agreement(world.ai, title="AI BAA")
    run_compliance(organization_id=world.org.pk, as_of=today())
    assert [x.pk for x in listed(client.get(reverse("compliance:finding_list") + "?state=resolved"))] == [finding.pk]
    assert finding not in listed(client.get(reverse("compliance:finding_list")))


def test_it_ignores_a_filter_on_another_organizations_facility(client, world):
    other = f.facility(f.organization(), name="Secret Elsewhere Clinic")
    response = login(client, world.officer).get(reverse("compliance:finding_list") + f"?facility={other.pk}")
    assert response.status_code == 200
    assert "Secret Elsewhere Clinic" not in response.content.decode()
    assert {finding.organization_id for finding in listed(response)} == {world.org.pk}


def test_it_runs_the_same_number_of_queries_on_the_findings_list_whatever_the_data(client, world):
    login(client, world.officer)
    url = reverse("compliance:finding_list")
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    grow(world, 10)
    with CaptureQueriesContext(connection) as large:
        response = client.get(url)
    assert len(listed(response)) == 25
    assert len(large.captured_queries) == len(small.captured_queries)


def test_it_explains_a_finding_and_links_to_the_thing_to_fix(client, world):
    missing = Finding.objects.get(kind=FindingKind.MISSING_BAA, vendor=world.ai)
    expiring = Finding.objects.get(kind=FindingKind.BAA_EXPIRING, agreement=world.pacs_baa)
    link = f.subcontractor_link(world.pacs)
    run_compliance(organization_id=world.org.pk, as_of=today())
    subcontractor = Finding.objects.get(kind=FindingKind.SUBCONTRACTOR_GAP, subcontractor_link=link)
    login(client, world.officer)
    for finding, target in (
        (missing, f"{reverse('agreements:create')}?vendor={world.ai.pk}&amp;facility={world.a.pk}"),
        (expiring, reverse("agreements:detail", args=[world.pacs_baa.pk])),
        (subcontractor, reverse("vendors:detail", args=[world.pacs.pk])),
    ):
        html = client.get(reverse("compliance:finding_detail", args=[finding.pk])).content.decode()
        assert escape(finding.explanation) in html
        assert f'href="{target}"' in html


def test_it_acknowledges_a_finding_without_resolving_it(client, world):
    finding = Finding.objects.get(kind=FindingKind.MISSING_BAA, vendor=world.ai)
    response = login(client, world.officer).post(
        reverse("compliance:finding_acknowledge", args=[finding.pk]), {"note": "  Legal reviews the BAA on Monday.  "}
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert (
        finding.acknowledged_by == world.officer and finding.acknowledgement_note == "Legal reviews the BAA on Monday."
    )
    assert finding.is_open
    run_compliance(organization_id=world.org.pk, as_of=today())
    finding.refresh_from_db()
    assert finding.is_open  # only the data resolves it
    html = client.get(reverse("compliance:finding_detail", args=[finding.pk])).content.decode()
    assert "Legal reviews the BAA on Monday." in html and "Update the acknowledgement" in html


def test_it_requires_a_note_to_acknowledge(client, world):
    finding = Finding.objects.get(kind=FindingKind.MISSING_BAA, vendor=world.ai)
    response = login(client, world.officer).post(reverse("compliance:finding_acknowledge", args=[finding.pk]), {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    finding.refresh_from_db()
    assert finding.acknowledged_at is None


def test_it_shows_a_viewer_no_acknowledgement_form_and_refuses_the_post(client, world):
    finding = Finding.objects.get(kind=FindingKind.MISSING_BAA, vendor=world.ai)
    login(client, world.viewer)
    html = client.get(reverse("compliance:finding_detail", args=[finding.pk])).content.decode()
    assert "<form" not in html.split('id="main"')[1].split("</main>")[0]
    response = client.post(reverse("compliance:finding_acknowledge", args=[finding.pk]), {"note": "x"})
    assert response.status_code == 403
    finding.refresh_from_db()
    assert finding.acknowledged_at is None


def test_it_includes_the_alerts_of_a_finding_when_the_alerts_app_provides_them(client, world, settings, tmp_path):
    finding = Finding.objects.get(kind=FindingKind.MISSING_BAA, vendor=world.ai)
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "_finding_alerts.html").write_text("<p>Alerts of finding {{ finding.pk }}</p>")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]},
    ]
    html = login(client, world.officer).get(reverse("compliance:finding_detail", args=[finding.pk])).content.decode()
    assert f"<p>Alerts of finding {finding.pk}</p>" in html


def test_it_renders_the_finding_page_without_the_alerts_template(client, world, monkeypatch):
    from compliance import views

    monkeypatch.setattr(views, "FINDING_ALERTS_TEMPLATE", "alerts/_no_such_template.html")
    finding = Finding.objects.get(kind=FindingKind.MISSING_BAA, vendor=world.ai)
    response = login(client, world.officer).get(reverse("compliance:finding_detail", args=[finding.pk]))
    assert response.status_code == 200 and response.context["show_finding_alerts"] is False


# --- Export ----------------------------------------------------------------------------------------------


def test_it_exports_the_filtered_findings_as_csv_and_logs_the_export(client, world):
    response = login(client, world.viewer).get(reverse("compliance:finding_export") + "?format=csv&severity=critical")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="findings-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Finding", "Severity", "Kind", "Status"]
    assert sorted(row[4] for row in rows[1:]) == ["Lakeside Cloud DICOM", "Lakeside Triage AI"]
    entry = AccessLogEntry.objects.get(action=AccessAction.EXPORT)
    assert entry.user == world.viewer and entry.organization == world.org
    assert "2 findings as CSV" in entry.description and "severity=critical" in entry.description


def test_it_exports_xlsx_with_no_formula(client, world):
    world.ai.legal_name = '=HYPERLINK("http://evil.example","click")'
    world.ai.save()
    run_compliance(organization_id=world.org.pk, as_of=today())
    response = login(client, world.officer).get(reverse("compliance:finding_export") + "?format=xlsx&kind=missing_baa")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Finding"
    vendors = {row[4] for row in values[1:]}
    assert '\'=HYPERLINK("http://evil.example","click")' in vendors
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_it_guides_a_new_organization_with_empty_states(client, db):
    officer = f.user(f.organization(name="Brand New Imaging"), role=Role.COMPLIANCE_OFFICER)
    login(client, officer)
    html = client.get(reverse("compliance:dashboard")).content.decode()
    assert "No facilities yet" in html and f'href="{reverse("facilities:create")}"' in html
    assert "No open findings" in html and "No vendor has PHI access yet." in html
    html = client.get(reverse("compliance:coverage")).content.decode()
    assert "No vendor with PHI access yet" in html
    html = client.get(reverse("compliance:finding_list")).content.decode()
    assert "No findings" in html
