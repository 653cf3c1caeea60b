"""The floor of the compliance run: every rule of compliance/rules.py as ONE hand-written SQL statement.

The benchmark compares the engine (ORM queries, Python explanations, reconciliation with the stored
findings) with this statement, which computes the same detections (kind, subject, organization, vendor,
facility, agreement, date) and nothing else: it is as fast as PostgreSQL can answer the question. It
is not used by the application: compliance/rules.py stays the one place that decides what a finding
is, and tests/scale/test_bench.py checks that both find exactly the same problems.

PostgreSQL only (make_interval, date arithmetic, window functions, LATERAL). It states the coverage
timeline of compliance/timeline.py in SQL (spans, dated facility coverage, PHI periods, gaps and
islands), as a second, independent formulation checked against the engine case by case.
"""

from __future__ import annotations

import datetime

from django.db import connection

from agreements.models import AgreementDocument, BusinessAssociateAgreement, FacilityCoverage
from checklists.models import COMPUTED_ITEM_NUMBERS, ChecklistItem, TeleradiologyChecklist
from compliance.models import BreachRiskAssessment
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
        "coverage": FacilityCoverage._meta.db_table,
        "assessment": BreachRiskAssessment._meta.db_table,
        "radiologist": Radiologist._meta.db_table,
        "license": StateLicense._meta.db_table,
        "assignment": ReadingAssignment._meta.db_table,
        "privilege": Privilege._meta.db_table,
        "proxy": ProxyCredentialingAgreement._meta.db_table,
    }


# Teleradiology readers (the "Teleradiology readers" section of compliance/rules.py).
_ON_ROSTER = "{r}.roster_starts_on <= %(as_of)s AND ({r}.roster_ends_on IS NULL OR {r}.roster_ends_on >= %(as_of)s)"
_PRACTISING = """{l}.status IN ('active', 'active_restricted') AND {l}.expires_on >= %(as_of)s
    AND ({l}.issued_on IS NULL OR {l}.issued_on <= %(as_of)s)"""
_PRIVILEGE_CURRENT = "{p}.granted_on <= %(as_of)s AND {p}.expires_on >= %(as_of)s"
_PROXY_IN_FORCE = """{a}.effective_on <= %(as_of)s AND ({a}.expires_on IS NULL OR {a}.expires_on >= %(as_of)s)
    AND ({a}.terminated_on IS NULL OR {a}.terminated_on > %(as_of)s) AND {a}.document <> ''
    AND ({a}.distant_site_kind = 'telemedicine_entity' OR {a}.medicare_participating)"""


# The coverage timeline of compliance/timeline.py, in SQL: agreement spans, facility coverage, PHI
# periods, covered islands and the gaps between them (gaps and islands with window functions).
_STATEMENT = """
WITH signed AS (
    SELECT a.*, GREATEST(a.executed_on, a.effective_on) AS starts_on
    FROM {baa} a
    WHERE a.status IN ('executed', 'expired', 'terminated', 'superseded')
      AND a.executed_on IS NOT NULL AND a.effective_on IS NOT NULL AND a.executed_on <= %(as_of)s
), spans0 AS (
    SELECT s.*, succ.id AS successor_id, succ.starts_on AS successor_starts_on,
        CASE WHEN s.expires_on IS NOT NULL AND (NOT s.auto_renews OR s.status = 'expired') THEN s.expires_on END
            AS expiry_end
    FROM signed s LEFT JOIN signed succ ON succ.supersedes_id = s.id
        AND (succ.terminated_on IS NULL OR succ.terminated_on > succ.starts_on)
), spans AS (
    SELECT x.*, LEAST(x.expiry_end, x.terminated_on - 1, x.successor_starts_on - 1) AS ends_on
    FROM spans0 x
), spans_r AS (
    SELECT x.*, CASE
        WHEN x.ends_on IS NULL THEN 'open'
        WHEN x.successor_starts_on - 1 = x.ends_on THEN 'superseded'
        WHEN x.expiry_end = x.ends_on THEN 'expires'
        ELSE 'terminated' END AS end_reason
    FROM spans x
), listed AS (
    SELECT cf.businessassociateagreement_id AS agreement_id, cf.facility_id,
        (SELECT fc.added_on FROM {coverage} fc WHERE fc.agreement_id = cf.businessassociateagreement_id
           AND fc.facility_id = cf.facility_id AND fc.removed_on IS NULL) AS added_on,
        NULL::date AS last_on
    FROM {covered} cf
), facility_periods AS (
    SELECT agreement_id, facility_id, added_on, last_on FROM listed
    WHERE added_on IS NULL OR added_on <= %(as_of)s
    UNION ALL
    SELECT fc.agreement_id, fc.facility_id, fc.added_on, fc.removed_on - 1
    FROM {coverage} fc
    WHERE fc.removed_on IS NOT NULL AND (fc.added_on IS NULL OR fc.added_on <= %(as_of)s)
), phi0 AS (
    SELECT e.id, e.vendor_id, e.facility_id, f.organization_id, e.phi_access_starts_on AS phi_start, e.status,
        e.ends_on, COALESCE(e.phi_access_starts_on, %(as_of)s) AS ps
    FROM {engagement} e JOIN {vendor} v ON v.id = e.vendor_id JOIN {facility} f ON f.id = e.facility_id
    WHERE {phi} AND (e.phi_access_starts_on IS NOT NULL OR e.status = 'active')
), cov0 AS (
    -- every coverage of an engagement's facility by a span of its organization and vendor
    SELECT p.id AS engagement_id, sp.id AS agreement_id, sp.starts_on AS span_starts_on, sp.executed_on,
        sp.successor_id, sp.end_reason, sp.starts_on AS first, sp.ends_on AS last, FALSE AS removed
    FROM phi0 p JOIN spans_r sp ON sp.vendor_id = p.vendor_id AND sp.organization_id = p.organization_id
    WHERE sp.covers_all_facilities
    UNION ALL
    SELECT p.id, sp.id, sp.starts_on, sp.executed_on, sp.successor_id, sp.end_reason,
        GREATEST(sp.starts_on, COALESCE(fp.added_on, sp.starts_on)), LEAST(sp.ends_on, fp.last_on),
        fp.last_on IS NOT NULL AND (sp.ends_on IS NULL OR fp.last_on < sp.ends_on)
    FROM phi0 p JOIN spans_r sp ON sp.vendor_id = p.vendor_id AND sp.organization_id = p.organization_id
    JOIN facility_periods fp ON fp.agreement_id = sp.id AND fp.facility_id = p.facility_id
    WHERE NOT sp.covers_all_facilities
), cov AS (
    SELECT * FROM cov0 WHERE last IS NULL OR first <= last
), offboarded_end AS (
    -- an offboarded engagement without an end date ends with its last coverage (compliance.timeline)
    SELECT p.id, COUNT(c.engagement_id) AS n, COUNT(c.last) AS n_last, MAX(c.last) AS max_last
    FROM phi0 p LEFT JOIN cov c ON c.engagement_id = p.id AND c.first <= %(as_of)s::date - 1
        AND (c.last IS NULL OR c.last >= p.ps)
    WHERE p.ends_on IS NULL AND p.status = 'offboarded'
    GROUP BY p.id
), phi1 AS (
    SELECT p.*, CASE
        WHEN p.ends_on IS NOT NULL OR p.status <> 'offboarded' THEN p.ends_on
        WHEN o.n > 0 AND o.n = o.n_last THEN LEAST(%(as_of)s::date - 1, o.max_last)
        ELSE %(as_of)s::date - 1
        END AS pe
    FROM phi0 p LEFT JOIN offboarded_end o ON o.id = p.id
), phi AS (
    SELECT * FROM phi1 WHERE pe IS NULL OR pe >= ps
), ci AS (
    SELECT c.engagement_id, GREATEST(c.first, p.ps) AS first, COALESCE(LEAST(c.last, p.pe), 'infinity') AS last
    FROM cov c JOIN phi p ON p.id = c.engagement_id
    WHERE (p.pe IS NULL OR c.first <= p.pe) AND (c.last IS NULL OR c.last >= p.ps)
), ordered AS (
    SELECT ci.*, MAX(ci.last) OVER (PARTITION BY ci.engagement_id ORDER BY ci.first, ci.last
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_max
    FROM ci
), bounds AS (
    SELECT engagement_id, MIN(first) AS first_covered, MAX(last) AS last_covered FROM ci GROUP BY engagement_id
), gaps AS (
    SELECT o.engagement_id, o.prev_max + 1 AS gs, o.first - 1 AS ge, FALSE AS leading
    FROM ordered o WHERE o.prev_max IS NOT NULL AND o.prev_max <> 'infinity' AND o.first > o.prev_max + 1
    UNION ALL
    SELECT p.id, p.ps, CASE WHEN b.engagement_id IS NULL THEN p.pe ELSE b.first_covered - 1 END, TRUE
    FROM phi p LEFT JOIN bounds b ON b.engagement_id = p.id
    WHERE b.engagement_id IS NULL OR b.first_covered > p.ps
    UNION ALL
    SELECT p.id, b.last_covered + 1, p.pe, FALSE
    FROM phi p JOIN bounds b ON b.engagement_id = p.id
    WHERE b.last_covered <> 'infinity' AND (p.pe IS NULL OR b.last_covered < p.pe)
), gaps_r AS (
    SELECT DISTINCT ON (g.engagement_id, g.gs) g.*, prev.agreement_id AS previous_id, prev.removed,
        prev.end_reason, prev.successor_id
    FROM gaps g LEFT JOIN cov prev
        ON NOT g.leading AND prev.engagement_id = g.engagement_id AND prev.last = g.gs - 1
    ORDER BY g.engagement_id, g.gs, prev.agreement_id DESC
), assessed AS (
    SELECT r.engagement_id, r.period_starts_on, r.period_ends_on FROM {assessment} r
    WHERE r.assessed_on <= %(as_of)s
), phi_before AS (
    -- the first PHI day uncovered, and the coverage after it from a BAA executed after PHI started
    SELECT * FROM (
        SELECT DISTINCT ON (p.id) p.id, p.organization_id, p.vendor_id, p.facility_id, p.phi_start, g.gs, g.ge,
            c.executed_on AS next_executed_on
        FROM phi p JOIN gaps_r g ON g.engagement_id = p.id AND g.leading
        JOIN cov c ON c.engagement_id = p.id AND c.first <= g.ge + 1 AND (c.last IS NULL OR c.last >= g.ge + 1)
        WHERE p.phi_start IS NOT NULL AND p.phi_start <= %(as_of)s AND g.ge IS NOT NULL
          AND (p.pe IS NULL OR g.ge < p.pe)
        ORDER BY p.id, c.last IS NULL DESC, c.last DESC, c.span_starts_on DESC, c.agreement_id DESC
    ) best
    WHERE best.next_executed_on > best.phi_start
), current_gap AS (
    SELECT p.*, g.previous_id FROM phi p JOIN gaps_r g ON g.engagement_id = p.id
    WHERE g.gs <= %(as_of)s AND (g.ge IS NULL OR g.ge >= %(as_of)s)
), covered_now AS (
    SELECT p.* FROM phi p
    WHERE p.ps <= %(as_of)s AND (p.pe IS NULL OR p.pe >= %(as_of)s)
      AND EXISTS (SELECT 1 FROM ci WHERE ci.engagement_id = p.id AND ci.first <= %(as_of)s
                  AND ci.last >= %(as_of)s)
), ahead AS (
    SELECT DISTINCT ON (p.id) p.id, p.organization_id, p.vendor_id, p.facility_id, g.gs, g.previous_id,
        g.removed, g.successor_id
    FROM covered_now p JOIN gaps_r g ON g.engagement_id = p.id AND g.gs > %(as_of)s
    ORDER BY p.id, g.gs
), in_force AS (
    SELECT * FROM spans_r WHERE starts_on <= %(as_of)s AND (ends_on IS NULL OR ends_on >= %(as_of)s)
), expiring AS (
    SELECT a.id, a.organization_id, a.vendor_id, a.auto_renews, a.renewal_term_months, a.renewal_notice_days,
        a.expires_on, a.ends_on, a.end_reason,
        (EXTRACT(YEAR FROM %(as_of)s)::int - EXTRACT(YEAR FROM a.expires_on)::int) * 12
            + EXTRACT(MONTH FROM %(as_of)s)::int - EXTRACT(MONTH FROM a.expires_on)::int AS month_gap
    FROM in_force a
    WHERE a.successor_id IS NULL AND a.expires_on IS NOT NULL
      AND ((a.end_reason = 'open' AND a.auto_renews) OR (a.end_reason = 'expires' AND a.ends_on <= %(horizon_end)s))
), expiring_due AS (
    -- agreements.services.renewal_date: an auto-renewing BAA past its date rolls forward by whole terms
    -- until it is no longer in the past; its due date is the notice deadline before that.
    SELECT x.id, x.organization_id, x.vendor_id, CASE
        WHEN x.end_reason = 'expires' THEN x.ends_on
        WHEN x.expires_on >= %(as_of)s THEN x.expires_on - COALESCE(x.renewal_notice_days, 0)
        ELSE (x.expires_on + make_interval(months => x.renewal_term_months * GREATEST(1, CEIL(
                (x.month_gap + CASE WHEN (x.expires_on + make_interval(months => x.month_gap))::date >= %(as_of)s
                                    THEN 0 ELSE 1 END)::numeric / x.renewal_term_months)::int)))::date
            - COALESCE(x.renewal_notice_days, 0)
        END AS due_on
    FROM expiring x
), not_ended AS (
    SELECT * FROM spans_r WHERE ends_on IS NULL OR ends_on >= %(as_of)s
), telerad AS (
    SELECT e.id, e.vendor_id, e.facility_id, f.organization_id
    FROM {engagement} e JOIN {vendor} v ON v.id = e.vendor_id JOIN {facility} f ON f.id = e.facility_id
    WHERE v.category = 'teleradiology' AND e.status <> 'offboarded' AND (e.ends_on IS NULL OR e.ends_on >= %(as_of)s)
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
FROM current_gap WHERE previous_id IS NULL
UNION ALL
SELECT 'baa_lapsed', 'engagement:' || id, organization_id, vendor_id, facility_id, previous_id, NULL
FROM current_gap WHERE previous_id IS NOT NULL
UNION ALL
SELECT 'baa_expiring', 'agreement:' || id, organization_id, vendor_id, NULL, id, due_on
FROM expiring_due WHERE due_on BETWEEN %(as_of)s AND %(horizon_end)s
UNION ALL
SELECT 'baa_terminating', 'agreement:' || id, organization_id, vendor_id, NULL, id, terminated_on
FROM in_force WHERE end_reason = 'terminated'
UNION ALL
SELECT 'coverage_gap_ahead', 'engagement:' || id, organization_id, vendor_id, facility_id, previous_id, gs
FROM ahead WHERE gs <= %(horizon_end)s AND previous_id IS NOT NULL AND (removed OR successor_id IS NOT NULL)
UNION ALL
SELECT 'phi_before_baa', 'engagement:' || b.id, b.organization_id, b.vendor_id, b.facility_id, NULL, b.phi_start
FROM phi_before b
WHERE NOT (b.ge < %(as_of)s AND EXISTS (SELECT 1 FROM assessed r WHERE r.engagement_id = b.id
                                        AND r.period_starts_on <= b.gs AND r.period_ends_on >= b.ge))
UNION ALL
SELECT 'phi_without_baa', 'engagement:' || p.id || ':' || to_char(g.gs, 'YYYY-MM-DD'), p.organization_id,
    p.vendor_id, p.facility_id, NULL, g.gs
FROM phi p JOIN gaps_r g ON g.engagement_id = p.id LEFT JOIN phi_before b ON b.id = p.id
WHERE g.ge IS NOT NULL AND g.ge < %(as_of)s
  AND NOT (g.leading AND b.id IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM assessed r WHERE r.engagement_id = p.id
                  AND r.period_starts_on <= g.gs AND r.period_ends_on >= g.ge)
UNION ALL
SELECT 'no_signed_document', 'agreement:' || a.id, a.organization_id, a.vendor_id, NULL, a.id, NULL
FROM not_ended a
WHERE NOT EXISTS (SELECT 1 FROM {document} d WHERE d.agreement_id = a.id AND d.kind = 'signed'
                  AND NOT EXISTS (SELECT 1 FROM {doc_reading} rd WHERE rd.document_id = d.id AND rd.safety = 'refused'))
UNION ALL
SELECT 'breach_window_too_long', 'agreement:' || a.id, a.organization_id, a.vendor_id, NULL, a.id, NULL
FROM not_ended a WHERE a.breach_notification_days > %(max_breach_days)s
UNION ALL
SELECT 'pre_omnibus_baa', 'agreement:' || a.id, a.organization_id, a.vendor_id, NULL, a.id, NULL
FROM not_ended a
WHERE a.executed_on < %(omnibus)s
  AND (a.amended_on IS NULL OR a.amended_on < %(omnibus)s OR a.amended_on > %(as_of)s)
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
WHERE l.touches_phi AND NOT sub.is_conduit
  AND (l.phi_access_starts_on IS NULL OR l.phi_access_starts_on <= %(as_of)s)
  AND NOT (l.downstream_baa_attested_on IS NOT NULL AND l.downstream_baa_attested_on <= %(as_of)s
           AND (l.downstream_baa_executed_on IS NULL OR l.downstream_baa_executed_on <= %(as_of)s))
UNION ALL
SELECT 'baa_lacks_provision', 'agreement:' || a.id, a.organization_id, a.vendor_id, NULL, a.id, NULL
FROM not_ended a
WHERE EXISTS (SELECT 1 FROM {review} r WHERE r.agreement_id = a.id
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

_PHI = "(e.phi_creates OR e.phi_receives OR e.phi_maintains OR e.phi_transmits) AND NOT v.is_conduit"


def floor_statement() -> str:
    fragments = {
        "phi": _PHI,
        "on_roster_r": _ON_ROSTER.format(r="r"),
        "practising_l": _PRACTISING.format(l="l"),
        "privilege_current_p": _PRIVILEGE_CURRENT.format(p="p"),
        "proxy_in_force_a": _PROXY_IN_FORCE.format(a="a"),
    }
    return _STATEMENT.format(**_tables(), **fragments)


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
