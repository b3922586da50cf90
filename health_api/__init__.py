"""Health Assistant API: doctors, appointment slots, bookings and sessions over HTTP.

``create_app`` is the one place that wires settings, keys, storage and blueprints together: it
builds the bootstrap object (``kernel/bootstrap.py``, the MCP entry builds the same) and installs
it as the app's one extension (``api/kernel.py``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from health_api import logs
from health_api.config import Settings, load_settings
from health_api.domain.errors import StorageUnavailableError

log = logging.getLogger("health_api")
# Set by gunicorn's master (gunicorn.conf.py) once it has said where the development keys are,
# so that its workers, each building the app, do not say it again.
DEV_KEYS_ANNOUNCED = "HEALTH_API_DEV_KEYS_ANNOUNCED"


class HealthApp(Flask):
    """Flask, remembering which handlers are plain (not ``async``) functions.

    Flask asks ``inspect.iscoroutinefunction`` of every hook and view on every request (about
    a dozen calls, ~6% of a simple GET); the answer never changes for a function. Bound
    methods (a MethodView's, new each request) are remembered by their function, so the
    memo stays as small as the code.
    """

    def ensure_sync(self, func: Callable) -> Callable:
        memo = self.__dict__.setdefault("_plain_handlers", {})
        target = getattr(func, "__func__", func)
        plain = memo.get(target)
        if plain is None:
            plain = memo[target] = super().ensure_sync(func) is func
        return func if plain else super().ensure_sync(func)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app from the environment; ``overrides`` replaces settings (tests).

    ``overrides`` may hold a ready ``settings`` object, a ready ``storage`` (tests that share
    one), and individual :class:`Settings` fields. Storage that cannot be opened raises here,
    so a misconfigured process exits instead of serving errors.
    """
    from health_api.api import kernel as app_kernel
    from health_api.api import register
    from health_api.kernel.bootstrap import build_kernel
    from health_api.keys import resolve_keys
    from health_api.storage.factory import build_storage

    overrides = dict(overrides or {})
    settings: Settings = overrides.pop("settings", None) or load_settings()
    storage = overrides.pop("storage", None)
    if overrides:
        settings = settings.replace(**overrides)
    logs.configure(settings.log_level, settings.environment)
    keys, keys_file = resolve_keys(settings)
    if keys_file is not None and not os.environ.get(DEV_KEYS_ANNOUNCED):
        log.warning(
            "development keys (admin, agent) are in a local file",
            extra={"keys_file": str(keys_file)},
        )

    app = HealthApp(__name__)
    # "//" in a path must not be merged into another resource's URL (a 308 to it).
    app.url_map.merge_slashes = False
    app.config["DEBUG"] = False
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    if storage is None:
        try:
            storage = build_storage(settings)
        except StorageUnavailableError as exc:
            log.critical(
                "storage initialisation failed; the process cannot serve",
                extra={"storage": settings.storage, "cause": str(exc)},
            )
            raise
    kernel = build_kernel(settings, storage, keys=(keys, keys_file))
    app_kernel.install(app, kernel)
    register(app)

    @app.teardown_appcontext
    def _end_request(_exc: BaseException | None) -> None:
        kernel.storage.end_request()

    return app
