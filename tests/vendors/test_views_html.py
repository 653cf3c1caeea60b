"""The Nu HTML checker finds no error on the inventory pages (facilities, vendors, agreements,
checklists) beyond the main pages that tests/browser/test_html_validity.py checks."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from agreements.models import BusinessAssociateAgreement
from checklists.models import ChecklistItem
from tests.browser.pages import seed
from tests.browser.test_html_validity import vnu_errors
from vendors.models import Engagement, SubcontractorLink


def test_it_serves_valid_html_on_the_inventory_pages(db, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    result = seed()
    org = result.organization
    client = Client()
    client.force_login(
        org.memberships.get(user__username="officer").user, backend="django.contrib.auth.backends.ModelBackend"
    )
    engagement = Engagement.objects.filter(facility__organization=org, teleradiology_checklist__isnull=False).first()
    vendor = engagement.vendor
    facility = engagement.facility
    agreement = BusinessAssociateAgreement.objects.filter(organization=org).first()
    item = ChecklistItem.objects.filter(checklist__engagement=engagement, number=4).get()
    link = SubcontractorLink.objects.filter(vendor__organization=org).first()
    pages = {
        "facilities": reverse("facilities:list"),
        "facility": reverse("facilities:detail", args=[facility.pk]),
        "facility_form": reverse("facilities:update", args=[facility.pk]),
        "vendor_form": reverse("vendors:update", args=[vendor.pk]),
        "engagement_form": reverse("vendors:engagement_update", args=[engagement.pk]),
        "subcontractor_form": reverse("vendors:subcontractor_update", args=[link.pk]),
        "import": reverse("vendors:import"),
        "agreement_form": reverse("agreements:create") + f"?vendor={vendor.pk}&facility={facility.pk}",
        "agreement_edit": reverse("agreements:update", args=[agreement.pk]),
        "upload": reverse("agreements:upload", args=[agreement.pk]),
        "checklist": reverse("checklists:detail", args=[engagement.pk]),
        "item_form": reverse("checklists:item_update", args=[item.pk]),
    }
    documents = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, f"{name}: {url} answered {response.status_code}"
        documents[name] = response.content.decode()
    bad = b"legal_name,category,facility\nMystery,Quantum,Nowhere\n"
    response = client.post(reverse("vendors:import"), {"file": SimpleUploadedFile("bad.csv", bad)})
    documents["import_errors"] = response.content.decode()
    good = f"legal_name,category,facility\nNew Vendor,pacs,{facility.name}\n".encode()
    response = client.post(reverse("vendors:import"), {"file": SimpleUploadedFile("good.csv", good)})
    documents["import_preview"] = response.content.decode()
    response = client.post(reverse("vendors:engagement_update", args=[engagement.pk]), {"facility": ""})
    documents["engagement_errors"] = response.content.decode()
    errors = vnu_errors(documents, tmp_path)
    assert not errors, json.dumps(errors, indent=2)
