"""HTTP layer: Flask blueprints, schemas, auth and error handlers.

``register(app)`` installs everything on an app that already holds its kernel (the app factory
installs it, ``api/kernel.py``).
"""

from __future__ import annotations

import swagger_ui_bundle
from flask import Flask, send_from_directory
from flask_smorest import Api

from health_api.api import (
    admin,
    appointments,
    auth,
    doctors,
    holds,
    hooks,
    openapi,
    openapi_access,
    problems,
    schedules,
    service,
    sessions,
    tokens,
)
from health_api.api import kernel as app_kernel

API_TITLE = "Health Assistant API"
API_VERSION = "1.2.0"
DOCS_ASSETS = "/docs/assets/"


def register(app: Flask) -> Api:
    """Blueprints, OpenAPI (+ offline Swagger UI at /docs), hooks and problem handlers. An
    issuer key without a signing key is a ``ConfigError`` here (``tokens.check_issuing``)."""
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Served from the installed swagger-ui-bundle package: /docs works with no internet.
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS,
        API_SPEC_OPTIONS={
            "info": {
                "description": "Find doctors, search free slots, book, cancel and reschedule "
                "without double-booking, and keep each user's conversation session. Every "
                "error is application/problem+json (RFC 9457). Credentials: API keys (roles "
                "agent, admin, issuer) and user tokens (JWTs, e.g. from POST /api/v1/tokens), "
                "which act for their own user only.",
            },
            "components": {
                "securitySchemes": openapi_access.SECURITY_SCHEMES,
            },
        },
    )
    api = openapi.ProblemApi(app)
    tokens.check_issuing(app_kernel.kernel_of(app))
    for module in (service, doctors, schedules, holds, appointments, sessions, admin, tokens):
        api.register_blueprint(module.blp)
    openapi.document(api, app)
    app.add_url_rule(
        f"{DOCS_ASSETS}<path:filename>",
        "docs_assets",
        lambda filename: send_from_directory(swagger_ui_bundle.swagger_ui_path, filename),
    )
    hooks.register(app, authenticate=auth.before_request, authorize=auth.authorize)
    problems.register(app)
    return api
