"""Forms of the organization's administration: members and the activity log filters."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.utils import timezone

from facilities.models import Facility
from organizations.models import Role
from organizations.selectors import activity_source_choices


class MembershipFieldsMixin(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)
    facilities = forms.ModelMultipleChoiceField(
        label="Limit to facilities",
        queryset=Facility.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for every facility of the organization. Administrators are never limited.",
    )
    access_expires_on = forms.DateField(
        label="Access ends on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Required for auditors: their access stops after this date.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facilities"].queryset = Facility.objects.filter(organization=organization).order_by("name")

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        ends = cleaned.get("access_expires_on")
        if role == Role.AUDITOR and not ends:
            self.add_error("access_expires_on", "An auditor's access needs an end date.")
        if ends and ends < timezone.localdate():
            self.add_error("access_expires_on", "The end date is in the past.")
        return cleaned


class MemberCreateForm(MembershipFieldsMixin):
    username = forms.CharField(max_length=150, help_text="Unique sign-in name of this person (no shared accounts).")
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField()
    password = forms.CharField(
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )

    field_order = [
        "username",
        "first_name",
        "last_name",
        "email",
        "password",
        "role",
        "facilities",
        "access_expires_on",
    ]

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("This username is taken.")
        return username


class MemberUpdateForm(MembershipFieldsMixin):
    pass


class ActivityFilterForm(forms.Form):
    user = forms.ModelChoiceField(
        label="User", queryset=get_user_model().objects.none(), required=False, empty_label="Anyone"
    )
    source = forms.ChoiceField(label="Record", required=False)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            get_user_model().objects.filter(membership__organization=organization).order_by("username")
        )
        self.fields["source"].choices = [("", "Everything"), *activity_source_choices()]
        for field in self.fields.values():
            css = "form-control form-control-sm" if isinstance(field, forms.DateField) else "form-select form-select-sm"
            field.widget.attrs.setdefault("class", css)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned
