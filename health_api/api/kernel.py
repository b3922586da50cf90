"""The running app's kernel: the one extension ``create_app`` installs, and its typed accessors.

``app.extensions["health_api"]`` holds a :class:`RestState`: the process's
:class:`~health_api.kernel.bootstrap.Kernel` (shared in shape with the MCP server) plus what only
REST keeps (its CORS policy, the readiness cache, the test-only pause before storing an answer).
Tests and tools outside the package reach them through ``kernel_of(app)`` and ``state_of(app)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from health_api.cors import API_HEADERS, CorsPolicy
from health_api.kernel.bootstrap import Kernel

EXTENSION = "health_api"
TEST_PAUSE_ENV = "HEALTH_API_TEST_PAUSE_BEFORE_ANSWER"


@dataclass
class RestState:
    """The kernel and REST's own state of one app."""

    kernel: Kernel
    cors: CorsPolicy
    # Seconds a keyed request pauses before its answer is stored (process tests only).
    test_pause: float = 0.0
    # The last readiness answer and when it was made (``service.py`` keeps it a few seconds).
    ready: dict[str, Any] = field(default_factory=dict)


def install(app: Flask, kernel: Kernel) -> RestState:
    """Put ``kernel`` (and REST's state for its settings) on ``app``."""
    pause = os.environ.get(TEST_PAUSE_ENV)
    state = RestState(
        kernel=kernel,
        cors=CorsPolicy(kernel.settings.cors_origins, API_HEADERS),
        test_pause=float(pause) if pause else 0.0,
    )
    app.extensions[EXTENSION] = state
    return state


def state_of(app: Flask) -> RestState:
    """REST's state of ``app``."""
    return app.extensions[EXTENSION]


def kernel_of(app: Flask) -> Kernel:
    """The kernel of ``app``."""
    return app.extensions[EXTENSION].kernel


def state() -> RestState:
    """REST's state of the running app."""
    return current_app.extensions[EXTENSION]


def kernel() -> Kernel:
    """The kernel of the running app."""
    return current_app.extensions[EXTENSION].kernel
