"""One storm run: the three experiments on one fresh server (``run``) and the figures as
printed (``summary``)."""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from reliability.storm.booking import booking_storm
from reliability.storm.churn import churn
from reliability.storm.reschedule import reschedule_storm
from reliability.storm.server import Config, serving


def run(config: Config) -> dict[str, Any]:
    """All three experiments on one fresh server; the results with an overall ``ok``."""
    with contextlib.ExitStack() as stack:
        workdir = config.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="storm-"))
        )
        run_id = uuid.uuid4().hex[:6]
        started = time.monotonic()
        with serving(config, workdir) as server:
            workers = len(server.worker_pids())
            result: dict[str, Any] = {
                "backend": config.backend,
                "workers": config.workers,
                "threads": config.threads,
                "worker_processes_seen": workers,
            }
            result["storm"] = booking_storm(server, config.clients, config.rounds, run_id)
            if config.churn_clients and config.churn_iterations:
                result["churn"] = churn(
                    server.port, config.churn_clients, config.churn_iterations, run_id
                )
            if config.reschedule_users and config.reschedule_iterations:
                result["reschedule"] = reschedule_storm(
                    server.port,
                    config.reschedule_users,
                    config.reschedule_free,
                    config.reschedule_iterations,
                    run_id,
                    config.seed,
                )
            result["server_errors_logged"] = sum(
                1 for line in server.log_lines() if '"level": "ERROR"' in line
            )
        result["seconds"] = round(time.monotonic() - started, 2)
        parts = [result[name]["ok"] for name in ("storm", "churn", "reschedule") if name in result]
        result["ok"] = all(parts) and result["server_errors_logged"] == 0
        return result


def summary(result: dict[str, Any]) -> str:
    """The figures, as printed."""
    s = result["storm"]
    lines = [
        f"backend {result['backend']}: gunicorn {result['workers']} workers x "
        f"{result['threads']} threads ({result['worker_processes_seen']} worker processes "
        f"seen), total {result['seconds']} s",
        f"  booking storm: {s['rounds']} rounds x {s['clients']} clients released by a barrier "
        f"= {s['requests']} bookings in {s['seconds']} s "
        f"(slowest round {s['max_round_seconds']} s)",
        f"    201 x {s['count_201']}, 409 x {s['count_409']}, 5xx x {s['count_5xx']}, "
        f"other x {s['count_other']}, connection retries {s['connection_retries']}",
        f"    perfect rounds (1 x 201, {s['clients'] - 1} x 409, stored holder = winner): "
        f"{s['perfect_rounds']}/{s['rounds']}; holder problems {len(s['holder_problems'])}",
        f"    rounds whose clients were served by >= 2 worker processes: "
        f"{s['rounds_on_several_workers']}/{s['rounds']} (connections per worker, round 1: "
        f"{s['rounds_detail'][0]['per_worker']})",
    ]
    for r in s["rounds_detail"]:
        if not r["perfect"]:
            lines.append(
                f"    BROKEN {r['fecha_hora']}: {r['statuses']} stored {r['stored_estado']} "
                f"{r['stored_user']} winners {r['winners']}"
            )
    lines += [f"    {p}" for p in s["holder_problems"][:10]]
    if "churn" in result:
        c = result["churn"]
        lines += [
            f"  churn: {c['clients']} clients x {c['iterations']} book attempts on one slot in "
            f"{c['seconds']} s: {c['statuses']}",
            f"    holds {c['holds']}, overlapping holds {len(c['overlaps'])}, 5xx x "
            f"{c['count_5xx']}; checker reads {c['checker_reads']} (held in "
            f"{c['checker_saw_held']}), unexplained holders {len(c['unexplained'])}; "
            f"at the end {c['final_estado']}, users listing it {len(c['final_holders'])}",
        ]
        lines += [f"    {p}" for p in (c["overlaps"] + c["unexplained"] + c["problems"])[:10]]
    if "reschedule" in result:
        m = result["reschedule"]
        lines += [
            f"  reschedule storm: {m['users']} users on {m['slots']} slots x {m['iterations']} "
            f"attempts in {m['seconds']} s: {m['statuses']}",
            f"    moves {m['moves']}, 5xx x {m['count_5xx']}; snapshots {m['snapshots']}, bad "
            f"{len(m['bad_snapshots'])}; end: users not holding exactly their one slot "
            f"{len(m['final_problems'])}",
        ]
        lines += [
            f"    {p}" for p in (m["problems"] + m["bad_snapshots"] + m["final_problems"])[:10]
        ]
    lines.append(
        f"  server ERROR log lines {result['server_errors_logged']}; "
        f"RESULT: {'PASS' if result['ok'] else 'FAIL'}"
    )
    return "\n".join(lines)
