from django.contrib import admin

from onboarding.models import OnboardingDraft


@admin.register(OnboardingDraft)
class OnboardingDraftAdmin(admin.ModelAdmin):
    list_display = ("original_name", "organization", "state", "uploaded_at", "agreement")
    list_filter = ("state",)
    readonly_fields = [f.name for f in OnboardingDraft._meta.fields if f.name != "pages"]
    exclude = ("pages",)

    def has_add_permission(self, request):
        return False
