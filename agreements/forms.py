"""Forms of the agreement pages. Choice lists go through the gate; the services decide what is valid."""

from __future__ import annotations

import django_filters
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from agreements.models import (
    SIGNED_STATUSES,
    AgreementStatus,
    BusinessAssociateAgreement,
    DocumentKind,
    breach_window_max_days,
)
from agreements.selectors import ExpiryWindow, filter_by_expiry
from agreements.services import TerminationCorrection
from baatracker.forms import DATE_WIDGET, check_file_size, upload_limit_text
from compliance.rules import MAX_BREACH_NOTIFICATION_DAYS
from facilities.models import Facility
from organizations.querysets import Action
from vendors.models import Vendor

#: Statuses an agreement may be created in: a new draft, or an agreement signed before it was recorded here.
CREATE_STATUSES = (
    AgreementStatus.DRAFT,
    AgreementStatus.SENT,
    AgreementStatus.IN_NEGOTIATION,
    AgreementStatus.EXECUTED,
)


class AgreementFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search", max_length=100)
    status = django_filters.ChoiceFilter(choices=AgreementStatus.choices, empty_label="Any status")
    expiry = django_filters.ChoiceFilter(
        choices=ExpiryWindow.choices, method="by_expiry", empty_label="Any expiry", label="Expiry"
    )
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.none(), empty_label="Any vendor")
    archived = django_filters.ChoiceFilter(
        choices=(("no", "Current"), ("yes", "Archived"), ("all", "Current and archived")),
        method="by_archived",
        empty_label=None,
        label="Show",
    )
    sort = django_filters.OrderingFilter(
        label="Sort by",
        empty_label="Vendor",
        fields=(
            ("vendor__legal_name", "vendor"),
            ("expires_on", "expires"),
            ("effective_on", "effective"),
            ("status", "status"),
        ),
        field_labels={
            "vendor__legal_name": "Vendor",
            "expires_on": "Expiry date",
            "effective_on": "Effective date",
            "status": "Status",
        },
    )

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        data = data.copy() if data is not None else {}
        data.setdefault("archived", "no")
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.filters["vendor"].queryset = Vendor.objects.restrict(request.user, Action.VIEW).order_by("legal_name")
        for name, form_field in self.form.fields.items():
            css = "form-control form-control-sm" if name == "q" else "form-select form-select-sm"
            form_field.widget.attrs.setdefault("class", css)
        self.form.fields["q"].widget.attrs.setdefault("placeholder", "Title, vendor or signatory")

    @property
    def qs(self):
        queryset = super().qs
        ordering = list(queryset.query.order_by) or ["vendor__legal_name"]
        return queryset.order_by(*ordering, "-effective_on", "pk")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(vendor__legal_name__icontains=value)
            | Q(ce_signatory__icontains=value)
            | Q(ba_signatory__icontains=value)
        )

    def by_expiry(self, queryset, name, value):
        return filter_by_expiry(queryset, value, timezone.localdate())

    def by_archived(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(archived_at__isnull=False)
        if value == "all":
            return queryset
        return queryset.filter(archived_at__isnull=True)


class AgreementForm(forms.ModelForm):
    """Terms and coverage of an agreement. The status is chosen only when it is recorded; afterwards it
    moves through the lifecycle actions of the detail page."""

    status = forms.ChoiceField(
        choices=[(s.value, s.label) for s in CREATE_STATUSES],
        initial=AgreementStatus.DRAFT,
        help_text="Executed: an agreement already signed by both parties (give its execution date).",
    )
    #: A new executed agreement and its signed copy, in one step (issue #18 item 4).
    signed_pdf = forms.FileField(
        label="Signed PDF", required=False, widget=forms.FileInput(attrs={"accept": "application/pdf,.pdf"})
    )

    class Meta:
        model = BusinessAssociateAgreement
        fields = [
            "vendor",
            "title",
            "status",
            "covers_all_facilities",
            "covered_facilities",
            "executed_on",
            "effective_on",
            "expires_on",
            "auto_renews",
            "renewal_term_months",
            "renewal_notice_days",
            "breach_notification_days",
            "breach_notification_window",
            "breach_notification_unit",
            "ce_signatory",
            "ba_signatory",
            "amended_on",
            "notes",
        ]
        widgets = {
            "covered_facilities": forms.CheckboxSelectMultiple,
            "executed_on": DATE_WIDGET,
            "effective_on": DATE_WIDGET,
            "expires_on": DATE_WIDGET,
            "amended_on": DATE_WIDGET,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "executed_on": "The day the last party signed. It must be on or before the first day of PHI access "
            "(45 CFR 164.502(e)).",
            "effective_on": "Defaults to the execution date.",
            "breach_notification_days": "Maximum calendar days the vendor has to report a breach after discovery "
            "(45 CFR 164.410(b) allows 60 at most). Computed from the window and its unit when those are given.",
            "breach_notification_window": "As the BAA states it, e.g. 4 with the unit hours, or 45 business days.",
            "amended_on": "Last amendment, e.g. the update for the 2013 Omnibus rule (45 CFR 164.532(e)).",
        }

    def __init__(self, *args, user, membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.membership = membership
        self.fields["vendor"].queryset = Vendor.objects.restrict(user, Action.CHANGE).order_by("legal_name")
        self.fields["covered_facilities"].queryset = Facility.objects.restrict(user, Action.CHANGE).order_by("name")
        self.fields["covered_facilities"].required = False
        if self.instance.pk:
            # After creation the status moves only through the lifecycle actions.
            del self.fields["status"]
            self.fields["vendor"].disabled = True
        if self.instance.pk:
            # Documents of a recorded agreement are added on its page (upload form), one kind at a time.
            del self.fields["signed_pdf"]
        else:
            self.fields["signed_pdf"].help_text = (
                f"If you have it: the PDF signed by both parties, {upload_limit_text()}. It is stored with the "
                "agreement in the same step, with its SHA-256 checksum (45 CFR 164.504(e), kept 6 years)."
            )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "vendor",
            "title",
            *(["status"] if "status" in self.fields else []),
            Fieldset("Coverage", "covers_all_facilities", "covered_facilities"),
            Fieldset("Dates", "executed_on", "effective_on", "expires_on", "amended_on"),
            Fieldset("Terms", "auto_renews", "renewal_term_months", "renewal_notice_days"),
            Fieldset(
                "Breach notification",
                "breach_notification_window",
                "breach_notification_unit",
                "breach_notification_days",
            ),
            Fieldset("Signatories", "ce_signatory", "ba_signatory"),
            *([Fieldset("Signed document", "signed_pdf")] if "signed_pdf" in self.fields else []),
            "notes",
        )
        self.helper.add_input(Submit("save", "Save agreement"))

    def clean_signed_pdf(self):
        upload = self.cleaned_data.get("signed_pdf")
        check_file_size(upload, "signed PDF")
        return upload

    @property
    def status_value(self) -> str:
        if "status" in self.fields:
            return self.cleaned_data.get("status") or AgreementStatus.DRAFT
        return self.instance.status

    def clean(self):
        cleaned = super().clean()
        status = self.status_value
        executed_on, effective_on, expires_on = (
            cleaned.get("executed_on"),
            cleaned.get("effective_on"),
            cleaned.get("expires_on"),
        )
        today = timezone.localdate()
        if cleaned.get("signed_pdf") and status != AgreementStatus.EXECUTED:
            self.add_error(
                "signed_pdf",
                "A signed PDF goes with an executed agreement: choose 'Executed' and its date, or add the PDF "
                "once it is signed.",
            )
        if status in SIGNED_STATUSES:
            if executed_on is None and "executed_on" not in self.errors:
                self.add_error(
                    "executed_on",
                    "An executed agreement needs its execution date: the day the last party signed. "
                    "If it is not signed yet, record it as a draft.",
                )
            elif effective_on is None and executed_on is not None:
                cleaned["effective_on"] = effective_on = executed_on
        elif executed_on and "status" in self.fields:
            self.add_error(
                "status",
                f"An agreement signed on {executed_on:%Y-%m-%d} is executed: choose 'Executed', or clear the "
                "execution date.",
            )
        if executed_on and executed_on > today:
            self.add_error("executed_on", f"The execution date {executed_on:%Y-%m-%d} is in the future.")
        if effective_on and expires_on and expires_on <= effective_on:
            self.add_error(
                "expires_on",
                f"The expiry date ({expires_on:%Y-%m-%d}) must be after the effective date ({effective_on:%Y-%m-%d}).",
            )
        if cleaned.get("auto_renews"):
            if not cleaned.get("renewal_term_months"):
                self.add_error("renewal_term_months", "An auto-renewing agreement needs its renewal term in months.")
            if expires_on is None and "expires_on" not in self.errors:
                self.add_error("expires_on", "An auto-renewing agreement needs the date its current term ends.")
        changed = set(self.changed_data)
        if "breach_notification_days" in changed and not changed & {
            "breach_notification_window",
            "breach_notification_unit",
        }:
            # Days typed alone are calendar days: the stated window is re-derived from them.
            cleaned["breach_notification_window"] = None
            cleaned["breach_notification_unit"] = ""
            self.instance.breach_notification_window = None
            self.instance.breach_notification_unit = ""
        elif cleaned.get("breach_notification_window") is not None and not cleaned.get("breach_notification_unit"):
            self.add_error("breach_notification_unit", "Give the unit of the window: hours, calendar or business days.")
        covers_all = cleaned.get("covers_all_facilities")
        already_all = bool(self.instance.pk and self.instance.covers_all_facilities)
        if covers_all and not already_all and self.membership.limited_facility_ids is not None:
            self.add_error(
                "covers_all_facilities",
                "You manage only some facilities: choose the facilities this agreement covers. An administrator can "
                "extend it to all facilities.",
            )
        if not covers_all and not cleaned.get("covered_facilities") and not self._hidden_covered_ids():
            self.add_error(
                "covered_facilities", "Choose the facilities this agreement covers, or tick 'Covers all facilities'."
            )
        return cleaned

    def _hidden_covered_ids(self) -> list[int]:
        """Covered facilities the user may not change: kept as they are when the user saves."""
        if not self.instance.pk:
            return []
        visible = set(self.fields["covered_facilities"].queryset.values_list("pk", flat=True))
        return [pk for pk in self.instance.covered_facilities.values_list("pk", flat=True) if pk not in visible]

    def covered_facilities_to_save(self) -> list[Facility]:
        chosen = list(self.cleaned_data.get("covered_facilities") or [])
        hidden = list(Facility.objects.filter(pk__in=self._hidden_covered_ids()))
        return chosen + hidden

    @property
    def breach_window_warning(self) -> str:
        days = self.cleaned_data.get("breach_notification_days")
        window = self.cleaned_data.get("breach_notification_window")
        unit = self.cleaned_data.get("breach_notification_unit")
        if window is not None and unit:
            days = breach_window_max_days(window, unit)
        if days is not None and days > MAX_BREACH_NOTIFICATION_DAYS:
            return (
                f"The breach-notification window of up to {days} calendar days is longer than the "
                f"{MAX_BREACH_NOTIFICATION_DAYS} calendar days 45 CFR 164.410(b) allows: amend the agreement. "
                "It is listed as a finding until then."
            )
        return ""


class ExecuteForm(forms.Form):
    prefix = "execute"
    executed_on = forms.DateField(label="Executed on", widget=DATE_WIDGET)
    effective_on = forms.DateField(label="Effective on", widget=DATE_WIDGET, required=False)

    def clean_executed_on(self):
        value = self.cleaned_data["executed_on"]
        if value > timezone.localdate():
            raise ValidationError(f"The execution date {value:%Y-%m-%d} is in the future.")
        return value


class TerminateForm(forms.Form):
    """Step one of a termination: the date and the reason; the page then shows what it ends before the
    officer confirms (#15 item 9)."""

    terminated_on = forms.DateField(
        label="Termination takes effect on",
        widget=DATE_WIDGET,
        help_text="From this day the vendor may no longer receive PHI under this agreement.",
    )
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="e.g. 'Vendor replaced by Sectra' or 'Material breach, notice of 2026-11-02'. Kept in the history.",
    )


class TerminationCorrectionForm(forms.Form):
    """Undo a mistaken termination, or correct its date; recorded in the history with the reason."""

    correction = forms.ChoiceField(
        choices=TerminationCorrection.choices, widget=forms.RadioSelect, initial=TerminationCorrection.REINSTATE
    )
    terminated_on = forms.DateField(
        label="Correct termination date",
        widget=DATE_WIDGET,
        required=False,
        help_text="Only when correcting the date.",
    )
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the termination is corrected. Kept in the history, with the termination itself.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("correction") == TerminationCorrection.DATE and not cleaned.get("terminated_on"):
            self.add_error("terminated_on", "Give the correct termination date.")
        return cleaned


class RenewForm(forms.Form):
    prefix = "renew"
    title = forms.CharField(max_length=200, help_text="e.g. 'Business Associate Agreement 2027'.")
    effective_on = forms.DateField(widget=DATE_WIDGET, required=False)
    expires_on = forms.DateField(
        widget=DATE_WIDGET, required=False, help_text="Leave empty for an evergreen agreement."
    )

    def clean(self):
        cleaned = super().clean()
        effective_on, expires_on = cleaned.get("effective_on"), cleaned.get("expires_on")
        if effective_on and expires_on and expires_on <= effective_on:
            self.add_error(
                "expires_on",
                f"The expiry date ({expires_on:%Y-%m-%d}) must be after the effective date ({effective_on:%Y-%m-%d}).",
            )
        return cleaned


class DocumentUploadForm(forms.Form):
    kind = forms.ChoiceField(choices=DocumentKind.choices, initial=DocumentKind.SIGNED_AGREEMENT)
    file = forms.FileField(label="PDF file", help_text="The signed PDF. Its SHA-256 is recorded to prove integrity.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs.update(
            {"accept": "application/pdf,.pdf", "class": "form-control form-control-sm"}
        )
        self.fields[
            "file"
        ].help_text = f"The signed PDF, {upload_limit_text()}. Its SHA-256 is recorded to prove integrity."
        self.fields["kind"].widget.attrs["class"] = "form-select form-select-sm"
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.add_input(Submit("upload", "Upload"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        check_file_size(upload, "PDF")
        return upload
