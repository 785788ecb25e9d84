"""`edgeanon bench --recommend CONFIG`: a real tiny run (structure, and a recommendation only of a count that was
measured to hold), the search on its own, the site workload, and the refusals.

No timing is asserted: the machine is shared. Whether a count holds on it is not asserted either; what is
asserted holds whatever the load: the recommended count is one that held in every run at it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeanon.bench import command as bench
from edgeanon.bench.search import Search
from edgeanon.bench.site import SOURCE_NOTE, site_config
from edgeanon.config.sources import FileSource

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "configs" / "default.yaml")
STORE = str(ROOT / "configs" / "store-example.yaml")


def _int8() -> str:
    from edgeanon.pixels.detector.manifest import load_manifest

    manifest, _ = load_manifest()
    return next(n for n, e in sorted(manifest.models.items()) if e.task == "person" and e.precision == "int8")


@pytest.mark.slow
def test_a_tiny_real_run_recommends_only_a_count_measured_to_hold(tmp_path, capsys):
    out = tmp_path / "rec.json"
    model = _int8()
    argv = ["--recommend", DEFAULT, "--models", model, "--threads", "2", "--budget", "9", "--seconds", "1"]
    rc = bench.main([*argv, "--inputs", "config", "--no-isolate", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["machine"]["cpu_model"] and data["machine"]["physical_cores"] >= 1
    rec = data["recommend"]
    assert rec["config"] == DEFAULT and rec["sources"] == SOURCE_NOTE and SOURCE_NOTE in printed
    assert [c["id"] for c in rec["cameras"]] == ["sample"]
    (cand,) = rec["candidates"]  # one model, one thread count, one input size: one candidate
    assert (cand["model"], cand["threads"], cand["input"], cand["phase"]) == (model, 2, "config", 1)
    runs = rec["runs"]
    assert runs, "a 9 s budget leaves room for at least one run"
    by_count: dict[int, list[bool]] = {}
    for r in runs:
        n = r["cameras"]
        assert [c["camera"] for c in r["per_camera"]] == ["sample", *(f"sample-{k}" for k in range(2, n + 1))]
        assert all(c["expected_fps"] == 10 for c in r["per_camera"])  # the camera's own fps (and the clip's)
        assert r["holds"] == (r["dropped"] == 0 and r["delay_ms"]["p99"] < 200 and r["min_fps_share"] >= 0.95)
        by_count.setdefault(n, []).append(r["holds"])
    assert cand["runs_by_count"] == {str(n): h for n, h in sorted(by_count.items())}
    fails = [n for n, held in by_count.items() if not all(held)]
    held = [n for n, ok in by_count.items() if all(ok) and all(n < f for f in fails)]
    assert cand["cameras"] == max(held, default=0)
    lines = [ln for ln in printed.splitlines() if ln.startswith("recommendation:")]
    assert len(lines) == 1 and rec["advice"][0] == lines[0]
    if rec["recommendation"] is None:
        assert not held and "none" in lines[0]
    else:
        n = rec["recommendation"]["cameras"]
        assert n in held and n == max(held)
        from edgeanon.pixels.detector import physical_cores

        sessions = max(1, physical_cores() // 2)  # as many 2-thread sessions as fill the cores
        assert f"{model}, detector.threads 2, detector.sessions {sessions}: {n} camera" in lines[0]
    assert "| model | input | threads | cameras that hold |" in printed


def test_search_grows_then_bisects_to_the_edge():
    edge = 11
    s, counts = Search(start=2), []
    while (n := s.next_count()) is not None:
        counts.append(n)
        s.record({"cameras": n, "holds": n <= edge}, usable_cpus=2)  # no load figures: doubling and halving
    assert s.largest_held == edge and s.first_fail == edge + 1
    assert counts == [2, 4, 8, 16, 12, 10, 11]
    assert len(counts) < edge  # fewer runs than walking up one camera at a time


def test_search_follows_the_measured_load_and_a_failed_rerun_counts():
    s = Search(start=2)
    s.record({"cameras": 2, "holds": True, "worker_busy": 0.3, "cpu_cores": 0.4}, usable_cpus=2)
    assert s.next_count() == 6  # 2 cameras kept the detector 30 % busy: 6 would fill it
    s.record({"cameras": 6, "holds": True, "worker_busy": 0.95, "cpu_cores": 1.2}, usable_cpus=2)
    assert s.next_count() == 7  # nearly full: one more
    s.record({"cameras": 7, "holds": False, "worker_busy": 1.0, "cpu_cores": 1.9}, usable_cpus=2)
    assert s.done and s.largest_held == 6 and s.bounds() == "6"
    s.record({"cameras": 6, "holds": False}, usable_cpus=2)  # the confirmation run failed
    assert s.largest_held == 2 and s.first_fail == 6 and not s.done and s.bounds() == "2 (3-5 untested)"
    assert s.next_count() == 4  # after a failure the load says nothing: bisect


def test_the_site_is_replicated_round_robin_on_the_clip():
    cfg = site_config(STORE, cameras=5, detector={"threads": 1})
    assert [c.id for c in cfg.cameras] == ["entrance", "checkout", "entrance-2", "checkout-2", "entrance-3"]
    assert [c.fps for c in cfg.cameras] == [10, 5, 10, 5, 10]  # each copy keeps its camera's fps
    assert all(c.source == FileSource(kind="file", path=None, realtime=True, loop=True) for c in cfg.cameras)
    assert [(e.camera, e.line) for e in cfg.entrances] == [
        ("entrance", "door"),
        ("entrance-2", "door"),
        ("entrance-3", "door"),
    ]
    assert [len(c.zones) for c in cfg.cameras] == [0, 2, 0, 2, 0] and cfg.cameras[4].lines[0].a == (0.15, 0.70)
    assert cfg.schedule is None and cfg.push is None and cfg.mqtt is None  # runs now, sends nothing anywhere
    assert cfg.detector.threads == 1


def _fails(argv: list[str], capsys) -> str:
    assert bench.main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == ""  # refused before anything is measured or printed
    return cap.err


def test_a_broken_config_is_refused_with_the_loader_s_message(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(DEFAULT).read_text().replace("    fps: 10\n", "    fps: 10\n    fsp: 5\n"))
    err = _fails(["--recommend", str(bad)], capsys)
    assert f"{bad}:31: cameras.0.fsp: Extra inputs are not permitted" in err
    err = _fails(["--recommend", str(tmp_path / "missing.yaml")], capsys)
    assert "missing.yaml: no such config file" in err


def test_pixel_geometry_that_does_not_fit_the_clip_is_refused(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_text(Path(DEFAULT).read_text().replace("a: [470, 150]", "a: [1470, 150]"))
    err = _fails(["--recommend", str(big)], capsys)
    assert "normalized: true" in err
    assert f"{big}:36: cameras.0.lines.0.a: line 'crossing': a [1470, 150] lies outside the 768x576 frame" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cameras", "2"], "drop --cameras"),
        (["--find-max", "--spinning", "on", "--batch", "2"], "drop --find-max, --spinning, --batch"),
        (["--budget", "3"], "--budget 3 is shorter than one run"),
        (["--budget", "0"], "--budget must be above 0"),
        (["--inputs", "big"], "--inputs big: expected config, auto, WxH such as 416x320, or a scale such as x0.8"),
        (["--inputs", "config", "x9"], "--inputs x9: expected"),
    ],
)
def test_options_that_do_not_fit_recommend_are_refused(extra, message, capsys):
    assert message in _fails(["--recommend", DEFAULT, *extra], capsys)


def test_inputs_need_recommend(capsys):
    assert "--inputs needs --recommend" in _fails(["--inputs", "config"], capsys)


def test_input_candidates_scale_each_camera_s_own_size_on_the_clip():
    from edgeanon.bench import inputs
    from edgeanon.config.loader import load_config

    cfg, model = load_config(STORE), _int8()
    own = inputs.own_sizes(cfg, model)  # auto: each camera's region at the model's trained scale
    assert set(own) == {"entrance", "checkout"} and own["checkout"] == (416, 320)  # its region is the whole frame
    assert own["entrance"][0] == 416 and own["entrance"][1] < 320  # a line near the bottom: a band of the frame
    assert inputs.camera_inputs("config", cfg, model) is None
    small, large = (inputs.camera_inputs(t, cfg, model) for t in ("x0.8", "x1.25"))
    for sizes, scale in ((small, 0.8), (large, 1.25)):
        for cid, (w, h) in own.items():
            sw, sh = map(int, sizes[cid].split("x"))
            assert sw % 32 == 0 and sh % 32 == 0
            assert abs(sw - w * scale) <= 16 and abs(sh - h * scale) <= 16
    assert inputs.area_ratio(small, cfg, model) < 1 < inputs.area_ratio(large, cfg, model)
    assert inputs.camera_inputs("512x384", cfg, model) == {"entrance": "512x384", "checkout": "512x384"}
    cams = site_config(STORE, cameras=3, per_camera={c: {"input": s} for c, s in small.items()}).cameras
    assert [c.input for c in cams] == [small["entrance"], small["checkout"], small["entrance"]]


def test_an_input_size_the_models_cannot_run_is_refused(capsys):
    assert "--inputs 500x300: both sides must be multiples of 32" in _fails(
        ["--recommend", DEFAULT, "--inputs", "config", "500x300"], capsys
    )
