"""JSON-lines logging on stdout (python-json-logger), configured once per process.

What may be logged is decided where log calls are made: route templates, never paths (paths carry
user ids); a hash of the key, never the key; no session contents and no ``motivo``.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time of the record (test captures, a
    re-opened stream), not to the object it was when logging was configured."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


_configured = False


def configure(level: str = "INFO", environment: str = "development") -> None:
    """Send every log record to stdout as one JSON object per line (idempotent)."""
    global _configured  # once per process: gunicorn workers and tests call create_app often
    if _configured:
        return
    handler = StdoutHandler()
    handler.setFormatter(
        JsonFormatter(
            FORMAT,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"environment": environment},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter that could echo request details stays at WARNING.
    for name in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True
