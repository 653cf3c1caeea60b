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
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery

from agreements.models import (
    SIGNED_STATUSES,
    AgreementDocument,
    AgreementStatus,
    BusinessAssociateAgreement,
    DocumentKind,
)
from agreements.services import renewal_date, renewal_notice_deadline
from checklists.models import COMPUTED_ITEM_NUMBER, DONE_STATUSES, TELERADIOLOGY_ITEMS, ChecklistItem
from compliance import kinds
from compliance.models import FindingKind, Severity
from documents.models import OfficerVerdict, ProvisionReview, Safety
from documents.provisions import PROVISIONS
from vendors.models import Engagement, EngagementStatus, SubcontractorLink

#: 45 CFR 164.532(e): BAAs signed before this date had to be updated for the 2013 Omnibus rule.
OMNIBUS_COMPLIANCE_DATE = datetime.date(2013, 9, 23)
#: 45 CFR 164.410(b): a business associate reports a breach no later than 60 calendar days after discovery.
MAX_BREACH_NOTIFICATION_DAYS = 60
#: An expiring agreement is urgent (high severity) this close to its date.
URGENT_WITHIN_DAYS = 30
#: Manual items of the teleradiology checklist (item 1 is computed from the agreements).
MANUAL_CHECKLIST_ITEMS = len(TELERADIOLOGY_ITEMS) - 1


@dataclass(frozen=True)
class RuleContext:
    as_of: datetime.date
    horizon_days: int
    organization_id: int | None = None
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

    @property
    def subject_key(self) -> str:
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
    """Rule 8a. A teleradiology engagement whose checklist items 2-7 are not all complete or N/A.

    Item 1 (BAA before PHI access) is computed and reported by rules 1, 2 and 4. The others are the
    safeguards, licensure (the patient's state) and credentialing a facility must verify
    (45 CFR 164.308, 164.312; 42 CFR 482.22(a)(3)).
    """
    done = Count(
        "teleradiology_checklist__items",
        filter=Q(teleradiology_checklist__items__status__in=DONE_STATUSES)
        & ~Q(teleradiology_checklist__items__number=COMPUTED_ITEM_NUMBER),
    )
    rows = (
        _teleradiology_engagements(ctx)
        .annotate(items_done=done)
        .filter(items_done__lt=MANUAL_CHECKLIST_ITEMS)
        .values(*_ENGAGEMENT_FIELDS, "status", "items_done")
    )
    for row in rows:
        open_items = MANUAL_CHECKLIST_ITEMS - row["items_done"]
        yield Detection(
            kind=FindingKind.CHECKLIST_INCOMPLETE,
            severity=Severity.HIGH if row["status"] == EngagementStatus.ACTIVE else Severity.MEDIUM,
            organization_id=row["facility__organization_id"],
            vendor_id=row["vendor_id"],
            facility_id=row["facility_id"],
            engagement_id=row["pk"],
            explanation=(
                f"The teleradiology checklist for {row['vendor__legal_name']} at {row['facility__name']} has "
                f"{open_items} of {MANUAL_CHECKLIST_ITEMS} verified items open: licensure where the patient is, "
                "credentialing (42 CFR 482.22(a)(3)) and the safeguards of 45 CFR 164.308 and 164.312 must be "
                "verified with evidence."
            ),
        )


def checklist_review_overdue(ctx: RuleContext) -> Iterable[Detection]:
    """Rule 8b. A checklist item's next review date has passed (evidence goes stale: licenses lapse)."""
    items = (
        ChecklistItem.objects.filter(
            next_review_on__lt=ctx.as_of, checklist__engagement__in=_teleradiology_engagements(ctx)
        )
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
