"""Health Assistant API: doctors, appointment slots, bookings and sessions over HTTP.

``create_app`` is the one place that wires settings, storage and blueprints together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from health_api.config import Settings, load_settings


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app from the environment; ``overrides`` replaces settings (tests).

    ``overrides`` may hold a ready ``settings`` object or individual :class:`Settings` fields.
    """
    overrides = dict(overrides or {})
    settings: Settings = overrides.pop("settings", None) or load_settings()
    if overrides:
        settings = settings.replace(**overrides)

    app = Flask(__name__)
    app.config["HEALTH_API_SETTINGS"] = settings

    from health_api.api.service import blueprint as service_blueprint

    app.register_blueprint(service_blueprint)
    return app
