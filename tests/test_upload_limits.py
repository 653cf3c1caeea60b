"""Every file field states its limits, from the settings, before anything is uploaded (issue #18 item 4)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agreements.forms import AgreementForm, DocumentUploadForm
from checklists.forms import ChecklistItemForm
from organizations.models import Role
from reports.forms import VerifyForm
from tests import factories as f
from vendors.forms import SubcontractorLinkForm
from vendors.models import SubcontractorLink


@pytest.mark.django_db
def test_every_file_field_states_the_upload_limit_from_the_settings(settings):
    settings.MAX_UPLOAD_MEGABYTES = 7
    org = f.organization()
    officer = f.user(org, role=Role.COMPLIANCE_OFFICER)
    vendor = f.vendor(org)
    forms = {
        "agreement (new)": AgreementForm(user=officer, membership=officer.membership),
        "agreement document": DocumentUploadForm(),
        "checklist item": ChecklistItemForm(organization_id=org.pk),
        "subcontractor": SubcontractorLinkForm(instance=SubcontractorLink(vendor=vendor), user=officer, vendor=vendor),
        "report to verify": VerifyForm(),
    }
    checked = 0
    for name, form in forms.items():
        for field_name, field in form.fields.items():
            if getattr(field.widget, "input_type", "") == "file":
                checked += 1
                assert "at most 7 MB" in field.help_text, f"{name}.{field_name}: {field.help_text!r}"
    assert checked == len(forms)


@pytest.mark.django_db
def test_the_pages_show_the_limit_next_to_the_file_fields(client, settings, tmp_path):
    settings.MAX_UPLOAD_MEGABYTES = 7
    settings.MEDIA_ROOT = tmp_path
    org = f.organization()
    client.force_login(f.user(org, role=Role.COMPLIANCE_OFFICER))
    agreement = f.agreement(f.vendor(org), signed_document=False)
    for url in (reverse("agreements:create"), reverse("agreements:detail", args=[agreement.pk])):
        html = client.get(url).content.decode()
        assert "at most 7 MB" in html, url
        assert 'aria-describedby="id_' in html, url
