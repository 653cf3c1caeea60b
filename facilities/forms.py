from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from facilities.models import Facility


class FacilityForm(forms.ModelForm):
    class Meta:
        model = Facility
        fields = ["name", "kind", "state", "city", "active"]
        help_texts = {
            "state": "Where the patients are: a teleradiologist reading studies of this facility needs a license "
            "in this state.",
            "active": "Clear to keep an inactive facility's records (they are kept 6 years) without showing it "
            "in the coverage matrix.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.add_input(Submit("save", "Save facility"))
