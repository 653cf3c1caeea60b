from __future__ import annotations

from django import forms

from baatracker.forms import check_file_size, upload_limit_text
from reports.models import PaperSize
from reports.selectors import facilities_reportable_by, may_report_on_organization


class AuditReportForm(forms.Form):
    facility = forms.ModelChoiceField(queryset=None, required=False)
    paper_size = forms.ChoiceField(choices=PaperSize.choices, initial=PaperSize.LETTER)
    as_of = forms.DateField(
        required=False,
        label="Coverage as of",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for today. A past day shows coverage and findings as they stood then.",
    )
    include_signed_documents = forms.BooleanField(
        required=False,
        label="Append the signed BAA PDFs",
        help_text="The signed agreements on file follow the report in the same PDF.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["facility"]
        # Only facilities the user may see; an organization-wide report only for unrestricted members.
        field.queryset = facilities_reportable_by(user)
        if may_report_on_organization(user):
            field.empty_label = "All facilities (organization-wide report)"
        else:
            field.required = True
            field.empty_label = None


class VerifyForm(forms.Form):
    file = forms.FileField(label="PDF to verify")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = f"A report PDF as it was downloaded or handed over, {upload_limit_text()}."

    def clean_file(self):
        upload = self.cleaned_data["file"]
        check_file_size(upload, "PDF")
        return upload
