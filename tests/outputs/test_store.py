"""The aggregate store on real SQLite files: merging, crash safety, retention, read-only and full disks, export."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from edgeanon.counting.aggregate import Aggregator
from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, ZoneBucket
from edgeanon.counting.rollup import render, roll_up
from edgeanon.errors import EdgeanonError
from edgeanon.outputs.store import AggregateStore, StoreSink
from edgeanon.outputs.store_file import StoreError
from edgeanon.outputs.store_rows import bucket_rows
from tests.helpers.store import DAY, T0, make_bucket, small_bucket

ROOT = Path(__file__).resolve().parents[2]
DWELL = ("5", "15", "30", "60", "120", "300", "600", "1800", "inf")


def open_store(path: Path, **kw) -> AggregateStore:
    kw.setdefault("retention_days", 30)
    kw.setdefault("clock", lambda: T0)
    return AggregateStore(path, **kw)


def values(rows: list[dict], start: int | None = None) -> dict[tuple[str, str, str, str], float]:
    """(camera, scope, name, metric) -> value, asserting one row per key."""
    out = {}
    for r in rows:
        if start is None or r["bucket_start"] == start:
            key = (r["camera"], r["scope"], r["name"], r["metric"])
            assert key not in out, f"duplicate row {key}"
            out[key] = r["value"]
    return out


def expected(bucket: Bucket) -> dict[tuple[str, str, str, str], float]:
    return {(c, s, n, m): v for c, s, n, m, v in bucket_rows(bucket)}


def hand_bucket() -> Bucket:
    entrance = CameraBucket(
        frames={"captured": 100, "inferred": 90, "dropped": 6, "skipped": 2, "idle": 2},
        occupancy_sum=270,
        occupancy_frames=90,
        occupancy_max=5,
        zones={
            "queue": ZoneBucket(120, 90, 3, [2, 1, 0, 0, 0, 0, 0, 0, 1], dwell_sum=4030.5, queue_wait_s=42.5),
        },
        lines={"door": LineBucket(in_=7, out=3)},
        heatmap=np.array([[3, 0], [7, 1]], dtype=np.int64),
        down_s=12.5,
        down_since=T0 - 30.0,
    )
    aisle = CameraBucket(
        frames={"captured": 50, "inferred": 50, "dropped": 0, "skipped": 0, "idle": 0},
        occupancy_sum=25,
        occupancy_frames=50,
        occupancy_max=2,
        zones={"shelf": ZoneBucket(10, 50, 1)},
    )
    return Bucket(T0, 60, {"entrance": entrance, "aisle": aisle}, site_in=7, site_out=3, site_occupancy=4)


HAND_EXPECTED = {
    **{("entrance", "camera", "", f"frames_{k}"): v for k, v in (("captured", 100), ("inferred", 90))},
    ("entrance", "camera", "", "frames_dropped"): 6,
    ("entrance", "camera", "", "frames_skipped"): 2,
    ("entrance", "camera", "", "frames_idle"): 2,
    ("entrance", "camera", "", "occupancy_sum"): 270,
    ("entrance", "camera", "", "occupancy_frames"): 90,
    ("entrance", "camera", "", "occupancy_max"): 5,
    ("entrance", "camera", "", "down_seconds"): 12.5,  # down for part of the bucket: "we did not look"
    ("entrance", "camera", "", "cell_0_0"): 3,
    ("entrance", "camera", "", "cell_0_1"): 0,
    ("entrance", "camera", "", "cell_1_0"): 7,
    ("entrance", "camera", "", "cell_1_1"): 1,
    ("entrance", "zone", "queue", "occupancy_sum"): 120,
    ("entrance", "zone", "queue", "occupancy_frames"): 90,
    ("entrance", "zone", "queue", "occupancy_max"): 3,
    **{
        ("entrance", "zone", "queue", f"dwell_count_le_{b}"): n
        for b, n in zip(DWELL, (2, 1, 0, 0, 0, 0, 0, 0, 1), strict=True)
    },
    ("entrance", "zone", "queue", "dwell_sum_s"): 4030.5,
    ("entrance", "zone", "queue", "queue_wait_s"): 42.5,
    ("entrance", "line", "door", "in"): 7,
    ("entrance", "line", "door", "out"): 3,
    ("aisle", "camera", "", "frames_captured"): 50,
    ("aisle", "camera", "", "frames_inferred"): 50,
    ("aisle", "camera", "", "frames_dropped"): 0,
    ("aisle", "camera", "", "frames_skipped"): 0,
    ("aisle", "camera", "", "frames_idle"): 0,
    ("aisle", "camera", "", "occupancy_sum"): 25,
    ("aisle", "camera", "", "occupancy_frames"): 50,
    ("aisle", "camera", "", "occupancy_max"): 2,
    ("aisle", "camera", "", "down_seconds"): 0,  # a measured zero: it looked the whole bucket
    ("aisle", "zone", "shelf", "occupancy_sum"): 10,
    ("aisle", "zone", "shelf", "occupancy_frames"): 50,
    ("aisle", "zone", "shelf", "occupancy_max"): 1,
    **{("aisle", "zone", "shelf", f"dwell_count_le_{b}"): 0 for b in DWELL},
    ("aisle", "zone", "shelf", "dwell_sum_s"): 0,  # no queue_wait_s: it was None; no heatmap: none configured
    ("", "site", "", "in"): 7,
    ("", "site", "", "out"): 3,
    ("", "site", "", "occupancy"): 4,
}


def test_round_trip_and_durability_pragmas(tmp_path):
    db = tmp_path / "data" / "agg.db"  # the named directory is created
    with open_store(db) as store:
        assert store.write_bucket(hand_bucket()) == len(HAND_EXPECTED) == 54  # 52 before issue 15's frames_idle
        rows = store.rows()
        assert values(rows) == HAND_EXPECTED
        assert {(r["bucket_start"], r["bucket_seconds"]) for r in rows} == {(T0, 60)}
        keys = [(r["bucket_start"], r["camera"], r["scope"], r["name"], r["metric"]) for r in rows]
        assert keys == sorted(keys)
        assert values(store.rows(camera="aisle")).keys() == {k for k in HAND_EXPECTED if k[0] == "aisle"}
        assert store.rows(since=T0 + 60) == []
        assert store.rows(until=T0) == []
        conn = store._conn  # synchronous is per connection: ask the store's own
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    columns = [r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(aggregates)")]
    assert columns == ["bucket_start", "bucket_seconds", "camera", "scope", "name", "metric", "value"]


def test_partial_flush_then_rest_adds_maxes_and_replaces(tmp_path):
    a1, a2 = hand_bucket(), hand_bucket()
    a1.partial = True
    e2, q2 = a2.cameras["entrance"], a2.cameras["entrance"].zones["queue"]
    e2.frames["captured"], e2.occupancy_max, e2.heatmap = 7, 2, np.array([[1, 1], [0, 0]])
    q2.occupancy_max, q2.dwell_counts, q2.dwell_sum, q2.queue_wait_s = 9, [0] * 8 + [2], 100.0, 60.0
    e2.lines["door"].in_ = 2
    a2.cameras["aisle"].zones["shelf"].queue_wait_s = 15.0  # None in a1: the key appears only now
    a2.site_occupancy = 11
    with open_store(tmp_path / "agg.db") as store:
        store.write_bucket(a1)
        store.write_bucket(a2)
        got = values(store.rows())
    assert len(got) == len(HAND_EXPECTED) + 1
    assert got["entrance", "camera", "", "frames_captured"] == 100 + 7
    assert got["entrance", "camera", "", "frames_inferred"] == 90 + 90
    assert got["entrance", "camera", "", "occupancy_max"] == 5  # max(5, 2)
    assert got["entrance", "zone", "queue", "occupancy_max"] == 9  # max(3, 9)
    assert got["entrance", "camera", "", "cell_0_1"] == 0 + 1
    assert got["entrance", "camera", "", "cell_1_0"] == 7 + 0
    assert got["entrance", "zone", "queue", "dwell_count_le_5"] == 2
    assert got["entrance", "zone", "queue", "dwell_count_le_inf"] == 1 + 2
    assert got["entrance", "zone", "queue", "dwell_sum_s"] == 4130.5
    assert got["entrance", "zone", "queue", "queue_wait_s"] == 60.0  # replaced
    assert got["aisle", "zone", "shelf", "queue_wait_s"] == 15.0
    assert got["entrance", "line", "door", "in"] == 7 + 2
    assert got["", "site", "", "occupancy"] == 11  # replaced: the value at the end of the bucket
    assert got["", "site", "", "in"] == 14


def test_missing_point_value_keeps_the_earlier_one(tmp_path):
    a1, a2 = hand_bucket(), hand_bucket()
    a2.cameras["entrance"].zones["queue"].queue_wait_s = None  # no estimate in the rest of the bucket
    with open_store(tmp_path / "agg.db") as store:
        store.write_bucket(a1)
        store.write_bucket(a2)
        assert values(store.rows())["entrance", "zone", "queue", "queue_wait_s"] == 42.5


def test_aggregator_flush_then_rest_never_doubles(tmp_path):
    """The real publisher: flush at shutdown starts a fresh bucket, so the store's total is every frame once."""
    now = [T0 + 5.0]
    store = open_store(tmp_path / "agg.db")
    agg = Aggregator({"cam": ((), ())}, 60, [StoreSink(store)], clock=lambda: now[0])
    agg.count_frame("cam", "inferred", 5)
    assert agg.flush().partial
    agg.count_frame("cam", "skipped", 3)
    now[0] = T0 + 61.0
    agg.tick()  # the rest of the bucket closes
    got = values(store.rows(), start=T0)
    assert got["cam", "camera", "", "frames_captured"] == 8
    assert agg.sink_errors == 0
    agg.close()


def test_same_bucket_object_twice_is_counted_twice(tmp_path):
    """Documented, not wanted: write_bucket is not idempotent, so a caller must not write a bucket twice."""
    b = small_bucket(T0, captured=4)
    with open_store(tmp_path / "agg.db") as store:
        store.write_bucket(b)
        store.write_bucket(b)
        assert values(store.rows())["cam", "camera", "", "frames_captured"] == 8


def test_restart_mid_bucket_adds_to_the_same_rows(tmp_path):
    db = tmp_path / "agg.db"
    first, rest = make_bucket(T0, seed=3), make_bucket(T0, seed=5)
    first.partial = True
    with open_store(db) as store:
        store.write_bucket(first)
    with open_store(db) as store:  # a new process, same file
        store.write_bucket(rest)
        got = values(store.rows())
    a, b = expected(first), expected(rest)
    assert got.keys() == a.keys() | b.keys()
    for key, v in got.items():
        metric = key[3]
        if metric == "occupancy_max":
            assert v == max(a[key], b[key]), key
        elif metric in ("queue_wait_s", "occupancy"):
            assert v == (b[key] if key in b else a[key]), key
        else:
            assert v == a.get(key, 0) + b.get(key, 0), key


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from edgeanon.outputs.store import AggregateStore
from tests.helpers.store import T0, make_bucket
store = AggregateStore(Path(sys.argv[1]), retention_days=30, clock=lambda: T0)
i = 0
while True:
    bucket = make_bucket(T0 + 60 * i, seed=i)
    print("begin", i, flush=True)
    t = time.perf_counter()
    store.write_bucket(bucket)
    print("done", i, time.perf_counter() - t, flush=True)
    i += 1
"""


def kill_during_a_write(db: Path, rng: random.Random) -> list[int]:
    """Run the writer, then SIGKILL it at a random moment inside a write; return the buckets it reported."""
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    committed: list[int] = []
    durations: list[float] = []
    try:
        while True:
            line = proc.stdout.readline()
            assert line, f"writer exited early with {proc.wait()}"
            word, i, *rest = line.split()
            if word == "done":
                committed.append(int(i))
                durations.append(float(rest[0]))
            elif len(committed) >= 10:  # "begin": aim the kill inside this write
                time.sleep(rng.uniform(0.0, statistics.median(durations)))
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return committed


@pytest.mark.parametrize("round_", range(5))
def test_kill_9_during_writes_loses_no_committed_bucket_and_leaves_no_half_bucket(tmp_path, round_):
    db = tmp_path / "agg.db"
    committed = kill_during_a_write(db, random.Random(round_))
    assert (tmp_path / "agg.db-wal").exists()  # the kill left a WAL behind: recovery is exercised
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with open_store(db) as store:
        rows = store.rows()
    by_start: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_start[r["bucket_start"]].append(r)
    present = sorted((s - T0) // 60 for s in by_start)
    assert set(committed) <= set(present)
    assert present == list(range(len(present)))  # at most the in-flight one beyond the last reported
    for start, bucket_rows_ in by_start.items():  # every present bucket is whole and exact
        assert values(bucket_rows_) == expected(make_bucket(start, seed=(start - T0) // 60))


def test_retention_purges_at_startup_and_hourly(tmp_path):
    db = tmp_path / "agg.db"
    now = [float(T0)]
    calls: list[tuple[int, float]] = []
    cutoff = T0 - 2 * DAY
    with open_store(db, retention_days=2, clock=lambda: now[0], on_purge=lambda n, c: calls.append((n, c))) as s:
        assert calls == [(0, cutoff)]  # start-up purge of an empty store is recorded too
        s.write_bucket(small_bucket(T0 - 3 * DAY))
        s.write_bucket(small_bucket(cutoff - 120))  # ended 60 s before the cutoff
        s.write_bucket(small_bucket(cutoff - 60))  # ended exactly at the cutoff: kept
        s.write_bucket(small_bucket(T0 - DAY))
    calls.clear()
    with open_store(db, retention_days=2, clock=lambda: now[0], on_purge=lambda n, c: calls.append((n, c))) as s:
        assert calls == [(24, cutoff)]  # two buckets of 12 rows each (11 before issue 15's frames_idle)
        assert sorted({r["bucket_start"] for r in s.rows()}) == [cutoff - 60, T0 - DAY]
        now[0] = T0 + 3599.0  # the cutoff-60 bucket is now past retention, but an hour has not passed
        assert s.maybe_purge() is None
        assert len(calls) == 1
        assert sorted({r["bucket_start"] for r in s.rows()}) == [cutoff - 60, T0 - DAY]
        now[0] = T0 + 3600.0
        assert s.maybe_purge() == 12
        assert calls[-1] == (12, cutoff + 3600)
        assert {r["bucket_start"] for r in s.rows()} == {T0 - DAY}
        assert s.maybe_purge() is None  # not again until the next hour
        now[0] = T0 + 1800.0  # the wall clock was set back: purge rather than wait for it to catch up
        assert s.maybe_purge() == 0


def test_store_sink_purges_via_maybe_purge(tmp_path):
    now = [float(T0)]
    calls: list[int] = []
    store = open_store(
        tmp_path / "agg.db", retention_days=1, clock=lambda: now[0], on_purge=lambda n, c: calls.append(n)
    )
    sink = StoreSink(store)
    sink.on_bucket(small_bucket(T0 - DAY - 120))  # already out of retention: the next purge removes it
    assert len(calls) == 1
    now[0] = T0 + 3600.0
    sink.on_bucket(small_bucket(T0))
    assert calls == [0, 12]  # one bucket's rows
    assert {r["bucket_start"] for r in store.rows()} == {T0}
    sink.close()


@pytest.fixture
def tmpfs(tmp_path):
    """Mount small tmpfs file systems under tmp_path (needs root); unmounted in teardown."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        if shutil.which("mount") is None:
            pytest.skip("no mount command")
        d = tmp_path / name
        d.mkdir()
        cmd = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)]
        r = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if r.returncode:
            pytest.skip(f"mounting a tmpfs is not permitted here (needs root / CAP_SYS_ADMIN): {r.stderr.strip()}")
        mounted.append(d)
        return d

    yield mount
    for d in reversed(mounted):
        if subprocess.run(["umount", str(d)], check=False).returncode:
            subprocess.run(["umount", "-l", str(d)], check=False)


def assert_one_line_error(exc: pytest.ExceptionInfo, path: Path, reason: str) -> None:
    msg = str(exc.value)
    assert isinstance(exc.value, EdgeanonError)  # the CLI prints these on one line, without a traceback
    assert "\n" not in msg
    assert msg.startswith(f"{path}: cannot open the aggregate store: ")
    assert reason in msg


def test_read_only_file_system_is_a_one_line_error(tmpfs):
    ro = tmpfs("ro", "size=1m,ro")
    with pytest.raises(StoreError) as exc:
        open_store(ro / "agg.db")
    assert_one_line_error(exc, ro / "agg.db", "read-only file system")
    with pytest.raises(StoreError) as exc:  # the directory the config names cannot be created either
        open_store(ro / "data" / "agg.db")
    assert_one_line_error(exc, ro / "data" / "agg.db", "read-only file system")


def test_existing_store_on_a_file_system_gone_read_only(tmpfs):
    """An SD card that the kernel remounted read-only after errors: the store must refuse at start-up."""
    d = tmpfs("card", "size=1m")
    with open_store(d / "agg.db") as store:
        store.write_bucket(small_bucket(T0))
    subprocess.run(["mount", "-o", "remount,ro", str(d)], check=True)
    with pytest.raises(StoreError) as exc:
        open_store(d / "agg.db")
    assert_one_line_error(exc, d / "agg.db", "read-only file system")


def test_parent_that_is_a_file_or_missing_is_a_one_line_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError) as exc:  # fails even as root
        open_store(tmp_path / "afile" / "agg.db")
    assert_one_line_error(exc, tmp_path / "afile" / "agg.db", "is not a directory")
    with pytest.raises(StoreError) as exc:  # only the last directory is created, never a whole tree
        open_store(tmp_path / "no" / "such" / "agg.db")
    assert_one_line_error(exc, tmp_path / "no" / "such" / "agg.db", "no such file or directory")
    assert not (tmp_path / "no").exists()
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError) as exc:
        open_store(tmp_path / "junk.db")
    assert_one_line_error(exc, tmp_path / "junk.db", "file is not a database")


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == 28  # ENOSPC
    finally:
        os.close(fd)
    return filler


def test_disk_full_keeps_buckets_in_memory_until_space_returns(tmpfs, caplog):
    d = tmpfs("small", "size=256k")
    store = open_store(d / "agg.db")
    sink = StoreSink(store)
    buckets = [make_bucket(T0 + 60 * i, seed=i) for i in range(5)]
    sink.on_bucket(buckets[0])
    filler = fill(d)
    with caplog.at_level(logging.WARNING, logger="edgeanon.store"):
        for b in buckets[1:4]:
            sink.on_bucket(b)  # must not raise: counting goes on
    assert (sink.errors, sink.backlog_len, sink.dropped_buckets) == (3, 3, 0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all("disk is full" in w and "\n" not in w for w in warnings)
    assert {r["bucket_start"] for r in store.rows()} == {T0}
    filler.unlink()
    sink.on_bucket(buckets[4])  # the backlog goes first, oldest first
    assert (sink.errors, sink.backlog_len, sink.dropped_buckets) == (3, 0, 0)
    rows = store.rows()
    for b in buckets:
        assert values(rows, start=b.start) == expected(b)
    sink.close()


def test_locked_database_backlog_is_bounded_and_flushed_on_close(tmp_path):
    db = tmp_path / "agg.db"
    sink = StoreSink(open_store(db, busy_timeout_s=0.05), max_backlog=2)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock: "database is locked"
    t = time.monotonic()
    for i in range(3):
        sink.on_bucket(small_bucket(T0 + 60 * i, captured=i + 1))
    assert time.monotonic() - t < 2.0
    assert (sink.errors, sink.backlog_len, sink.dropped_buckets) == (3, 2, 1)  # the oldest was dropped
    other.execute("ROLLBACK")
    other.close()
    sink.close()  # a final attempt at the backlog
    assert sink.backlog_len == 0
    with open_store(db) as store:
        rows = store.rows()
    assert sorted({r["bucket_start"] for r in rows}) == [T0 + 60, T0 + 120]
    assert values(rows, start=T0 + 120)["cam", "camera", "", "frames_captured"] == 3


def test_close_counts_what_it_could_not_write(tmp_path):
    db = tmp_path / "agg.db"
    sink = StoreSink(open_store(db, busy_timeout_s=0.05))
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    sink.on_bucket(small_bucket(T0))
    sink.close()
    other.execute("ROLLBACK")
    other.close()
    assert (sink.backlog_len, sink.dropped_buckets) == (0, 1)


def test_export_csv_and_json_with_occupancy_mean(tmp_path):
    cb = CameraBucket(occupancy_sum=9, occupancy_frames=4, occupancy_max=4, zones={"queue": ZoneBucket()})
    with open_store(tmp_path / "agg.db") as store:
        store.write_bucket(Bucket(T0, 60, {"entrance": cb}, site_in=2))
        rows = store.rows()
    records = roll_up(rows, ZoneInfo("Asia/Tokyo"))
    text = render(records, "csv")
    lines = text.splitlines()
    assert lines[0] == "period_start,period_seconds,camera,scope,name,metric,value"
    assert len(records) == len(rows) + 2  # derived: the camera's mean (the zone has no frames) and the zone's visits
    means = [r for r in csv.DictReader(io.StringIO(text)) if r["metric"] == "occupancy_mean"]
    assert means == [
        {
            "period_start": "2023-11-15T07:14:00+09:00",  # T0 in the site's local time, with its offset
            "period_seconds": "60",
            "camera": "entrance",
            "scope": "camera",
            "name": "",
            "metric": "occupancy_mean",
            "value": "2.25",
        }
    ]
    assert "2023-11-15T07:14:00+09:00,60,entrance,camera,,occupancy_sum,9" in lines  # counts print as integers
    assert "2023-11-15T07:14:00+09:00,60,,site,,in,2" in lines
    assert "2023-11-15T07:14:00+09:00,60,entrance,zone,queue,visits,0" in lines
    data = json.loads(render(records, "json"))
    assert [list(d) for d in data] == [lines[0].split(",")] * len(data)
    mean = next(d for d in data if d["metric"] == "occupancy_mean")
    assert mean["value"] == 2.25
    assert next(d for d in data if d["metric"] == "occupancy_sum" and d["scope"] == "camera")["value"] == 9
    with pytest.raises(ValueError, match="unknown export format"):
        render(records, "xml")  # type: ignore[arg-type]
