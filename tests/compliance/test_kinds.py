"""The finding-kind registry (compliance/kinds.py): a kind declared once, read by every consumer.

The made-up kind below exists only in this test: its rule and its declaration are registered here,
and it reaches the findings page, the dashboard, an alert email and the PDF report with no other
module naming it (asserted by reading the project's sources).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from alerts.emails import alert_item
from alerts.models import ALERT_KIND_OF_FINDING, Alert, AlertKind
from alerts.services import alerts_dispatch
from compliance import kinds
from compliance.models import Finding, FindingKind, Severity
from compliance.rules import RULES, Detection, RuleContext
from compliance.services import run_compliance
from reports.models import ReportStatus
from reports.services import audit_report_generate, audit_report_request
from tests import factories as f
from tests.reports.conftest import pypdf_text, squashed

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
MADE_UP = "unlogged_image_export"
LABEL = "Image export without an access log"
SUBJECT_WORDS = "Unlogged image export"


def _detect(ctx: RuleContext):
    """The made-up rule: an engagement described as exporting images without a log."""
    from vendors.models import Engagement

    rows = Engagement.objects.filter(service_description__startswith="Unlogged export").values(
        "pk", "vendor_id", "vendor__organization_id", "facility_id", "vendor__legal_name"
    )
    if ctx.organization_id is not None:
        rows = rows.filter(vendor__organization_id=ctx.organization_id)
    for row in rows:
        yield Detection(
            kind=MADE_UP,
            severity=Severity.HIGH,
            organization_id=row["vendor__organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["pk"],
            explanation=f"{row['vendor__legal_name']} exports images with no access log (45 CFR 164.312(b)).",
        )


def _wording(facts: kinds.AlertFacts) -> kinds.AlertWording:
    return kinds.AlertWording(
        subject=f"{SUBJECT_WORDS}: {facts.vendor} at {facts.facility}",
        title=SUBJECT_WORDS,
        summary=f"unlogged image export ({facts.threshold_label})",
        headline=f"{facts.vendor} exports images from {facts.facility} without an access log.",
        action="Turn on the export log (45 CFR 164.312(b)).",
        facilities=facts.facility,
    )


@pytest.fixture
def made_up_kind():
    spec = kinds.register(
        kinds.FindingKindSpec(
            value=MADE_UP,
            name="UNLOGGED_IMAGE_EXPORT",
            label=LABEL,
            citation="45 CFR 164.312(b)",
            severity=Severity.HIGH,
            severity_rule="Always high.",
            subject=kinds.Subject.ENGAGEMENT,
            fix_page=kinds.FixPage.VENDOR,
            fix_label="Turn on the export log",
            due_label="exporting since",
            alert_kind=AlertKind.MISSING_BAA,
            alert_wording=_wording,
            detect=_detect,
        )
    )
    yield spec
    kinds.unregister(MADE_UP)


def test_no_module_of_the_project_names_the_made_up_kind():
    """The claim of the test below: nothing outside this test knows the kind."""
    me = Path(__file__).resolve()
    sources = [
        path
        for pattern in ("*.py", "*.html", "*.txt")
        for path in ROOT.rglob(pattern)
        if not {"node_modules", ".venv", "var", "static", ".git"} & set(path.relative_to(ROOT).parts)
    ]
    assert len(sources) > 100
    for path in sources:
        if path.resolve() == me:
            continue
        text = path.read_text(errors="replace")
        assert MADE_UP not in text and LABEL not in text, path


def test_a_made_up_kind_reaches_pages_email_and_report_from_its_registration_alone(client, made_up_kind, settings):
    settings.SITE_URL = "https://baa.example.org"
    assert MADE_UP not in FindingKind.values and MADE_UP not in {rule.kind for rule in RULES}
    org = f.organization(name="Lakeside Imaging Network")
    facility = f.facility(org, name="Lakeside Imaging Center")
    vendor = f.vendor(org, legal_name="Exporting PACS Inc")
    f.engagement(vendor, facility, service_description="Unlogged export of studies")
    f.agreement(vendor)  # covered: the made-up kind is the only finding
    officer = f.user(org, email="officer@example.org")

    run_compliance(as_of=f.TODAY)
    run_compliance()  # and for the pages' today

    finding = Finding.objects.open().get()
    assert (finding.kind, finding.get_kind_display()) == (MADE_UP, LABEL)
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")

    page = client.get(reverse("compliance:finding_list")).content.decode()
    assert LABEL in page and "Turn on the export log" in page
    assert f'<option value="{MADE_UP}">{LABEL}</option>' in page  # the kind filter reads the registry
    assert LABEL in client.get(reverse("compliance:finding_list"), {"kind": MADE_UP}).content.decode()
    dashboard = client.get(reverse("compliance:dashboard")).content.decode()
    assert LABEL in dashboard
    detail = client.get(reverse("compliance:finding_detail", args=[finding.pk])).content.decode()
    assert LABEL in detail and "Turn on the export log" in detail

    assert ALERT_KIND_OF_FINDING[MADE_UP] == AlertKind.MISSING_BAA
    alerts_dispatch(as_of=f.TODAY, daily=True)
    alert = Alert.objects.get(finding=finding)
    message = next(m for m in mail.outbox if m.to == [officer.email])
    assert message.subject == (
        f"[Lakeside Imaging Network] {SUBJECT_WORDS}: Exporting PACS Inc at Lakeside Imaging Center"
    )
    html = message.alternatives[0][0]
    for text in (message.body, html):
        assert "Exporting PACS Inc exports images from Lakeside Imaging Center without an access log." in text
        assert "Turn on the export log (45 CFR 164.312(b))." in text
        assert "subcontractor" not in text.lower()  # never another kind's words
    assert "BAA Tracker, Lakeside Imaging Network: unlogged image export (first alert)" in message.body
    assert alert_item(alert, as_of=f.TODAY).title == SUBJECT_WORDS

    report = audit_report_request(requested_by=officer, facility=facility, as_of=f.TODAY)
    report = audit_report_generate(report_id=report.pk)
    assert report.status == ReportStatus.DONE, report.error
    with report.file.open("rb") as handle:
        text = squashed(pypdf_text(handle.read()))
    assert squashed(LABEL) in text
    assert squashed("45 CFR 164.312(b)") in text


def test_an_alert_of_a_kind_without_wording_fails_instead_of_borrowing_another_kinds(made_up_kind):
    """The old if/elif chain gave any unknown kind the subcontractor wording."""
    org = f.organization()
    vendor = f.vendor(org)
    engagement = f.engagement(vendor, f.facility(org), service_description="Unlogged export")
    f.agreement(vendor)
    run_compliance(as_of=f.TODAY)
    finding = Finding.objects.get(engagement=engagement)
    finding.kind = "kind_removed_from_the_code"
    officer = f.user(org)
    alert = Alert(finding=finding, kind=AlertKind.MISSING_BAA, threshold=0, recipient=officer)
    with pytest.raises(ValueError, match="declares no alert wording"):
        alert_item(alert, as_of=f.TODAY)
    assert kinds.get("kind_removed_from_the_code").label == "Kind removed from the code"


def test_it_refuses_a_second_declaration_and_an_alert_without_words():
    with pytest.raises(ValueError, match="already registered"):
        kinds.register(kinds.get(FindingKind.MISSING_BAA))
    with pytest.raises(ValueError, match="no wording"):
        kinds.FindingKindSpec(
            value="x",
            name="X",
            label="X",
            citation="",
            severity=Severity.LOW,
            severity_rule="",
            subject=kinds.Subject.AGREEMENT,
            fix_page=kinds.FixPage.AGREEMENT,
            alert_kind=AlertKind.MISSING_BAA,
        )


def test_every_built_in_kind_is_declared_once_with_its_rule_and_citation():
    assert [spec.value for spec in kinds.all_kinds()] == [rule.kind for rule in RULES]
    for spec in kinds.all_kinds():
        assert spec.label and spec.citation.startswith(("45 CFR", "42 CFR")) and spec.severity_rule
        assert FindingKind(spec.value).label == spec.label
        if spec.alert_kind:
            assert spec.alert_kind in AlertKind.values
