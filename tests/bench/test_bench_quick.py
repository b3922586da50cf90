"""The benchmark harness cannot rot: its quick mode runs end to end (real gunicorn, the service and
the baseline, SQLite, small data), and the storage calls it counts match the targets on both
backends. Speed is never asserted here (a shared CI machine decides it); correctness is."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from bench import counters, dataset, endpoints, flow, mcp
from bench.__main__ import main, table
from bench.server import ADMIN_KEY, AGENT_KEY
from health_api.config import load_settings
from tests.conftest import is_dynamodb, storage_kind

ENDPOINTS = {
    "doctor_get",
    "doctors_by_specialty",
    "slots_one_day",
    "availability_one_day",
    "booking",
    endpoints.IDEMPOTENT,
    "session_get",
    "session_put",
    endpoints.USER_TOKEN_GET,
    endpoints.USER_TOKEN_BOOKING,
}
ONE_CALL = (
    "doctor_get",
    "doctors_by_specialty",
    "slots_one_day",
    "booking",
    "session_get",
    endpoints.USER_TOKEN_GET,
    endpoints.USER_TOKEN_BOOKING,
)
# SQLite runs booking a second time on a server with synchronous=NORMAL.
SQLITE_ENDPOINTS = ENDPOINTS | {endpoints.NORMAL_SYNC}
SIZE = dataset.Size(doctors=6, specialties=2, days=2, sessions=2)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    results = main(["--quick", "--out", str(out), "--wait-quiet", "0"])
    return results, out


def test_quick_mode_writes_the_results_it_returns(quick_run) -> None:
    results, out = quick_run

    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    assert results["mode"] == "quick"
    assert set(results["backends"]) == {"sqlite"}
    assert results["machine"]["cores"] >= 1
    assert len(results["machine"]["load_average"]) == 3
    assert results["machine"]["generator"] in {"wrk", "asyncio"}


def test_every_endpoint_and_its_baseline_served_requests_without_errors(quick_run) -> None:
    endpoints_measured = quick_run[0]["backends"]["sqlite"]["endpoints"]

    assert set(endpoints_measured) == SQLITE_ENDPOINTS
    for name, result in endpoints_measured.items():
        for side in ("app", "baseline"):
            run = result[side]
            assert run["rps"] > 0, (name, side)
            assert run["errors"] == 0, (name, side, run)
            assert 0 < run["p50_ms"] <= run["p99_ms"] < 10_000, (name, side, run)
        assert result["ratio"] > 0, name
        assert result["response_bytes"] > 2, name


def test_booking_loads_gave_every_request_its_own_slot(quick_run) -> None:
    measured = quick_run[0]["backends"]["sqlite"]["endpoints"]

    for name in (
        "booking",
        endpoints.IDEMPOTENT,
        endpoints.USER_TOKEN_BOOKING,
        endpoints.NORMAL_SYNC,
    ):
        assert measured[name]["app"]["paths_reused"] is False, name
    assert measured["booking"]["sqlite_synchronous"] == "full"
    assert measured[endpoints.NORMAL_SYNC]["sqlite_synchronous"] == "normal"


def test_quick_mode_counts_one_storage_call_per_request_and_two_for_availability_on_sqlite(
    quick_run,
) -> None:
    measured = quick_run[0]["backends"]["sqlite"]["endpoints"]

    for name in (*ONE_CALL, endpoints.NORMAL_SYNC):
        assert measured[name]["storage_calls"]["calls"] == 1, (name, measured[name])
    # The specialty's doctors, then one statement for all their slots.
    assert measured["availability_one_day"]["storage_calls"]["calls"] == 2
    assert all(m["storage_calls"]["scans"] == 0 for m in measured.values())


def test_scaling_probes_report_positive_latencies_and_ratios(quick_run) -> None:
    scaling = quick_run[0]["backends"]["sqlite"]["scaling"]

    for probe in ("slot_day_query", "availability_table", "availability_fanout"):
        assert scaling[probe]["ratio"] > 0, probe
        assert scaling[probe]["service_ratio"] > 0, probe
        assert all(ms > 0 for ms in scaling[probe]["request_ms"].values()), probe
    assert scaling["table_slots"]["small"] < scaling["table_slots"]["big"]


def test_quick_mode_compares_a_user_token_with_an_api_key(quick_run) -> None:
    figures = quick_run[0]["backends"]["sqlite"]["tokens"]

    assert set(figures) == {"repeat", "get", "booking", "verify_us"}
    assert figures["get"]["token_over_key"] > 0
    assert figures["booking"]["token_over_key"] > 0


COUNT_ONLY_STATUS = {
    "probe_booking": 201,
    "booking_with_key": 201,
    "booking_replay": 201,  # a replayed 201 stays a 201
    "booking_taken_409": 409,
    "appointments": 200,
    "reschedule": 200,
    "cancel": 204,
    "session_patch": 200,
}


def test_quick_mode_counts_the_requests_it_does_not_load_test(quick_run) -> None:
    counted = quick_run[0]["backends"]["sqlite"]["count_only"]

    assert {name: c["status"] for name, c in counted.items()} == COUNT_ONLY_STATUS
    assert all("capacity" not in c for c in counted.values())  # DynamoDB's measure only


@pytest.fixture
def counted(make_storage, backend, tmp_path) -> dict:
    """Every benchmarked request and every count-only one, counted once on ``backend``."""
    settings = load_settings(
        {
            "HEALTH_API_KEYS": f"admin={ADMIN_KEY},agent={AGENT_KEY}",
            "HEALTH_API_KEY_ID_SECRET": "bench-key-id-secret-0123456789abcdef",
            "ENVIRONMENT": "bench",
        }
    ).replace(storage=storage_kind(backend), sqlite_path=tmp_path / "health.db")
    store = make_storage()
    data = dataset.load(store, SIZE)
    eps = endpoints.endpoints(data, bookings=1, warm=1)
    requests = endpoints.counted_requests(eps, data)
    return counters.count_calls(settings, store, storage_kind(backend), requests)


@pytest.fixture
def flow_counted(make_storage, backend, tmp_path) -> dict:
    """One conversation flow (availability -> hold -> book with hold_id), counted per step."""
    settings = load_settings(
        {
            "HEALTH_API_KEYS": f"admin={ADMIN_KEY},agent={AGENT_KEY}",
            "HEALTH_API_KEY_ID_SECRET": "bench-key-id-secret-0123456789abcdef",
            "ENVIRONMENT": "bench",
        }
    ).replace(storage=storage_kind(backend), sqlite_path=tmp_path / "health.db")
    store = make_storage()
    data = dataset.load(store, dataset.Size(doctors=2, specialties=1, days=3, sessions=0))
    slot = flow.flow_slots(data)[0]
    return flow.count(settings, store, storage_kind(backend), slot, f"Bearer {AGENT_KEY}")


def test_a_hold_and_a_booking_with_its_hold_are_one_write_call_each(flow_counted, backend):
    steps = flow_counted

    assert {step: c["status"] for step, c in steps.items()} == {
        "availability": 200,
        "hold": 201,
        "book_with_hold": 201,
    }
    if is_dynamodb(backend):
        # One consistent read of the slot, then one transaction (slot + the user's seat).
        assert steps["hold"]["by_kind"] == {"GetItem": 1, "TransactWriteItems": 1}
        assert steps["book_with_hold"]["by_kind"] == {"GetItem": 1, "TransactWriteItems": 1}
    else:
        for step in ("hold", "book_with_hold"):
            assert steps[step]["by_kind"].get("COMMIT") == 1, steps[step]  # one transaction


def test_a_keyed_booking_is_replayed_with_one_read(counted, backend) -> None:
    replay = counted["booking_replay"]

    if is_dynamodb(backend):
        assert replay["by_kind"] == {"GetItem": 1}
        # Claim (a conditional PutItem, after the read that finds no record), the booking,
        # then the stored answer.
        assert counted["booking_with_key"]["by_kind"] == {
            "GetItem": 1,
            "PutItem": 1,
            "UpdateItem": 2,
        }
    else:
        assert replay["by_kind"] == {"SELECT": 1}


def test_storage_calls_meet_the_targets_on_every_engine(counted, backend) -> None:
    calls = counted

    assert {name: c["status"] for name, c in calls.items()} == {
        **{name: 201 if name.startswith("booking") else 200 for name in ENDPOINTS},
        **COUNT_ONLY_STATUS,
    }
    for name in ONE_CALL:
        assert calls[name]["calls"] == 1, (name, calls[name])
    doctors_per_specialty = SIZE.doctors // SIZE.specialties
    # DynamoDB: the GSI Query, then one Query per doctor; SQLite: one statement for all of them.
    expected_availability = 1 + doctors_per_specialty if is_dynamodb(backend) else 2
    assert calls["availability_one_day"]["calls"] == expected_availability
    assert all(c["scans"] == 0 for c in calls.values())
    if is_dynamodb(backend):
        assert calls["availability_one_day"]["by_kind"] == {"Query": 4}
        assert calls["booking"]["by_kind"] == {"UpdateItem": 1}
        assert calls["doctor_get"]["by_kind"] == {"GetItem": 1}
        # Two round trips each: one consistent BatchGetItem confirms the index's items
        # (appointments) or reads both slots (reschedule).
        assert calls["appointments"]["by_kind"] == {"Query": 1, "BatchGetItem": 1}
        assert calls["reschedule"]["by_kind"] == {"BatchGetItem": 1, "TransactWriteItems": 1}
        assert calls["booking_taken_409"]["by_kind"] == {"UpdateItem": 1, "Query": 1}


def test_consumed_capacity_is_measured_per_request_where_the_engine_reports_it(
    counted, backend
) -> None:
    if not is_dynamodb(backend):
        assert all("capacity" not in c for c in counted.values())
        return
    capacity = {name: c["capacity"] for name, c in counted.items()}
    if backend != "dynamodb-local":
        # moto reports no or made-up figures: the measure runs, and says where it is missing.
        assert all(c["rcu"] >= 0 and c["wcu"] >= 0 for c in capacity.values())
        return
    # DynamoDB Local reports what DynamoDB bills (every item here is under 1 KB). A 409's
    # failed conditional write reports nothing, so that request's figure is not complete.
    assert not capacity.pop("booking_taken_409")["complete"]
    assert all(c["complete"] for c in capacity.values())
    assert capacity["availability_one_day"]["rcu"] == 2.0  # 4 eventual Queries, 0.5 each
    assert capacity["booking"] == {"rcu": 0.0, "wcu": 2.0, "complete": True}  # table + GSI
    # GSI Query 0.5 + 1 per consistent item (the probe's booking and its keyed booking).
    assert capacity["appointments"]["rcu"] == 2.5
    assert capacity["reschedule"] == {"rcu": 2.0, "wcu": 4.0, "complete": True}


def test_quick_mode_drives_the_conversation_flow_without_errors(quick_run) -> None:
    conversation = quick_run[0]["backends"]["sqlite"]["flow"]

    assert conversation["flows"] > 0
    assert set(conversation["statuses"]) == {"availability 200", "hold 201", "book_with_hold 201"}
    assert len(set(conversation["statuses"].values())) == 1  # every flow did all three steps
    for step in flow.STEPS:
        latency = conversation["steps"][step]
        assert 0 < latency["p50_ms"] <= latency["p99_ms"], (step, latency)


MCP_PAIRS = {
    "find_availability",
    "list_doctor_slots",
    "hold_slot",
    "book_appointment",
    "get_session",
}


def test_quick_mode_times_each_mcp_tool_against_the_rest_call_it_wraps(quick_run) -> None:
    results = quick_run[0]
    section = results["backends"]["sqlite"]["mcp"]

    assert set(section["pairs"]) == MCP_PAIRS
    for tool, pair in section["pairs"].items():
        for side in ("mcp", "rest"):
            run = pair[side]
            assert run["errors"] == 0, (tool, side, run)
            assert run["calls"] == section["calls"] > 0, (tool, side, run)
            assert 0 < run["p50_ms"] <= run["p90_ms"], (tool, side, run)
        assert pair["ratio"] > 0, tool
    assert "one uvicorn process" in section["note"]
    assert all(f"| {tool} |" in table(results) for tool in MCP_PAIRS)


def _mcp_pairs(calls: int) -> dict[str, mcp.Pair]:
    data = dataset.DataSet(SIZE, dataset.tomorrow(), ["bench-000", "bench-001"])
    data.user_ids = ["bench-user-00000"]
    slots = {kind: mcp.slot_times(data, 2 * calls) for kind in ("hold", "book")}
    return {pair.tool: pair for pair in mcp.pairs(data, slots)}


def test_mcp_read_pairs_ask_the_tool_what_the_rest_request_asks() -> None:
    pairs = _mcp_pairs(calls=4)

    for tool in ("find_availability", "list_doctor_slots"):
        for i in range(4):
            arguments, (method, path, body) = pairs[tool].call(i)
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
            assert method == "GET"
            assert body is None
            assert query == {k: str(v) for k, v in arguments.items() if k != "doctor_id"}
            if tool == "list_doctor_slots":
                assert path.startswith(f"/api/v1/doctors/{arguments['doctor_id']}/schedules?")


def test_every_mcp_write_call_and_its_rest_call_take_a_slot_of_their_own() -> None:
    calls = 6
    pairs = _mcp_pairs(calls)

    for tool in ("hold_slot", "book_appointment"):
        taken = []
        for i in range(calls):
            arguments, (_method, path, body) = pairs[tool].call(i)
            taken.append(arguments["fecha_hora"])
            taken.append(body.get("fecha_hora") or path.split("/schedules/")[1].split("/")[0])
        assert len(set(taken)) == 2 * calls, tool
    holds = [pairs["hold_slot"].call(i) for i in range(calls)]
    holders = [args["user_id"] for args, _ in holds] + [body["user_id"] for _, (*_, body) in holds]
    assert len(set(holders)) == 2 * calls  # one user per hold: the hold limit never bites
