from django.urls import path

from identity import views

app_name = "identity"
urlpatterns = [
    path("sso/", views.sso_by_email, name="sso_by_email"),
    path("sso/<int:pk>/start/", views.OrganizationSsoStartView.as_view(), name="sso_start"),
    path("sso/callback/", views.OrganizationSsoCallbackView.as_view(), name="sso_callback"),
    path("account/two-factor/", views.two_factor, name="two_factor"),
    path("account/two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("account/two-factor/enrol/", views.two_factor_enrol, name="two_factor_enrol"),
    path("account/two-factor/recovery-codes/", views.recovery_codes_new, name="recovery_codes_new"),
    path("account/security/", views.security, name="security"),
    path("organization/sign-in/", views.sign_in_settings, name="sign_in_settings"),
    path(
        "organization/members/<int:pk>/two-factor/reset/",
        views.member_two_factor_reset,
        name="member_two_factor_reset",
    ),
]
