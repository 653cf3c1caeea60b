"""The finding-kind registry: everything that varies per kind of finding, declared once per kind.

A finding kind is declared here by one ``FindingKindSpec``: its label, the regulation it cites, its
severity rule, the fix action and the page it links to, what its date means, the alert it sends and
that email's wording, the teleradiology checklist item it computes and the facility it belongs to.
Pages (compliance/templatetags/findings.py), emails (alerts/emails.py), reports (reports/selectors.py),
exports and the admin read the registry; none of them names a kind. The rule that detects a kind
lives in compliance/rules.py (RULES), or, for a kind registered from elsewhere, in ``detect``.

Adding a kind = its rule, its entry here, its tests. No migration: the choices of ``Finding.kind``
are read from this registry (a callable), so the database's schema does not know the kinds.

This module imports no model, so that compliance/models.py can build ``FindingKind`` from it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from django.db import models


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class FixPage(models.TextChoices):
    """The page a finding's "what to do" links to."""

    NEW_AGREEMENT = "new_agreement", "A new BAA for the vendor and facility"
    AGREEMENT = "agreement", "The agreement"
    CHECKLIST = "checklist", "The engagement's teleradiology checklist"
    VENDOR = "vendor", "The vendor"
    RADIOLOGIST = "radiologist", "The radiologist's page (licenses, assignments, privileges)"
    RISK_ASSESSMENT = "risk_assessment", "The breach risk assessment of the period (45 CFR 164.402(2))"


class Subject(models.TextChoices):
    """What a finding is about, and so the facility it belongs to (the gate's rule for findings,
    compliance.models.FindingQuerySet.facility_scope, and the facility pages and reports)."""

    ENGAGEMENT = "engagement", "The engagement's facility"
    AGREEMENT = "agreement", "The facilities the agreement covers (every facility if organization-wide)"
    SUBCONTRACTOR_LINK = "subcontractor_link", "The facilities the vendor serves"
    #: A teleradiology reader's finding: its facility where it has one (an assignment, privileges),
    #: else (a license, a board certification) the facilities the radiologist's vendor serves.
    RADIOLOGIST = "radiologist", "The finding's facility, or the facilities the radiologist's vendor serves"


@dataclass(frozen=True)
class AlertFacts:
    """What an alert email can say about its finding: names and dates only, never PHI."""

    finding_kind: str
    vendor: str
    facility: str
    agreement: str
    agreement_expires_on: datetime.date | None
    auto_renews: bool
    due_on: datetime.date | None
    days_left: int | None
    subcontractor: str
    threshold_label: str
    is_reminder: bool
    #: The rule's explanation of the finding (names and dates, as the finding's page shows it).
    explanation: str = ""
    #: Names of the facilities the agreement covers ("" without agreement); a callable so that it
    #: is only read by the wording that shows it.
    covered_facilities: Callable[[], str] = field(default=lambda: "", compare=False, repr=False)
    #: The provisions of the agreement's review that are not present, one line each (P1-P12, 45 CFR
    #: 164.504(e)(2)); a callable, read only by the wording that shows it.
    missing_provisions: Callable[[], tuple[str, ...]] = field(default=lambda: (), compare=False, repr=False)


@dataclass(frozen=True)
class AlertWording:
    """The words of one alert. The email templates (templates/alerts/email/) only place them."""

    #: The subject after "[organization] " (and "Reminder: " for a repeated alert).
    subject: str
    #: The heading of the HTML email.
    title: str
    #: The first line of the text email after "BAA Tracker, organization: ".
    summary: str
    headline: str
    action: str
    #: The "Facility" line.
    facilities: str
    date_label: str = "Date"
    #: Show "(n days left)" after the date.
    countdown: bool = False
    #: An auto-renewing BAA: the date is the notice deadline, not the expiry.
    notice_deadline: bool = False
    #: Lines listed under the headline (e.g. each missing provision).
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class FindingKindSpec:
    #: The stored value of ``Finding.kind`` (at most 32 characters).
    value: str
    #: The attribute name of ``FindingKind`` (e.g. ``MISSING_BAA``).
    name: str
    label: str
    citation: str
    #: The severity the rule gives, and in words when it gives another (the rule computes it).
    severity: str
    severity_rule: str
    subject: str
    fix_page: str
    #: The fix action's label for a member who may change records.
    fix_label: str = ""
    #: What the finding's date (``due_on``) means, in the middle of a sentence.
    due_label: str = "due"
    #: The kind of alert it sends (an ``alerts.models.AlertKind`` value), or "" for none.
    alert_kind: str = ""
    #: The alert's wording: required with ``alert_kind``.
    alert_wording: Callable[[AlertFacts], AlertWording] | None = None
    #: The number of the teleradiology checklist item whose state this kind's rule computes.
    checklist_item: int | None = None
    #: The rule of a kind registered outside compliance/rules.py (e.g. by a test or a plugin).
    detect: Callable | None = field(default=None, compare=False)

    def __post_init__(self):
        if len(self.value) > 32:
            raise ValueError(f"finding kind {self.value!r}: at most 32 characters (Finding.kind)")
        if self.alert_kind and self.alert_wording is None:
            raise ValueError(f"finding kind {self.value!r} sends {self.alert_kind!r} alerts but has no wording")
        if self.severity not in Severity.values:
            raise ValueError(f"finding kind {self.value!r}: unknown severity {self.severity!r}")


_REGISTRY: dict[str, FindingKindSpec] = {}


def register(spec: FindingKindSpec) -> FindingKindSpec:
    """Add a kind. Registering a value twice is an error: one declaration per kind."""
    if spec.value in _REGISTRY:
        raise ValueError(f"finding kind {spec.value!r} is already registered")
    _REGISTRY[spec.value] = spec
    return spec


def unregister(value: str) -> None:
    """Remove a kind registered at run time (tests); the built-in kinds stay."""
    if value in BUILTIN_VALUES:
        raise ValueError(f"finding kind {value!r} is built in")
    _REGISTRY.pop(value, None)


def get(value: str) -> FindingKindSpec:
    """The declaration of a kind; an unknown value (a kind removed from the code while findings of it
    are kept, 164.316(b)(2)) gets a neutral declaration instead of breaking the pages."""
    spec = _REGISTRY.get(value)
    if spec is None:
        return FindingKindSpec(
            value=value,
            name=value.upper(),
            label=value.replace("_", " ").capitalize(),
            citation="",
            severity=Severity.MEDIUM,
            severity_rule="",
            subject=Subject.ENGAGEMENT,
            fix_page=FixPage.VENDOR,
        )
    return spec


def all_kinds() -> list[FindingKindSpec]:
    """Every registered kind, in the order of declaration."""
    return list(_REGISTRY.values())


def choices() -> list[tuple[str, str]]:
    return [(spec.value, spec.label) for spec in _REGISTRY.values()]


def label(value: str) -> str:
    return get(value).label


class _AlertKindOfFinding(Mapping):
    """finding kind -> alert kind, for the kinds that send alerts; read live, so that a kind
    registered at run time is alerted too."""

    def __getitem__(self, key: str) -> str:
        spec = _REGISTRY.get(key)
        if spec is None or not spec.alert_kind:
            raise KeyError(key)
        return spec.alert_kind

    def __iter__(self) -> Iterator[str]:
        return (spec.value for spec in _REGISTRY.values() if spec.alert_kind)

    def __len__(self) -> int:
        return sum(1 for spec in _REGISTRY.values() if spec.alert_kind)


ALERT_KIND_OF_FINDING: Mapping[str, str] = _AlertKindOfFinding()


# --- The wording of the built-in alerts -----------------------------------------------------------------


def _day(value: datetime.date | None) -> str:
    return f"{value:%Y-%m-%d}" if value else ""


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def _expiry_wording(facts: AlertFacts) -> AlertWording:
    vendor, due_on, days_left = facts.vendor, facts.due_on, facts.days_left
    auto_renews = facts.auto_renews and facts.agreement_expires_on != due_on
    when = f"in {_days(days_left)}" if days_left else "today"
    if auto_renews:
        subject = f"Notice deadline for the BAA with {vendor} {when} ({_day(due_on)}): {facts.agreement}"
        headline = (
            f"The BAA \u201c{facts.agreement}\u201d with {vendor} renews automatically on "
            f"{_day(facts.agreement_expires_on)}; the notice deadline to renegotiate or stop it is "
            f"{_day(due_on)} ({when})."
        )
        action = (
            f"Decide by {_day(due_on)} whether the agreement may renew as it is. If it must be renegotiated or "
            "stopped, give the vendor notice before that date and record the successor agreement."
        )
    else:
        subject = f"BAA with {vendor} expires {when} ({_day(due_on)}): {facts.agreement}"
        headline = (
            f"The BAA \u201c{facts.agreement}\u201d with {vendor} expires on {_day(due_on)} ({when}) and no "
            "executed successor agreement supersedes it."
        )
        action = (
            f"Execute a renewal or successor BAA with {vendor} before {_day(due_on)} and upload the signed copy, "
            "or end the vendor's access to PHI by then: without a BAA in force every disclosure is "
            "impermissible (45 CFR 164.502(e))."
        )
    return AlertWording(
        subject=subject,
        title="BAA expiry reminder",
        summary=f"BAA expiry reminder ({facts.threshold_label})",
        headline=headline,
        action=action,
        facilities=facts.covered_facilities(),
        date_label="Notice deadline" if auto_renews else "Expires on",
        countdown=True,
        notice_deadline=auto_renews,
    )


def _no_baa_wording(facts: AlertFacts, *, lapsed: bool) -> AlertWording:
    vendor, facility = facts.vendor, facts.facility
    if lapsed:
        headline = (
            f"{vendor} still has PHI access at {facility}, but its BAA \u201c{facts.agreement}\u201d is no longer "
            "in force."
        )
    else:
        headline = f"{vendor} has PHI access at {facility}, and no executed BAA in force covers it."
    word = "Lapsed" if lapsed else "Missing"
    return AlertWording(
        subject=f"{word} BAA: {vendor} at {facility}",
        title=f"{word} BAA",
        summary=f"{word.lower()} BAA ({facts.threshold_label}{': still open' if facts.is_reminder else ''})",
        headline=headline,
        action=(
            f"Execute a BAA with {vendor} covering {facility} and upload the signed copy, or stop the PHI access "
            "now: 45 CFR 164.502(e) and 164.504(e) require a signed BAA before a business associate touches PHI."
        ),
        facilities=facility,
    )


def _missing_wording(facts: AlertFacts) -> AlertWording:
    return _no_baa_wording(facts, lapsed=False)


def _lapsed_wording(facts: AlertFacts) -> AlertWording:
    wording = _no_baa_wording(facts, lapsed=True)
    if not facts.agreement:  # a lapsed finding always names its agreement; without one, say it plainly
        headline = f"{facts.vendor} has PHI access at {facts.facility}, and no executed BAA in force covers it."
        return replace(wording, headline=headline)
    return wording


def _checklist_review_wording(facts: AlertFacts) -> AlertWording:
    return AlertWording(
        subject=f"Teleradiology checklist review due: {facts.vendor} at {facts.facility} (since {_day(facts.due_on)})",
        title="Teleradiology checklist review due",
        summary=f"teleradiology checklist review due ({facts.threshold_label})",
        headline=(
            f"The teleradiology checklist for {facts.vendor} at {facts.facility} has items due for review since "
            f"{_day(facts.due_on)}."
        ),
        action=(
            "Re-verify the overdue items (licensure where the patient is, credentialing, safeguards), record the "
            "evidence and set the next review date (45 CFR 164.308(a)(8))."
        ),
        facilities=facts.facility,
        date_label="Review due since",
    )


def _subcontractor_gap_wording(facts: AlertFacts) -> AlertWording:
    vendor, subcontractor = facts.vendor, facts.subcontractor
    return AlertWording(
        subject=f"No downstream BAA: {subcontractor}, subcontractor of {vendor}",
        title="Subcontractor without a downstream BAA",
        summary=f"subcontractor without a downstream BAA ({facts.threshold_label})",
        headline=f"{subcontractor} handles PHI as a subcontractor of {vendor}, and no downstream BAA is attested.",
        action=(
            f"Ask {vendor} for assurance that it has a BAA with {subcontractor}, and record the date it was attested "
            "(45 CFR 164.502(e)(1)(ii), 164.308(b)(2))."
        ),
        facilities=f"every facility {vendor} serves",
    )


def _provision_gap_wording(facts: AlertFacts) -> AlertWording:
    missing = facts.missing_provisions()
    count = (
        f"{len(missing)} required provision{'s' if len(missing) != 1 else ''}" if missing else "a required provision"
    )
    still_open = ": still open" if facts.is_reminder else ""
    return AlertWording(
        subject=f"BAA lacks {count}: {facts.agreement} with {facts.vendor}",
        title="BAA lacking a required provision",
        summary=f"BAA lacking a required provision ({facts.threshold_label}{still_open})",
        headline=(
            f"The signed BAA \u201c{facts.agreement}\u201d with {facts.vendor} lacks {count} of 45 CFR 164.504(e)(2), "
            "by the provision review of its signed copy:"
        ),
        action=(
            f"Amend the BAA with {facts.vendor} to add what is missing. Where the text is there after all (a clause "
            "worded unusually, a page the reader could not read), confirm the provision present on the agreement's "
            "page, with where it is."
        ),
        facilities=facts.covered_facilities(),
        details=missing,
    )


# --- The built-in kinds, in the order of the product's specification -------------------------------------

BUILTIN: tuple[FindingKindSpec, ...] = (
    FindingKindSpec(
        value="missing_baa",
        name="MISSING_BAA",
        label="Missing BAA",
        citation="45 CFR 164.502(e), 164.504(e)",
        severity=Severity.CRITICAL,
        severity_rule="Always critical.",
        subject=Subject.ENGAGEMENT,
        fix_page=FixPage.NEW_AGREEMENT,
        fix_label="Add the BAA",
        alert_kind="missing_baa",
        alert_wording=_missing_wording,
        checklist_item=1,
    ),
    FindingKindSpec(
        value="baa_lapsed",
        name="BAA_LAPSED",
        label="BAA expired or terminated while PHI access continues",
        citation="45 CFR 164.502(e)",
        severity=Severity.CRITICAL,
        severity_rule="Always critical.",
        subject=Subject.ENGAGEMENT,
        fix_page=FixPage.AGREEMENT,
        fix_label="Renew the BAA",
        alert_kind="missing_baa",
        alert_wording=_lapsed_wording,
        checklist_item=1,
    ),
    FindingKindSpec(
        value="baa_expiring",
        name="BAA_EXPIRING",
        label="BAA expiring with no executed successor",
        citation="45 CFR 164.502(e)",
        severity=Severity.HIGH,
        severity_rule="High within 30 days of the date, medium before.",
        subject=Subject.AGREEMENT,
        fix_page=FixPage.AGREEMENT,
        fix_label="Renew or replace the BAA",
        alert_kind="expiry_reminder",
        alert_wording=_expiry_wording,
    ),
    FindingKindSpec(
        value="phi_before_baa",
        name="PHI_BEFORE_BAA",
        label="PHI access before the BAA was executed",
        citation="45 CFR 164.502(e)(1), 164.308(b)(1)",
        severity=Severity.HIGH,
        severity_rule="Always high.",
        subject=Subject.ENGAGEMENT,
        fix_page=FixPage.AGREEMENT,
        due_label="PHI access since",
        checklist_item=1,
    ),
    FindingKindSpec(
        value="no_signed_document",
        name="NO_SIGNED_DOCUMENT",
        label="Executed BAA with no signed document on file",
        citation="45 CFR 164.504(e)(1), 164.316(b)(2)(i)",
        severity=Severity.MEDIUM,
        severity_rule="Always medium.",
        subject=Subject.AGREEMENT,
        fix_page=FixPage.AGREEMENT,
        fix_label="Upload the signed BAA",
    ),
    FindingKindSpec(
        value="breach_window_too_long",
        name="BREACH_WINDOW_TOO_LONG",
        label="Breach-notification window longer than 60 days",
        citation="45 CFR 164.410(b)",
        severity=Severity.HIGH,
        severity_rule="Always high.",
        subject=Subject.AGREEMENT,
        fix_page=FixPage.AGREEMENT,
        fix_label="Amend the BAA",
    ),
    FindingKindSpec(
        value="pre_omnibus_baa",
        name="PRE_OMNIBUS_BAA",
        label="Pre-Omnibus BAA never updated",
        citation="45 CFR 164.532(e)",
        severity=Severity.HIGH,
        severity_rule="Always high.",
        subject=Subject.AGREEMENT,
        fix_page=FixPage.AGREEMENT,
        fix_label="Amend the BAA",
    ),
    FindingKindSpec(
        value="checklist_incomplete",
        name="CHECKLIST_INCOMPLETE",
        label="Teleradiology checklist incomplete",
        citation="45 CFR 164.308, 164.312; 42 CFR 482.22(a)(3)",
        severity=Severity.HIGH,
        severity_rule="High while the engagement is active, medium before it starts.",
        subject=Subject.ENGAGEMENT,
        fix_page=FixPage.CHECKLIST,
        fix_label="Complete the checklist",
    ),
    FindingKindSpec(
        value="checklist_review_overdue",
        name="CHECKLIST_REVIEW_OVERDUE",
        label="Teleradiology checklist review overdue",
        citation="45 CFR 164.308(a)(8)",
        severity=Severity.MEDIUM,
        severity_rule="Always medium.",
        subject=Subject.ENGAGEMENT,
        fix_page=FixPage.CHECKLIST,
        fix_label="Review the checklist",
        due_label="review due since",
        alert_kind="checklist_review",
        alert_wording=_checklist_review_wording,
    ),
    FindingKindSpec(
        value="subcontractor_gap",
        name="SUBCONTRACTOR_GAP",
        label="Subcontractor touching PHI without a downstream BAA",
        citation="45 CFR 164.502(e)(1)(ii), 164.308(b)(2)",
        severity=Severity.HIGH,
        severity_rule="Always high.",
        subject=Subject.SUBCONTRACTOR_LINK,
        fix_page=FixPage.VENDOR,
        fix_label="Record the downstream BAA",
        alert_kind="subcontractor_gap",
        alert_wording=_subcontractor_gap_wording,
    ),
    # Read from the signed document's provision review (documents app, issue 12).
    FindingKindSpec(
        value="baa_lacks_provision",
        name="BAA_LACKS_PROVISION",
        label="BAA lacks a required provision",
        citation="45 CFR 164.504(e)(2)",
        severity=Severity.HIGH,
        severity_rule="Always high.",
        subject=Subject.AGREEMENT,
        fix_page=FixPage.AGREEMENT,
        fix_label="Review the provisions or amend the BAA",
        alert_kind="provision_gap",
        alert_wording=_provision_gap_wording,
    ),
    # Coverage over time (compliance/timeline.py, issue 11).
    FindingKindSpec(
        value="phi_without_baa",
        name="PHI_WITHOUT_BAA",
        label="PHI disclosed without a BAA in force",
        citation="45 CFR 164.502(e), 164.402(2)",
        severity=Severity.HIGH,
        severity_rule="Always high, until a breach risk assessment of the period is recorded.",
        subject=Subject.ENGAGEMENT,
        fix_page=FixPage.RISK_ASSESSMENT,
        fix_label="Record the risk assessment",
        due_label="without a BAA since",
        checklist_item=1,
    ),
    FindingKindSpec(
        value="baa_terminating",
        name="BAA_TERMINATING",
        label="BAA terminating",
        citation="45 CFR 164.502(e)",
        severity=Severity.HIGH,
        severity_rule="High within 30 days of the termination date, medium before.",
        subject=Subject.AGREEMENT,
        fix_page=FixPage.AGREEMENT,
        fix_label="Put a successor BAA in place",
        due_label="terminating on",
    ),
    FindingKindSpec(
        value="coverage_gap_ahead",
        name="COVERAGE_GAP_AHEAD",
        label="Coverage gap ahead",
        citation="45 CFR 164.502(e)",
        severity=Severity.HIGH,
        severity_rule="Always high.",
        subject=Subject.ENGAGEMENT,
        fix_page=FixPage.AGREEMENT,
        fix_label="Close the gap in the successor BAA",
        due_label="no BAA in force from",
    ),
)


def _reader_credential_wording(facts: AlertFacts) -> AlertWording:
    """Licenses, board certifications and privileges of the readers: the rule's explanation names the
    radiologist and what expires; reminders on the license calendar (settings.ALERT_LEAD_DAYS)."""
    when = f"in {_days(facts.days_left)}" if facts.days_left else "today"
    return AlertWording(
        subject=f"Radiologist credential expiring {when} ({_day(facts.due_on)}): {facts.vendor}",
        title="Radiologist credential expiring",
        summary=f"a radiologist's license, board certification or privileges expire ({facts.threshold_label})",
        headline=facts.explanation,
        action=(
            f"Ask {facts.vendor} for the renewal and record it (the new expiry date, verified at the source), or "
            "stop the radiologist reading for the facilities that need it before that date (42 CFR 482.22(a))."
        ),
        facilities=facts.facility or f"every facility {facts.vendor} reads for",
        date_label="Expires on",
        countdown=True,
    )


#: Teleradiology readers (readers app; rules in the "Teleradiology readers" section of
#: compliance/rules.py). Items 2 and 3 of the checklist are computed from the same records.
READER_KINDS: tuple[FindingKindSpec, ...] = (
    FindingKindSpec(
        value="reader_unlicensed",
        name="READER_UNLICENSED",
        label="Radiologist reading without a license in the facility's state",
        citation="42 CFR 482.22(a)(3)(iv)",
        severity=Severity.CRITICAL,
        severity_rule="Always critical.",
        subject=Subject.RADIOLOGIST,
        fix_page=FixPage.RADIOLOGIST,
        fix_label="Record the license",
        checklist_item=2,
    ),
    FindingKindSpec(
        value="reader_license_expiring",
        name="READER_LICENSE_EXPIRING",
        label="Radiologist's state license expiring",
        citation="42 CFR 482.22(a)(3)(iv)",
        severity=Severity.MEDIUM,
        severity_rule="Always medium (a warning, reminded on the license calendar).",
        subject=Subject.RADIOLOGIST,
        fix_page=FixPage.RADIOLOGIST,
        fix_label="Record the renewal",
        due_label="expires on",
        alert_kind="reader_credential",
        alert_wording=_reader_credential_wording,
        checklist_item=2,
    ),
    FindingKindSpec(
        value="reader_board_expiring",
        name="READER_BOARD_EXPIRING",
        label="Radiologist's board certification expiring",
        citation="42 CFR 482.22(c)(4)",
        severity=Severity.MEDIUM,
        severity_rule="Always medium (a warning, reminded on the license calendar).",
        subject=Subject.RADIOLOGIST,
        fix_page=FixPage.RADIOLOGIST,
        fix_label="Record the recertification",
        due_label="expires on",
        alert_kind="reader_credential",
        alert_wording=_reader_credential_wording,
    ),
    FindingKindSpec(
        value="reader_privilege_expiring",
        name="READER_PRIVILEGE_EXPIRING",
        label="Radiologist's privileges at a facility expiring",
        citation="42 CFR 482.22(a)(1)-(2)",
        severity=Severity.MEDIUM,
        severity_rule="Always medium (a warning, reminded on the license calendar).",
        subject=Subject.RADIOLOGIST,
        fix_page=FixPage.RADIOLOGIST,
        fix_label="Record the reappointment",
        due_label="expires on",
        alert_kind="reader_credential",
        alert_wording=_reader_credential_wording,
        checklist_item=3,
    ),
    FindingKindSpec(
        value="reader_not_privileged",
        name="READER_NOT_PRIVILEGED",
        label="Radiologist reading without privileges at the facility",
        citation="42 CFR 482.22(a), 485.616(c)",
        severity=Severity.HIGH,
        severity_rule="Always high.",
        subject=Subject.RADIOLOGIST,
        fix_page=FixPage.RADIOLOGIST,
        fix_label="Record the privileges",
        checklist_item=3,
    ),
    FindingKindSpec(
        value="reader_proxy_no_agreement",
        name="READER_PROXY_WITHOUT_AGREEMENT",
        label="Privileges by proxy without a written agreement",
        citation="42 CFR 482.22(a)(3)-(4), 482.12(a)(8), 485.616(c)",
        severity=Severity.HIGH,
        severity_rule="Always high.",
        subject=Subject.RADIOLOGIST,
        fix_page=FixPage.RADIOLOGIST,
        fix_label="Record the proxy agreement",
        checklist_item=3,
    ),
    FindingKindSpec(
        value="reader_license_not_reverified",
        name="READER_LICENSE_NOT_REVERIFIED",
        label="State license not re-verified",
        citation="45 CFR 164.308(a)(8)",
        severity=Severity.MEDIUM,
        severity_rule="Always medium.",
        subject=Subject.RADIOLOGIST,
        fix_page=FixPage.RADIOLOGIST,
        fix_label="Re-verify the license",
        due_label="re-verification due",
    ),
)
BUILTIN = BUILTIN + READER_KINDS
BUILTIN_VALUES = frozenset(spec.value for spec in BUILTIN)
for _spec in BUILTIN:
    register(_spec)
