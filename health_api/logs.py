"""JSON-lines logging on stdout (python-json-logger), configured once per process; on stderr
for the MCP server on stdio, whose stdout is the protocol.

What may be logged is decided where log calls are made: route templates, never paths (paths carry
user ids); a key by its ``key_id`` (an HMAC under the key-id secret, ``keys.py``), never the
key nor a plain hash of it; no session contents and no ``motivo``.
"""

from __future__ import annotations

import json
import logging
import os
import select
import sys

from pythonjsonlogger.json import JsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
PIPE_BUF = getattr(select, "PIPE_BUF", 512)


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time of the record (test captures, a
    re-opened stream), not to the object it was when logging was configured.

    Where stdout is a real file descriptor (a pipe or a file, as under gunicorn), each line goes
    out in one ``os.write`` and no lock is held around it: the logging module's handler lock,
    held across the write system call, made the request threads of a worker queue behind each
    other (py-spy: a quarter of a busy worker's samples waited on it). One write of a line is
    not interleaved with another's: Linux serialises writes to one open file, and a pipe keeps
    writes of up to PIPE_BUF (4 KiB) whole; a longer line (a traceback) is written under the
    lock. Elsewhere (test captures) the standard locked path is used.
    """

    def __init__(self, stream_name: str = "stdout") -> None:
        self._stream_name = stream_name
        super().__init__(getattr(sys, stream_name))

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            stream = getattr(sys, self._stream_name)
            fd = _fileno(stream)
            if fd is None or len(line) > PIPE_BUF:
                with self.lock:
                    stream.write(line.decode("utf-8"))
                    stream.flush()
                return
            stream.flush()  # anything printed before this line goes out before it
            while line:
                line = line[os.write(fd, line) :]
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging must never break a request
            self.handleError(record)

    @property
    def stream(self):  # type: ignore[override]
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, _value) -> None:
        pass


ACCESS_LOGGER = "health_api.access"
ACCESS_FIELDS = ("method", "route", "status", "duration_ms", "request_id", "role", "key_id")


class Formatter(JsonFormatter):
    """python-json-logger's formatter, with a direct path for the access line.

    The access line is written once per request with a fixed set of fields; building it
    directly gives the same JSON object as the general path at about a fifth of its cost
    (measured with cProfile: the general path was ~15% of a simple GET)."""

    def __init__(self, environment: str) -> None:
        super().__init__(
            FORMAT,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"environment": environment},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
        self._environment = environment

    def format(self, record: logging.LogRecord) -> str:
        if record.name != ACCESS_LOGGER or record.exc_info or record.stack_info:
            return super().format(record)
        line = {
            "time": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "environment": self._environment,
        }
        for name in ACCESS_FIELDS:
            line[name] = getattr(record, name, None)
        return json.dumps(line, default=str)


_configured = False


def configure(
    level: str = "INFO", environment: str = "development", stream_name: str = "stdout"
) -> None:
    """Send every log record to ``sys.<stream_name>`` as one JSON object per line
    (idempotent: the first call decides)."""
    global _configured  # once per process: gunicorn workers and tests call create_app often
    if _configured:
        return
    # No record is formatted with its caller, thread or process (FORMAT and the access line
    # name none of them): skip collecting them, the logging HOWTO's "Optimization" switches.
    # Each request's access line was walking the stack for its caller (~5% of a GET's CPU).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = StdoutHandler(stream_name)
    handler.setFormatter(Formatter(environment))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter that could echo request details stays at WARNING.
    # The MCP SDK logs a failed tool call's text at INFO; uvicorn's access lines carry paths.
    for name in ("botocore", "boto3", "urllib3", "werkzeug", "mcp", "uvicorn.access", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True
