"""The main pages of the app, on the demo organization: for the accessibility and validity checks."""

from __future__ import annotations

from django.urls import reverse

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from compliance.models import Finding
from compliance.services import run_compliance
from organizations import demo
from readers.models import Radiologist
from vendors.models import Vendor


def seed() -> demo.SeedResult:
    result = demo.seed_demo()
    run_compliance(organization_id=result.organization.pk)
    return result


def main_pages(organization) -> dict[str, str]:
    """Name -> URL of the pages every release must keep accessible and valid."""
    vendor = Vendor.objects.filter(organization=organization, engagements__isnull=False).order_by("pk").first()
    agreement = BusinessAssociateAgreement.objects.filter(organization=organization).order_by("pk").first()
    finding = Finding.objects.filter(organization=organization, resolved_at=None).order_by("pk").first()
    # The vRad reader with an IMLC letter and no Minnesota license: findings, matrix marks, proxy lapse.
    reader = Radiologist.objects.get(vendor__organization=organization, last_name="Brook")
    reading_at = reader.assignments.select_related("engagement").first().engagement
    executed = (
        BusinessAssociateAgreement.objects.filter(organization=organization, status=AgreementStatus.EXECUTED)
        .order_by("pk")
        .first()
    )
    return {
        "dashboard": reverse("compliance:dashboard"),
        "findings": reverse("compliance:finding_list"),
        "finding": reverse("compliance:finding_detail", args=[finding.pk]),
        "coverage": reverse("compliance:coverage"),
        "vendors": reverse("vendors:list"),
        "vendor": reverse("vendors:detail", args=[vendor.pk]),
        "agreements": reverse("agreements:list"),
        "agreement": reverse("agreements:detail", args=[agreement.pk]),
        "terminate agreement": reverse("agreements:terminate", args=[executed.pk]),
        "onboarding queue": reverse("onboarding:queue"),
        "members": reverse("organizations:members"),
        "activity": reverse("organizations:activity"),
        "api tokens": reverse("api:tokens"),
        "calendar": reverse("calendars:page"),
        "sign_in_settings": reverse("identity:sign_in_settings"),
        "sign_in_security": reverse("identity:security"),
        "two_factor_enrol": reverse("identity:two_factor_enrol"),
        "readers roster": reverse("readers:roster", args=[reader.vendor_id]),
        "radiologist": reverse("readers:radiologist_detail", args=[reader.pk]),
        "readers of a facility": reverse("readers:facility_matrix", args=[reading_at.facility_id]),
        "teleradiology checklist": reverse("checklists:detail", args=[reading_at.pk]),
    }
