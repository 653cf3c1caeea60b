"""The OpenAPI schema's additions: the token security scheme and the error answers every endpoint gives."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, and what to do about it."},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "Messages by field name (non_field_errors for the whole request).",
        },
    },
    "required": ["detail"],
}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "personalApiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token from the API tokens page: `Authorization: Bearer bt_...`.",
        }


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: 400/401/403/404 as they are answered (api.base, api.permissions)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", _error("Invalid input: the messages say what to fix."))
            responses.setdefault("401", _error("No token, or an unknown, revoked or expired one."))
            responses.setdefault("403", _error("Your role, or a read-only token, may not do this."))
            responses.setdefault("404", _error("Not found, outside your organization or facilities, or no such page."))
    return result
