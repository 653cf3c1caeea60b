"""Forms of sign-in: the single sign-on e-mail box, the two-factor code, the organization's settings."""

from __future__ import annotations

from django import forms

from identity.models import IdentityProvider


class SsoEmailForm(forms.Form):
    email = forms.EmailField(label="Work e-mail address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text="The 6 digits your authenticator app shows now, or one of your recovery codes.",
    )

    def clean_token(self):
        return self.cleaned_data["token"].replace(" ", "").replace("-", "")


class IdentityProviderForm(forms.ModelForm):
    issuer = forms.URLField(
        assume_scheme="https",
        help_text="The issuer URL; its /.well-known/openid-configuration is read for the endpoints and keys.",
    )
    client_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted. Leave empty to keep the stored secret.",
    )
    remove_client_secret = forms.BooleanField(
        required=False, label="Remove the stored secret (a public client that uses PKCE only)"
    )

    class Meta:
        model = IdentityProvider
        fields = [
            "name",
            "issuer",
            "client_id",
            "client_secret",
            "remove_client_secret",
            "client_secret_env",
            "token_endpoint_auth",
            "email_domains",
            "show_button",
            "allow_new_users",
            "default_role",
            "is_enabled",
        ]

    def secret_to_store(self) -> str | None:
        if self.cleaned_data.get("remove_client_secret"):
            return ""
        return self.cleaned_data.get("client_secret") or None


class SignInPolicyForm(forms.Form):
    two_factor_required = forms.BooleanField(
        required=False,
        label="Require two-factor sign-in for everyone",
        help_text="Administrators always need it. People who sign in with single sign-on are not asked.",
    )
