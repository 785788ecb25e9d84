"""`edgeanon bench` smoke tests: the real benchmark code path, tiny sizes, structure and invariants only.

No timing is asserted: the machine is shared, and figures belong in benchmarks/results, not in tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json

import pytest

from edgeanon.bench import command as bench
from edgeanon.bench.machine import isa_summary

STAGES = {"decode", "preprocess", "inference", "postprocess", "detect", "track", "analytics", "sinks"}


def test_throughput_and_capacity_smoke(tmp_path):
    out = tmp_path / "throughput.json"
    rc = bench.main(
        [
            "--models",
            "nanodet-coco-int8",
            "--threads",
            "2",
            "--rounds",
            "1",
            "--max-frames",
            "24",
            "--no-isolate",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    data = json.loads(out.read_text())
    m = data["machine"]
    assert m["cpu_model"] and m["physical_cores"] >= 1
    assert set(m["isa"]) == {"AVX2", "AVX-512", "VNNI", "AMX", "NEON"}
    assert len(data["load_average_before"]) == 3
    (row,) = data["throughput"]
    assert row["model"] == "nanodet-coco-int8" and row["threads"] == 2
    assert row["spinning"] is False  # the config default when --spinning is not given
    assert row["model_fps"] > 0 and row["pipeline_fps"] > 0
    assert row["pipeline_efficiency"] > 0
    assert row["dropped"] == 0  # blocking file source: the throughput figure never drops a frame
    assert row["frames_counted"] >= 24
    assert row["frames_inferred"] >= row["frames_counted"]
    assert set(row["stage_ms"]) >= STAGES
    assert all(v >= 0 for v in row["stage_ms"].values())
    assert row["peak_rss_mb"] > 0 and row["cpu_cores_pipeline"] > 0

    # Capacity runs in an isolated child process (the default), like the committed results.
    cap = tmp_path / "capacity.json"
    rc = bench.main(
        [
            "--models",
            "nanodet-coco-int8",
            "--threads",
            "2",
            "--cameras",
            "2",
            "--fps",
            "10",
            "--seconds",
            "3",
            "--json",
            str(cap),
        ]
    )
    assert rc == 0
    c = json.loads(cap.read_text())["capacity"]
    (run,) = c["runs"]
    assert run["cameras"] == 2 and run["fps_target"] == 10
    assert {p["camera"] for p in run["per_camera"]} == {"sample1", "sample2"}
    assert all(p["captured"] > 0 and p["inferred"] > 0 for p in run["per_camera"])
    assert run["frames"] > 0 and run["dropped"] >= 0
    assert set(run["delay_ms"]) == {"p50", "p99", "max"} and run["delay_ms"]["p50"] > 0
    assert isinstance(run["holds"], bool) and run["peak_rss_mb"] > 0
    assert set(c["largest_holding"]) == {"nanodet-coco-int8 threads=2"}


def test_baseline_without_the_extra_exits_2_with_a_hint(capsys):
    if all(importlib.util.find_spec(m) is not None for m in ("supervision", "trackers")):
        pytest.skip("the bench extra is installed here, so --baseline would run")
    assert bench.main(["--baseline", "--models", "nanodet-coco-int8", "--threads", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "pip install" in err and "edgeanon[bench]" in err and "--no-deps" in err


def test_registers_on_the_cli_subparsers():
    parser = argparse.ArgumentParser(prog="edgeanon")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0)
    bench.add_parser(parser.add_subparsers(dest="command"), common)
    args = parser.parse_args(["bench", "--cameras", "1-3", "--fps", "5", "--spinning", "on", "off", "-v"])
    assert args.func is bench.cmd_bench
    assert args.cameras == [1, 2, 3] and args.fps == 5 and args.spinning == [True, False] and args.verbose == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4", [4]), ("1-6", [1, 2, 3, 4, 5, 6]), ("1,2,4", [1, 2, 4]), ("2-3,8", [2, 3, 8])],
)
def test_camera_counts(text, expected):
    assert bench._camera_counts(text) == expected


@pytest.mark.parametrize("text", ["0", "a", "3-", "1,,2", "65"])
def test_camera_counts_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        bench._camera_counts(text)


def test_isa_summary_groups_the_flags():
    isa = isa_summary(["avx2", "avx512f", "avx_vnni"])
    assert isa == {"AVX2": True, "AVX-512": True, "VNNI": True, "AMX": False, "NEON": False}
