from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = "Organizations and access"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from baatracker.sessions import stamp_on_login

        user_logged_in.connect(stamp_on_login, dispatch_uid="baatracker.sessions.stamp_on_login")
