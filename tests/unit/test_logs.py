"""The JSON lines: their fields, and what a record no longer collects."""

from __future__ import annotations

import json
import logging

from health_api import logs


def _record(name: str, emit) -> logging.LogRecord:
    """The record that ``emit(logger)`` produces on a logger of its own, as the logging module
    builds it after ``logs.configure()``."""
    logs.configure()
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger = logging.Logger(name)  # not registered: no other handler sees it
    logger.addHandler(handler)
    emit(logger)
    (record,) = seen
    return record


def test_the_access_line_has_its_fields_and_nothing_else() -> None:
    fields = {
        "method": "GET",
        "route": "/api/v1/doctors/<doctor_id>",
        "status": 200,
        "duration_ms": 1.5,
        "request_id": "r-1",
        "role": "agent",
        "key_id": "3f9a0c1b2d4e",  # the key's HMAC, never the key
    }
    record = _record(logs.ACCESS_LOGGER, lambda log: log.info("request", extra=fields))

    line = json.loads(logs.Formatter("test").format(record))

    assert set(line) == {"time", "level", "logger", "message", "environment", *fields}
    assert (line["message"], line["logger"], line["environment"]) == (
        "request",
        logs.ACCESS_LOGGER,
        "test",
    )
    assert {k: line[k] for k in fields} == fields


def test_records_skip_the_caller_lookup_and_still_carry_a_traceback() -> None:
    def fail(log: logging.Logger) -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed", extra={"storage": "sqlite"})

    record = _record("health_api.test_logs", fail)

    # No line names the caller, thread or process: they are no longer looked up.
    assert record.funcName != "fail"
    assert (record.threadName, record.process, record.processName) == (None, None, None)
    line = json.loads(logs.Formatter("test").format(record))
    assert (line["message"], line["storage"]) == ("it failed", "sqlite")
    assert "ValueError: boom" in line["exc_info"]
