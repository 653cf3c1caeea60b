"""Reads of the readers app, always through the permission gate. The licensure matrix consumes the
findings of the rules (compliance/rules.py, "Teleradiology readers") for what is missing or expiring;
it re-implements no rule."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import QuerySet

from compliance.models import Finding, FindingKind
from compliance.rules import assignments_active_on, licenses_practising_on, on_roster_q
from facilities.models import Facility, USState
from organizations.querysets import Action
from readers.models import (
    ImlcLetter,
    Privilege,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
)
from vendors.models import Vendor


def roster(user, vendor: Vendor, as_of: datetime.date) -> QuerySet[Radiologist]:
    """The vendor's radiologists on the roster on ``as_of``."""
    return Radiologist.objects.restrict(user, Action.VIEW).filter(vendor=vendor).filter(on_roster_q(as_of))


def radiologist_page(user, radiologist: Radiologist) -> dict:
    licenses = StateLicense.objects.restrict(user).filter(radiologist=radiologist).select_related("verified_by")
    assignments = (
        ReadingAssignment.objects.restrict(user)
        .filter(radiologist=radiologist)
        .select_related("engagement__facility")
        .order_by("-starts_on")
    )
    privileges = Privilege.objects.restrict(user).filter(radiologist=radiologist).select_related("facility")
    findings = (
        Finding.objects.restrict(user)
        .open()
        .filter(radiologist=radiologist)
        .select_related("facility")
        .order_by("kind")
    )
    return {
        "licenses": list(licenses),
        "imlc_letters": list(ImlcLetter.objects.restrict(user).filter(radiologist=radiologist)),
        "assignments": list(assignments),
        "privileges": list(privileges),
        "findings": list(findings),
    }


def proxy_agreements(user, vendor: Vendor) -> QuerySet[ProxyCredentialingAgreement]:
    return ProxyCredentialingAgreement.objects.restrict(user).filter(vendor=vendor).select_related("facility")


@dataclass
class MatrixCell:
    license: StateLicense | None = None
    #: Someone relies on it: the radiologist reads for a facility of this state.
    needed: bool = False
    #: The rules report it expiring (open reader_license_expiring finding).
    expiring: bool = False
    #: The rules report the radiologist reading without it (open reader_unlicensed finding).
    missing: bool = False

    @property
    def css(self) -> str:
        if self.missing:
            return "table-danger"
        if self.expiring:
            return "table-warning"
        return ""


@dataclass
class LicensureMatrix:
    states: list[tuple[str, str]]
    rows: list[tuple[Radiologist, list[MatrixCell]]] = field(default_factory=list)


def licensure_matrix(
    user, *, as_of: datetime.date, vendor: Vendor | None = None, facility: Facility | None = None
) -> LicensureMatrix:
    """Radiologists x states: each cell the practising license of that state, if any; marked missing
    or expiring as the open findings say. Per vendor: its roster. Per facility: who reads there."""
    radiologists = Radiologist.objects.restrict(user).filter(on_roster_q(as_of))
    active = assignments_active_on(as_of).restrict(user, Action.VIEW)
    if vendor is not None:
        radiologists = radiologists.filter(vendor=vendor)
    if facility is not None:
        radiologists = radiologists.filter(pk__in=active.filter(engagement__facility=facility).values("radiologist"))
    people = list(radiologists.order_by("last_name", "first_name", "pk"))
    ids = [person.pk for person in people]
    needed: set[tuple[int, str]] = set(
        active.filter(radiologist__in=ids).values_list("radiologist_id", "engagement__facility__state")
    )
    best: dict[tuple[int, str], StateLicense] = {}
    for license in licenses_practising_on(as_of).filter(radiologist__in=ids).order_by("expires_on"):
        best[(license.radiologist_id, license.state)] = license  # the one expiring last wins
    findings = Finding.objects.restrict(user).open().filter(radiologist__in=ids)
    expiring_ids = {
        int(key.split(":")[1])
        for key in findings.filter(kind=FindingKind.READER_LICENSE_EXPIRING).values_list("subject_key", flat=True)
    }
    missing = set(findings.filter(kind=FindingKind.READER_UNLICENSED).values_list("radiologist_id", "facility__state"))
    codes = {state for _, state in needed} | {state for _, state in best}
    if facility is not None:
        codes.add(facility.state)
    states = [(code, USState(code).label) for code in sorted(codes)]
    matrix = LicensureMatrix(states=states)
    for person in people:
        cells = []
        for code, _ in states:
            license = best.get((person.pk, code))
            cells.append(
                MatrixCell(
                    license=license,
                    needed=(person.pk, code) in needed,
                    expiring=license is not None and license.pk in expiring_ids,
                    missing=(person.pk, code) in missing,
                )
            )
        matrix.rows.append((person, cells))
    return matrix


@dataclass(frozen=True)
class ExpiringCredential:
    """What a reminder to the vendor's contact says about one credential: the radiologist, the
    credential and its expiry, and what the organization needs back. Names, numbers and dates only."""

    radiologist: str
    npi: str
    #: e.g. "Texas state medical license TX-42", "privileges at Riverside Hospital Radiology".
    credential: str
    expires_on: datetime.date
    #: What to send back, in the middle of a sentence after "send ".
    send_back: str


def expiring_credential(finding: Finding) -> ExpiringCredential | None:
    """The credential a reader credential finding (license, board or privileges expiring) is about,
    from its subject ("<model>:<pk>", compliance/rules.py); None for another kind, or a record gone.
    For the reminders to the vendor's contact (alerts.emails), which no user reads through the gate:
    the finding is the dispatcher's. One query at most; the finding is loaded with its radiologist."""
    model, _, pk = finding.subject_key.partition(":")
    radiologist = finding.radiologist
    if radiologist is None or not pk.isdigit():
        return None
    found: tuple[str, datetime.date | None, str] | None = None
    if finding.kind == FindingKind.READER_LICENSE_EXPIRING and model == "state_license":
        license_ = StateLicense.objects.filter(pk=int(pk), radiologist=radiologist).first()
        if license_ is not None:
            found = (
                f"{license_.get_state_display()} state medical license {license_.number}",
                license_.expires_on,
                "the renewed license (its new expiry date, and a copy or the state board's verification page) "
                "as soon as the board has renewed it",
            )
    elif finding.kind == FindingKind.READER_PRIVILEGE_EXPIRING and model == "privilege":
        privilege = Privilege.objects.filter(pk=int(pk), radiologist=radiologist).select_related("facility").first()
        if privilege is not None:
            found = (
                f"clinical privileges at {privilege.facility.name}",
                privilege.expires_on,
                "the reappointment (the new privileges' dates, and for privileges by proxy the distant site's "
                "privileging decision) before that date",
            )
    elif finding.kind == FindingKind.READER_BOARD_EXPIRING and model == "board_certification":
        found = (
            f"board certification ({radiologist.board or 'certifying board'})",
            radiologist.board_certification_expires_on,
            "the recertification (the board's new expiry date) as soon as it is granted",
        )
    if found is None or found[1] is None:
        return None
    credential, expires_on, send_back = found
    return ExpiringCredential(
        radiologist=radiologist.name,
        npi=radiologist.npi,
        credential=credential,
        expires_on=expires_on,
        send_back=send_back,
    )
