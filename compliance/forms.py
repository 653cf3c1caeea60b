"""Forms of the compliance pages. Choice lists of facilities and vendors go through the gate."""

from __future__ import annotations

from django import forms

from compliance import kinds
from compliance.models import AssessmentOutcome, Severity
from compliance.selectors import FindingState
from facilities.models import Facility
from organizations.querysets import Action
from vendors.models import Vendor

EXPORT_FORMATS = (("csv", "CSV"), ("xlsx", "Excel (XLSX)"))


class FindingFilterForm(forms.Form):
    """The findings list's filters, read from the query string (GET)."""

    state = forms.ChoiceField(label="Status", choices=FindingState.CHOICES, required=False)
    severity = forms.ChoiceField(label="Severity", choices=[("", "Any severity"), *Severity.choices], required=False)
    kind = forms.ChoiceField(label="Kind", choices=lambda: [("", "Any kind"), *kinds.choices()], required=False)
    facility = forms.ModelChoiceField(
        label="Facility", queryset=Facility.objects.none(), required=False, empty_label="Any facility"
    )
    vendor = forms.ModelChoiceField(
        label="Vendor", queryset=Vendor.objects.none(), required=False, empty_label="Any vendor"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-select form-select-sm")
        self.fields["facility"].queryset = Facility.objects.restrict(user, Action.VIEW).order_by("name")
        self.fields["vendor"].queryset = Vendor.objects.restrict(user, Action.VIEW).order_by("legal_name")

    def filters(self) -> dict:
        """The cleaned filters; an invalid value (e.g. another organization's facility) is ignored."""
        self.is_valid()  # fields in error are left out of cleaned_data
        data = self.cleaned_data
        return {
            "kind": data.get("kind") or "",
            "severity": data.get("severity") or "",
            "facility": data.get("facility"),
            "vendor": data.get("vendor"),
            "state": data.get("state") or FindingState.OPEN,
        }


class FindingAcknowledgeForm(forms.Form):
    note = forms.CharField(
        label="Acknowledgement note",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="What is being done about it, and by whom. Acknowledging does not resolve the finding: "
        "it is resolved when the data no longer shows the problem.",
    )


class BreachRiskAssessmentForm(forms.Form):
    """45 CFR 164.402(2): the four factors, the outcome, the date and the signed document."""

    nature_and_extent = forms.CharField(
        label="Nature and extent of the PHI involved", widget=forms.Textarea(attrs={"rows": 2})
    )
    unauthorized_person = forms.CharField(
        label="The unauthorized person who used the PHI or to whom it went", widget=forms.Textarea(attrs={"rows": 2})
    )
    acquired_or_viewed = forms.CharField(
        label="Whether the PHI was actually acquired or viewed", widget=forms.Textarea(attrs={"rows": 2})
    )
    mitigation = forms.CharField(
        label="The extent to which the risk was mitigated", widget=forms.Textarea(attrs={"rows": 2})
    )
    outcome = forms.ChoiceField(choices=AssessmentOutcome.choices)
    assessed_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    document = forms.FileField(label="Signed assessment (PDF)")
