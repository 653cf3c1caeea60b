"""Forms of the vendor pages. Choice lists go through the gate; the services decide what is valid."""

from __future__ import annotations

from pathlib import Path

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.utils import timezone

from baatracker.forms import DATE_WIDGET, check_file_size, upload_limit_text
from facilities.models import Facility
from organizations.querysets import Action
from vendors.models import Engagement, EngagementStatus, SubcontractorLink, Vendor
from vendors.services import engagement_default_status

STATUS_FROM_DATES = "From the PHI start date"


def _helper(submit_label: str) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.add_input(Submit("save", submit_label))
    return helper


#: Files accepted as a written assurance or a signed document: extension -> how its content starts
#: (None: text, no signature). Nothing a browser would run (HTML, SVG, scripts).
ASSURANCE_FILE_TYPES: dict[str, tuple[bytes, ...] | None] = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".msg": (b"\xd0\xcf\x11\xe0",),
    ".eml": None,
    ".txt": None,
}


def check_file_type(upload, what: str, types: dict[str, tuple[bytes, ...] | None] = ASSURANCE_FILE_TYPES) -> None:
    """The file's extension is one of ``types`` and its content starts as that type's does."""
    suffix = Path(upload.name or "").suffix.lower()
    if suffix not in types:
        raise ValidationError(
            f"This kind of file is not accepted as the {what}; upload a PDF, image (PNG or JPEG), Word (.docx), "
            "text or email (.eml, .msg) file."
        )
    signatures = types[suffix]
    if signatures is None:
        return
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not head.startswith(signatures):
        raise ValidationError(f"This file is named {suffix} but its content is not a {suffix[1:].upper()} file.")


class VendorForm(forms.ModelForm):
    website = forms.URLField(required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = Vendor
        fields = [
            "legal_name",
            "category",
            "is_conduit",
            "contact_name",
            "contact_email",
            "contact_phone",
            "website",
            "notes",
        ]
        help_texts = {
            "legal_name": "The vendor's legal name, as on the contract.",
            "is_conduit": "Only for a carrier that transports data without access to it (e.g. an internet provider). "
            "Any vendor that stores, processes or reads DICOM studies is a business associate, not a conduit "
            "(45 CFR 160.103).",
        }
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, organization_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id = organization_id
        self.helper = _helper("Save vendor")

    def clean_legal_name(self):
        name = " ".join(self.cleaned_data["legal_name"].split())
        clash = Vendor.objects.filter(organization_id=self.organization_id, legal_name__iexact=name).exclude(
            pk=self.instance.pk
        )
        if clash.exists():
            raise ValidationError(f"A vendor named \u201c{name}\u201d is already in your inventory.")
        return name


PHI_HELP = {
    "phi_creates": "The vendor creates PHI for you, e.g. a teleradiology group writing reports or an AI tool "
    "producing findings about a patient.",
    "phi_receives": "The vendor receives PHI from you, e.g. DICOM studies sent to a reading group or an AI tool. "
    "DICOM headers carry the patient's name, birth date and ID: images are PHI.",
    "phi_maintains": "The vendor stores PHI, e.g. a PACS, a cloud DICOM archive or a backup host.",
    "phi_transmits": "The vendor transmits PHI on your behalf, e.g. an image-sharing or referring-provider portal.",
}


class EngagementForm(forms.ModelForm):
    class Meta:
        model = Engagement
        fields = [
            "facility",
            "service_description",
            "phi_creates",
            "phi_receives",
            "phi_maintains",
            "phi_transmits",
            "phi_access_starts_on",
            "status",
            "ends_on",
            "data_location",
        ]
        help_texts = {
            **PHI_HELP,
            "service_description": "What the vendor does at this facility, e.g. 'Overnight teleradiology reads'.",
            "phi_access_starts_on": "Actual or planned first day the vendor touches PHI. The BAA must be executed "
            "on or before this day (45 CFR 164.502(e)).",
            "ends_on": "Leave empty while the engagement runs.",
        }
        widgets = {"phi_access_starts_on": DATE_WIDGET, "ends_on": DATE_WIDGET}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        facilities = Facility.objects.restrict(user, Action.CHANGE)
        current = self.instance.facility_id if self.instance.pk else None
        self.fields["facility"].queryset = facilities.filter(Q(active=True) | Q(pk=current)).order_by("name")
        if not self.instance.pk:
            # A new engagement's status follows its PHI start date unless chosen (issue #18 item 6).
            status = self.fields["status"]
            status.required = False
            status.choices = [("", STATUS_FROM_DATES), *EngagementStatus.choices]
            status.initial = ""
            self.initial["status"] = ""
            status.help_text = "Left as is, the engagement is active once PHI access has started, planned before."
        self.helper = _helper("Save engagement")
        self.helper.layout = Layout(
            "facility",
            "service_description",
            Fieldset(
                "PHI access (45 CFR 160.103)",
                HTML(
                    '<p class="small text-body-secondary">A vendor that does any of these with protected health '
                    "information on your behalf is a business associate and needs a BAA before it starts.</p>"
                ),
                "phi_creates",
                "phi_receives",
                "phi_maintains",
                "phi_transmits",
                "phi_access_starts_on",
            ),
            Div("status", "ends_on", "data_location"),
        )

    def clean(self):
        cleaned = super().clean()
        starts_on, ends_on = cleaned.get("phi_access_starts_on"), cleaned.get("ends_on")
        if not cleaned.get("status") and "status" not in self.errors:
            cleaned["status"] = engagement_default_status(phi_access_starts_on=starts_on, today=timezone.localdate())
            self.instance.status = cleaned["status"]  # also when the field is left out of the data (API)
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error(
                "ends_on",
                f"The engagement cannot end ({ends_on:%Y-%m-%d}) before PHI access starts ({starts_on:%Y-%m-%d}).",
            )
        return cleaned


class SubcontractorLinkForm(forms.ModelForm):
    class Meta:
        model = SubcontractorLink
        fields = [
            "subcontractor",
            "service_description",
            "touches_phi",
            "downstream_baa_attested_on",
            "attestation_evidence",
            "attestation_file",
        ]
        labels = {"subcontractor": "Subcontractor (another vendor in your inventory)"}
        help_texts = {
            "touches_phi": "The subcontractor creates, receives, maintains or transmits PHI for the vendor, e.g. the "
            "cloud host under a PACS. It must then be bound by the vendor's own BAA "
            "(45 CFR 164.502(e)(1)(ii), 164.308(b)(2)).",
            "attestation_evidence": "How the vendor assured you, e.g. 'Email from the vendor's privacy officer'.",
        }
        widgets = {
            "downstream_baa_attested_on": DATE_WIDGET,
            "attestation_evidence": forms.Textarea(attrs={"rows": 3}),
            # Not clearable: evidence is replaced by a new upload, never detached (164.316(b)(2)).
            "attestation_file": forms.FileInput,
        }

    def __init__(self, *args, user, vendor: Vendor, **kwargs):
        super().__init__(*args, **kwargs)
        self.vendor = vendor
        self.fields["subcontractor"].queryset = (
            Vendor.objects.restrict(user, Action.VIEW)
            .filter(organization_id=vendor.organization_id)
            .exclude(pk=vendor.pk)
            .order_by("legal_name")
        )
        self.fields[
            "attestation_file"
        ].help_text = (
            f"The vendor's written assurance or its downstream BAA (PDF, image, Word or email), {upload_limit_text()}."
        )
        self.helper = _helper("Save subcontractor")

    def clean_attestation_file(self):
        upload = self.cleaned_data.get("attestation_file")
        if isinstance(upload, UploadedFile):
            check_file_size(upload, "attestation file")
            check_file_type(upload, "attestation file")
        elif upload is False:
            # Evidence is kept (164.316(b)(2)): a file is replaced by a new upload, never removed.
            return self.instance.attestation_file
        return upload

    def clean(self):
        cleaned = super().clean()
        subcontractor = cleaned.get("subcontractor")
        if subcontractor is not None:
            duplicate = SubcontractorLink.objects.filter(vendor=self.vendor, subcontractor=subcontractor).exclude(
                pk=self.instance.pk
            )
            if duplicate.exists():
                self.add_error(
                    "subcontractor", f"{subcontractor} is already recorded as a subcontractor of {self.vendor}."
                )
        return cleaned
