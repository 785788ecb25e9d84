"""Honest numbers from one real `edgeanon run` (issue 16): frame accounting that balances in every scrape and
every bucket, a broken camera marked DOWN (summaries, live line, status page, store), and one time rule.

One run of about 45 s serves every test here (the box is shared): a realtime clip camera analysed at 5 fps, so
about half its frames are skipped by pacing, and a camera whose file does not exist. Buckets are 10 s long, and
the site is in America/Sao_Paulo (UTC-03:00, no DST), so that no host default (UTC here) can pass for it.
"""

from __future__ import annotations

import re
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pytest

from edgeanon.outputs.store import AggregateStore
from tests.helpers.runs import run_edgeanon
from tests.helpers.service import base_config, clip_camera, running, write_config

# three 10 s buckets: at least one whole bucket between the partial first and last (45 s before issue 15,
# shortened for the suite's time budget)
RUN_S = 30.0
BUCKET_S = 10
TZ = "America/Sao_Paulo"
FATES = ("inferred", "dropped", "skipped", "idle")


@dataclass
class Run:
    scrapes: list[dict[str, dict[str, float]]] = field(default_factory=list)  # camera -> fate -> value
    status_pages: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    rows: list[dict] = field(default_factory=list)
    started: float = 0.0


def frames(metrics: dict) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for (name, labels), value in metrics.items():
        if name == "edgeanon_frames_total":
            lab = dict(labels)
            out.setdefault(lab["camera"], {})[lab["fate"]] = value
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("honest")
    cameras = [
        clip_camera("clip", fps=5),
        {"id": "door", "source": {"kind": "file", "path": str(tmp / "missing.avi")}, "reconnect_max_s": 1},
    ]
    cfg = base_config(tmp, cameras, aggregation={"bucket_seconds": BUCKET_S, "timezone": TZ})
    result = Run(started=time.time())
    with running(write_config(tmp, cfg), tmp) as svc:
        deadline = time.monotonic() + RUN_S
        next_page = time.monotonic() + 15
        while time.monotonic() < deadline:
            result.scrapes.append(frames(svc.metrics()))
            if time.monotonic() >= next_page:
                with urllib.request.urlopen(svc.url("/"), timeout=10) as r:
                    result.status_pages.append(r.read().decode())
                next_page += 20
            time.sleep(0.2)
        assert svc.stop() == 0, svc.log()[-3000:]
        result.stdout, result.stderr = svc.out(), svc.log()
    with AggregateStore(tmp / "data" / "aggregates.db", retention_days=30) as store:
        result.rows = store.rows()
    return result


def stored(run: Run) -> dict[tuple[int, str], dict[str, float]]:
    """(bucket start, camera) -> metric -> value, for the camera rows."""
    out: dict[tuple[int, str], dict[str, float]] = {}
    for r in run.rows:
        if r["scope"] == "camera":
            out.setdefault((r["bucket_start"], r["camera"]), {})[r["metric"]] = r["value"]
    return out


# ---------------------------------------------------------------- item 7: frame accounting


def test_captured_equals_the_fates_in_every_scrape(run):
    assert len(run.scrapes) >= 100, "too few scrapes to mean anything"
    for i, scrape in enumerate(run.scrapes):
        for cam, f in scrape.items():
            assert f["captured"] == sum(f[fate] for fate in FATES), f"scrape {i}, camera {cam}: {f}"
    last = run.scrapes[-1]["clip"]
    assert last["inferred"] > 100 and last["skipped"] > 100, last  # pacing at 5 fps skips about half of 10 fps


def test_captured_equals_the_fates_in_every_stored_bucket(run):
    buckets = stored(run)
    clip = [m for (_, cam), m in buckets.items() if cam == "clip"]
    assert len(clip) >= RUN_S // BUCKET_S - 1
    for (start, cam), m in sorted(buckets.items()):
        fates = sum(m[f"frames_{fate}"] for fate in FATES)
        assert m["frames_captured"] == fates, f"bucket {start}, camera {cam}: {m}"
    # 5 fps analysed of a 10 fps clip: about RUN_S * 5 of each; two thirds of that leaves room for a slow start
    least = RUN_S * 5 * 2 / 3
    assert sum(m["frames_inferred"] for m in clip) >= least and sum(m["frames_skipped"] for m in clip) >= least


def test_captured_equals_the_fates_in_every_summary(run):
    summaries = re.findall(
        r"  (\w+): .*?frames (\d+) inferred / (\d+) captured \((\d+) dropped, (\d+) skipped, (\d+) idle\)", run.stdout
    )
    assert len(summaries) >= 2 * (RUN_S // BUCKET_S - 1), run.stdout[-2000:]
    for cam, inferred, captured, *others in summaries:
        assert int(captured) == int(inferred) + sum(map(int, others)), (cam, inferred, captured, others)


def test_a_frame_in_flight_at_a_boundary_counts_in_one_bucket():
    """Real pool and aggregator, a clock we move: captured in one bucket, released in the next."""
    from edgeanon.counting.aggregate import Aggregator
    from edgeanon.counting.results import FATES as BUCKET_FATES
    from edgeanon.outputs.live import FATE_NAMES
    from edgeanon.pixels.frames import Fate, FramePool

    # a new fate (issue 15's idle) is one name in each of these, and then counts like the others
    assert tuple(f.value for f in Fate) == FATE_NAMES == BUCKET_FATES[1:] and BUCKET_FATES[0] == "captured"
    now = [1_700_000_005.0]
    buckets = []

    class Keep:
        name = "keep"

        def on_frame(self, *a): ...
        def on_bucket(self, b):
            buckets.append(b)

        def close(self): ...

    agg = Aggregator({"cam": ((), ())}, 10, [Keep()], clock=lambda: now[0])
    pool = FramePool()
    pool.on_count = lambda fate: agg.count_frame("cam", fate)
    frame = np.zeros((4, 4, 3), np.uint8)
    pool.adopt(frame, None)
    pool.captured()  # read at 1_700_000_005 (bucket ...000)
    assert pool.counters.accounted()["captured"] == 0  # in flight: not in any scrape yet
    now[0] += 10.0  # the bucket ends while the frame is being inferred
    agg.tick()
    pool.release(frame, Fate.INFERRED)
    pool.captured()  # a second frame, released idle (not inferred: no motion, no track)
    pool.release(frame, Fate.IDLE)
    agg.flush()
    first, second = (b.cameras["cam"].frames for b in buckets)
    assert first == {"captured": 0, "inferred": 0, "dropped": 0, "skipped": 0, "idle": 0}
    assert second == {"captured": 2, "inferred": 1, "dropped": 0, "skipped": 0, "idle": 1}
    assert pool.counters.accounted() == {"captured": 2, "inferred": 1, "dropped": 0, "skipped": 0, "idle": 1}
    assert pool.counters.balanced()


# ---------------------------------------------------------------- item 8: a down camera


def test_down_camera_in_the_store(run):
    buckets = stored(run)
    door = {start: m for (start, cam), m in buckets.items() if cam == "door"}
    clip = {start: m for (start, cam), m in buckets.items() if cam == "clip"}
    starts = sorted(door)
    full = starts[1:-1]  # the first and the last bucket were only partly inside the run
    assert len(full) >= RUN_S // BUCKET_S - 2
    for start in full:
        # the whole bucket, less at most one supervisor tick (0.25 s) lost at each boundary and some scheduling
        assert BUCKET_S - 1.5 <= door[start]["down_seconds"] <= BUCKET_S, (start, door[start])
        assert door[start]["frames_captured"] == 0
        assert clip[start]["down_seconds"] == 0 and clip[start]["frames_inferred"] > 0  # it looked: a real zero


def test_down_camera_in_summaries_and_live_line(run):
    m = re.search(
        r"  door: DOWN since (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)([+-]\d{4}) \((\d+) s of this bucket\)", run.stdout
    )
    assert m, run.stdout[-2000:]
    assert m.group(2) == "-0300"  # the site's offset
    since = datetime.strptime(m.group(1) + m.group(2), "%Y-%m-%d %H:%M:%S%z").timestamp()
    assert run.started - 2 <= since <= run.started + 30  # it went down at start-up
    assert re.search(r"\| door DOWN since \d\d:\d\d:\d\d-0300 ", run.stdout)
    assert "  clip: DOWN" not in run.stdout and "clip DOWN" not in run.stdout


def test_down_camera_on_the_status_page(run):
    assert run.status_pages
    page = run.status_pages[-1]
    m = re.search(
        r'data-camera="door"><h2>door<span class="state down" data-state="down">DOWN since ([^<]+)</span>', page
    )
    assert m and m.group(1).endswith("-0300"), page[:3000]
    assert "no such file" in page  # the reason
    assert re.search(r'data-camera="clip"><h2>clip<span class="state up"', page)


# ---------------------------------------------------------------- item 11: one time rule


def test_logs_and_summaries_use_the_site_time_with_its_offset(run):
    logged = [line for line in run.stderr.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert len(logged) >= 4
    for line in logged:
        stamp = line.split(" INFO ")[0].split(" WARNING ")[0]
        local = datetime.fromisoformat(stamp)
        assert local.utcoffset() is not None and local.utcoffset().total_seconds() == -3 * 3600, line
        assert abs(local.timestamp() - run.started) < RUN_S + 60, line  # the offset belongs to the real time
    headers = re.findall(r"^(?:partial )?bucket(?: \(flushed at shutdown\))? (\S+ \S+) \+10s", run.stdout, re.M)
    assert headers and all(h.endswith("-0300") for h in headers), headers


def test_json_logs_use_the_site_time(tmp_path):
    import json

    cfg = base_config(tmp_path, [clip_camera("clip", fps=5)], aggregation={"bucket_seconds": 10, "timezone": TZ})
    path = write_config(tmp_path, cfg)
    proc = run_edgeanon("run", str(path), "--port", "0", "--duration", "3", "-q", "--log-format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    stamped = [r for r in records if r.get("logger") != "stderr" or "ts" in r]
    assert len(stamped) >= 3
    for r in stamped:
        assert r["ts"].endswith("-03:00"), r
        assert abs(datetime.fromisoformat(r["ts"]).timestamp() - time.time()) < 300


def test_no_tracebacks(run):
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
