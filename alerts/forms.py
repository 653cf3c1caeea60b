"""Forms of the alerts pages."""

from __future__ import annotations

from django import forms

from alerts.models import PREFERENCE_FIELD, AlertKind, AlertPreference, SendStatus

STATUS_FILTER_CHOICES = [
    ("", "Any status"),
    ("sent", "Sent"),
    ("pending", "Pending"),
    ("uncertain", "Outcome unknown (may have arrived)"),
    ("failed", "Failed (incl. retrying and refused)"),
    ("skipped", "Skipped"),
    *[
        (value, f"Only: {label}")
        for value, label in SendStatus.choices
        if value not in {"sent", "pending", "skipped", "uncertain"}
    ],
]


class AlertFilterForm(forms.Form):
    """The alerts list's filters, read from the query string (GET)."""

    status = forms.ChoiceField(label="Status", choices=STATUS_FILTER_CHOICES, required=False)
    kind = forms.ChoiceField(label="Kind", choices=[("", "Any kind"), *AlertKind.choices], required=False)
    recipient = forms.ModelChoiceField(label="Recipient", queryset=None, required=False, empty_label="Anyone")

    def __init__(self, *args, recipients, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-select form-select-sm")
        self.fields["recipient"].queryset = recipients
        self.fields["recipient"].label_from_instance = lambda user: user.get_full_name() or user.get_username()

    def filters(self) -> dict:
        """The cleaned filters; an invalid value (e.g. someone the user may not see) is ignored."""
        self.is_valid()
        data = self.cleaned_data
        recipient = data.get("recipient")
        return {
            "status": data.get("status") or "",
            "kind": data.get("kind") or "",
            "recipient_id": recipient.pk if recipient else None,
        }


class AlertPreferenceForm(forms.ModelForm):
    class Meta:
        model = AlertPreference
        fields = ["delivery", *PREFERENCE_FIELD.values()]  # a switch per alert kind
        widgets = {"delivery": forms.RadioSelect}
        labels = {"delivery": "How to send them"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-check-input")
