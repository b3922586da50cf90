"""The process-level test kit in one import: every helper of the focused modules, so a test
writes ``procs.running(...)`` or ``from tests.ops.procs import AGENT``.

- ``environments``: the test keys, the SQLite / DynamoDB variables, ``create_tables``.
- ``wire``: ``call`` / ``send`` (one HTTP request), ``free_port``, ``wait_for``.
- ``processes``: a real gunicorn (``Gunicorn``, ``running``), any command (``serving``).
- ``proc_net``: /proc probes (a request inside a worker, the workers still accepting).
- ``gated_proxy``: a proxy that holds storage calls back.
- ``demo_data``: the demo set through the API (``seed``, ``free_slots``, ``new_slot``, ...).
"""

from tests.ops.demo_data import (
    SPECIALTIES,
    appointments,
    booking_path,
    free_slots,
    new_slot,
    seed,
)
from tests.ops.environments import (
    ADMIN,
    ADMIN_KEY,
    AGENT,
    AGENT_KEY,
    KEY_ID_SECRET,
    ROOT,
    create_tables,
    dynamodb_env,
    server_env,
    sqlite_env,
)
from tests.ops.gated_proxy import GatedProxy
from tests.ops.proc_net import (
    TCP_ESTABLISHED,
    TCP_LISTEN,
    accepting_workers,
    request_taken_by_worker,
    tcp_entries,
)
from tests.ops.processes import READY_PREFIX, Gunicorn, gunicorn_command, running, serving
from tests.ops.wire import Response, call, free_port, send, wait_for

__all__ = [
    "ADMIN",
    "ADMIN_KEY",
    "AGENT",
    "AGENT_KEY",
    "KEY_ID_SECRET",
    "READY_PREFIX",
    "ROOT",
    "SPECIALTIES",
    "TCP_ESTABLISHED",
    "TCP_LISTEN",
    "GatedProxy",
    "Gunicorn",
    "Response",
    "accepting_workers",
    "appointments",
    "booking_path",
    "call",
    "create_tables",
    "dynamodb_env",
    "free_port",
    "free_slots",
    "gunicorn_command",
    "new_slot",
    "request_taken_by_worker",
    "running",
    "seed",
    "send",
    "server_env",
    "serving",
    "sqlite_env",
    "tcp_entries",
    "wait_for",
]
