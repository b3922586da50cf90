"""The JSON lines on stdout: their fields, and what a record no longer collects."""

from __future__ import annotations

import json
import logging

from health_api import logs


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_the_access_line_has_its_fields_and_no_caller_thread_or_process(capsys) -> None:
    logs.configure("INFO", "test")
    fields = {
        "method": "GET",
        "route": "/api/v1/doctors/<doctor_id>",
        "status": 200,
        "duration_ms": 1.5,
        "request_id": "r-1",
        "role": "agent",
    }
    logging.getLogger(logs.ACCESS_LOGGER).info("request", extra=fields)

    (line,) = _lines(capsys)
    assert set(line) == {"time", "level", "logger", "message", "environment", *fields}
    assert line["message"] == "request"
    assert line["logger"] == logs.ACCESS_LOGGER
    assert {k: line[k] for k in fields} == fields


def test_records_skip_the_caller_lookup_and_still_carry_a_traceback(capsys) -> None:
    logs.configure("INFO", "test")
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger = logging.getLogger("health_api.test_logs")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("it failed", extra={"storage": "sqlite"})
    finally:
        logger.removeHandler(handler)

    (record,) = seen
    # Nothing in a line names the caller, thread or process: they are no longer looked up.
    assert record.funcName != "test_records_skip_the_caller_lookup_and_still_carry_a_traceback"
    assert (record.threadName, record.process, record.processName) == (None, None, None)
    (line,) = _lines(capsys)
    assert line["message"] == "it failed"
    assert line["storage"] == "sqlite"
    assert "ValueError: boom" in line["exc_info"]
