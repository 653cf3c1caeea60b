from __future__ import annotations

from django import forms

from api.models import TokenScope
from api.services import LIFETIME_CHOICES_DAYS


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. \u201cGRC suite nightly pull\u201d.")
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        help_text="Read and write acts with your role's rights; a read-only token refuses every change.",
    )
    lifetime_days = forms.TypedChoiceField(
        label="Expires after",
        coerce=int,
        choices=[(days, f"{days} days") for days in LIFETIME_CHOICES_DAYS],
        initial=90,
    )
