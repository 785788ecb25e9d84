"""`edgeanon export`: roll-ups into local hours and days, one schema, errors for empty-by-mistake queries, and
one site per store. Real SQLite stores and the real CLI in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, ZoneBucket
from edgeanon.counting.rollup import COLUMNS, dwell_percentile, period_of, roll_up, suppress_period
from edgeanon.outputs.store import AggregateStore
from edgeanon.outputs.store_file import StoreError
from tests.helpers.paths import DEFAULT_CONFIG

TOKYO = ZoneInfo("Asia/Tokyo")
# 2026-11-26 09:00 in Tokyo (00:00 UTC): a local hour and a local day start here
T9 = int(datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO).timestamp())


def bucket(start: int, n_in: int, n_out: int, occ: tuple[int, int, int], dwell: list[int], attrs=None) -> Bucket:
    """One camera 'sample' with zone 'road' and line 'crossing'; occ = (sum, frames, max)."""
    cb = CameraBucket(
        frames={"captured": 10, "inferred": 8, "dropped": 1, "skipped": 1},
        occupancy_sum=occ[0],
        occupancy_frames=occ[1],
        occupancy_max=occ[2],
        zones={"road": ZoneBucket(occ[0], occ[1], occ[2], dwell, dwell_sum=10.0 * sum(dwell))},
        lines={"crossing": LineBucket(n_in, n_out)},
        attributes=dict(attrs or {}),
    )
    return Bucket(start, 600, {"sample": cb}, site_in=n_in, site_out=n_out, site_occupancy=n_in - n_out)


def filled_store(path: Path) -> AggregateStore:
    """Buckets as the aggregator stores them at k = 5: every dwell histogram and attribute family already
    suppressed (0 or at least 5)."""
    store = AggregateStore(path, retention_days=400, clock=lambda: T9 + 86400)
    # 09:00, 09:10 and 10:00 local on the 26th, then 08:50 local on the 27th (the next local day)
    store.write_bucket(bucket(T9, 3, 1, (20, 10, 4), [3, 2, 0, 0, 0, 0, 0, 0, 0], {("heading", "road", "n"): 5}))
    store.write_bucket(bucket(T9 + 600, 2, 2, (60, 10, 9), [0, 0, 5, 0, 0, 0, 0, 0, 0], {("heading", "road", "n"): 6}))
    store.write_bucket(bucket(T9 + 3600, 1, 0, (5, 5, 1), [0] * 9))
    store.write_bucket(bucket(T9 + 86400 - 600, 4, 4, (8, 4, 2), [0, 0, 0, 0, 5, 0, 0, 0, 0]))
    return store


def by_key(records: list[dict]) -> dict[tuple, object]:
    return {(r["period_start"], r["camera"], r["scope"], r["name"], r["metric"]): r["value"] for r in records}


def test_hour_and_day_rollups_in_local_time(tmp_path):
    with filled_store(tmp_path / "agg.db") as store:
        rows = store.rows(attributes=True)
    hours = by_key(roll_up(rows, TOKYO, "hour", k=5))
    h9 = "2026-11-26T09:00:00+09:00"
    assert (
        hours[(h9, "sample", "line", "crossing", "in")] == 5 and hours[(h9, "sample", "line", "crossing", "out")] == 3
    )
    assert hours[(h9, "", "site", "", "in")] == 5
    assert hours[(h9, "sample", "camera", "", "occupancy_mean")] == 4.0  # (20 + 60) / (10 + 10): weighted by frames
    assert hours[(h9, "sample", "camera", "", "occupancy_max")] == 9
    assert hours[(h9, "sample", "zone", "road", "visits")] == 10
    assert hours[(h9, "sample", "camera", "", "frames_captured")] == 20
    assert hours[(h9, "sample", "attribute", "road", "heading=n")] == 11
    assert hours[(h9, "", "site", "", "occupancy")] == 0  # the value at the period's end (the 09:10 bucket)
    assert ("2026-11-26T10:00:00+09:00", "sample", "line", "crossing", "in") in hours
    days = roll_up(rows, TOKYO, "day", k=5)
    starts = sorted({r["period_start"] for r in days})
    assert starts == ["2026-11-26T00:00:00+09:00", "2026-11-27T00:00:00+09:00"]  # local days, not UTC days
    assert {r["period_seconds"] for r in days} == {86400}
    d26 = by_key(days)
    assert d26[("2026-11-26T00:00:00+09:00", "sample", "line", "crossing", "in")] == 6
    assert d26[("2026-11-27T00:00:00+09:00", "sample", "line", "crossing", "in")] == 4
    assert all(list(r) == list(COLUMNS) for r in days)


def test_default_period_is_the_bucket_and_counts_add_up(tmp_path):
    with filled_store(tmp_path / "agg.db") as store:
        rows = store.rows(attributes=True)
    per_bucket = roll_up(rows, TOKYO, None, k=5)
    assert {r["period_seconds"] for r in per_bucket} == {600}
    assert len({r["period_start"] for r in per_bucket}) == 4
    for every in ("hour", "day"):  # a roll-up is the sum of its buckets, never more, never less
        rolled = roll_up(rows, TOKYO, every, k=5)
        for metric in ("in", "out"):
            total = sum(r["value"] for r in per_bucket if r["scope"] == "line" and r["metric"] == metric)
            assert sum(r["value"] for r in rolled if r["scope"] == "line" and r["metric"] == metric) == total


def test_dwell_percentiles_from_the_fixed_histogram():
    # bounds 5, 15, 30, 60 ...: 2 people under 5 s, 2 between 15 and 30 s
    counts = [2, 0, 2, 0, 0, 0, 0, 0, 0]
    assert dwell_percentile(counts, 50) == pytest.approx(5.0)  # the 2nd of 4 is the top of the first bucket
    assert dwell_percentile(counts, 90) == pytest.approx(15 + 15 * (3.6 - 2) / 2)
    assert dwell_percentile([0] * 8 + [3], 50) == 1800.0  # in the open last bucket: "more than 30 min"
    assert dwell_percentile([0] * 9, 50) is None


def test_rolled_up_periods_are_suppressed_again_by_the_aggregators_rule():
    """A roll-up goes through ``aggregate.suppress`` itself: a family with a bin below k is left out whole, a
    heatmap cell or a zone's dwell below k reads 0, group sizes need 2k crossings, and sums of suppressed
    values (every one 0 or at least k) come through unchanged."""
    values = {
        ("c", "attribute", "road", "heading=n"): 3.0,  # withheld, and with it heading=s
        ("c", "attribute", "road", "heading=s"): 7.0,
        ("c", "attribute", "road", "speed=slow"): 12.0,
        ("c", "attribute", "door", "group_size=1"): 6.0,  # 6 >= k, but the door had only 8 < 2k crossings
        ("c", "line", "door", "in"): 5.0,
        ("c", "line", "door", "out"): 3.0,
        ("c", "camera", "", "cell_0_0"): 2.0,
        ("c", "camera", "", "cell_0_1"): 0.0,
        ("c", "camera", "", "cell_1_1"): 9.0,
        ("c", "camera", "", "cell_1_0_person_frames"): 3.0,  # a pre-v3 row: not a cell of people, left alone
        ("c", "zone", "road", "dwell_count_le_5"): 2.0,
        ("c", "zone", "road", "dwell_sum_s"): 6.0,
    }
    got = suppress_period(values, 5)
    attrs = {key[2:]: v for key, v in got.items() if key[1] == "attribute"}
    assert attrs == {("road", "speed=slow"): 12.0}
    assert got[("c", "camera", "", "cell_0_0")] == 0.0 and got[("c", "camera", "", "cell_1_1")] == 9.0
    assert got[("c", "camera", "", "cell_0_1")] == 0.0 and got[("c", "camera", "", "cell_1_0_person_frames")] == 3.0
    assert got[("c", "zone", "road", "dwell_count_le_5")] == 0.0 and got[("c", "zone", "road", "dwell_sum_s")] == 0.0
    assert got[("c", "line", "door", "in")] == 5.0  # plain counts pass through
    assert not any("suppressed" in key[3] or "withheld" in key[3] for key in got)  # no count of what was left out
    published = {key: v for key, v in got.items()}
    assert suppress_period(published, 5) == published  # nothing more to withhold


def test_local_periods_follow_dst():
    berlin = ZoneInfo("Europe/Berlin")
    spring = int(datetime(2026, 3, 29, 12, 0, tzinfo=berlin).timestamp())  # clocks go forward at 02:00
    start, length = period_of(spring, "day", 60, berlin)
    assert datetime.fromtimestamp(start, berlin).hour == 0 and length == 23 * 3600
    india = ZoneInfo("Asia/Kolkata")  # +05:30: local hours start at :30 UTC
    t = int(datetime(2026, 1, 1, 10, 45, tzinfo=india).timestamp())
    start, length = period_of(t, "hour", 60, india)
    assert datetime.fromtimestamp(start, india).strftime("%H:%M") == "10:00" and length == 3600


# ---------------------------------------------------------------- the CLI


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeanon", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def site_config(tmp_path) -> Path:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["storage"] = {"directory": str(tmp_path / "data")}
    data["aggregation"]["bucket_seconds"] = 600
    cfg = tmp_path / "site.yaml"
    cfg.write_text(yaml.safe_dump(data))
    filled_store(tmp_path / "data" / "aggregates.db").close()
    return cfg


def test_export_every_hour_csv_schema_and_local_since(site_config):
    out = cli(
        "export", str(site_config), "--every", "hour", "--since", "2026-11-26T09:00", "--until", "2026-11-26T10:00"
    )
    assert out.returncode == 0, out.stderr
    records = list(csv.DictReader(io.StringIO(out.stdout)))
    assert out.stdout.splitlines()[0] == ",".join(COLUMNS)
    # without an offset, 09:00 is read in the site's timezone (Asia/Tokyo): exactly the 09:00 hour
    assert {r["period_start"] for r in records} == {"2026-11-26T09:00:00+09:00"}
    line_in = [r for r in records if r["scope"] == "line" and r["metric"] == "in"]
    assert [(r["name"], r["value"], r["period_seconds"]) for r in line_in] == [("crossing", "5", "3600")]
    as_json = json.loads(cli("export", str(site_config), "--every", "day", "--format", "json").stdout)
    assert sorted({r["period_start"] for r in as_json}) == ["2026-11-26T00:00:00+09:00", "2026-11-27T00:00:00+09:00"]


def test_export_default_is_per_bucket_in_local_time(site_config):
    out = cli("export", str(site_config), "--format", "json", "--camera", "sample")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert sorted({r["period_start"] for r in rows})[0] == "2026-11-26T09:00:00+09:00"
    assert {r["period_seconds"] for r in rows} == {600}
    assert {r["camera"] for r in rows} == {"sample"}
    assert any(r["metric"] == "dwell_p50_s" for r in rows) and any(r["metric"] == "occupancy_mean" for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "2026-11-27", "--until", "2026-11-26"), "is not before --until"),
        (("--since", "2026-11-26T09:00", "--until", "2026-11-26T09:00"), "is not before --until"),
        (("--camera", "nosuch"), "--camera 'nosuch': no such camera (known: sample)"),
    ],
)
def test_export_mistakes_are_errors_not_empty_results(site_config, args, message):
    out = cli("export", str(site_config), *args)
    assert out.returncode == 2 and out.stdout == ""
    assert message in out.stderr and out.stderr.startswith("edgeanon: error:")


def test_store_records_one_site_and_refuses_another(tmp_path):
    with AggregateStore(tmp_path / "agg.db", retention_days=30) as store:
        assert store.claim_site("shop A") is None  # first use: recorded
        assert store.claim_site("shop A") == "shop A"
        with pytest.raises(StoreError, match=r"site 'shop A'.*this config is site 'shop B'.*allow_mixed_sites"):
            store.claim_site("shop B")
        assert store.claim_site("shop B", allow_mixed=True) == "shop A"  # asked for: allowed, the first stays


def test_run_refuses_a_store_of_another_site(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["storage"] = {"directory": str(tmp_path / "data"), "site": "shop A"}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(data))
    data["storage"]["site"] = "shop B"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(data))
    data["storage"]["allow_mixed_sites"] = True
    (tmp_path / "mixed.yaml").write_text(yaml.safe_dump(data))
    first = cli("run", str(tmp_path / "a.yaml"), "--port", "0", "--duration", "1", "--quiet")
    assert first.returncode == 0, first.stderr[-2000:]
    other = cli("run", str(tmp_path / "b.yaml"), "--port", "0", "--duration", "1", "--quiet")
    assert other.returncode == 2
    assert "holds the counts of site 'shop A', and this config is site 'shop B'" in other.stderr
    export = cli("export", str(tmp_path / "b.yaml"))
    assert export.returncode == 2 and "holds the counts of site 'shop A'" in export.stderr
    assert cli("export", str(tmp_path / "a.yaml")).returncode == 0
    mixed = cli("run", str(tmp_path / "mixed.yaml"), "--port", "0", "--duration", "1", "--quiet")
    assert mixed.returncode == 0, mixed.stderr[-2000:]
    assert "holds site 'shop A' too" in mixed.stderr
