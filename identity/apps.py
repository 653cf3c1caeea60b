from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Sign-in: single sign-on, two-factor, sign-in log"

    def ready(self) -> None:
        from identity import signals  # noqa: F401  (records sign-ins and failed sign-ins)
