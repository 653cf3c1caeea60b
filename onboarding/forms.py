"""Forms of bulk onboarding. Choice lists go through the gate; the services decide what is valid."""

from __future__ import annotations

from django import forms

from agreements.models import BreachWindowUnit
from baatracker.forms import DATE_WIDGET
from documents.models import OfficerVerdict
from documents.provisions import PROVISIONS
from facilities.models import Facility
from organizations.querysets import Action
from vendors.models import Vendor, VendorCategory


class CoverageFields(forms.Form):
    covers_all_facilities = forms.BooleanField(required=False, label="Covers every facility")
    facilities = forms.ModelMultipleChoiceField(
        queryset=Facility.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Facilities covered",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facilities"].queryset = Facility.objects.restrict(user, Action.CHANGE).order_by("name")

    def clean(self):
        data = super().clean()
        if not data.get("covers_all_facilities") and not data.get("facilities"):
            raise forms.ValidationError("Choose the facilities these agreements cover, or every facility.")
        return data


class UploadForm(CoverageFields):
    """The files themselves come from request.FILES.getlist("files") (several files, or ZIPs)."""


class ConfirmForm(CoverageFields):
    vendor = forms.ModelChoiceField(
        queryset=Vendor.objects.none(), required=False, empty_label="A new vendor (below)", label="Vendor"
    )
    new_vendor_name = forms.CharField(max_length=200, required=False, label="New vendor's legal name")
    new_vendor_category = forms.ChoiceField(
        choices=[("", "---------"), *VendorCategory.choices], required=False, label="New vendor's category"
    )
    title = forms.CharField(max_length=200, required=False, label="Title")
    executed_on = forms.DateField(widget=DATE_WIDGET, label="Executed on")
    effective_on = forms.DateField(widget=DATE_WIDGET, required=False, label="Effective on")
    expires_on = forms.DateField(widget=DATE_WIDGET, required=False, label="Expires on")
    breach_notification_window = forms.IntegerField(min_value=0, required=False, label="Breach notification window")
    breach_notification_unit = forms.ChoiceField(
        choices=[("", "---------"), *BreachWindowUnit.choices], required=False, label="Unit"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["vendor"].queryset = Vendor.objects.restrict(user, Action.CHANGE).order_by("legal_name")
        for pid in PROVISIONS:
            self.fields[f"verdict_{pid}"] = forms.ChoiceField(
                choices=OfficerVerdict.choices,
                required=False,
                label=f"{pid} decision",
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
            self.fields[f"note_{pid}"] = forms.CharField(
                required=False,
                max_length=2000,
                label=f"{pid} note",
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm mt-1", "placeholder": "Note"}),
            )
        for name in (
            "new_vendor_name",
            "title",
            "executed_on",
            "effective_on",
            "expires_on",
            "breach_notification_window",
        ):
            self.fields[name].widget.attrs.setdefault("class", "form-control")
        for name in ("vendor", "new_vendor_category", "breach_notification_unit"):
            self.fields[name].widget.attrs["class"] = "form-select"

    def clean(self):
        data = super().clean()
        if data.get("vendor") is None:
            if not data.get("new_vendor_name", "").strip():
                self.add_error("vendor", "Choose the vendor, or give the legal name of a new vendor.")
            if not data.get("new_vendor_category"):
                self.add_error("new_vendor_category", "Choose the new vendor's category.")
        for pid in PROVISIONS:
            if data.get(f"verdict_{pid}") and not data.get(f"note_{pid}", "").strip():
                self.add_error(f"note_{pid}", f"{pid}: say why, e.g. the section and page, or what is missing.")
        return data

    def verdicts(self) -> dict[str, tuple[str, str]]:
        return {
            pid: (self.cleaned_data[f"verdict_{pid}"], self.cleaned_data[f"note_{pid}"])
            for pid in PROVISIONS
            if self.cleaned_data.get(f"verdict_{pid}")
        }
