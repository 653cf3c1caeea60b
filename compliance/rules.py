"""The compliance rules: the one place that decides what is a finding.

Each rule is a small function that runs ONE set-based query over the whole inventory (or one
organization) and returns what it detected; nothing here queries per row, so the number of
queries does not grow with the data. Pages, alerts and reports consume the findings these rules
produce (see compliance.services.run_compliance) or the building blocks below (coverage); none of
them re-implements a rule.

Citations are to 45 CFR (HIPAA). See shared/domain/hipaa-baa.md.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat

from agreements.models import (
    SIGNED_STATUSES,
    AgreementDocument,
    AgreementStatus,
    BusinessAssociateAgreement,
    DocumentKind,
)
from agreements.services import renewal_date, renewal_notice_deadline
from checklists.models import (
    COMPUTED_ITEM_NUMBERS,
    DONE_STATUSES,
    READER_ITEM_NUMBERS,
    TELERADIOLOGY_ITEMS,
    ChecklistItem,
)
from compliance import kinds
from compliance.models import FindingKind, Severity
from documents.models import OfficerVerdict, ProvisionReview, Safety
from documents.provisions import PROVISIONS
from facilities.models import USState
from readers.models import (
    PRACTISING_STATUSES,
    DistantSiteKind,
    Privilege,
    PrivilegeBasis,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
)
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, VendorCategory

#: 45 CFR 164.532(e): BAAs signed before this date had to be updated for the 2013 Omnibus rule.
OMNIBUS_COMPLIANCE_DATE = datetime.date(2013, 9, 23)
#: 45 CFR 164.410(b): a business associate reports a breach no later than 60 calendar days after discovery.
MAX_BREACH_NOTIFICATION_DAYS = 60
#: An expiring agreement is urgent (high severity) this close to its date.
URGENT_WITHIN_DAYS = 30
#: Manual items of the teleradiology checklist (items 1 to 3 are computed from the agreements and the
#: readers' records).
MANUAL_CHECKLIST_ITEMS = len(TELERADIOLOGY_ITEMS) - len(COMPUTED_ITEM_NUMBERS)


@dataclass(frozen=True)
class RuleContext:
    as_of: datetime.date
    horizon_days: int
    organization_id: int | None = None
    #: Teleradiology readers: a state license last verified longer ago than this is a finding.
    license_reverify_days: int = 365
    #: What the rules of one detect_all run share (rules 1 and 2 read the same uncovered engagements),
    #: so that it is queried once per run. detect_all gives each run a fresh one; None (a rule called
    #: on its own) shares nothing, so a context kept by a caller never serves stale rows.
    shared: dict | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def horizon_end(self) -> datetime.date:
        return self.as_of + datetime.timedelta(days=self.horizon_days)


@dataclass(frozen=True)
class Detection:
    """One problem detected by a rule, before it is matched with the stored findings."""

    kind: str
    severity: str
    organization_id: int
    vendor_id: int
    explanation: str
    engagement_id: int | None = None
    agreement_id: int | None = None
    subcontractor_link_id: int | None = None
    facility_id: int | None = None
    due_on: datetime.date | None = None
    #: Teleradiology readers: the radiologist concerned, and the subject when it is not one of the
    #: above (e.g. "state_license:12"), see the "Teleradiology readers" section.
    radiologist_id: int | None = None
    subject: str | None = None

    @property
    def subject_key(self) -> str:
        if self.subject is not None:
            return self.subject
        if self.engagement_id is not None:
            return f"engagement:{self.engagement_id}"
        if self.agreement_id is not None:
            return f"agreement:{self.agreement_id}"
        return f"subcontractor_link:{self.subcontractor_link_id}"


# --- Building blocks, shared by the rules and by the pages that show coverage -------------------


def phi_access_q() -> Q:
    """Any of the four verbs of 45 CFR 160.103 (creates, receives, maintains, transmits)."""
    return Q(phi_creates=True) | Q(phi_receives=True) | Q(phi_maintains=True) | Q(phi_transmits=True)


def engagements_with_phi_access(as_of: datetime.date) -> QuerySet[Engagement]:
    """Engagements where a business associate touches PHI on ``as_of``.

    Active, or planned with its PHI start date reached; not ended; the vendor is not a mere
    conduit (a conduit only transports data and is not a business associate).
    """
    return (
        Engagement.objects.filter(phi_access_q(), vendor__is_conduit=False)
        .filter(
            Q(status=EngagementStatus.ACTIVE)
            | Q(status=EngagementStatus.PLANNED, phi_access_starts_on__isnull=False, phi_access_starts_on__lte=as_of)
        )
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=as_of))
    )


def not_lapsed_q(as_of: datetime.date) -> Q:
    """Not past its expiry on ``as_of``: evergreen (no expiry date), expiring on or after ``as_of``, or
    auto-renewing (it renews at its date unless notice is given; the nightly job only records the new
    date, and the rules must not depend on that job having run)."""
    return Q(expires_on__isnull=True) | Q(expires_on__gte=as_of) | Q(auto_renews=True)


def agreements_in_force(as_of: datetime.date) -> QuerySet[BusinessAssociateAgreement]:
    """Executed, effective on or before ``as_of``, not expired (evergreen when no expiry date).

    A superseded agreement stays in force until its successor takes effect: executing a renewal
    in advance (effective the day after the old one expires) must not leave the vendor without a
    BAA in between. Terminated and expired agreements are not in force.
    """
    current = Q(status=AgreementStatus.EXECUTED) | Q(
        status=AgreementStatus.SUPERSEDED, superseded_by__effective_on__gt=as_of
    )
    return BusinessAssociateAgreement.objects.filter(current, effective_on__lte=as_of).filter(not_lapsed_q(as_of))


def agreements_signed() -> QuerySet[BusinessAssociateAgreement]:
    """Agreements that were executed at some point, whatever became of them since."""
    return BusinessAssociateAgreement.objects.filter(status__in=SIGNED_STATUSES, executed_on__isnull=False)


def covering(
    agreements: QuerySet[BusinessAssociateAgreement], *, vendor: str = "vendor", facility: str = "facility"
) -> QuerySet[BusinessAssociateAgreement]:
    """Narrow ``agreements`` to those covering the outer row's vendor at the outer row's facility.

    For use inside Exists/Subquery: ``vendor`` and ``facility`` name the outer query's fields.
    An agreement covers a facility when it covers all of the organization's facilities or lists it.
    """
    return agreements.filter(vendor=OuterRef(vendor)).filter(
        Q(covers_all_facilities=True) | Q(covered_facilities=OuterRef(facility))
    )


def covering_in_force_on(day: str, *, vendor: str = "vendor", facility: str = "facility") -> QuerySet:
    """Signed agreements that covered the outer row's vendor and facility on the outer row's ``day``.

    Executed on or before that day, and not yet expired or terminated then. An agreement signed
    years before that had lapsed by then does not count. For use inside Exists.
    """
    on_day = OuterRef(day)
    return (
        covering(agreements_signed(), vendor=vendor, facility=facility)
        .filter(executed_on__lte=on_day)
        .filter(
            Q(expires_on__isnull=True)
            | Q(expires_on__gte=on_day)
            | Q(auto_renews=True, status__in=[AgreementStatus.EXECUTED, AgreementStatus.SUPERSEDED])
        )
        .filter(Q(terminated_on__isnull=True) | Q(terminated_on__gt=on_day))
    )


# --- The rules ---------------------------------------------------------------------------------


def _scoped(queryset: QuerySet, ctx: RuleContext, organization_lookup: str) -> QuerySet:
    if ctx.organization_id is None:
        return queryset
    return queryset.filter(**{organization_lookup: ctx.organization_id})


_ENGAGEMENT_FIELDS = (
    "pk",
    "vendor_id",
    "facility_id",
    "vendor__legal_name",
    "vendor__category",
    "facility__name",
    "facility__organization_id",
    "phi_access_starts_on",
)


def _phi_engagements_without_baa(ctx: RuleContext) -> list[dict]:
    """Engagements with PHI access today that no BAA in force covers (rules 1 and 2), each with
    ``lapsed_agreement_id``: the latest signed agreement that covered it before, if any.

    One query, made once per run and shared by both rules: which of the two applies depends only on
    whether an agreement used to cover the engagement.
    """
    shared = ctx.shared if ctx.shared is not None else {}
    if "uncovered" not in shared:
        used_to_cover = covering(agreements_signed().filter(effective_on__lte=ctx.as_of))
        latest = used_to_cover.order_by("-effective_on", "-pk").values("pk")[:1]
        queryset = (
            engagements_with_phi_access(ctx.as_of)
            .filter(~Exists(covering(agreements_in_force(ctx.as_of))))
            .annotate(lapsed_agreement_id=Subquery(latest))
        )
        shared["uncovered"] = list(
            _scoped(queryset, ctx, "facility__organization").values(*_ENGAGEMENT_FIELDS, "lapsed_agreement_id")
        )
    return shared["uncovered"]


def missing_baa(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 1. PHI flows to a business associate with no executed BAA in force covering it.

    45 CFR 164.502(e) and 164.504(e): a covered entity may disclose PHI to a business associate
    only under a written contract (the BAA), executed before any PHI access.
    """
    for row in _phi_engagements_without_baa(ctx):
        if row["lapsed_agreement_id"] is not None:
            continue  # rule 2's case
        yield Detection(
            kind=FindingKind.MISSING_BAA,
            severity=Severity.CRITICAL,
            organization_id=row["facility__organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["pk"],
            explanation=(
                f"{row['vendor__legal_name']} has PHI access at {row['facility__name']} but no executed BAA in force "
                "covers it: 45 CFR 164.502(e) and 164.504(e) require a signed BAA before a business associate "
                "touches PHI."
            ),
        )


def baa_lapsed(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 2. A BAA that covered the engagement expired or was terminated; PHI access continues.

    Reported instead of rule 1 when an agreement used to cover the engagement: the fix is a
    renewal, and the lapse date matters for the breach analysis (45 CFR 164.502(e)).
    """
    rows = [row for row in _phi_engagements_without_baa(ctx) if row["lapsed_agreement_id"] is not None]
    lapsed = BusinessAssociateAgreement.objects.only("title", "status", "expires_on", "terminated_on").in_bulk(
        {row["lapsed_agreement_id"] for row in rows}
    )
    for row in rows:
        agreement = lapsed[row["lapsed_agreement_id"]]
        if agreement.status == AgreementStatus.TERMINATED:
            how = f"was terminated on {agreement.terminated_on:%Y-%m-%d}"
        elif agreement.expires_on is not None:
            how = f"expired on {agreement.expires_on:%Y-%m-%d}"
        else:
            how = "is no longer in force"
        yield Detection(
            kind=FindingKind.BAA_LAPSED,
            severity=Severity.CRITICAL,
            organization_id=row["facility__organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["pk"],
            agreement_id=agreement.pk,
            explanation=(
                f"{row['vendor__legal_name']} still has PHI access at {row['facility__name']}, but its BAA "
                f"\u201c{agreement.title}\u201d {how}: without a BAA in force every disclosure is "
                "impermissible under 45 CFR 164.502(e)."
            ),
        )


def baa_expiring(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 3. A BAA in force expires within the horizon and no executed successor supersedes it.

    For an auto-renewing BAA the date that matters is the non-renewal notice deadline. A lapse
    leaves the vendor without the contract 45 CFR 164.502(e) requires.
    """
    executed_successor = BusinessAssociateAgreement.objects.filter(
        supersedes=OuterRef("pk"), status=AgreementStatus.EXECUTED
    )
    rows = (
        _scoped(agreements_in_force(ctx.as_of), ctx, "organization")
        .filter(expires_on__isnull=False)
        # An auto-renewing BAA is due at its notice deadline, which can fall inside the horizon while
        # its expiry date is beyond it: those are selected here and their deadline checked below.
        .filter(Q(expires_on__lte=ctx.horizon_end) | Q(auto_renews=True))
        .filter(~Exists(executed_successor))
        .values(
            "pk",
            "organization_id",
            "vendor_id",
            "vendor__legal_name",
            "title",
            "expires_on",
            "auto_renews",
            "renewal_term_months",
            "renewal_notice_days",
        )
    )
    for row in rows:
        if row["auto_renews"]:
            # The renewal date the nightly roll-forward will record, if it has not run yet.
            renews_on = renewal_date(row["expires_on"], term_months=row["renewal_term_months"], as_of=ctx.as_of)
            due_on = renewal_notice_deadline(renews_on, notice_days=row["renewal_notice_days"])
            if due_on < ctx.as_of:
                continue  # past the notice deadline: it renews; the nightly roll-forward extends it
            if due_on > ctx.horizon_end:
                continue
            what = (
                f"renews automatically on {renews_on:%Y-%m-%d}; the notice deadline to renegotiate or "
                f"stop it is {due_on:%Y-%m-%d}"
            )
        else:
            due_on = row["expires_on"]
            what = f"expires on {due_on:%Y-%m-%d} and no executed successor agreement supersedes it"
        days_left = (due_on - ctx.as_of).days
        yield Detection(
            kind=FindingKind.BAA_EXPIRING,
            severity=Severity.HIGH if days_left <= URGENT_WITHIN_DAYS else Severity.MEDIUM,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            agreement_id=row["pk"],
            due_on=due_on,
            explanation=(
                f"The BAA \u201c{row['title']}\u201d with {row['vendor__legal_name']} {what} ({days_left} days): "
                "renew it in time, or PHI disclosures lose the contract 45 CFR 164.502(e) requires."
            ),
        )


def phi_before_baa(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 4. PHI access started before the covering BAA was executed.

    The BAA must be executed before any PHI access (45 CFR 164.502(e)(1), 164.308(b)(1)); access
    before signature was an impermissible disclosure, even if a BAA exists now.
    """
    # Only a BAA in force on the first PHI day counts: one signed years before that had lapsed by
    # then did not cover the access. Without a BAA executed since, it is rule 1's or rule 2's case.
    signed_later = covering(agreements_signed()).filter(executed_on__gt=OuterRef("phi_access_starts_on"))
    first_executed = signed_later.order_by("executed_on").values("executed_on")[:1]
    queryset = (
        Engagement.objects.filter(phi_access_q(), vendor__is_conduit=False)
        .filter(phi_access_starts_on__isnull=False, phi_access_starts_on__lte=ctx.as_of)
        .filter(Exists(signed_later), ~Exists(covering_in_force_on("phi_access_starts_on")))
        .annotate(first_executed_on=Subquery(first_executed))
    )
    rows = _scoped(queryset, ctx, "facility__organization").values(*_ENGAGEMENT_FIELDS, "first_executed_on")
    for row in rows:
        gap = (row["first_executed_on"] - row["phi_access_starts_on"]).days
        yield Detection(
            kind=FindingKind.PHI_BEFORE_BAA,
            severity=Severity.HIGH,
            organization_id=row["facility__organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["pk"],
            due_on=row["phi_access_starts_on"],
            explanation=(
                f"{row['vendor__legal_name']} had PHI access at {row['facility__name']} from "
                f"{row['phi_access_starts_on']:%Y-%m-%d}, {gap} days before a covering BAA was executed on "
                f"{row['first_executed_on']:%Y-%m-%d}: 45 CFR 164.502(e)(1) requires the BAA before any PHI access."
            ),
        )


def _executed_agreements(ctx: RuleContext) -> QuerySet[BusinessAssociateAgreement]:
    """Executed and not past their expiry date (expired ones are rule 2's business)."""
    queryset = BusinessAssociateAgreement.objects.filter(status=AgreementStatus.EXECUTED).filter(
        not_lapsed_q(ctx.as_of)
    )
    return _scoped(queryset, ctx, "organization")


def _agreement_detection(row: dict, kind: str, severity: str, explanation: str) -> Detection:
    return Detection(
        kind=kind,
        severity=severity,
        organization_id=row["organization_id"],
        vendor_id=row["vendor_id"],
        agreement_id=row["pk"],
        explanation=explanation,
    )


_AGREEMENT_FIELDS = ("pk", "organization_id", "vendor_id", "vendor__legal_name", "title", "executed_on")


def no_signed_document(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 5. An executed BAA has no signed document on file.

    The BAA must be in writing (45 CFR 164.504(e)(1)) and kept 6 years (164.316(b)(2)(i)); an
    auditor asks for the signed copy, not a status in a database.
    """
    # A document the worker refused (active content, not a real PDF) is not a signed copy on file.
    signed_document = AgreementDocument.objects.filter(
        agreement=OuterRef("pk"), kind=DocumentKind.SIGNED_AGREEMENT
    ).exclude(reading__safety=Safety.REFUSED)
    rows = _executed_agreements(ctx).filter(~Exists(signed_document)).values(*_AGREEMENT_FIELDS)
    for row in rows:
        yield _agreement_detection(
            row,
            FindingKind.NO_SIGNED_DOCUMENT,
            Severity.MEDIUM,
            f"The BAA \u201c{row['title']}\u201d with {row['vendor__legal_name']} is marked executed but no signed "
            "document is on file: 45 CFR 164.504(e)(1) and 164.316(b)(2)(i) require the written agreement, kept "
            "6 years.",
        )


def breach_window_too_long(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 6. The BAA gives the vendor more than 60 days to report a breach (45 CFR 164.410(b))."""
    rows = (
        _executed_agreements(ctx)
        .filter(breach_notification_days__gt=MAX_BREACH_NOTIFICATION_DAYS)
        .values(*_AGREEMENT_FIELDS, "breach_notification_days")
    )
    for row in rows:
        yield _agreement_detection(
            row,
            FindingKind.BREACH_WINDOW_TOO_LONG,
            Severity.HIGH,
            f"The BAA \u201c{row['title']}\u201d with {row['vendor__legal_name']} allows "
            f"{row['breach_notification_days']} days to report a breach; 45 CFR 164.410(b) allows no more than "
            f"{MAX_BREACH_NOTIFICATION_DAYS} calendar days after discovery.",
        )


def pre_omnibus_baa(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 7. Executed before 2013-09-23 and neither amended nor superseded since (45 CFR 164.532(e))."""
    rows = (
        _executed_agreements(ctx)
        .filter(executed_on__lt=OMNIBUS_COMPLIANCE_DATE)
        .filter(Q(amended_on__isnull=True) | Q(amended_on__lt=OMNIBUS_COMPLIANCE_DATE))
        .values(*_AGREEMENT_FIELDS)
    )
    for row in rows:
        yield _agreement_detection(
            row,
            FindingKind.PRE_OMNIBUS_BAA,
            Severity.HIGH,
            f"The BAA \u201c{row['title']}\u201d with {row['vendor__legal_name']} was executed on "
            f"{row['executed_on']:%Y-%m-%d} and never amended for the 2013 Omnibus rule: 45 CFR 164.532(e) required "
            "such agreements to be updated by 2014-09-22.",
        )


def _teleradiology_engagements(ctx: RuleContext) -> QuerySet[Engagement]:
    queryset = Engagement.objects.filter(vendor__category__in=settings.CHECKLIST_VENDOR_CATEGORIES).exclude(
        status=EngagementStatus.OFFBOARDED
    )
    return _scoped(queryset, ctx, "facility__organization")


def checklist_incomplete(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 8a. A teleradiology engagement whose checklist items 4-7 are not all complete or N/A, or
    for which no radiologist is recorded as reading (items 2 and 3 cannot be met without one).

    Item 1 (BAA before PHI access) is computed and reported by rules 1, 2 and 4; items 2 and 3
    (licensure where the patient is, credentialing; 42 CFR 482.22(a)(3)) are computed from the
    readers' records and reported by rules R1, R3 and R4 for each radiologist. The others are the
    safeguards a facility must verify (45 CFR 164.308, 164.312).
    """
    done = Count(
        "teleradiology_checklist__items",
        filter=Q(teleradiology_checklist__items__status__in=DONE_STATUSES)
        & ~Q(teleradiology_checklist__items__number__in=COMPUTED_ITEM_NUMBERS),
    )
    readers = assignments_active_on(ctx.as_of).filter(engagement=OuterRef("pk"))
    rows = (
        _teleradiology_engagements(ctx)
        .annotate(items_done=done, has_readers=Exists(readers))
        .filter(Q(items_done__lt=MANUAL_CHECKLIST_ITEMS) | Q(has_readers=False))
        .values(*_ENGAGEMENT_FIELDS, "status", "items_done", "has_readers")
    )
    for row in rows:
        open_items = MANUAL_CHECKLIST_ITEMS - row["items_done"]
        parts = []
        if open_items:
            parts.append(f"{open_items} of {MANUAL_CHECKLIST_ITEMS} verified items open")
        if not row["has_readers"]:
            parts.append(
                f"no reading radiologist recorded, so items {READER_ITEM_NUMBERS[0]} and "
                f"{READER_ITEM_NUMBERS[1]} (licensure and privileges) cannot be met"
            )
        yield Detection(
            kind=FindingKind.CHECKLIST_INCOMPLETE,
            severity=Severity.HIGH if row["status"] == EngagementStatus.ACTIVE else Severity.MEDIUM,
            organization_id=row["facility__organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["pk"],
            explanation=(
                f"The teleradiology checklist for {row['vendor__legal_name']} at {row['facility__name']} has "
                f"{' and '.join(parts)}: licensure where the patient is, credentialing (42 CFR 482.22(a)(3)) and the "
                "safeguards of 45 CFR 164.308 and 164.312 must be verified with evidence."
            ),
        )


def checklist_review_overdue(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 8b. A checklist item's next review date has passed (evidence goes stale: licenses lapse)."""
    items = (
        ChecklistItem.objects.filter(
            next_review_on__lt=ctx.as_of, checklist__engagement__in=_teleradiology_engagements(ctx)
        )
        .exclude(number__in=COMPUTED_ITEM_NUMBERS)
        .order_by("checklist__engagement_id", "number")
        .values(
            "number",
            "next_review_on",
            engagement_id=F("checklist__engagement_id"),
            vendor_id=F("checklist__engagement__vendor_id"),
            vendor_name=F("checklist__engagement__vendor__legal_name"),
            facility_id=F("checklist__engagement__facility_id"),
            facility_name=F("checklist__engagement__facility__name"),
            organization_id=F("checklist__engagement__facility__organization_id"),
        )
    )
    by_engagement: dict[int, list[dict]] = defaultdict(list)
    for item in items:
        by_engagement[item["engagement_id"]].append(item)
    for engagement_id, overdue in by_engagement.items():
        first = overdue[0]
        numbers = ", ".join(str(item["number"]) for item in overdue)
        oldest = min(item["next_review_on"] for item in overdue)
        yield Detection(
            kind=FindingKind.CHECKLIST_REVIEW_OVERDUE,
            severity=Severity.MEDIUM,
            organization_id=first["organization_id"],
            vendor_id=first["vendor_id"],
            facility_id=first["facility_id"],
            engagement_id=engagement_id,
            due_on=oldest,
            explanation=(
                f"The teleradiology checklist for {first['vendor_name']} at {first['facility_name']} has item(s) "
                f"{numbers} overdue for review since {oldest:%Y-%m-%d}: licenses, credentials and safeguards must be "
                "re-verified (45 CFR 164.308(a)(8) periodic evaluation)."
            ),
        )


def subcontractor_gap(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 9. A vendor's subcontractor touches PHI with no attested downstream BAA.

    45 CFR 164.502(e)(1)(ii) and 164.308(b)(2): the business associate must bind its subcontractors
    with a BAA of its own; the covered entity should obtain that assurance.
    """
    queryset = SubcontractorLink.objects.filter(
        touches_phi=True, downstream_baa_attested_on__isnull=True, subcontractor__is_conduit=False
    )
    rows = _scoped(queryset, ctx, "vendor__organization").values(
        "pk", "vendor_id", "vendor__legal_name", "subcontractor__legal_name", "vendor__organization_id"
    )
    for row in rows:
        yield Detection(
            kind=FindingKind.SUBCONTRACTOR_GAP,
            severity=Severity.HIGH,
            organization_id=row["vendor__organization_id"],
            vendor_id=row["vendor_id"],
            subcontractor_link_id=row["pk"],
            explanation=(
                f"{row['subcontractor__legal_name']} handles PHI as a subcontractor of {row['vendor__legal_name']}, "
                "and no downstream BAA is attested: 45 CFR 164.502(e)(1)(ii) and 164.308(b)(2) require the vendor to "
                "bind it with a BAA."
            ),
        )


def baa_lacks_provision(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 10. The signed BAA lacks one of the provisions 45 CFR 164.504(e)(2) requires (P1-P12).

    From the provision review of its signed document (documents.provisions): a provision the officer
    confirmed missing, or one not found that the officer has not confirmed present. One finding per
    agreement, citing each missing paragraph.
    """
    missing = Q(officer_verdict=OfficerVerdict.MISSING) | Q(officer_verdict="", detected=False)
    rows = (
        ProvisionReview.objects.filter(missing, agreement__in=_executed_agreements(ctx))
        .order_by("agreement_id", "provision")
        .values(
            "agreement_id",
            "provision",
            "officer_verdict",
            organization_id=F("agreement__organization_id"),
            vendor_id=F("agreement__vendor_id"),
            vendor_name=F("agreement__vendor__legal_name"),
            title=F("agreement__title"),
        )
    )
    by_agreement: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_agreement[row["agreement_id"]].append(row)
    for agreement_id, items in by_agreement.items():
        first = items[0]
        items.sort(key=lambda item: int(item["provision"][1:]))
        listed = "; ".join(
            f"{item['provision']} {PROVISIONS[item['provision']][0].lower()} ({PROVISIONS[item['provision']][1]}"
            f"{', confirmed missing' if item['officer_verdict'] else ', not found'})"
            for item in items
        )
        yield Detection(
            kind=FindingKind.BAA_LACKS_PROVISION,
            severity=Severity.HIGH,
            organization_id=first["organization_id"],
            vendor_id=first["vendor_id"],
            agreement_id=agreement_id,
            explanation=(
                f"The BAA \u201c{first['title']}\u201d with {first['vendor_name']} lacks "
                f"{'a required provision' if len(items) == 1 else f'{len(items)} required provisions'} of 45 CFR "
                f"164.504(e)(2): {listed}. Amend the agreement, or confirm on the agreement page where the text is."
            ),
        )


# --- Teleradiology readers (readers app) --------------------------------------------------------
#
# The reading radiologists of teleradiology vendors: licensed where the patient is (checklist item
# 2) and privileged at the facility, directly or by proxy under a written agreement (item 3;
# 42 CFR 482.22(a)(3)-(4), 482.12(a)(8), 485.616(c)). What holds on a day is derived from the dated
# facts (roster, assignment, license, privilege and agreement dates), so the rules answer for any
# ``as_of``. A facility that moves state needs licenses of its new state from the day it moves: the
# rules read the facility's state as recorded.


def on_roster_q(day: datetime.date, prefix: str = "") -> Q:
    """The radiologist (``prefix`` leads to it) is on the vendor's roster on ``day``."""
    return Q(**{f"{prefix}roster_starts_on__lte": day}) & (
        Q(**{f"{prefix}roster_ends_on__isnull": True}) | Q(**{f"{prefix}roster_ends_on__gte": day})
    )


def assignments_active_on(day: datetime.date) -> QuerySet[ReadingAssignment]:
    """Radiologists reading for a teleradiology engagement on ``day``: the assignment runs, the
    radiologist is on the roster, and the engagement is neither offboarded nor ended."""
    return (
        ReadingAssignment.objects.filter(starts_on__lte=day)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .filter(on_roster_q(day, "radiologist__"))
        .filter(engagement__vendor__category=VendorCategory.TELERADIOLOGY)
        .exclude(engagement__status=EngagementStatus.OFFBOARDED)
        .filter(Q(engagement__ends_on__isnull=True) | Q(engagement__ends_on__gte=day))
    )


def licenses_practising_on(day: datetime.date) -> QuerySet[StateLicense]:
    """Licenses that allow practising on ``day``: issued, not past their expiry (valid through the
    expiry date itself), and active as the board reports. An IMLC letter of qualification alone is
    not a license; a license issued through the compact is one like any other."""
    # A license with no expiry date recorded (listed by NPPES, not yet verified at the board) does not count.
    return StateLicense.objects.filter(status__in=PRACTISING_STATUSES, expires_on__gte=day).filter(
        Q(issued_on__isnull=True) | Q(issued_on__lte=day)
    )


def licensed_where(day: datetime.date, *, radiologist: str = "radiologist", state: str) -> Exists:
    """The outer row's radiologist holds a practising license of the outer row's ``state`` on ``day``."""
    return Exists(licenses_practising_on(day).filter(radiologist=OuterRef(radiologist), state=OuterRef(state)))


def proxy_agreements_in_force(day: datetime.date) -> QuerySet[ProxyCredentialingAgreement]:
    """Written proxy-credentialing agreements in force on ``day`` with a distant site that qualifies:
    a Medicare-participating hospital or a telemedicine entity (42 CFR 482.22(a)(3)-(4)). Written
    means the signed document is on file."""
    return (
        ProxyCredentialingAgreement.objects.filter(effective_on__lte=day)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=day))
        .filter(Q(terminated_on__isnull=True) | Q(terminated_on__gt=day))
        .exclude(document="")
        .filter(Q(distant_site_kind=DistantSiteKind.TELEMEDICINE_ENTITY) | Q(medicare_participating=True))
    )


def privileges_current_on(day: datetime.date) -> QuerySet[Privilege]:
    return Privilege.objects.filter(granted_on__lte=day, expires_on__gte=day)


def license_renewed() -> Exists:
    """The outer license has a renewal on record: a practising license of the same radiologist and
    state that expires later. Its expiry is then no longer due (rule R2a, the calendar feed)."""
    return Exists(
        StateLicense.objects.filter(
            radiologist=OuterRef("radiologist"),
            state=OuterRef("state"),
            status__in=PRACTISING_STATUSES,
            expires_on__gt=OuterRef("expires_on"),
        )
    )


def privilege_reappointed() -> Exists:
    """The outer privileges have a reappointment on record: later privileges of the same radiologist at
    the same facility (rule R2c, the calendar feed)."""
    return Exists(
        Privilege.objects.filter(
            radiologist=OuterRef("radiologist"), facility=OuterRef("facility"), expires_on__gt=OuterRef("expires_on")
        )
    )


def privileges_valid_on(day: datetime.date) -> QuerySet[Privilege]:
    """Current privileges on a sound basis: granted directly, or by proxy with an agreement in force
    between the facility and the radiologist's vendor."""
    agreement = proxy_agreements_in_force(day).filter(
        facility=OuterRef("facility"), vendor=OuterRef("radiologist__vendor")
    )
    return privileges_current_on(day).filter(Q(basis=PrivilegeBasis.DIRECT) | Q(Exists(agreement)))


def with_reader_items_computed(engagements: QuerySet[Engagement], as_of: datetime.date) -> QuerySet[Engagement]:
    """Annotate teleradiology checklist items 2 and 3, computed from the readers' records with the same
    building blocks as the rules below, so that the checklist and the findings never disagree:

    * ``has_readers``: someone reads for the engagement on ``as_of`` (without a roster neither item
      can be met);
    * ``readers_licensed`` (item 2): every one of them holds a practising license of the facility's state;
    * ``readers_privileged`` (item 3): every one of them holds current privileges at the facility,
      directly or by proxy under a written agreement in force.
    """
    readers = assignments_active_on(as_of).filter(engagement=OuterRef("pk"))
    unlicensed = readers.filter(~licensed_where(as_of, state="engagement__facility__state"))
    unprivileged = readers.filter(
        ~Exists(
            privileges_valid_on(as_of).filter(
                radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility")
            )
        )
    )
    return engagements.annotate(
        has_readers=Exists(readers),
        readers_licensed=ExpressionWrapper(Q(Exists(readers)) & ~Q(Exists(unlicensed)), output_field=BooleanField()),
        readers_privileged=ExpressionWrapper(
            Q(Exists(readers)) & ~Q(Exists(unprivileged)), output_field=BooleanField()
        ),
    )


def with_reader_standing(assignments: QuerySet[ReadingAssignment], as_of: datetime.date) -> QuerySet[ReadingAssignment]:
    """Annotate each assignment with what items 2 and 3 ask of its radiologist on ``as_of``:
    ``licensed`` (a practising license of the facility's state), ``privileged`` (current privileges
    at the facility) and ``privileged_validly`` (current and on a sound basis, see privileges_valid_on).
    For the pages; the same building blocks as the rules."""
    current = privileges_current_on(as_of).filter(
        radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility")
    )
    valid = privileges_valid_on(as_of).filter(
        radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility")
    )
    return assignments.annotate(
        licensed=licensed_where(as_of, state="engagement__facility__state"),
        privileged=Exists(current),
        privileged_validly=Exists(valid),
    )


_ASSIGNMENT_FIELDS = {
    "radiologist_name": Concat("radiologist__first_name", Value(" "), "radiologist__last_name"),
    "vendor_id": F("engagement__vendor_id"),
    "vendor_name": F("engagement__vendor__legal_name"),
    "facility_id": F("engagement__facility_id"),
    "facility_name": F("engagement__facility__name"),
    "facility_state": F("engagement__facility__state"),
    "organization_id": F("engagement__facility__organization_id"),
}


def _state_name(code: str) -> str:
    return USState(code).label if code in USState.values else code


def reader_unlicensed(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R1. A radiologist reads for a facility without a practising license of the facility's state.

    Medicine is practised where the patient is (ACR; the Interstate Medical Licensure Compact still
    yields one license per state); a hospital relying on a distant site must ensure its
    radiologists hold a license recognized by its state (42 CFR 482.22(a)(3)(iv)).
    """
    queryset = assignments_active_on(ctx.as_of).filter(~licensed_where(ctx.as_of, state="engagement__facility__state"))
    rows = _scoped(queryset, ctx, "engagement__facility__organization").values(
        "pk", "radiologist_id", "engagement_id", **_ASSIGNMENT_FIELDS
    )
    for row in rows:
        state = _state_name(row["facility_state"])
        yield Detection(
            kind=FindingKind.READER_UNLICENSED,
            severity=Severity.CRITICAL,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["engagement_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"reading_assignment:{row['pk']}",
            explanation=(
                f"{row['radiologist_name']} reads for {row['facility_name']} through {row['vendor_name']} but holds no "
                f"active {state} license: the radiologist must be licensed where the patient is "
                "(42 CFR 482.22(a)(3)(iv))."
            ),
        )


def reader_license_expiring(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R2a. A practising state license of a radiologist on the roster expires within the horizon
    and no renewal of the same state is recorded. Reminders follow the license calendar
    (settings.ALERT_LEAD_DAYS: 90, 60, 30, 14, 7 and 1 days before)."""
    end = ctx.horizon_end
    licenses = (
        licenses_practising_on(ctx.as_of)
        .filter(expires_on__lte=end)
        .filter(on_roster_q(ctx.as_of, "radiologist__"))
        .filter(~license_renewed())
    )
    license_rows = _scoped(licenses, ctx, "radiologist__vendor__organization").values(
        "pk",
        "radiologist_id",
        "state",
        "number",
        "expires_on",
        radiologist_name=Concat("radiologist__first_name", Value(" "), "radiologist__last_name"),
        vendor_id=F("radiologist__vendor_id"),
        organization_id=F("radiologist__vendor__organization_id"),
    )
    for row in license_rows:
        days_left = (row["expires_on"] - ctx.as_of).days
        yield Detection(
            kind=FindingKind.READER_LICENSE_EXPIRING,
            severity=Severity.MEDIUM,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"state_license:{row['pk']}",
            due_on=row["expires_on"],
            explanation=(
                f"The {_state_name(row['state'])} license {row['number']} of {row['radiologist_name']} expires on "
                f"{row['expires_on']:%Y-%m-%d} ({days_left} days) and no renewal is recorded: without it the "
                "radiologist may not read for that state's facilities (42 CFR 482.22(a)(3)(iv))."
            ),
        )


def reader_board_expiring(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R2b. The board certification of a radiologist on the roster expires within the horizon:
    credentialing relies on it (42 CFR 482.22(c)(4)). Reminders as for licenses."""
    end = ctx.horizon_end
    boards = Radiologist.objects.filter(on_roster_q(ctx.as_of)).filter(
        board_certification_expires_on__gte=ctx.as_of, board_certification_expires_on__lte=end
    )
    board_rows = _scoped(boards, ctx, "vendor__organization").values(
        "pk",
        "first_name",
        "last_name",
        "board",
        "board_certification_expires_on",
        "vendor_id",
        "vendor__organization_id",
    )
    for row in board_rows:
        expires_on = row["board_certification_expires_on"]
        yield Detection(
            kind=FindingKind.READER_BOARD_EXPIRING,
            severity=Severity.MEDIUM,
            organization_id=row["vendor__organization_id"],
            vendor_id=row["vendor_id"],
            radiologist_id=row["pk"],
            subject=f"board_certification:{row['pk']}",
            due_on=expires_on,
            explanation=(
                f"The board certification ({row['board'] or 'board'}) of {row['first_name']} {row['last_name']} "
                f"expires on {expires_on:%Y-%m-%d} ({(expires_on - ctx.as_of).days} days): credentialing relies on it "
                "(42 CFR 482.22(c)(4))."
            ),
        )


def reader_privilege_expiring(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R2c. The privileges of a radiologist on the roster at a facility end within the horizon
    and no reappointment (later privileges there) is recorded (42 CFR 482.22(a)(1)-(2)). Reminders as
    for licenses."""
    end = ctx.horizon_end
    privileges = (
        privileges_current_on(ctx.as_of)
        .filter(expires_on__lte=end)
        .filter(on_roster_q(ctx.as_of, "radiologist__"))
        .filter(~privilege_reappointed())
    )
    privilege_rows = _scoped(privileges, ctx, "facility__organization").values(
        "pk",
        "radiologist_id",
        "facility_id",
        "expires_on",
        facility_name=F("facility__name"),
        radiologist_name=Concat("radiologist__first_name", Value(" "), "radiologist__last_name"),
        vendor_id=F("radiologist__vendor_id"),
        organization_id=F("facility__organization_id"),
    )
    for row in privilege_rows:
        yield Detection(
            kind=FindingKind.READER_PRIVILEGE_EXPIRING,
            severity=Severity.MEDIUM,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"privilege:{row['pk']}",
            due_on=row["expires_on"],
            explanation=(
                f"The privileges of {row['radiologist_name']} at {row['facility_name']} end on "
                f"{row['expires_on']:%Y-%m-%d} ({(row['expires_on'] - ctx.as_of).days} days) and no reappointment is "
                "recorded (42 CFR 482.22(a)(1)-(2): appointment and privileges by the medical staff)."
            ),
        )


def reader_not_privileged(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R3. A radiologist reads for a facility without current privileges there (none granted, or
    expired). 42 CFR 482.22(a): every practitioner is appointed and privileged by the medical staff,
    directly or by proxy (482.22(a)(3)-(4); critical access hospitals 485.616(c))."""
    current = privileges_current_on(ctx.as_of).filter(
        radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility")
    )
    ended = (
        Privilege.objects.filter(
            radiologist=OuterRef("radiologist"), facility=OuterRef("engagement__facility"), expires_on__lt=ctx.as_of
        )
        .order_by("-expires_on")
        .values("expires_on")[:1]
    )
    queryset = assignments_active_on(ctx.as_of).filter(~Exists(current)).annotate(ended_on=Subquery(ended))
    rows = _scoped(queryset, ctx, "engagement__facility__organization").values(
        "pk", "radiologist_id", "engagement_id", "ended_on", **_ASSIGNMENT_FIELDS
    )
    for row in rows:
        what = (
            f"whose privileges there ended on {row['ended_on']:%Y-%m-%d}"
            if row["ended_on"]
            else "with no privileges there"
        )
        yield Detection(
            kind=FindingKind.READER_NOT_PRIVILEGED,
            severity=Severity.HIGH,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["engagement_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"reading_assignment:{row['pk']}",
            explanation=(
                f"{row['radiologist_name']} reads for {row['facility_name']} through {row['vendor_name']} {what}: "
                "42 CFR 482.22(a) requires appointment and privileges, granted directly or by proxy."
            ),
        )


def reader_proxy_without_agreement(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R4. Current privileges granted by proxy with no written agreement in force between the
    facility and the distant site (the radiologist's vendor), or with one whose distant site does not
    qualify (a hospital not participating in Medicare). 42 CFR 482.22(a)(3)-(4), 482.12(a)(8);
    485.616(c) for critical access hospitals."""
    agreement = proxy_agreements_in_force(ctx.as_of).filter(
        facility=OuterRef("facility"), vendor=OuterRef("radiologist__vendor")
    )
    queryset = (
        privileges_current_on(ctx.as_of)
        .filter(basis=PrivilegeBasis.PROXY)
        .filter(on_roster_q(ctx.as_of, "radiologist__"))
        .filter(~Exists(agreement))
    )
    rows = _scoped(queryset, ctx, "facility__organization").values(
        "pk",
        "radiologist_id",
        "facility_id",
        facility_name=F("facility__name"),
        radiologist_name=Concat("radiologist__first_name", Value(" "), "radiologist__last_name"),
        vendor_id=F("radiologist__vendor_id"),
        vendor_name=F("radiologist__vendor__legal_name"),
        organization_id=F("facility__organization_id"),
    )
    for row in rows:
        yield Detection(
            kind=FindingKind.READER_PROXY_WITHOUT_AGREEMENT,
            severity=Severity.HIGH,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"privilege:{row['pk']}",
            explanation=(
                f"{row['facility_name']} privileges {row['radiologist_name']} by proxy, relying on "
                f"{row['vendor_name']}, but no signed proxy credentialing agreement with a qualifying distant site "
                "(a Medicare-participating hospital or a telemedicine entity) is in force: 42 CFR 482.22(a)(3)-(4) "
                "and 482.12(a)(8) require it."
            ),
        )


def reader_license_not_reverified(ctx: RuleContext) -> Iterable[Detection]:
    """Rule R5. A practising license of a radiologist on the roster was last verified at the source
    longer ago than the configured period (settings.READER_LICENSE_REVERIFY_DAYS), or never:
    licenses get conditions, suspensions and revocations between renewals (45 CFR 164.308(a)(8),
    periodic evaluation; primary-source verification)."""
    cutoff = ctx.as_of - datetime.timedelta(days=ctx.license_reverify_days)
    queryset = (
        licenses_practising_on(ctx.as_of)
        .filter(on_roster_q(ctx.as_of, "radiologist__"))
        .filter(Q(verified_on__isnull=True) | Q(verified_on__lt=cutoff))
    )
    rows = _scoped(queryset, ctx, "radiologist__vendor__organization").values(
        "pk",
        "radiologist_id",
        "state",
        "number",
        "verified_on",
        radiologist_name=Concat("radiologist__first_name", Value(" "), "radiologist__last_name"),
        vendor_id=F("radiologist__vendor_id"),
        organization_id=F("radiologist__vendor__organization_id"),
    )
    for row in rows:
        when = f"last verified on {row['verified_on']:%Y-%m-%d}" if row["verified_on"] else "never verified"
        yield Detection(
            kind=FindingKind.READER_LICENSE_NOT_REVERIFIED,
            severity=Severity.MEDIUM,
            organization_id=row["organization_id"],
            vendor_id=row["vendor_id"],
            radiologist_id=row["radiologist_id"],
            subject=f"state_license:{row['pk']}",
            due_on=row["verified_on"] + datetime.timedelta(days=ctx.license_reverify_days)
            if row["verified_on"]
            else None,
            explanation=(
                f"The {_state_name(row['state'])} license {row['number']} of {row['radiologist_name']} was {when}: "
                "re-verify it at the source (state board, FSMB DocInfo) at least every "
                f"{ctx.license_reverify_days} days."
            ),
        )


@dataclass(frozen=True)
class Rule:
    kind: str
    detect: Callable[[RuleContext], Iterable[Detection]]

    @property
    def citation(self) -> str:
        """The regulation, from the kind's declaration (compliance/kinds.py)."""
        return kinds.get(self.kind).citation


#: Every rule, in the order of the product's specification. One finding kind per rule; everything
#: else about a kind (label, citation, severity rule, fix, alert wording) is in compliance/kinds.py.
RULES: tuple[Rule, ...] = (
    Rule(FindingKind.MISSING_BAA, missing_baa),
    Rule(FindingKind.BAA_LAPSED, baa_lapsed),
    Rule(FindingKind.BAA_EXPIRING, baa_expiring),
    Rule(FindingKind.PHI_BEFORE_BAA, phi_before_baa),
    Rule(FindingKind.NO_SIGNED_DOCUMENT, no_signed_document),
    Rule(FindingKind.BREACH_WINDOW_TOO_LONG, breach_window_too_long),
    Rule(FindingKind.PRE_OMNIBUS_BAA, pre_omnibus_baa),
    Rule(FindingKind.CHECKLIST_INCOMPLETE, checklist_incomplete),
    Rule(FindingKind.CHECKLIST_REVIEW_OVERDUE, checklist_review_overdue),
    Rule(FindingKind.SUBCONTRACTOR_GAP, subcontractor_gap),
    Rule(FindingKind.BAA_LACKS_PROVISION, baa_lacks_provision),
    # Teleradiology readers (the "Teleradiology readers" section above).
    Rule(FindingKind.READER_UNLICENSED, reader_unlicensed),
    Rule(FindingKind.READER_LICENSE_EXPIRING, reader_license_expiring),
    Rule(FindingKind.READER_BOARD_EXPIRING, reader_board_expiring),
    Rule(FindingKind.READER_PRIVILEGE_EXPIRING, reader_privilege_expiring),
    Rule(FindingKind.READER_NOT_PRIVILEGED, reader_not_privileged),
    Rule(FindingKind.READER_PROXY_WITHOUT_AGREEMENT, reader_proxy_without_agreement),
    Rule(FindingKind.READER_LICENSE_NOT_REVERIFIED, reader_license_not_reverified),
)
RULE_BY_KIND: dict[str, Rule] = {rule.kind: rule for rule in RULES}


def active_rules() -> tuple[Rule, ...]:
    """RULES, and the rules of kinds registered with their own ``detect`` (compliance/kinds.py)."""
    extra = tuple(
        Rule(spec.value, spec.detect) for spec in kinds.all_kinds() if spec.detect and spec.value not in RULE_BY_KIND
    )
    return RULES + extra


def detect_all(ctx: RuleContext) -> list[Detection]:
    """Every problem the rules detect: at most one query per rule, whatever the size of the data."""
    run = replace(ctx, shared={})
    return [detection for rule in active_rules() for detection in rule.detect(run)]


def with_item_one_computed(engagements: QuerySet[Engagement], as_of: datetime.date) -> QuerySet[Engagement]:
    """Annotate ``baa_before_phi``: teleradiology checklist item 1, computed from the agreements.

    True when a BAA in force covers the engagement and, if PHI access has started, a covering BAA
    was in force on its first day. The same building blocks as rules 1, 2 and 4, so the
    checklist and the findings never disagree.
    """
    phi_not_started = Q(phi_access_starts_on__isnull=True) | Q(phi_access_starts_on__gt=as_of)
    in_force_on_first_day = covering_in_force_on("phi_access_starts_on")
    return engagements.annotate(
        baa_before_phi=ExpressionWrapper(
            Q(Exists(covering(agreements_in_force(as_of)))) & (phi_not_started | Q(Exists(in_force_on_first_day))),
            output_field=BooleanField(),
        )
    )
