"""gunicorn settings for the Health Assistant API, each overridable from the environment.

The app is I/O-bound (DynamoDB round trips, SQLite fsyncs), so workers run threads (``gthread``).
``timeout`` sits above botocore's worst case (3 attempts x (2 s connect + 5 s read) plus backoff,
about 22 s), so a slow storage call ends as a 503 instead of a killed worker. The app is not
preloaded: each worker builds its own boto3 client and SQLite connections after the fork.
SIGTERM stops accepting, lets in-flight requests finish for up to ``graceful_timeout``, then
exits.

In development without keys, the master creates the development keys and key-id secret before
any worker starts (``on_starting``) and says once where the keys are; the workers, each building
the app, then find them and stay quiet (``HEALTH_API_DEV_KEYS_ANNOUNCED``).
"""

from __future__ import annotations

import logging
import os
import re

from gunicorn import glogging

# Not named ``config``: gunicorn reads every module-level name as one of its settings.
from health_api import config as _settings


class RedactInvalidRequest(logging.Filter):
    """gunicorn logs a malformed request verbatim ("Invalid HTTP request line: 'GET
    /api/v1/sessions/<user id>...'") and the URI of a request that failed outside the app: keep
    the kind of error, drop what the client sent (paths carry user ids, queries patient data)."""

    _QUOTED = re.compile(r"'.*'$", re.DOTALL)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Invalid request from ip="):
            record.msg, record.args = self._QUOTED.sub("'<redacted>'", message), ()
        elif message.startswith("Error handling request "):
            record.msg, record.args = "Error handling request (URI redacted)", ()
        return True


class AccessLogOnlyWhenAsked(glogging.Logger):
    """gunicorn's logger, building its access line only when GUNICORN_ACCESS_LOG names a
    destination. With a ``logconfig_dict`` (below) gunicorn treats the access log as on and
    builds every request's atoms, the whole WSGI environ included, before the silenced
    ``gunicorn.access`` logger drops them: about 6% of a busy worker's samples (py-spy)."""

    @property
    def access_log_enabled(self) -> bool:
        return bool(self.cfg.accesslog)

    def access(self, resp, req, environ, request_time) -> None:
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


_cores = os.cpu_count() or 1
# A container listens on every interface; outside one, set HOST=127.0.0.1.
_host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104

bind = os.environ.get("GUNICORN_BIND") or f"{_host}:{os.environ.get('PORT', '8000')}"
workers = _int("GUNICORN_WORKERS", min(2 * _cores + 1, 8))
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 8)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycling a worker is a guard against slow leaks, and it is not free: a new worker imports the
# app and opens its storage again (~0.5 s of CPU). At 2,000 requests it happened every second or
# two under load and took about half of the CPU (bench/: a GET went from ~1,900 to ~3,800
# req/s with recycling off); at 50,000 it is about once a minute per busy worker.
max_requests = _int("GUNICORN_MAX_REQUESTS", 50000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 5000)
preload_app = False
# Trust X-Forwarded-* only from the proxies named here (never "*" by default). The app reads
# the same variable with the same default to find the client address (health_api/clients.py);
# gunicorn itself never rewrites REMOTE_ADDR from X-Forwarded-For, and no ProxyFix is installed.
forwarded_allow_ips = os.environ.get(
    "FORWARDED_ALLOW_IPS", ",".join(_settings.DEFAULT_FORWARDED_ALLOW_IPS)
)
control_socket_disable = True

# The app writes the access line itself (JSON, with the route template instead of the path, the
# key's role and the request id, never a query string); gunicorn's own access log would repeat
# it with the raw path, so it is off unless GUNICORN_ACCESS_LOG names a destination.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
logger_class = AccessLogOnlyWhenAsked
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # The same time format and fields as the app's own lines (health_api/logs.py).
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "static_fields": {"environment": os.environ.get("ENVIRONMENT", "development")},
        }
    },
    "filters": {"redact_invalid_request": {"()": RedactInvalidRequest}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
            "filters": ["redact_invalid_request"],
        }
    },
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        # With a logconfig_dict gunicorn always emits access records: silence them unless
        # asked, so the raw path and query (patient ids) never reach the log by default.
        "gunicorn.access": {
            "handlers": ["stdout"] if accesslog else [],
            "level": "INFO" if accesslog else "CRITICAL",
            "propagate": False,
        },
    },
}


def on_starting(_server) -> None:
    """In the master, before any worker: create the development keys and key-id secret (when
    they are generated) and say once where the keys are. A bad setting is left for the workers
    to report, as without this hook."""
    from health_api import DEV_KEYS_ANNOUNCED
    from health_api.keys import MissingKeysError, resolve_key_id_secret, resolve_keys

    try:
        settings = _settings.load_settings()
        _keys, keys_file = resolve_keys(settings)
        resolve_key_id_secret(settings)
    except (_settings.ConfigError, MissingKeysError, OSError):
        return
    if keys_file is not None:
        # The app's own line (health_api/__init__.py), said once by the master.
        logging.getLogger("health_api").warning(
            "development keys (admin, agent) are in a local file",
            extra={"keys_file": str(keys_file)},
        )
        # Inherited by every worker forked from now on.
        os.environ[DEV_KEYS_ANNOUNCED] = "1"
