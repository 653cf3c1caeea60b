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
from checklists.models import ChecklistItem, TeleradiologyChecklist
from compliance.rules import MANUAL_CHECKLIST_ITEMS, MAX_BREACH_NOTIFICATION_DAYS, OMNIBUS_COMPLIANCE_DATE
from documents.models import DocumentReading, ProvisionReview
from facilities.models import Facility
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
        "reading": DocumentReading._meta.db_table,
        "review": ProvisionReview._meta.db_table,
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
                  AND NOT EXISTS (SELECT 1 FROM {reading} rd WHERE rd.document_id = d.id AND rd.safety = 'refused'))
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
       WHERE c.engagement_id = t.id AND i.number <> 1
         AND i.status IN ('complete', 'not_applicable', 'computed')) < %(manual_items)s
UNION ALL
SELECT 'checklist_review_overdue', 'engagement:' || t.id, t.organization_id, t.vendor_id, t.facility_id, NULL,
    MIN(i.next_review_on)
FROM telerad t JOIN {checklist} c ON c.engagement_id = t.id JOIN {item} i ON i.checklist_id = c.id
WHERE i.next_review_on < %(as_of)s
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
"""


def floor_statement() -> str:
    tables = _tables()
    fragments = {
        "covers_a_e": _COVERS.format(a="a", e="e", **tables),
        "signed_a": _SIGNED.format(a="a"),
        "in_force_a": _IN_FORCE.format(a="a", **tables),
        "executed_not_lapsed": _EXECUTED_NOT_LAPSED,
        "phi": _PHI,
    }
    return _STATEMENT.format(**tables, **fragments)


def floor_detections(as_of: datetime.date, horizon_days: int) -> list[tuple]:
    """(kind, subject_key, organization_id, vendor_id, facility_id, agreement_id, due_on) of every
    problem, over the whole database, in one statement."""
    params = {
        "as_of": as_of,
        "horizon_end": as_of + datetime.timedelta(days=horizon_days),
        "omnibus": OMNIBUS_COMPLIANCE_DATE,
        "max_breach_days": MAX_BREACH_NOTIFICATION_DAYS,
        "manual_items": MANUAL_CHECKLIST_ITEMS,
    }
    with connection.cursor() as cursor:
        cursor.execute(floor_statement(), params)
        return cursor.fetchall()
