"""The form of one item of the teleradiology checklist. Items 1 to 3 are computed and have no form."""

from __future__ import annotations

from pathlib import Path

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from baatracker.forms import DATE_WIDGET, check_file_size, upload_limit_text
from checklists.models import ChecklistItem, ItemStatus
from checklists.services import NEXT_REVIEW_REQUIRED, VERIFYING_ROLES

#: Evidence is a document, a screenshot or an exported email; nothing executable.
EVIDENCE_EXTENSIONS = (".pdf", ".png", ".jpg", ".jpeg", ".txt", ".docx", ".xlsx", ".eml", ".msg")


class ChecklistItemForm(forms.ModelForm):
    status = forms.ChoiceField(choices=[(s.value, s.label) for s in ItemStatus if s != ItemStatus.COMPUTED])

    class Meta:
        model = ChecklistItem
        fields = [
            "status",
            "not_applicable_reason",
            "evidence_note",
            "evidence_file",
            "verified_by",
            "verified_on",
            "next_review_on",
        ]
        labels = {"not_applicable_reason": "Why it does not apply", "next_review_on": "Next review due"}
        help_texts = {
            "evidence_note": "What was checked and where the proof is, e.g. 'State license list received from the "
            "group, all readers licensed in TX'.",
            "next_review_on": "When to check again (required for a complete item). An alert is sent when it is due.",
        }
        widgets = {
            # Not clearable: evidence is replaced by a new upload, never detached (164.316(b)(2)).
            "evidence_file": forms.FileInput,
            "verified_on": DATE_WIDGET,
            "next_review_on": DATE_WIDGET,
            "evidence_note": forms.Textarea(attrs={"rows": 3}),
            "not_applicable_reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, organization_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        # Only members of the organization who may change its records verify an item: viewers and
        # auditors look, they do not attest.
        self.fields["verified_by"].queryset = (
            get_user_model()
            .objects.filter(
                membership__organization_id=organization_id,
                membership__role__in=VERIFYING_ROLES,
                is_active=True,
            )
            .order_by("last_name", "first_name", "username")
        )
        self.fields["verified_by"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
        self.fields[
            "evidence_file"
        ].help_text = f"A PDF, image, text, Word, Excel or email file, {upload_limit_text()}."
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.add_input(Submit("save", "Save item"))

    def clean_evidence_file(self):
        upload = self.cleaned_data.get("evidence_file")
        if upload is False:  # a forged "clear" checkbox: the file is kept
            return self.instance.evidence_file
        if isinstance(upload, UploadedFile):
            check_file_size(upload, "evidence file")
            if Path(upload.name).suffix.lower() not in EVIDENCE_EXTENSIONS:
                raise ValidationError(
                    "This kind of file is not accepted as evidence; upload a PDF, image, text, Word, Excel or email "
                    "file."
                )
        return upload

    def clean(self):
        cleaned = super().clean()
        status = cleaned.get("status")
        if status == ItemStatus.NOT_APPLICABLE and not (cleaned.get("not_applicable_reason") or "").strip():
            self.add_error("not_applicable_reason", "Say why this item does not apply to this engagement.")
        if status == ItemStatus.COMPLETE:
            if cleaned.get("verified_by") is None and "verified_by" not in self.errors:
                self.add_error("verified_by", "A complete item needs who verified it.")
            if cleaned.get("verified_on") is None and "verified_on" not in self.errors:
                self.add_error("verified_on", "A complete item needs the date it was verified.")
            if cleaned.get("next_review_on") is None and "next_review_on" not in self.errors:
                self.add_error("next_review_on", NEXT_REVIEW_REQUIRED)
        verified_on, next_review_on = cleaned.get("verified_on"), cleaned.get("next_review_on")
        if verified_on and next_review_on and next_review_on <= verified_on:
            self.add_error(
                "next_review_on",
                f"The next review ({next_review_on:%Y-%m-%d}) must come after the verification "
                f"({verified_on:%Y-%m-%d}).",
            )
        return cleaned
