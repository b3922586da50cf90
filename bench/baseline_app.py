"""The baseline: a bare Flask app answering a constant JSON body, the ceiling of this stack.

Served by the same gunicorn with the same ``gunicorn.conf.py`` as the service
(``gunicorn -c gunicorn.conf.py bench.baseline_app:app``). ``GET /bytes/<n>`` (any method)
answers a JSON document of exactly ``n`` bytes, prepared once per size, so each endpoint is
compared with a ceiling that sends as much as it does.
"""

from __future__ import annotations

import functools
import json

from flask import Flask, Response, request

app = Flask(__name__)


@functools.lru_cache(maxsize=64)
def body_of(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least the 12 of its frame)."""
    frame = json.dumps({"pad": ""}).encode()
    return json.dumps({"pad": "x" * max(size - len(frame), 0)}).encode()


@app.route("/bytes/<int:size>", methods=["GET", "PUT", "POST"])
def constant(size: int) -> Response:
    """The constant body of ``size`` bytes (a request body is read, as the service does)."""
    request.get_data()
    return Response(body_of(size), mimetype="application/json")


@app.route("/healthz")
def healthz() -> Response:
    """Liveness, so the harness can wait for it as for the service."""
    return Response(b'{"status": "ok"}', mimetype="application/json")
