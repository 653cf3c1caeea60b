"""The floor of the compliance run: every rule of compliance/rules.py as ONE hand-written SQL statement.

The benchmark compares the engine (ORM queries, Python explanations, reconciliation with the stored
findings) with this statement, which computes the same detections (kind, subject, organization, vendor,
facility, agreement, date) and nothing else: it is as fast as PostgreSQL can answer the question. It
is not used by the application: compliance/rules.py stays the one place that decides what a finding
is, and tests/scale/test_bench.py checks that both find exactly the same problems.

PostgreSQL only (make_interval, date arithmetic).
"""

from __future__ import annotations

import datetime

from django.db import connection

from agreements.models import AgreementDocument, BusinessAssociateAgreement
from checklists.models import COMPUTED_ITEM_NUMBERS, ChecklistItem, TeleradiologyChecklist
from compliance.rules import MANUAL_CHECKLIST_ITEMS, MAX_BREACH_NOTIFICATION_DAYS, OMNIBUS_COMPLIANCE_DATE
from documents.models import DocumentReading, ProvisionReview
from facilities.models import Facility
from readers.models import Privilege, ProxyCredentialingAgreement, Radiologist, ReadingAssignment, StateLicense
from vendors.models import Engagement, SubcontractorLink, Vendor


def _tables() -> dict[str, str]:
    through = BusinessAssociateAgreement.covered_facilities.through
    return {
        "engagement": Engagement._meta.db_table,
        "vendor": Vendor._meta.db_table,
        "facility": Facility._meta.db_table,
        "baa": BusinessAssociateAgreement._meta.db_table,
        "covered": through._meta.db_table,
        "document": AgreementDocument._meta.db_table,
        "checklist": TeleradiologyChecklist._meta.db_table,
        "item": ChecklistItem._meta.db_table,
        "link": SubcontractorLink._meta.db_table,
        "doc_reading": DocumentReading._meta.db_table,
        "review": ProvisionReview._meta.db_table,
        "radiologist": Radiologist._meta.db_table,
        "license": StateLicense._meta.db_table,
        "assignment": ReadingAssignment._meta.db_table,
        "privilege": Privilege._meta.db_table,
        "proxy": ProxyCredentialingAgreement._meta.db_table,
    }


# "{a} covers the engagement {e}": same vendor, and all facilities or this one listed.
_COVERS = """({a}.vendor_id = {e}.vendor_id AND ({a}.covers_all_facilities OR EXISTS (
    SELECT 1 FROM {covered} cf
    WHERE cf.businessassociateagreement_id = {a}.id AND cf.facility_id = {e}.facility_id)))"""

_SIGNED = "{a}.status IN ('executed', 'expired', 'terminated', 'superseded') AND {a}.executed_on IS NOT NULL"

_IN_FORCE = """({a}.status = 'executed' OR ({a}.status = 'superseded' AND EXISTS (
        SELECT 1 FROM {baa} s WHERE s.supersedes_id = {a}.id AND s.effective_on > %(as_of)s)))
    AND {a}.effective_on <= %(as_of)s
    AND ({a}.expires_on IS NULL OR {a}.expires_on >= %(as_of)s OR {a}.auto_renews)"""

_EXECUTED_NOT_LAPSED = "a.status = 'executed' AND (a.expires_on IS NULL OR a.expires_on >= %(as_of)s OR a.auto_renews)"

# Teleradiology readers (the "Teleradiology readers" section of compliance/rules.py).
_ON_ROSTER = "{r}.roster_starts_on <= %(as_of)s AND ({r}.roster_ends_on IS NULL OR {r}.roster_ends_on >= %(as_of)s)"
_PRACTISING = """{l}.status IN ('active', 'active_restricted') AND {l}.expires_on >= %(as_of)s
    AND ({l}.issued_on IS NULL OR {l}.issued_on <= %(as_of)s)"""
_PRIVILEGE_CURRENT = "{p}.granted_on <= %(as_of)s AND {p}.expires_on >= %(as_of)s"
_PROXY_IN_FORCE = """{a}.effective_on <= %(as_of)s AND ({a}.expires_on IS NULL OR {a}.expires_on >= %(as_of)s)
    AND ({a}.terminated_on IS NULL OR {a}.terminated_on > %(as_of)s) AND {a}.document <> ''
    AND ({a}.distant_site_kind = 'telemedicine_entity' OR {a}.medicare_participating)"""

_PHI = "(e.phi_creates OR e.phi_receives OR e.phi_maintains OR e.phi_transmits) AND NOT v.is_conduit"

_STATEMENT = """
WITH phi AS (
    SELECT e.id, e.vendor_id, e.facility_id, f.organization_id
    FROM {engagement} e JOIN {vendor} v ON v.id = e.vendor_id JOIN {facility} f ON f.id = e.facility_id
    WHERE {phi}
      AND (e.status = 'active' OR (e.status = 'planned' AND e.phi_access_starts_on <= %(as_of)s))
      AND (e.ends_on IS NULL OR e.ends_on >= %(as_of)s)
), uncovered AS (
    SELECT e.*, (
        SELECT a.id FROM {baa} a
        WHERE {signed_a} AND a.effective_on <= %(as_of)s AND {covers_a_e}
        ORDER BY a.effective_on DESC, a.id DESC LIMIT 1
    ) AS lapsed_agreement_id
    FROM phi e
    WHERE NOT EXISTS (SELECT 1 FROM {baa} a WHERE {in_force_a} AND {covers_a_e})
), expiring AS (
    SELECT a.id, a.organization_id, a.vendor_id, a.auto_renews, a.renewal_term_months, a.renewal_notice_days,
        a.expires_on, (EXTRACT(YEAR FROM %(as_of)s)::int - EXTRACT(YEAR FROM a.expires_on)::int) * 12
            + EXTRACT(MONTH FROM %(as_of)s)::int - EXTRACT(MONTH FROM a.expires_on)::int AS month_gap
    FROM {baa} a
    WHERE {in_force_a} AND a.expires_on IS NOT NULL
      AND (a.expires_on <= %(horizon_end)s OR a.auto_renews)
      AND NOT EXISTS (SELECT 1 FROM {baa} s WHERE s.supersedes_id = a.id AND s.status = 'executed')
), expiring_due AS (
    -- agreements.services.renewal_date: an auto-renewing BAA past its date rolls forward by whole terms
    -- until it is no longer in the past; its due date is the notice deadline before that.
    SELECT x.id, x.organization_id, x.vendor_id, CASE
        WHEN NOT x.auto_renews THEN x.expires_on
        WHEN x.expires_on >= %(as_of)s THEN x.expires_on - COALESCE(x.renewal_notice_days, 0)
        ELSE (x.expires_on + make_interval(months => x.renewal_term_months * GREATEST(1, CEIL(
                (x.month_gap + CASE WHEN (x.expires_on + make_interval(months => x.month_gap))::date >= %(as_of)s
                                    THEN 0 ELSE 1 END)::numeric / x.renewal_term_months)::int)))::date
            - COALESCE(x.renewal_notice_days, 0)
        END AS due_on
    FROM expiring x
), telerad AS (
    SELECT e.id, e.vendor_id, e.facility_id, f.organization_id
    FROM {engagement} e JOIN {vendor} v ON v.id = e.vendor_id JOIN {facility} f ON f.id = e.facility_id
    WHERE v.category = 'teleradiology' AND e.status <> 'offboarded'
), reading AS (
    SELECT ra.id, ra.radiologist_id, ra.engagement_id, e.vendor_id, e.facility_id, f.organization_id, f.state
    FROM {assignment} ra JOIN {radiologist} r ON r.id = ra.radiologist_id
        JOIN {engagement} e ON e.id = ra.engagement_id JOIN {vendor} v ON v.id = e.vendor_id
        JOIN {facility} f ON f.id = e.facility_id
    WHERE ra.starts_on <= %(as_of)s AND (ra.ends_on IS NULL OR ra.ends_on >= %(as_of)s) AND {on_roster_r}
      AND v.category = 'teleradiology' AND e.status <> 'offboarded'
      AND (e.ends_on IS NULL OR e.ends_on >= %(as_of)s)
)
SELECT 'missing_baa', 'engagement:' || id, organization_id, vendor_id, facility_id, NULL::bigint, NULL::date
FROM uncovered WHERE lapsed_agreement_id IS NULL
UNION ALL
SELECT 'baa_lapsed', 'engagement:' || id, organization_id, vendor_id, facility_id, lapsed_agreement_id, NULL
FROM uncovered WHERE lapsed_agreement_id IS NOT NULL
UNION ALL
SELECT 'baa_expiring', 'agreement:' || id, organization_id, vendor_id, NULL, id, due_on
FROM expiring_due WHERE due_on BETWEEN %(as_of)s AND %(horizon_end)s
UNION ALL
SELECT 'phi_before_baa', 'engagement:' || e.id, f.organization_id, e.vendor_id, e.facility_id, NULL,
    e.phi_access_starts_on
FROM {engagement} e JOIN {vendor} v ON v.id = e.vendor_id JOIN {facility} f ON f.id = e.facility_id
WHERE {phi} AND e.phi_access_starts_on <= %(as_of)s
  AND EXISTS (SELECT 1 FROM {baa} a WHERE {signed_a} AND {covers_a_e} AND a.executed_on > e.phi_access_starts_on)
  AND NOT EXISTS (
      SELECT 1 FROM {baa} a WHERE {signed_a} AND {covers_a_e} AND a.executed_on <= e.phi_access_starts_on
        AND (a.expires_on IS NULL OR a.expires_on >= e.phi_access_starts_on
             OR (a.auto_renews AND a.status IN ('executed', 'superseded')))
        AND (a.terminated_on IS NULL OR a.terminated_on > e.phi_access_starts_on))
UNION ALL
SELECT 'no_signed_document', 'agreement:' || a.id, a.organization_id, a.vendor_id, NULL, a.id, NULL
FROM {baa} a
WHERE {executed_not_lapsed}
  AND NOT EXISTS (SELECT 1 FROM {document} d WHERE d.agreement_id = a.id AND d.kind = 'signed'
                  AND NOT EXISTS (SELECT 1 FROM {doc_reading} rd WHERE rd.document_id = d.id AND rd.safety = 'refused'))
UNION ALL
SELECT 'breach_window_too_long', 'agreement:' || a.id, a.organization_id, a.vendor_id, NULL, a.id, NULL
FROM {baa} a WHERE {executed_not_lapsed} AND a.breach_notification_days > %(max_breach_days)s
UNION ALL
SELECT 'pre_omnibus_baa', 'agreement:' || a.id, a.organization_id, a.vendor_id, NULL, a.id, NULL
FROM {baa} a
WHERE {executed_not_lapsed} AND a.executed_on < %(omnibus)s
  AND (a.amended_on IS NULL OR a.amended_on < %(omnibus)s)
UNION ALL
SELECT 'checklist_incomplete', 'engagement:' || t.id, t.organization_id, t.vendor_id, t.facility_id, NULL, NULL
FROM telerad t
WHERE (SELECT COUNT(*) FROM {checklist} c JOIN {item} i ON i.checklist_id = c.id
       WHERE c.engagement_id = t.id AND NOT (i.number = ANY(%(computed_items)s))
         AND i.status IN ('complete', 'not_applicable', 'computed')) < %(manual_items)s
   OR NOT EXISTS (SELECT 1 FROM reading ra WHERE ra.engagement_id = t.id)
UNION ALL
SELECT 'checklist_review_overdue', 'engagement:' || t.id, t.organization_id, t.vendor_id, t.facility_id, NULL,
    MIN(i.next_review_on)
FROM telerad t JOIN {checklist} c ON c.engagement_id = t.id JOIN {item} i ON i.checklist_id = c.id
WHERE i.next_review_on < %(as_of)s AND NOT (i.number = ANY(%(computed_items)s))
GROUP BY t.id, t.organization_id, t.vendor_id, t.facility_id
UNION ALL
SELECT 'subcontractor_gap', 'subcontractor_link:' || l.id, v.organization_id, l.vendor_id, NULL, NULL, NULL
FROM {link} l JOIN {vendor} v ON v.id = l.vendor_id JOIN {vendor} sub ON sub.id = l.subcontractor_id
WHERE l.touches_phi AND l.downstream_baa_attested_on IS NULL AND NOT sub.is_conduit
UNION ALL
SELECT 'baa_lacks_provision', 'agreement:' || a.id, a.organization_id, a.vendor_id, NULL, a.id, NULL
FROM {baa} a
WHERE {executed_not_lapsed}
  AND EXISTS (SELECT 1 FROM {review} r WHERE r.agreement_id = a.id
              AND (r.officer_verdict = 'missing' OR (r.officer_verdict = '' AND NOT r.detected)))
UNION ALL
SELECT 'reader_unlicensed', 'reading_assignment:' || ra.id, ra.organization_id, ra.vendor_id, ra.facility_id,
    NULL, NULL
FROM reading ra
WHERE NOT EXISTS (
    SELECT 1 FROM {license} l WHERE l.radiologist_id = ra.radiologist_id AND l.state = ra.state AND {practising_l})
UNION ALL
SELECT 'reader_license_expiring', 'state_license:' || l.id, v.organization_id, r.vendor_id, NULL, NULL, l.expires_on
FROM {license} l JOIN {radiologist} r ON r.id = l.radiologist_id JOIN {vendor} v ON v.id = r.vendor_id
WHERE {practising_l} AND l.expires_on <= %(horizon_end)s AND {on_roster_r}
  AND NOT EXISTS (
      SELECT 1 FROM {license} n WHERE n.radiologist_id = l.radiologist_id AND n.state = l.state
        AND n.status IN ('active', 'active_restricted') AND n.expires_on > l.expires_on)
UNION ALL
SELECT 'reader_board_expiring', 'board_certification:' || r.id, v.organization_id, r.vendor_id, NULL, NULL,
    r.board_certification_expires_on
FROM {radiologist} r JOIN {vendor} v ON v.id = r.vendor_id
WHERE {on_roster_r} AND r.board_certification_expires_on BETWEEN %(as_of)s AND %(horizon_end)s
UNION ALL
SELECT 'reader_privilege_expiring', 'privilege:' || p.id, f.organization_id, r.vendor_id, p.facility_id, NULL,
    p.expires_on
FROM {privilege} p JOIN {radiologist} r ON r.id = p.radiologist_id JOIN {facility} f ON f.id = p.facility_id
WHERE {privilege_current_p} AND p.expires_on <= %(horizon_end)s AND {on_roster_r}
  AND NOT EXISTS (
      SELECT 1 FROM {privilege} n WHERE n.radiologist_id = p.radiologist_id AND n.facility_id = p.facility_id
        AND n.expires_on > p.expires_on)
UNION ALL
SELECT 'reader_not_privileged', 'reading_assignment:' || ra.id, ra.organization_id, ra.vendor_id, ra.facility_id,
    NULL, NULL
FROM reading ra
WHERE NOT EXISTS (
    SELECT 1 FROM {privilege} p
    WHERE p.radiologist_id = ra.radiologist_id AND p.facility_id = ra.facility_id AND {privilege_current_p})
UNION ALL
SELECT 'reader_proxy_no_agreement', 'privilege:' || p.id, f.organization_id, r.vendor_id, p.facility_id, NULL, NULL
FROM {privilege} p JOIN {radiologist} r ON r.id = p.radiologist_id JOIN {facility} f ON f.id = p.facility_id
WHERE {privilege_current_p} AND p.basis = 'proxy' AND {on_roster_r}
  AND NOT EXISTS (
      SELECT 1 FROM {proxy} a WHERE a.facility_id = p.facility_id AND a.vendor_id = r.vendor_id AND {proxy_in_force_a})
UNION ALL
SELECT 'reader_license_not_reverified', 'state_license:' || l.id, v.organization_id, r.vendor_id, NULL, NULL,
    l.verified_on + %(reverify_days)s
FROM {license} l JOIN {radiologist} r ON r.id = l.radiologist_id JOIN {vendor} v ON v.id = r.vendor_id
WHERE {practising_l} AND {on_roster_r} AND (l.verified_on IS NULL OR l.verified_on < %(reverify_cutoff)s)
"""


def floor_statement() -> str:
    tables = _tables()
    fragments = {
        "covers_a_e": _COVERS.format(a="a", e="e", **tables),
        "signed_a": _SIGNED.format(a="a"),
        "in_force_a": _IN_FORCE.format(a="a", **tables),
        "executed_not_lapsed": _EXECUTED_NOT_LAPSED,
        "phi": _PHI,
        "on_roster_r": _ON_ROSTER.format(r="r"),
        "practising_l": _PRACTISING.format(l="l"),
        "privilege_current_p": _PRIVILEGE_CURRENT.format(p="p"),
        "proxy_in_force_a": _PROXY_IN_FORCE.format(a="a"),
    }
    return _STATEMENT.format(**tables, **fragments)


def floor_detections(as_of: datetime.date, horizon_days: int, license_reverify_days: int = 365) -> list[tuple]:
    """(kind, subject_key, organization_id, vendor_id, facility_id, agreement_id, due_on) of every
    problem, over the whole database, in one statement."""
    params = {
        "computed_items": list(COMPUTED_ITEM_NUMBERS),
        "reverify_days": license_reverify_days,
        "reverify_cutoff": as_of - datetime.timedelta(days=license_reverify_days),
        "as_of": as_of,
        "horizon_end": as_of + datetime.timedelta(days=horizon_days),
        "omnibus": OMNIBUS_COMPLIANCE_DATE,
        "max_breach_days": MAX_BREACH_NOTIFICATION_DAYS,
        "manual_items": MANUAL_CHECKLIST_ITEMS,
    }
    with connection.cursor() as cursor:
        cursor.execute(floor_statement(), params)
        return cursor.fetchall()
