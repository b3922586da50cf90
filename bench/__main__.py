"""``python -m bench``: the full benchmark (SQLite, then DynamoDB on AWS's DynamoDB Local, or on
moto's server with ``--dynamodb-engine moto``);
``python -m bench --quick``: seconds, small data, SQLite only (what CI runs);
``python -m bench --only mcp``: only the MCP tool calls against the REST calls they wrap.

Results go to ``bench/results.json`` (quick mode: a file in the temp directory, so it never
overwrites a full run's; ``--out`` elsewhere) and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import dataset, harness, load, mcp, server, tokens

RESULTS = Path(__file__).with_name("results.json")
QUICK_RESULTS = Path(tempfile.gettempdir()) / "health-api-bench-quick.json"
MCP_ONLY_RESULTS = Path(tempfile.gettempdir()) / "health-api-bench-mcp.json"
# moto's server answers one request at a time and its Query reads every item of the table's
# partition map: loading the full set would take many minutes and each availability request
# about a second, so DynamoDB runs on a small set (said in the output and in results.json).
# Its figures measure the service's calls through moto, not DynamoDB's latency.
MOTO_SIZE = dataset.Size(doctors=20, specialties=2, days=8, sessions=200)
# DynamoDB Local (a Java process on the same 2 cores) loads a few hundred items a second.
DYNAMODB_LOCAL_SIZE = dataset.Size(doctors=40, specialties=4, days=16, sessions=400)
MOTO_SCALING_REPEAT = 10
TARGETS = {
    # Floors on SQLite in a full run (decided on issue 7: don't regress below them).
    "ratio": {"doctor_get": 0.5, "availability_one_day": 0.3, "booking": 0.25},
    "calls": {
        "doctor_get": 1,
        "doctors_by_specialty": 1,
        "slots_one_day": 1,
        "booking": 1,
        "availability_one_day": "1 + doctors (DynamoDB Queries); 2 statements on SQLite",
    },
    "scans": 0,
    "slot_day_query_ratio": 1.3,
    "availability_fanout_ratio": 2.0,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, ~1 s per endpoint")
    parser.add_argument("--backend", choices=("sqlite", "dynamodb", "both"), default=None)
    parser.add_argument(
        "--dynamodb-engine",
        choices=("dynamodb-local", "moto"),
        default="dynamodb-local",
        help="what serves DynamoDB: AWS's DynamoDB Local (default) or moto's server",
    )
    parser.add_argument("--seconds", type=float, default=None, help="per endpoint and server")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="alternating service/baseline rounds per endpoint, the median kept "
        "(default 9; --quick: 1); --seconds is split between them",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--generator", choices=("auto", "wrk", "asyncio"), default="auto")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=None,
        help="GUNICORN_MAX_REQUESTS for both servers (default: gunicorn.conf.py's; 0 = off)",
    )
    parser.add_argument(
        "--only",
        choices=("mcp",),
        default=None,
        help="mcp: only the MCP tool calls against the REST calls they wrap (results to a temp "
        "file unless --out)",
    )
    parser.add_argument(
        "--mcp-calls",
        type=int,
        default=None,
        help="measured calls per side of each MCP/REST pair (default 300; --quick: 30)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: bench/results.json (--quick, --only: a temp file)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=None,
        help="wait up to this many seconds for the 1-minute load average to drop below 0.8 "
        "(default: 600 for a full run, 0 for --quick)",
    )
    return parser.parse_args(argv)


def wait_quiet(limit_seconds: float, log) -> dict[str, Any]:
    """Poll the load average until it is below 0.8 or the time is up; say what happened."""
    started = time.monotonic()
    while os.getloadavg()[0] >= 0.8 and time.monotonic() - started < limit_seconds:
        time.sleep(10)
    waited = time.monotonic() - started
    quiet = os.getloadavg()[0] < 0.8
    if limit_seconds:
        log(f"load average {os.getloadavg()[0]:.2f} after waiting {waited:.0f} s "
            f"({'quiet' if quiet else 'NOT quiet: figures are noisier'})")  # fmt: skip
    return {"waited_seconds": round(waited), "quiet_below_0_8": quiet}


def machine(generator: str) -> dict[str, Any]:
    """Facts about where the figures come from."""
    wrk = ""
    if generator == "wrk":
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout
    return {
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "generator": generator,
        "generator_version": wrk.split("[")[0].strip() if wrk else "bench/load.py asyncio",
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    log = lambda text: print(text, flush=True)  # noqa: E731
    started = time.monotonic()
    quick = args.quick
    backends = {"sqlite": ["sqlite"], "dynamodb": ["dynamodb"], "both": ["sqlite", "dynamodb"]}[
        args.backend or ("sqlite" if quick else "both")
    ]
    generator = load.generator_name(args.generator)
    quiet = wait_quiet(
        args.wait_quiet if args.wait_quiet is not None else (0 if quick else 600), log
    )
    log(f"load generator: {generator}; gunicorn {server.WORKERS} workers x {server.THREADS} "
        f"threads (gunicorn.conf.py); concurrency {args.concurrency}")  # fmt: skip
    opts = {
        "seconds": args.seconds or (1.0 if quick else 18.0),
        "rounds": args.rounds or (1 if quick else 9),
        "warm": 10 if quick else 60,
        "concurrency": args.concurrency,
        "generator": generator,
        "max_rps": 5000,
        "scaling_repeat": 30 if quick else 300,
        "max_requests": args.max_requests,
        "dynamodb_engine": args.dynamodb_engine,
        "mcp_calls": args.mcp_calls or (30 if quick else 300),
        "mcp_warm": 5 if quick else 20,
    }
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": "quick" if quick else "full",
        "only": args.only,
        "machine": {**machine(generator), **quiet},
        "gunicorn": {
            "config": "gunicorn.conf.py",
            "workers": server.WORKERS,
            "threads": server.THREADS,
            "max_requests": "gunicorn.conf.py" if args.max_requests is None else args.max_requests,
        },
        "load": {k: opts[k] for k in ("seconds", "rounds", "concurrency", "generator", "warm")},
        "targets": TARGETS,
        "backends": {},
    }
    on_moto = args.dynamodb_engine == "moto"
    for backend in backends:
        size = dataset.QUICK if quick else dataset.FULL
        if backend == "dynamodb" and not quick:
            size = MOTO_SIZE if on_moto else DYNAMODB_LOCAL_SIZE
            log(
                f"[dynamodb] {args.dynamodb_engine}: a smaller set ({size.slots} slots, "
                f"{size.sessions} sessions) than the full one, which would take minutes to load"
            )
        backend_opts = dict(opts)
        if backend == "dynamodb":
            backend_opts["scaling_repeat"] = min(opts["scaling_repeat"], MOTO_SCALING_REPEAT)
        run = harness.run_mcp_only if args.only == "mcp" else harness.run_backend
        out = run(backend, size, backend_opts, log)
        if backend == "dynamodb":
            out["data"]["engine"] = args.dynamodb_engine
            out["data"]["note"] = (
                "moto's standalone server (one request at a time), smaller data set: "
                "storage-call counts are exact, latencies are moto's, not DynamoDB's"
                if on_moto
                else "AWS's DynamoDB Local on this machine, smaller data set: storage calls and "
                "consumed capacity are DynamoDB's, latencies are the emulator's (a local Java "
                "process on the same 2 cores), not DynamoDB's"
            )
        results["backends"][backend] = out
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["runtime_seconds"] = round(time.monotonic() - started, 1)
    target = args.out or (MCP_ONLY_RESULTS if args.only else QUICK_RESULTS if quick else RESULTS)
    target.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    log(table(results))
    log(f"written to {target} in {results['runtime_seconds']} s")
    return results


def table(results: dict[str, Any]) -> str:
    """The Markdown table of a run (the README's Performance section)."""
    lines = []
    for backend, out in results["backends"].items():
        lines.append(
            f"\n{backend} ({out['data']['slots']} slots, {out['data']['doctors']} doctors, "
            f"{out['data']['sessions']} sessions)"
        )
        if out.get("endpoints"):
            lines += [
                "\n| endpoint | req/s | p50 ms | p99 ms | baseline req/s | ratio | storage calls |",
                "|---|---:|---:|---:|---:|---:|---|",
            ]
        for name, r in out.get("endpoints", {}).items():
            calls = r["storage_calls"]
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(calls["by_kind"].items()))
            lines.append(
                f"| {name} | {r['app']['rps']:.0f} | {r['app']['p50_ms']:.1f} | "
                f"{r['app']['p99_ms']:.1f} | {r['baseline']['rps']:.0f} | {r['ratio']:.2f} | "
                f"{calls['calls']} ({kinds}){harness.capacity_text(calls)} |"
            )
        if out.get("count_only"):
            lines += [
                "\ncounted once, not load-tested:\n",
                "| request | status | storage calls |",
                "|---|---:|---|",
            ]
            for name, calls in out["count_only"].items():
                kinds = ", ".join(f"{k} {v}" for k, v in sorted(calls["by_kind"].items()))
                lines.append(
                    f"| {name} | {calls['status']} | {calls['calls']} ({kinds})"
                    f"{harness.capacity_text(calls)} |"
                )
        if out.get("flow"):
            f = out["flow"]
            lines += [
                f"\nconversation flow (availability -> hold -> book with hold_id): "
                f"{f['flows_per_second']:.1f} flows/s, {f['flows']} flows in {f['seconds']} s, "
                f"answers {f['statuses']}\n",
                "| step | p50 ms | p99 ms | storage calls |",
                "|---|---:|---:|---|",
            ]
            for step, v in f["steps"].items():
                calls = f["storage_calls"][step]
                kinds = ", ".join(f"{k} {n}" for k, n in sorted(calls["by_kind"].items()))
                lines.append(
                    f"| {step} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {calls['calls']} "
                    f"({kinds}){harness.capacity_text(calls)} |"
                )
        if out.get("scaling"):
            lines.append(_scaling_line(out["scaling"]))
        if out.get("tokens"):
            lines.append(tokens.line(out["tokens"]))
        if out.get("mcp"):
            lines += mcp.table(out["mcp"])
    return "\n".join(lines)


def _scaling_line(s: dict[str, Any]) -> str:
    slot, table_, fan = s["slot_day_query"], s["availability_table"], s["availability_fanout"]
    return (
        f"\nscaling (whole requests, median of {s['repeat']}; storage work alone in brackets):"
        f" one-day slot query {slot['request_ms']['small']} ms at "
        f"{s['table_slots']['small']} slots vs {slot['request_ms']['big']} ms at "
        f"{s['table_slots']['big']}: x{slot['ratio']} (x{slot['service_ratio']}); "
        f"availability x{table_['ratio']} (x{table_['service_ratio']}); availability over "
        f"{s['availability_doctors']['many']} doctors vs 1: {fan['request_ms']['many']} vs "
        f"{fan['request_ms']['one']} ms: x{fan['ratio']} (x{fan['service_ratio']})"
    )


if __name__ == "__main__":
    main()
    sys.exit(0)
