"""One benchmark run: load a store, count storage calls, drive the service and the baseline under
the same gunicorn settings, probe scaling, and write ``bench/results.json``.

Per backend: the data set is loaded through the storage layer; each endpoint's request is sent
once in-process to count storage calls and measure its response size; then the service
(``wsgi:app``) and the baseline (``bench.baseline_app:app``) run side by side, each endpoint is
driven on the service and then on the baseline answering a body of the same size. On SQLite a
third server, the service with ``HEALTH_API_SQLITE_SYNCHRONOUS=normal`` on the same file, runs
one more booking endpoint on slots of its own. Last, the MCP server's tool calls are timed
against the REST calls they wrap (:mod:`bench.mcp`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench import counters, dataset, endpoints, flow, load, mcp, scaling, server, tokens
from health_api.config import load_settings
from health_api.storage.factory import build_storage

AGENT = f"Bearer {server.AGENT_KEY}"


def _store_env(backend: str, workdir: Path, endpoint: str | None, tag: str) -> dict[str, str]:
    if backend == "sqlite":
        return {
            "HEALTH_API_STORAGE": "sqlite",
            "HEALTH_API_SQLITE_PATH": str(workdir / f"{tag}.db"),
        }
    return {
        "HEALTH_API_STORAGE": "dynamodb",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint or "",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HEALTH_API_TABLE_PREFIX": f"{tag}-",
    }


def open_store(env: dict[str, str]) -> tuple[Any, Any]:
    """Settings and a ready store for ``env`` (DynamoDB tables are created first)."""
    settings = load_settings(env)
    if settings.storage == "dynamodb":
        # boto3 in this process reads credentials from the environment (moto accepts any).
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            os.environ[name] = env[name]
        from health_api.storage.dynamodb import admin
        from health_api.storage.dynamodb.client import build_client
        from health_api.storage.tables import table_specs

        client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
        admin.create_tables(client, table_specs(settings).values())
        client.close()
    return settings, build_storage(settings)


def _warm(port: int, target: load.Target) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for path in target.paths:
            headers = {"Authorization": target.auth or ""}
            if target.body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(target.method, path, body=target.body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status >= 300:
                raise RuntimeError(f"warm-up {target.name} {path}: {response.status}")
    finally:
        conn.close()


def run_backend(backend: str, size: dataset.Size, opts: dict[str, Any], log) -> dict[str, Any]:
    """Everything measured on one backend."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{backend}-"))
    moto = (
        server.dynamodb_server(workdir, opts.get("dynamodb_engine", "dynamodb-local"))
        if backend == "dynamodb"
        else None
    )
    endpoint_url = moto.__enter__() if moto is not None else None
    try:
        env = server.service_env(
            _store_env(backend, workdir, endpoint_url, "big"), opts["max_requests"]
        )
        env.update(tokens.service_env())
        settings, store = open_store(env)
        user_token = tokens.bearer(settings, endpoints.BOOKER)
        log(f"[{backend}] loading {size.slots} slots, {size.doctors} doctors, "
            f"{size.sessions} sessions ...")  # fmt: skip
        data = dataset.load(store, size)
        log(f"[{backend}] loaded in {data.load_seconds:.1f} s")
        seconds, warm = opts["seconds"], opts["warm"]
        budget = int(opts["max_rps"] * seconds) + 100
        normal_sync = backend == "sqlite"
        eps = endpoints.endpoints(data, bookings=budget, warm=warm, normal_sync=normal_sync)
        calls = counters.count_calls(
            settings,
            store,
            backend,
            endpoints.counted_requests(eps, data),
        )
        count_only = {name: calls[name] for name, *_ in endpoints.count_only(data)}
        slots = flow.flow_slots(data)
        flow_calls = flow.count(settings, store, backend, slots[0], AGENT)
        sizes = _response_sizes(settings, store, eps)
        small_env = server.service_env(_store_env(backend, workdir, endpoint_url, "small"))
        _, small = open_store(small_env)
        small_data = dataset.load(small, dataset.SMALL_TABLE, first_day=data.first_day)
        scale = scaling.measure(
            scaling.Probe(settings, store, data, AGENT),
            scaling.Probe(settings, small, small_data, AGENT),
            opts["scaling_repeat"],
        )
        token_vs_key = tokens.compare(settings, small, small_data, AGENT, opts["scaling_repeat"])
        small.close()
        store.close()
        results: dict[str, Any] = {}
        base_env = server.service_env({}, opts["max_requests"])
        # SQLite: the same service on the same file with synchronous=NORMAL, for one more
        # booking row (what the fsync at each commit costs).
        normal_env = dict(env, HEALTH_API_SQLITE_SYNCHRONOUS="normal")
        with (
            server.gunicorn("wsgi:app", env, workdir, "service") as service_port,
            server.gunicorn("bench.baseline_app:app", base_env, workdir, "baseline") as base_port,
            (
                server.gunicorn("wsgi:app", normal_env, workdir, "service-normal")
                if normal_sync
                else contextlib.nullcontext(None)
            ) as normal_port,
        ):
            for e in eps:
                app_port = normal_port if e.name == endpoints.NORMAL_SYNC else service_port
                auth = user_token if e.user_token else AGENT
                _warm(app_port, e.target(auth, warm=True))
                size_bytes = sizes[e.name]
                base_target = load.Target(
                    "baseline", e.method, [f"/bytes/{size_bytes}"] * 4, e.body, AGENT
                )
                _warm(base_port, load.Target("baseline", e.method, base_target.paths[:1], e.body))
                measured, base, ratios = _interleaved(
                    app_port, base_port, e.target(auth), base_target, opts
                )
                results[e.name] = {
                    "method": e.method,
                    "response_bytes": size_bytes,
                    "app": measured.as_dict(),
                    "baseline": base.as_dict(),
                    "ratio": round(statistics.median(ratios), 3),
                    "round_ratios": [round(r, 3) for r in ratios],
                    "storage_calls": calls[e.name],
                }
                if backend == "sqlite":
                    results[e.name]["sqlite_synchronous"] = (
                        "normal" if e.name == endpoints.NORMAL_SYNC else "full"
                    )
                log(_line(backend, e.name, results[e.name]))
            # (the flow needs no warm-up of its own: the endpoint runs above warmed the workers)
            conversation = flow.drive(
                service_port, slots[1:], AGENT, seconds, min(opts["concurrency"], 8)
            )
            conversation["storage_calls"] = flow_calls
            log(_flow_line(backend, conversation))
            # Last: it adds doctors and slots of its own, which nothing above should see.
            tools = mcp.compare(backend, env, data, service_port, workdir, opts, log)
        shutil.rmtree(workdir, ignore_errors=True)  # kept when the run fails: server logs
        return {
            "data": {**size.as_dict(), "load_seconds": round(data.load_seconds, 1)},
            "endpoints": results,
            "count_only": count_only,
            "flow": conversation,
            "scaling": scale,
            "tokens": token_vs_key,
            "mcp": tools,
        }
    finally:
        if moto is not None:
            moto.__exit__(None, None, None)


def run_mcp_only(backend: str, size: dataset.Size, opts: dict[str, Any], log) -> dict[str, Any]:
    """Only the MCP comparison (``python -m bench --only mcp``): the data set, the service
    under gunicorn and the MCP server beside it."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-mcp-{backend}-"))
    engine = opts.get("dynamodb_engine", "dynamodb-local")
    with (
        server.dynamodb_server(workdir, engine)
        if backend == "dynamodb"
        else contextlib.nullcontext(None)
    ) as endpoint_url:
        env = server.service_env(
            _store_env(backend, workdir, endpoint_url, "big"), opts["max_requests"]
        )
        _, store = open_store(env)
        log(f"[{backend}] loading {size.slots} slots, {size.doctors} doctors ...")
        data = dataset.load(store, size)
        store.close()
        with server.gunicorn("wsgi:app", env, workdir, "service") as service_port:
            tools = mcp.compare(backend, env, data, service_port, workdir, opts, log)
    shutil.rmtree(workdir, ignore_errors=True)
    return {"data": {**size.as_dict(), "load_seconds": round(data.load_seconds, 1)}, "mcp": tools}


def _interleaved(
    app_port: int,
    base_port: int,
    target: load.Target,
    base_target: load.Target,
    opts: dict[str, Any],
) -> tuple[load.LoadResult, load.LoadResult, list[float]]:
    """The service and the baseline in alternating rounds (service, baseline, service, ...):
    each side's median round by requests/s, and the ratio of each round to the baseline round
    right after it, whose median is the endpoint's ratio. A drift of the machine (another
    process, a frequency change) then falls on both sides of a pair instead of on one. Writes
    get a disjoint slice of their paths per round, so no round repeats another's bookings."""
    rounds = opts["rounds"]
    seconds = opts["seconds"] / rounds
    slices = (
        [target.paths] * rounds
        if target.method == "GET"
        else [target.paths[i::rounds] for i in range(rounds)]
    )
    app_runs, base_runs = [], []
    for paths in slices:
        # (all of the target but its paths: its Idempotency-Key flag was dropped here before)
        app_target = dataclasses.replace(target, paths=paths)
        args = (seconds, opts["concurrency"], opts["generator"])
        app_runs.append(load.run(app_port, app_target, *args))
        base_runs.append(load.run(base_port, base_target, *args))
    ratios = [a.rps / b.rps if b.rps else 0.0 for a, b in zip(app_runs, base_runs, strict=True)]
    return load.median_run(app_runs), load.median_run(base_runs), ratios


def _response_sizes(settings: Any, store: Any, eps: list[endpoints.Endpoint]) -> dict[str, int]:
    """The body size of each endpoint's typical response (its first load path, read-only
    endpoints; the counted request for writes, whose responses have the same shape)."""
    from health_api import create_app

    client = create_app(
        {"settings": settings.replace(log_level="WARNING"), "storage": store}
    ).test_client()
    sizes = {}
    for e in eps:
        path = e.count_path if e.method != "GET" else e.paths[0]
        headers = {"Authorization": AGENT}
        if e.body is not None:
            headers["Content-Type"] = "application/json"
        sizes[e.name] = len(client.open(path, method=e.method, data=e.body, headers=headers).data)
    return sizes


def _line(backend: str, name: str, r: dict[str, Any]) -> str:
    app, base, calls = r["app"], r["baseline"], r["storage_calls"]
    return (
        f"[{backend}] {name:22s} {app['rps']:8.1f} req/s  p50 {app['p50_ms']:6.2f} ms  "
        f"p99 {app['p99_ms']:7.2f} ms  baseline {base['rps']:8.1f}  ratio {r['ratio']:.2f}  "
        f"calls {calls['calls']}{capacity_text(calls)}  errors {app['errors']}"
    )


def _flow_line(backend: str, result: dict[str, Any]) -> str:
    steps = "  ".join(
        f"{step} p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f} ms "
        f"({result['storage_calls'][step]['calls']} calls"
        f"{capacity_text(result['storage_calls'][step])})"
        for step, v in result["steps"].items()
    )
    return (
        f"[{backend}] flow availability -> hold -> book: {result['flows_per_second']:.1f} "
        f"flows/s ({result['flows']} in {result['seconds']} s)  {steps}  {result['statuses']}"
    )


def capacity_text(calls: dict[str, Any]) -> str:
    """`` RCU x WCU y`` from a DynamoDB count (``?`` when the engine did not report all of
    it, as moto does not); empty on SQLite."""
    capacity = calls.get("capacity")
    if capacity is None:
        return ""
    mark = "" if capacity["complete"] else "?"
    return f"  RCU {capacity['rcu']}{mark} WCU {capacity['wcu']}{mark}"
