"""`python -m bench.serving`, briefly: both servers answer every request of both loads, and the
results file holds the figures the docs and the issue's goals read."""

import json
import subprocess
import sys

import pytest

from training_assets.core import paths

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]


def test_the_serving_benchmark_measures_both_servers_without_an_error(tmp_path):
    out = tmp_path / "serving.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.serving", "--rate", "20", "--fixed-seconds", "1"]
        + ["--saturation-seconds", "1", "--concurrency", "2", "--out", str(out)]
        + ["--outage-requests", "5"],
        cwd=paths.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    for server in ("ours", "feast"):
        fixed, saturated = results[server]["fixed_rate"], results[server]["saturation"]
        assert fixed["requests"] == fixed["ok"] == 20
        assert saturated["errors"] == 0 and saturated["ok"] > 0
        assert 0 < fixed["p50_ms"] <= fixed["p99_ms"] <= fixed["max_ms"]
    assert results["goals"]["p99_ratio_goal"] == 1.5
    assert results["goals"]["throughput_ratio_at_saturation"] > 0
    # Redis paused: every request a 503, none hanging for the client's 10 s; then back.
    outage = results["outage"]
    assert (outage["requests"], outage["status_503"], outage["other_statuses"]) == (5, 5, [])
    assert 0 < outage["p50_ms"] <= outage["max_ms"] < 10_000
    assert outage["recovered_s"] is not None
    from bench.serving import render

    assert "5 of 5 requests in a row were answered 503" in render(results)


def test_the_serving_page_shows_the_recorded_results_and_nothing_typed_by_hand():
    import copy

    from bench import serving

    class File:
        src_uri = serving.PAGE_NAME

    class Page:
        file = File()

    source = (paths.PROJECT_ROOT / "docs" / serving.PAGE_NAME).read_text()
    results = json.loads(serving.DATA.read_text())
    rendered = serving.on_page_markdown(source, Page(), config=None, files=None)

    assert serving.MARKER in source and serving.MARKER not in rendered
    assert serving.render(results) in rendered
    changed = copy.deepcopy(results)
    changed["ours"]["fixed_rate"]["p99_ms"] = 123.45
    assert "| 123.45 |" in serving.render(changed)
    assert "| 123.45 |" not in rendered
    File.src_uri = "index.md"
    assert serving.on_page_markdown(source, Page(), config=None, files=None) == source
