"""What no client may ever receive, checked on every response of the abuse tests: no
traceback, no source path, no botocore or storage wording (``assert_clean``), and the helpers
that apply the check to a real server's answer (``call``) or a Flask test client's
(``checked``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.ops import procs

LEAKS = ("Traceback", "/work/", '.py"', "botocore", "An error occurred (", 'File "')
QUICK = 2.0  # seconds: an abusive body is refused in well under this
API = "/api/v1"


def assert_clean(text: str) -> None:
    """No traceback, source path or storage error text in what a client receives."""
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} in a response body: {text[:500]}"


def body_text(response: procs.Response) -> str:
    body = response.body
    if isinstance(body, bytes):
        return body.decode(errors="replace")
    return json.dumps(body, ensure_ascii=False)


def call(port: int, method: str, path: str, **kwargs: Any) -> procs.Response:
    """``procs.call`` plus the leak check on the body."""
    response = procs.call(port, method, path, **kwargs)
    assert_clean(body_text(response))
    return response


def future(days: int, hour: int = 9) -> str:
    moment = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def checked(response) -> Any:
    """A Flask test client's response, after the leak check on its body."""
    assert_clean(response.get_data(as_text=True))
    return response
