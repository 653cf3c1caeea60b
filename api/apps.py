from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API and personal API tokens"

    def ready(self) -> None:
        from api import schema  # noqa: F401 - registers the OpenAPI extension of the token authentication
