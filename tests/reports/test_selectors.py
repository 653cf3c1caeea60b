from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements.models import AgreementStatus
from compliance.services import evaluate_compliance, run_compliance
from organizations.models import Role
from reports.selectors import report_data
from tests import factories as f
from vendors.models import Engagement, VendorCategory
from vendors.services import engagement_save

MAX_QUERIES = 30


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)  # no membership cached on the object


#: A report generated on f.TODAY about f.TODAY reads the stored findings.
GENERATED_TODAY = timezone.make_aware(datetime.datetime.combine(f.TODAY, datetime.time(12)))


def queries_for_report(world, facility, *, generated_at=GENERATED_TODAY):
    user = fresh(world.officer)
    with CaptureQueriesContext(connection) as captured:
        report_data(organization=world.org, facility=facility, as_of=f.TODAY, user=user, generated_at=generated_at)
    return len(captured)


def queries_of_the_rules(world) -> int:
    with CaptureQueriesContext(connection) as captured:
        evaluate_compliance(as_of=f.TODAY, organization_id=world.org.pk)
    return len(captured)


def add_vendors(world, count: int) -> None:
    for index in range(count):
        vendor = f.vendor(world.org, legal_name=f"Added PACS {index}")
        f.engagement(vendor, world.facility)
        f.agreement(vendor)
        f.subcontractor_link(vendor)
        telerad = f.vendor(world.org, legal_name=f"Added Reads {index}", category=VendorCategory.TELERADIOLOGY)
        engagement_save(
            engagement=Engagement(
                vendor=telerad,
                facility=world.facility,
                service_description="Reads",
                status="active",
                phi_receives=True,
                phi_access_starts_on=f.days(-10),
            )
        )
    run_compliance(organization_id=world.org.pk, as_of=f.TODAY)


def test_it_reads_the_report_data_in_a_number_of_queries_that_does_not_grow(world):
    before = queries_for_report(world, world.facility)
    add_vendors(world, 12)
    after = queries_for_report(world, world.facility)
    assert before == after
    assert after <= MAX_QUERIES


def test_it_reads_an_organization_wide_report_in_bounded_queries(world):
    before = queries_for_report(world, None)
    add_vendors(world, 6)
    assert queries_for_report(world, None) == before <= MAX_QUERIES


def test_it_reads_a_report_as_of_another_day_in_the_queries_of_the_rules_and_a_few_more(world):
    """A report as of a day other than the day it is generated evaluates the rules for that day (nothing
    stored is read as findings): the rules' fixed number of queries, plus the gate of the detections
    (facilities, agreements, subcontractor links, names), and no more as the inventory grows."""
    later = GENERATED_TODAY + datetime.timedelta(days=30)
    before = queries_for_report(world, world.facility, generated_at=later)
    add_vendors(world, 12)
    assert queries_for_report(world, world.facility, generated_at=later) == before
    assert before <= MAX_QUERIES + queries_of_the_rules(world)


def test_it_computes_coverage_with_the_rules_building_blocks(world):
    data = report_data(organization=world.org, facility=world.facility, as_of=f.TODAY, user=world.officer)
    rows = {row.vendor.legal_name: row for row in data.inventory}
    assert rows["Sectra PACS Services"].covered and rows["Sectra PACS Services"].signed_document is not None
    assert not rows["Aidoc Triage AI"].covered and rows["Aidoc Triage AI"].agreement is None
    assert rows["Ambra Cloud Storage"].agreement.status == AgreementStatus.EXPIRED
    assert data.summary.vendors_with_phi_access == 4
    assert data.summary.vendors_covered == 2
    assert data.summary.vendors_with_gaps == 2
    assert dict((value, count) for value, _, count in data.summary.findings_by_severity) == {
        "critical": 2,
        "high": 2,
        "medium": 1,
        "low": 0,
    }
    # Checklist item 1 comes from with_item_one_computed: the NightHawk BAA was executed before PHI access.
    item_one = data.checklists[0].items[0]
    assert item_one.number == 1 and item_one.done


def test_it_shows_a_limited_member_only_what_the_gate_lets_them_see(world):
    data = report_data(
        organization=world.org, facility=world.other_facility, as_of=f.TODAY, user=world.limited_to_other
    )
    assert [row.vendor.legal_name for row in data.inventory] == ["Riverside Only Billing"]
    assert [row.finding.vendor.legal_name for row in data.findings] == ["Riverside Only Billing"]
    # Asked for the facility they may not see, the gate gives them nothing.
    hidden = report_data(organization=world.org, facility=world.facility, as_of=f.TODAY, user=world.limited_to_other)
    assert hidden.inventory == [] and hidden.findings == []


def test_it_scopes_an_organization_wide_report_to_every_facility(world):
    data = report_data(organization=world.org, facility=None, as_of=f.TODAY, user=None)
    names = {row.vendor.legal_name for row in data.inventory}
    assert {"Riverside Only Billing", "Sectra PACS Services"} <= names


def test_it_follows_subcontractor_chains_below_the_first_level(world):
    aws = world.vendors["aws"]
    colo = f.vendor(world.org, legal_name="Colocation Inc", category=VendorCategory.CLOUD_HOSTING)
    f.subcontractor_link(aws, subcontractor=colo, downstream_baa_attested_on=f.days(-5))
    f.subcontractor_link(colo, subcontractor=aws)  # a cycle in the data is shown once, not forever
    data = report_data(organization=world.org, facility=world.facility, as_of=f.TODAY, user=world.officer)
    chain = [
        (row.depth, row.link.vendor.legal_name, row.link.subcontractor.legal_name, row.tone) for row in data.chains
    ]
    assert chain == [
        (0, "Sectra PACS Services", "Amazon Web Services", "gap"),
        (1, "Amazon Web Services", "Colocation Inc", "ok"),
    ]


def test_it_lists_the_changes_of_the_last_12_months_with_who_and_what(world):
    vendor = world.vendors["ai"]
    vendor.contact_name = "Dana Contact"
    vendor.save()
    baa = f.agreement(vendor, title="Aidoc BAA", status=AgreementStatus.DRAFT, signed_document=False)
    record = baa.history.latest()
    record.history_user = world.officer
    record.save()
    data = report_data(organization=world.org, facility=world.facility, as_of=f.TODAY, user=world.officer)
    changed = [c for c in data.changes if c.subject == "Vendor Aidoc Triage AI" and c.kind == "Changed"]
    assert changed and changed[0].details == ["contact name: none \u2192 Dana Contact"]
    created = [c for c in data.changes if "Aidoc BAA" in c.subject]
    assert created[0].kind == "Created" and created[0].who == "Olivia Officer"
    item = [c for c in data.changes if c.subject.startswith("Teleradiology checklist item 4")]
    assert item and any("Complete" in line for line in item[0].details)
    # Another facility's engagements are not this facility's history.
    assert not any("Riverside Only Billing" in c.subject for c in data.changes)


def test_it_lists_who_reads_at_the_facility_with_license_and_privileges(world):
    data = report_data(organization=world.org, facility=world.facility, as_of=f.TODAY, user=world.officer)
    (row,) = data.readers
    assert (row.radiologist_name, row.npi, row.vendor, row.state) == (
        "Grace Hopper",
        "1234567893",
        "NightHawk Reads",
        "TX",
    )
    assert row.license_number and row.license_expires_on == f.days(365)
    assert (row.privilege_basis, row.privileged_validly) == ("Credentialed directly by the facility", True)
    items = {item.number: item for item in data.checklists[0].items}
    assert (items[2].status, items[3].status) == ("Met", "Met")


def test_it_leaves_out_changes_older_than_12_months(world):
    engagement = world.vendors["ai"].engagements.get()
    long_ago = timezone.make_aware(datetime.datetime.combine(f.days(-400), datetime.time(12)))
    engagement.history.all().update(history_date=long_ago)
    data = report_data(organization=world.org, facility=world.facility, as_of=f.TODAY, user=world.officer)
    assert not any(c.subject.startswith("Engagement of Aidoc Triage AI") for c in data.changes)


def test_it_shows_auditors_the_same_report(world):
    auditor = f.user(world.org, role=Role.AUDITOR)
    data = report_data(organization=world.org, facility=world.facility, as_of=f.TODAY, user=auditor)
    assert len(data.inventory) == 4
