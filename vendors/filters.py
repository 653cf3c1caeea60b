"""The vendor list's filters (django-filter): category, facility, PHI access, BAA status, search, sort."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q

from facilities.models import Facility
from organizations.querysets import Action
from vendors.models import Engagement, VendorCategory
from vendors.selectors import BaaStatus

YES_NO = (("yes", "Yes"), ("no", "No"))


class VendorFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search", max_length=100)
    category = django_filters.ChoiceFilter(choices=VendorCategory.choices, empty_label="Any category")
    facility = django_filters.ModelChoiceFilter(
        queryset=Facility.objects.none(), method="at_facility", empty_label="Any facility", label="Facility"
    )
    phi_access = django_filters.ChoiceFilter(
        choices=YES_NO, method="with_phi_access", empty_label="Any", label="PHI access"
    )
    baa_status = django_filters.ChoiceFilter(
        choices=BaaStatus.choices, empty_label="Any BAA status", label="BAA status"
    )
    sort = django_filters.OrderingFilter(
        label="Sort by",
        # No empty choice: it would be a second "Name" (the list is sorted by name when none is chosen).
        empty_label=None,
        fields=(
            ("legal_name", "name"),
            ("category", "category"),
            ("status_rank", "status"),
            ("open_finding_count", "findings"),
            ("facility_count", "facilities"),
            ("created_at", "created"),
        ),
        field_labels={
            "legal_name": "Name",
            "category": "Category",
            "status_rank": "BAA status (most urgent first)",
            "open_finding_count": "Open findings",
            "facility_count": "Number of facilities",
            "created_at": "Date added",
        },
    )

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.filters["facility"].queryset = Facility.objects.restrict(request.user, Action.VIEW).order_by("name")
        for name, form_field in self.form.fields.items():
            css = "form-control form-control-sm" if name == "q" else "form-select form-select-sm"
            form_field.widget.attrs.setdefault("class", css)
        self.form.fields["q"].widget.attrs.setdefault("placeholder", "Name, contact, service or data location")

    @property
    def qs(self):
        queryset = super().qs
        # A stable order for pagination whatever the sort: ties broken by name, then id.
        ordering = list(queryset.query.order_by) or ["legal_name"]
        return queryset.order_by(*ordering, "legal_name", "pk")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        in_engagements = (
            Engagement.objects.restrict(self.request.user, Action.VIEW)
            .filter(vendor=OuterRef("pk"))
            .filter(Q(service_description__icontains=value) | Q(data_location__icontains=value))
        )
        return queryset.filter(
            Q(legal_name__icontains=value)
            | Q(contact_name__icontains=value)
            | Q(contact_email__icontains=value)
            | Q(notes__icontains=value)
            | Q(Exists(in_engagements))
        )

    def at_facility(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(Exists(Engagement.objects.filter(vendor=OuterRef("pk"), facility=value)))

    def with_phi_access(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(has_phi=True)
        if value == "no":
            return queryset.filter(has_phi=False)
        return queryset
