"""The token-vs-key scenario of the benchmark (``bench/tokens.py``) runs end to end on a small
SQLite store: both sides answer (every booking a real 201) and it reports its figures. Speed
is not asserted, except that a cached verification is cheaper than a signature check."""

from __future__ import annotations

from bench import dataset, harness, server, tokens
from bench.__main__ import table


def test_the_token_vs_key_scenario_reports_its_figures(tmp_path) -> None:
    env = server.service_env(harness._store_env("sqlite", tmp_path, None, "small"))
    settings, store = harness.open_store(env)
    try:
        data = dataset.load(store, dataset.Size(doctors=3, specialties=1, days=3, sessions=0))
        result = tokens.compare(settings, store, data, harness.AGENT, repeat=12)
    finally:
        store.close()

    for side in ("get", "booking"):
        figures = result[side]
        assert figures["key_ms"] > 0, side
        assert figures["token_ms"] > 0, side
        assert figures["token_over_key"] > 0, side
    assert result["booking"]["repeat"] == 12
    assert 0 < result["verify_us"]["cached"] < result["verify_us"]["uncached"]
    out = {"data": {"slots": data.size.slots, "doctors": 3, "sessions": 0}, "tokens": result}
    printed = table({"mode": "quick", "backends": {"sqlite": out}})
    assert "token vs key (in-process, median of 12)" in printed
