"""Forms of the readers pages. Choice lists go through the gate; the services decide what is valid."""

from __future__ import annotations

from pathlib import Path

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from baatracker.forms import DATE_WIDGET, check_file_size
from facilities.models import Facility
from organizations.querysets import Action
from readers.models import (
    ImlcLetter,
    Privilege,
    ProxyCredentialingAgreement,
    Radiologist,
    ReadingAssignment,
    StateLicense,
)
from vendors.models import Engagement

DOCUMENT_EXTENSIONS = (".pdf", ".png", ".jpg", ".jpeg", ".txt")


def _helper(label: str) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.add_input(Submit("save", label))
    return helper


def _clean_document(upload, what: str):
    if isinstance(upload, UploadedFile):
        check_file_size(upload, what)
        if Path(upload.name).suffix.lower() not in DOCUMENT_EXTENSIONS:
            raise ValidationError(f"Upload the {what} as a PDF, an image or a text file.")
    return upload


def _date_widgets(*names: str) -> dict:
    return {name: DATE_WIDGET for name in names}


class RadiologistForm(forms.ModelForm):
    class Meta:
        model = Radiologist
        fields = [
            "first_name",
            "last_name",
            "npi",
            "board",
            "board_certified_on",
            "board_certification_expires_on",
            "roster_starts_on",
        ]
        widgets = _date_widgets("board_certified_on", "board_certification_expires_on", "roster_starts_on")
        help_texts = {"npi": "10 digits, from the NPPES NPI registry; the last one is a check digit."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Save radiologist")


class StateLicenseForm(forms.ModelForm):
    class Meta:
        model = StateLicense
        fields = [
            "state",
            "number",
            "status",
            "issued_on",
            "expires_on",
            "imlc_letter",
            "verification_source",
            "verified_by",
            "verified_on",
            "document",
        ]
        widgets = _date_widgets("issued_on", "expires_on", "verified_on")
        help_texts = {
            "verified_on": "When the license was last checked at the source; it must be re-verified periodically.",
            "imlc_letter": "Only if the license was obtained through the Interstate Medical Licensure Compact.",
        }

    def __init__(self, *args, organization_id: int, radiologist: Radiologist, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["imlc_letter"].queryset = ImlcLetter.objects.filter(radiologist=radiologist)
        self.fields["verified_by"].queryset = (
            get_user_model()
            .objects.filter(membership__organization_id=organization_id, is_active=True)
            .order_by("last_name", "first_name", "username")
        )
        self.fields["verified_by"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
        self.helper = _helper("Save license")

    def clean_document(self):
        return _clean_document(self.cleaned_data.get("document"), "license document")


class ImlcLetterForm(forms.ModelForm):
    class Meta:
        model = ImlcLetter
        fields = ["state_of_principal_license", "issued_on", "expires_on", "document"]
        widgets = _date_widgets("issued_on", "expires_on")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Save letter")

    def clean_document(self):
        return _clean_document(self.cleaned_data.get("document"), "letter")


class ReadingAssignmentForm(forms.ModelForm):
    class Meta:
        model = ReadingAssignment
        fields = ["engagement", "starts_on", "ends_on"]
        widgets = _date_widgets("starts_on", "ends_on")
        labels = {"engagement": "Reads for"}

    def __init__(self, *args, user, radiologist: Radiologist, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["engagement"].queryset = (
            Engagement.objects.restrict(user, Action.CHANGE)
            .filter(vendor=radiologist.vendor)
            .select_related("facility")
            .order_by("facility__name")
        )
        self.fields["engagement"].label_from_instance = lambda e: f"{e.facility.name} ({e.facility.state})"
        self.helper = _helper("Save assignment")


class PrivilegeForm(forms.ModelForm):
    class Meta:
        model = Privilege
        fields = ["facility", "basis", "scope", "granted_on", "expires_on", "next_reappointment_on"]
        widgets = _date_widgets("granted_on", "expires_on", "next_reappointment_on")
        help_texts = {
            "basis": "By proxy: the facility relies on the distant site's credentialing decision, which needs a "
            "written agreement with it (42 CFR 482.22(a)(3)).",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = Facility.objects.restrict(user, Action.CHANGE).order_by("name")
        self.helper = _helper("Save privileges")


class ProxyAgreementForm(forms.ModelForm):
    class Meta:
        model = ProxyCredentialingAgreement
        fields = [
            "facility",
            "distant_site_name",
            "distant_site_kind",
            "medicare_participating",
            "effective_on",
            "expires_on",
            "terminated_on",
            "document",
            "last_feedback_on",
        ]
        widgets = _date_widgets("effective_on", "expires_on", "terminated_on", "last_feedback_on")
        help_texts = {"document": "The signed agreement (PDF): without it the agreement does not count as written."}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = Facility.objects.restrict(user, Action.CHANGE).order_by("name")
        self.helper = _helper("Save agreement")

    def clean_document(self):
        return _clean_document(self.cleaned_data.get("document"), "agreement")


class RosterRemovalForm(forms.Form):
    roster_ends_on = forms.DateField(label="Removed from the roster on", widget=DATE_WIDGET)


class ReadersImportForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8) or Excel (.xlsx); the first row names the columns.")

    def __init__(self, *args, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"] = forms.ChoiceField(choices=kinds, label="What the file holds")
        self.order_fields(["kind", "file"])
        self.helper = _helper("Check the file")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        check_file_size(upload)
        return upload
