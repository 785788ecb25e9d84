"""The aggregate channel for attributes: purpose checks, k-suppression, Prometheus, the store and its upgrade."""

from __future__ import annotations

import csv
import io
import sqlite3
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import generate_latest

from edgeanon.counting.aggregate import Aggregator
from edgeanon.counting.results import FrameResult
from edgeanon.counting.rollup import render, roll_up
from edgeanon.guidebook.policy import PolicyError
from edgeanon.outputs.console import ConsoleSink
from edgeanon.outputs.prometheus import PrometheusSink
from edgeanon.outputs.store import AggregateStore, StoreSink
from edgeanon.outputs.store_file import SCHEMA_VERSION, StoreError
from tests.helpers.store import DAY, T0

LAYOUT = {"cam": (["road"], ["door"])}
ALL = frozenset({"occupancy", "flow", "attributes"})


def result(attributes: dict, camera: str = "cam") -> FrameResult:
    return FrameResult(camera, None, {}, {}, {}, {}, {}, attributes=attributes)


def aggregator(sinks=(), purposes=ALL, k: int = 5, clock=lambda: T0 + 1.0) -> Aggregator:
    return Aggregator(LAYOUT, 60, list(sinks), clock=clock, purposes=purposes, k=k)


@pytest.mark.parametrize(
    ("attributes", "purposes", "error"),
    [
        ({("heading", "road", "n"): 1}, frozenset({"occupancy"}), PolicyError),
        ({("speed", "road", "slow"): 1}, frozenset({"occupancy", "attributes"}), PolicyError),
        ({("group_size", "door", "2"): 1}, frozenset({"occupancy"}), PolicyError),
        ({("age_band", "door", "20s"): 1}, frozenset({"occupancy", "flow"}), PolicyError),
        ({("gender", "road", "female"): 1}, frozenset({"occupancy", "flow"}), PolicyError),
        ({("race", "road", "x"): 1}, ALL, ValueError),
        ({("heading", "road", "north"): 1}, ALL, ValueError),
        ({("age_band", "road", "23"): 1}, ALL, ValueError),
        ({("heading", "door", "n"): 1}, ALL, ValueError),  # heading is per zone, door is a line
        ({("group_size", "road", "1"): 1}, ALL, ValueError),  # group size is per line
        ({("gender", "elsewhere", "male"): 1}, ALL, ValueError),  # not a configured place
    ],
)
def test_attributes_need_their_purpose_and_fixed_labels(attributes, purposes, error):
    rec = []
    agg = aggregator([_Recorder(rec)], purposes=purposes)
    with pytest.raises(error):
        agg.record(result(attributes))
    assert rec == []  # nothing reached a sink


@pytest.mark.parametrize(
    ("attributes", "purposes"),
    [
        ({("heading", "road", "n"): 1, ("group_size", "door", "4+"): 2}, frozenset({"occupancy", "flow"})),
        ({("age_band", "road", "60+"): 1, ("gender", "door", "male"): 1}, frozenset({"occupancy", "attributes"})),
    ],
)
def test_attributes_with_their_purpose_are_accepted(attributes, purposes):
    agg = aggregator(purposes=purposes, k=1)
    agg.record(result(attributes))
    assert agg.flush().cameras["cam"].attributes == attributes


class _Recorder:
    name = "rec"

    def __init__(self, out: list) -> None:
        self.out = out

    def on_frame(self, live):
        self.out.append(("frame", live))

    def on_bucket(self, bucket):
        self.out.append(("bucket", bucket))

    def close(self):
        pass


def test_a_family_with_a_bin_below_k_is_withheld_whole_and_counted_per_kind():
    agg = aggregator(k=5)
    for _ in range(3):
        agg.record(
            result(
                {
                    ("heading", "road", "e"): 2,  # e 6, w 3: w is below k, so e goes too
                    ("heading", "road", "w"): 1,
                    ("speed", "road", "slow"): 2,  # slow 6: every bin >= k, published
                    ("age_band", "door", "60+"): 1,  # one person three times is still below k
                    ("gender", "door", "male"): 2,  # male 6 >= k, but withheld with its age family
                }
            )
        )
    agg.add_attributes("cam", {("group_size", "door", "1"): 4, ("group_size", "door", "2"): 5})
    cb = agg.flush().cameras["cam"]
    assert cb.attributes == {("speed", "road", "slow"): 6}
    assert not hasattr(cb, "attributes_suppressed")  # how many were withheld is not published either


def test_age_and_gender_at_one_place_are_published_or_withheld_together():
    """Their totals are equal (the same estimated people), so a published one would give the other's total."""
    agg = aggregator(k=5)
    agg.record(
        result(
            {
                ("age_band", "road", "20s"): 5,
                ("gender", "road", "female"): 5,
                ("age_band", "door", "30s"): 7,
                ("gender", "door", "female"): 5,
                ("gender", "door", "male"): 2,
            }
        )
    )
    cb = agg.flush().cameras["cam"]
    assert cb.attributes == {("age_band", "road", "20s"): 5, ("gender", "road", "female"): 5}


def test_add_attributes_is_checked_like_record():
    agg = aggregator(purposes=frozenset({"occupancy"}))
    with pytest.raises(PolicyError):
        agg.add_attributes("cam", {("group_size", "door", "1"): 1})
    with pytest.raises(ValueError, match="unknown attribute"):
        aggregator().add_attributes("cam", {("group_size", "door", "5"): 1})


def prom_sink(purposes=ALL) -> PrometheusSink:
    return PrometheusSink({"cam": (["road"], ["door"], [])}, "0" * 64, list, purposes=purposes)


def sample(text: str, name: str, **labels: str) -> float | None:
    want = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    for line in text.splitlines():
        if line.startswith(name + want + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_prometheus_counts_only_closed_suppressed_buckets():
    now = [T0 + 1.0]
    prom = prom_sink()
    agg = aggregator([prom], clock=lambda: now[0])
    agg.record(result({("heading", "road", "e"): 6, ("heading", "road", "w"): 2, ("gender", "door", "female"): 7}))
    agg.record(result({("speed", "road", "fast"): 1, ("group_size", "door", "3"): 5, ("age_band", "road", "<20"): 2}))
    agg.record(result({("heading", "road", "n"): 5}))
    agg.record(FrameResult("cam", None, {}, {"door": (8, 2)}, {}, {}, {}))  # 10 crossings: groups of 3 may show
    text = generate_latest(prom.registry).decode()
    assert sample(text, "edgeanon_line_groups_total", camera="cam", line="door", size="3") == 0.0  # not yet
    now[0] += 60
    agg.tick()
    text = generate_latest(prom.registry).decode()
    assert sample(text, "edgeanon_zone_heading_total", camera="cam", zone="road", heading="e") == 0.0  # w 2 < k
    assert sample(text, "edgeanon_zone_heading_total", camera="cam", zone="road", heading="n") == 0.0
    assert sample(text, "edgeanon_zone_speed_total", camera="cam", zone="road", speed="fast") == 0.0
    assert sample(text, "edgeanon_line_groups_total", camera="cam", line="door", size="3") == 5.0
    assert sample(text, "edgeanon_gender_total", camera="cam", place="door", gender="female") == 7.0
    assert sample(text, "edgeanon_age_band_total", camera="cam", place="road", age_band="<20") == 0.0
    assert "edgeanon_attribute_suppressed" not in text  # how many were withheld is not published
    assert "# HELP edgeanon_zone_heading_total " in text and "# TYPE edgeanon_line_groups_total counter" in text
    agg.record(result({("heading", "road", "e"): 6, ("heading", "road", "n"): 5}))
    now[0] += 60
    agg.tick()
    text = generate_latest(prom.registry).decode()
    assert sample(text, "edgeanon_zone_heading_total", camera="cam", zone="road", heading="e") == 6.0


def test_prometheus_has_no_attribute_families_without_their_purpose():
    text = generate_latest(prom_sink(frozenset({"occupancy"})).registry).decode()
    for name in ("heading", "speed", "line_groups", "age_band", "gender", "attribute_suppressed"):
        assert f"edgeanon_{name}" not in text.replace("zone_", "")
    text = generate_latest(prom_sink(frozenset({"occupancy", "flow"})).registry).decode()
    assert "edgeanon_zone_heading_total" in text and "edgeanon_age_band_total" not in text


def test_store_keeps_only_bins_of_at_least_k_and_export_includes_them(tmp_path):
    store = AggregateStore(tmp_path / "agg.db", retention_days=30, clock=lambda: T0 + 1.0)
    agg = aggregator([StoreSink(store)])
    agg.record(result({("heading", "road", "e"): 6, ("heading", "road", "w"): 2, ("age_band", "door", "<20"): 5}))
    agg.flush()
    agg.record(result({("heading", "road", "e"): 5}))  # same bucket after a restart
    agg.flush()
    rows = store.rows(attributes=True)
    attrs = {(r["name"], r["metric"]): r["value"] for r in rows if r["scope"] == "attribute"}
    assert attrs == {("road", "heading=e"): 5, ("door", "age_band=<20"): 5}  # the first part's heading: withheld
    assert all(r["scope"] != "attribute" for r in store.rows())  # the plain rows are unchanged
    assert not [r for r in rows if "suppressed" in r["metric"] or "withheld" in r["metric"]]
    table = store._conn.execute("SELECT kind, place, bin, count FROM attribute_counts ORDER BY kind").fetchall()
    assert table == [("age_band", "door", "<20", 5), ("heading", "road", "e", 5)]
    text = render(roll_up(rows, ZoneInfo("UTC"), k=5), "csv")
    assert "2023-11-14T22:14:00+00:00,60,cam,attribute,road,heading=e,5" in text.splitlines()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert {(r["name"], r["metric"]) for r in exported if r["scope"] == "attribute"} == set(attrs)
    store.close()


def test_retention_purges_attribute_counts(tmp_path):
    now = [T0 + 1.0]
    store = AggregateStore(tmp_path / "agg.db", retention_days=1, clock=lambda: now[0])
    agg = aggregator([StoreSink(store)], k=1)
    agg.record(result({("heading", "road", "e"): 1}))
    agg.flush()
    store.close()
    now[0] += 2 * DAY
    store = AggregateStore(tmp_path / "agg.db", retention_days=1, clock=lambda: now[0])
    assert store.rows(attributes=True) == []
    assert store._conn.execute("SELECT count(*) FROM attribute_counts").fetchone() == (0,)
    store.close()


V1_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE aggregates (bucket_start INTEGER NOT NULL, bucket_seconds INTEGER NOT NULL, camera TEXT NOT NULL, "
    "scope TEXT NOT NULL, name TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, "
    "PRIMARY KEY (bucket_start, camera, scope, name, metric)) WITHOUT ROWID",
)


def old_database(path, version: str = "1") -> None:
    conn = sqlite3.connect(path)
    for statement in V1_SCHEMA:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
    conn.execute("INSERT INTO aggregates VALUES (?, 60, 'cam', 'line', 'door', 'in', 3)", (T0,))
    conn.commit()
    conn.close()


def test_version_1_store_is_upgraded_in_place_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    old_database(path)
    store = AggregateStore(path, retention_days=30, clock=lambda: T0 + 1.0)
    assert SCHEMA_VERSION == "3"
    assert store._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)
    assert [(r["metric"], r["value"]) for r in store.rows()] == [("in", 3.0)]
    agg = aggregator([StoreSink(store)], k=1)
    agg.record(result({("group_size", "door", "2"): 1}))
    agg.flush()
    assert ("door", "group_size=2", 1) in {(r["name"], r["metric"], r["value"]) for r in store.rows(attributes=True)}
    store.close()


def test_version_2_store_is_migrated_to_the_new_meanings(tmp_path):
    """Heatmap rows of person-frames are renamed, not read as people; attribute bins that the old rule published
    beside a dropped bin (open to subtraction) are deleted with their coupled kind; everything else is kept."""
    path = tmp_path / "v2.db"
    AggregateStore(path, retention_days=30, clock=lambda: T0 + 1.0).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    plain = [
        (T0, "cam", "camera", "", "cell_0_0", 377),
        (T0, "cam", "camera", "", "cell_0_1", 0),
        (T0, "cam", "camera", "", "heatmap_suppressed_cells", 1),
        (T0, "cam", "camera", "", "gender_suppressed_bins", 1),  # a gender bin was dropped at T0
        (T0, "cam", "camera", "", "heading_suppressed_bins", 0),
        (T0 + 60, "cam", "camera", "", "age_band_suppressed_bins", 0),
        (T0 + 60, "cam", "camera", "", "gender_suppressed_bins", 0),
        (T0, "cam", "line", "door", "in", 3),
    ]
    conn.executemany("INSERT INTO aggregates VALUES (?, 60, ?, ?, ?, ?, ?)", plain)
    attrs = [
        (T0, "age_band", "door", "30s", 7),  # its gender family lost a bin: female = total - 7 ...
        (T0, "gender", "door", "female", 9),
        (T0, "heading", "road", "e", 6),
        (T0 + 60, "age_band", "door", "20s", 5),
    ]
    conn.executemany("INSERT INTO attribute_counts VALUES (?, 60, 'cam', ?, ?, ?, ?)", attrs)
    conn.commit()
    conn.close()
    store = AggregateStore(path, retention_days=30, clock=lambda: T0 + 2.0)
    meta = dict(store._conn.execute("SELECT key, value FROM meta").fetchall())
    assert meta["schema_version"] == "3" and meta["upgraded_to_3"] == f"{T0 + 2} from version 2"
    got = {(r["bucket_start"], r["metric"]): r["value"] for r in store.rows()}
    assert got[T0, "cell_0_0_person_frames"] == 377 and got[T0, "cell_0_1_person_frames"] == 0
    assert not any(m.startswith("cell_") and not m.endswith("_person_frames") for _, m in got)
    assert got[T0, "in"] == 3 and got[T0, "heatmap_suppressed_cells"] == 1
    left = store._conn.execute("SELECT bucket_start, kind, bin FROM attribute_counts ORDER BY 1, 2").fetchall()
    assert left == [(T0, "heading", "e"), (T0 + 60, "age_band", "20s")]
    store.close()
    store = AggregateStore(path, retention_days=30, clock=lambda: T0 + 3.0)  # opening again changes nothing
    assert {(r["bucket_start"], r["metric"]): r["value"] for r in store.rows()} == got
    store.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    old_database(path, "4")
    with pytest.raises(StoreError, match="schema version 4 is not supported"):
        AggregateStore(path, retention_days=30)


def test_console_shows_only_whole_families():
    out = io.StringIO()
    agg = aggregator([ConsoleSink("Asia/Tokyo", out)])
    agg.record(result({("heading", "road", "e"): 6, ("heading", "road", "w"): 2, ("speed", "road", "slow"): 5}))
    agg.flush()
    text = out.getvalue()
    assert "speed road: slow 5" in text
    assert "heading" not in text and " w " not in text


def test_console_says_once_that_small_counts_are_withheld_whatever_was_withheld():
    """The note tells a new user why a breakdown may never appear; it is the same text, in the first summary
    only, whether or not anything was withheld, so it gives no count away."""
    from edgeanon.outputs.console import withheld_note

    texts = []
    for attrs in ({("heading", "road", "e"): 6, ("heading", "road", "w"): 2}, {("speed", "road", "slow"): 5}):
        out = io.StringIO()
        agg = aggregator([ConsoleSink("Asia/Tokyo", out, k=5)])
        agg.record(result(attrs))
        agg.flush()
        agg.record(result(attrs))
        agg.flush()
        texts.append(out.getvalue())
    note = withheld_note(5)
    assert "privacy.k = 5" in note and "fewer than 5 people" in note
    for text in texts:
        assert text.count(note) == 1
        first, second = text.split("partial bucket")[1:3]
        assert note in first and note not in second
    out = io.StringIO()
    agg = aggregator([ConsoleSink("Asia/Tokyo", out)])
    agg.record(result({("speed", "road", "slow"): 5}))
    agg.flush()
    assert "privacy.k" not in out.getvalue()  # no note unless k is given
